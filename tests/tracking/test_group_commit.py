"""Group commit of heartbeat writes on SQLite: one transaction for many, each write isolated."""
import sqlite3
import threading
from datetime import date

import pytest
from sqlalchemy import select

from app.common.db import dbapi_connection
from app.extensions import db
from app.tracking import service
from app.tracking.models import DailyCredit



def _add_day(user_id: int, day: date, ms: int):
    def write(conn):
        cursor = conn.cursor()
        cursor.execute("INSERT INTO daily_credits (user_id, day, credited_ms) VALUES (?, ?, ?)",
                       (user_id, day.isoformat(), ms))
    return write


def _day_totals(user_id: int) -> dict[str, int]:
    db.session.rollback()
    rows = db.session.execute(select(DailyCredit.day, DailyCredit.credited_ms).where(DailyCredit.user_id == user_id))
    return {str(day): ms for day, ms in rows}


@pytest.fixture
def group(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("group commit is SQLite's (PostgreSQL writers run side by side)")
    committer = service._group_commit()
    assert committer is not None
    return committer


@pytest.fixture
def user(app, make_user):
    learner = make_user()
    db.session.commit()
    return learner


def test_a_failing_write_is_undone_alone(app, group, user):
    """A lost race fails alone; a write that fails part-way is undone and the others are written again."""

    def lost_race(conn):
        raise service._Retry()  # as _write: before writing anything

    def broken(conn):
        _add_day(user.id, date(2026, 3, 2), 500)(conn)
        raise sqlite3.IntegrityError("simulated failure after a first write")

    # Queue three writes behind a held lead, so that they run as one batch.
    group._is_leading = True
    results: dict[str, object] = {}

    def submit(name, write):
        with app.app_context(), dbapi_connection() as conn:
            try:
                group.run(conn, write)
                results[name] = "ok"
            except service._Retry:
                results[name] = "retry"
            except sqlite3.IntegrityError:
                results[name] = "error"

    threads = [
        threading.Thread(target=submit, args=("first", _add_day(user.id, date(2026, 3, 1), 100))),
        threading.Thread(target=submit, args=("lost", lost_race)),
        threading.Thread(target=submit, args=("broken", broken)),
        threading.Thread(target=submit, args=("fourth", _add_day(user.id, date(2026, 3, 4), 400))),
    ]
    for t in threads:
        t.start()
    while len(group._queue) < 4:
        threading.Event().wait(0.001)
    batch_leader = group._queue[0]
    with group._lock:
        group._is_leading = False
        batch_leader.is_leader = True
        batch_leader.wake.set()
    for t in threads:
        t.join(timeout=10)

    assert results == {"first": "ok", "lost": "retry", "broken": "error", "fourth": "ok"}
    assert _day_totals(user.id) == {"2026-03-01": 100, "2026-03-04": 400}
    assert not group._is_leading and group._queue == []


def test_a_failed_commit_fails_every_write_of_the_batch(group, user, monkeypatch):

    def broken_gate():
        raise OSError("disk full")

    monkeypatch.setattr(service, "_write_gate", broken_gate)
    with dbapi_connection() as conn, pytest.raises(OSError):
        group.run(conn, _add_day(user.id, date(2026, 3, 1), 100))
    assert _day_totals(user.id) == {}
    assert not group._is_leading and group._queue == []


class _FailingCommit:
    """A DBAPI connection whose COMMIT fails (as on a full disk), everything else passed through."""

    def __init__(self, conn):
        self.conn = conn

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def cursor(self):
        real = self.conn.cursor()

        class Cursor:
            def __getattr__(self, name):
                return getattr(real, name)

            def execute(self, sql, *params):
                if sql == "COMMIT":
                    raise sqlite3.OperationalError("database or disk is full")
                return real.execute(sql, *params)

        return Cursor()


def test_a_failed_commit_rolls_the_whole_batch_back(group, user):
    with dbapi_connection() as conn:
        with pytest.raises(sqlite3.OperationalError):
            group.run(_FailingCommit(conn), _add_day(user.id, date(2026, 3, 1), 100))
        assert not conn.in_transaction
    assert _day_totals(user.id) == {}
    assert not group._is_leading and group._queue == []
    # The committer is free again: the next write goes through.
    with dbapi_connection() as conn:
        group.run(conn, _add_day(user.id, date(2026, 3, 2), 200))
    assert _day_totals(user.id) == {"2026-03-02": 200}
