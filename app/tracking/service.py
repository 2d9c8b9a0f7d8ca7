"""Use cases of watch-time tracking: playback sessions, heartbeats, presence checks, progress, audit.

The crediting itself is decided by app.tracking.rules; this module loads what
the rules need, calls them and stores the result. A heartbeat reads what it
needs in one SELECT, lets the rules decide, then writes in one short write
transaction. The read is outside any transaction and the write only succeeds
if the session is still the version it read; otherwise it is recomputed. On
SQLite the write is BEGIN IMMEDIATE, shared with the worker's other
heartbeats; on PostgreSQL it is one statement (see "database helpers"). Every
answer is sent after its transaction committed (R11).

Functions for pages and the API (seconds are floats rounded to 0.001):

get_project_progress(user, project) -> dict
    {"project_id", "title", "credited_s", "learning_hours", "required_hours",
     "minutes_per_hour", "missing_s" (credited seconds still needed for the
     required hours), "lesson_count", "complete_count",
     "lessons": [{"lesson_id", "course_id", "title", "kind", "duration_s",
                  "credited_s", "covered_s", "complete", "resume_position_s",
                  "max_position_s", "segments": [[start_s, end_s], ...]}]}

get_lesson_audit(user, project, lesson) -> dict
    {"project_id", "lesson_id", "title", "duration_s", "credited_s",
     "covered_s", "complete", "segments",
     "recomputed_s" (sum of the windows and corrections: equals credited_s),
     "reasons": [{"reason", "label", "count", "seconds"}]   (all sessions),
     "sessions": [{"id", "status", "opened_at" (datetime), "closed_at",
                   "user_agent", "credited_s",
                   "reasons": [{"reason", "label", "count", "seconds"}],
                   "windows": [{"started_at", "ended_at" (datetimes),
                                "day" (date), "from_position_s",
                                "to_position_s", "credited_s"}]}]  newest first,
     "corrections": [{"id", "delta_s", "reason", "created_by", "created_at"}],
     "presence_checks": [{"id", "session_id", "due_at", "answered_at",
                          "is_late", "wrong_answers"}]}

REASON_LABELS: {reason: lazy translated label} for rules.REASONS;
reason_label(reason) -> str.

Use cases behind the JSON API: do_open_session, check_heartbeat,
check_presence_answer, do_end_session, do_correct_credit.
"""
from __future__ import annotations

import fcntl
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import NamedTuple

from flask import current_app, has_request_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.accounts import auth
from app.accounts.models import User
from app.common import clock
from app.common.db import driver_connection, driver_sql, write_transaction
from app.common.exceptions import Conflict, Forbidden, Gone, Invalid, NotFound
from app.courses import service as courses
from app.courses.models import Lesson, Project
from app.extensions import db
from app.tracking import rules
from app.tracking.models import (
    CreditCorrection,
    CreditWindow,
    DailyCredit,
    LessonProgress,
    PlaybackSession,
    PresenceCheck,
    TrackingUserState,
)

REASON_LABELS = {
    "not_playing": _l("Not playing (paused, or the position did not move)"),
    "hidden": _l("The page was hidden"),
    "rate_out_of_range": _l("Playback speed outside the allowed range"),
    "ahead_of_wall_time": _l("Position moved faster than time passed"),
    "backward_jump": _l("Position jumped back without a seek"),
    "gap": _l("No report from the player for longer than the gap allowance"),
    "presence_overdue": _l("Presence check not answered in time"),
    "lesson_cap": _l("Lesson already credited in full"),
    "daily_cap": _l("Daily limit reached"),
    "outside_window": _l("Outside the project's dates"),
    "superseded": _l("Playback continued in another window or device"),
    "replayed_seq": _l("Repeated or late report (ignored)"),
}

#: project settings and lesson durations are cached per worker for this long
SETTINGS_TTL_S = 30.0
_rng = random.SystemRandom()

S = PlaybackSession.__table__
P = LessonProgress.__table__
U = TrackingUserState.__table__
D = DailyCredit.__table__
W = CreditWindow.__table__


def _s(ms: int | None) -> float:
    return round((ms or 0) / 1000, 3)


# ----------------------------------------------------------------- cached context


@dataclass(frozen=True)
class LessonContext:
    """What the hot path needs about a lesson in a project, cached per worker."""

    project_id: int
    lesson_id: int
    settings: rules.Settings
    duration_ms: int
    interval_s: int
    is_seek_ahead_forbidden: bool
    fetched_at: float


@dataclass(frozen=True)
class SessionKey:
    """The parts of a playback session that never change."""

    user_id: int
    project_id: int
    lesson_id: int


def settings_of(project: Project) -> rules.Settings:
    """Return the project's tracking settings for the rules."""
    return rules.Settings(
        interval_ms=project.effective_heartbeat_interval_s() * 1000,
        gap_factor=project.gap_factor,
        min_rate=project.min_rate,
        max_rate=project.max_rate,
        completion_ratio=project.completion_ratio,
        cap_factor=project.cap_factor,
        daily_cap_ms=project.daily_cap_s * 1000,
        is_presence_check_enabled=project.is_presence_check_enabled,
        presence_min_ms=project.presence_min_s * 1000,
        presence_max_ms=project.presence_max_s * 1000,
        presence_timeout_ms=project.presence_timeout_s * 1000,
        timezone=project.timezone or "Asia/Shanghai",
        starts_on=project.starts_on,
        ends_on=project.ends_on,
    )


def _cache() -> dict:
    """This app's per-worker cache of the hot path (read several times a heartbeat: no new dicts each time)."""
    extensions = current_app.extensions
    cache = extensions.get("xueshi_tracking_cache")
    if cache is None:
        cache = extensions.setdefault("xueshi_tracking_cache", {"contexts": {}, "sessions": {}})
    return cache


def _make_context(project: Project, lesson: Lesson) -> LessonContext:
    ctx = LessonContext(
        project_id=project.id,
        lesson_id=lesson.id,
        settings=settings_of(project),
        duration_ms=int(lesson.duration_s or 0) * 1000,
        interval_s=project.effective_heartbeat_interval_s(),
        is_seek_ahead_forbidden=project.is_seek_ahead_forbidden,
        fetched_at=time.monotonic(),
    )
    cache = _cache()
    cache["contexts"][(project.id, lesson.id)] = ctx
    cache["guess"] = ctx.settings  # see _decide_heartbeat
    return ctx


def get_lesson_context(project_id: int, lesson_id: int) -> LessonContext:
    """Return the cached settings and duration of a lesson in a project (re-read every SETTINGS_TTL_S)."""
    ctx = _cache()["contexts"].get((project_id, lesson_id))
    if ctx is not None and time.monotonic() - ctx.fetched_at < SETTINGS_TTL_S:
        return ctx
    project = db.session.get(Project, project_id)
    lesson = db.session.get(Lesson, lesson_id)
    if project is None or lesson is None:
        raise NotFound(_("This lesson or project no longer exists."))
    return _make_context(project, lesson)


def clear_cache() -> None:
    """Forget cached settings (after an administrator changes a project or a lesson's duration)."""
    _cache()["contexts"].clear()


def _session_key(session_id: int, conn=None) -> SessionKey | None:
    """Whose session it is and of what lesson (cached per worker: it never changes); conn: a DBAPI connection."""
    sessions = _cache()["sessions"]
    key = sessions.get(session_id)
    if key is None:
        if conn is None:
            conn = driver_connection(db.session.connection())
        row = _q().run(conn, "session_key", {"b_sid": session_id}).fetchone()
        if row is None:
            return None
        key = _remember_key(session_id, SessionKey(*row))
    return key


def _remember_key(session_id: int, key: SessionKey) -> SessionKey:
    sessions = _cache()["sessions"]
    if len(sessions) > 200_000:
        sessions.clear()
    sessions[session_id] = key
    return key


def _session_not_found() -> NotFound:
    # Another user's session is indistinguishable from a missing one.
    return NotFound(_("No such playback session."), code="session_not_found")


def _own_session(user_id: int, session_id: int, conn=None) -> SessionKey:
    key = _session_key(session_id, conn)
    if key is None or key.user_id != user_id:
        raise _session_not_found()
    return key


# ----------------------------------------------------------------- database helpers
#
# A heartbeat reads everything it needs in one SELECT outside any transaction,
# lets the rules decide, then writes in one short transaction whose session
# update only succeeds if the session is still at the version it read
# (optimistic concurrency). Every write to a session bumps its version, and
# only the one open session of a user is ever credited (R5), so a heartbeat
# that lost a race is simply recomputed from fresh state; after a few lost
# races it is computed entirely under the user's lock. Every other writer of a
# user's tracking rows (opening, ending, presence answers, a heartbeat that
# issues or clears a presence check) takes the user's lock row first, then the
# session row.
#
# SQLite: the write is a BEGIN IMMEDIATE transaction of a few statements,
# shared with the worker's other heartbeats (_GroupCommit).
#
# PostgreSQL: the read and the write are one autocommit statement each, two
# round trips in all. The write is one statement of data-modifying WITH
# queries whose versioned session update runs first (it is the one the main
# query reads), so it takes the session row before any other: a writer holding
# the user's lock waits for it or makes it find a new version, never the
# other way round.


class _Retry(Exception):
    """The session changed since it was read: recompute."""


class _NeedsLock(Exception):
    """The read found rows to recreate: compute under the user's lock."""


OPTIMISTIC_ATTEMPTS = 3


class _SQLiteWriteGate:
    """Queue a process's SQLite write transactions on a lock instead of SQLite's busy handler.

    SQLite lets one writer in at a time; a writer that finds it taken sleeps in
    growing steps (up to 100 ms) and retries. Waiting on a thread lock, and across
    worker processes on an flock of a file beside the database, wakes the next
    writer as soon as the previous one commits.
    """

    def __init__(self, database_path: str | None):
        self.path = database_path + ".write-lock" if database_path else None
        self.thread_lock = threading.Lock()
        self.fd: int | None = None
        self.pid = 0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self.thread_lock:
            fd = self._fd()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def _fd(self) -> int | None:
        if self.path is None:
            return None
        if self.fd is None or self.pid != os.getpid():  # a forked worker needs its own open file
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self.pid = os.getpid()
        return self.fd


def _write_gate():
    """The write gate of this app's database (a no-op on PostgreSQL)."""
    cache = _cache()
    gate = cache.get("write_gate")
    if gate is None:
        url = db.engine.url
        if url.get_backend_name() != "sqlite":
            gate = nullcontext
        else:
            path = url.database
            gate = _SQLiteWriteGate(os.path.abspath(path) if path and path != ":memory:" else None)
        cache["write_gate"] = gate
    return gate()


@contextmanager
def _writing() -> Iterator[None]:
    """One write transaction of this feature, queued at the write gate."""
    with _write_gate(), write_transaction():
        yield


class _Signal:
    """A one-shot wake-up: wait() blocks until set(); a bare lock, cheaper than threading.Event."""

    __slots__ = ("_lock",)

    def __init__(self):
        self._lock = threading.Lock()
        self._lock.acquire()

    def wait(self) -> None:
        self._lock.acquire()

    def set(self) -> None:
        if self._lock.locked():
            self._lock.release()


class _Job:
    """One heartbeat's writes waiting for a shared write transaction."""

    __slots__ = ("conn", "write", "error", "is_leader", "wake")

    def __init__(self, conn, write: Callable):
        self.conn = conn
        self.write = write
        self.error: BaseException | None = None
        self.is_leader = False
        self.wake = _Signal()


class _GroupCommit:
    """Write the heartbeats of a worker's threads in shared SQLite write transactions.

    SQLite lets one writer in at a time, and under load a writer spends most
    of its turn waiting (for the gate, then for the GIL between statements),
    not writing. So the first heartbeat to queue leads: it takes the write
    gate, runs every write queued by then, commits once and wakes the others,
    then hands the lead to the next one queued. Every answer still follows the
    commit of its writes (R11).

    A lost race (_Retry) is raised before its write wrote anything, so it fails
    alone at no cost. Any other error undoes the whole transaction, and the
    batch's other writes run again without the failed one.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._queue: list[_Job] = []
        self._is_leading = False

    def run(self, conn, write: Callable) -> None:
        """Run write(c) in a shared write transaction; return once it is committed (or raise its error).

        conn is the caller's DBAPI connection, idle (autocommit): a leader runs
        the batch's transaction on its own connection.
        """
        job = _Job(conn, write)
        with self._lock:
            self._queue.append(job)
            job.is_leader = not self._is_leading
            self._is_leading = True
        if not job.is_leader:
            job.wake.wait()
        if job.is_leader:
            self._lead(job.conn)
        if job.error is not None:
            raise job.error

    def _take(self) -> list[_Job]:
        with self._lock:
            batch, self._queue = self._queue, []
        return batch

    @staticmethod
    def _write_all(conn, batch: list[_Job]) -> bool:
        """Run the writes of the batch not failed yet; False when one failed part-way (its error is kept)."""
        for job in batch:
            if job.error is not None:
                continue
            try:
                job.write(conn)
            except _Retry as exc:  # lost a race: raised before writing anything (see _write)
                job.error = exc
            except Exception as exc:
                job.error = exc
                return False
        return True

    def _lead(self, conn) -> None:
        batch: list[_Job] = []
        cursor = conn.cursor()
        try:
            with _write_gate():
                cursor.execute("BEGIN IMMEDIATE")
                batch = self._take()  # taken once the gate is held: whatever queued meanwhile joins
                while not self._write_all(conn, batch):
                    conn.rollback()  # a write failed part-way: undo everything, write the others again
                    cursor.execute("BEGIN IMMEDIATE")
                cursor.execute("COMMIT")
        except Exception as exc:  # nothing of the batch was committed
            if conn.in_transaction:
                conn.rollback()
            for job in batch or self._take():
                job.error = job.error or exc
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].is_leader = True
                    self._queue[0].wake.set()
                else:
                    self._is_leading = False
            for job in batch:
                job.wake.set()


def _group_commit() -> _GroupCommit | None:
    """The group committer of this app's SQLite database (None on PostgreSQL, whose writers run side by side)."""
    cache = _cache()
    if "group_commit" not in cache:
        cache["group_commit"] = _GroupCommit() if db.engine.url.get_backend_name() == "sqlite" else None
    return cache["group_commit"]


def _dialect_insert(table):
    if db.engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class _SessionRow(NamedTuple):
    """What a heartbeat reads: the session, its lesson progress, the user's state and day totals."""

    status: str
    version: int
    last_seq: int
    last_at_ms: int | None
    last_position_ms: int
    is_playing: bool
    is_visible: bool
    rate: float
    credit_from_ms: int | None
    credited_ms: int
    held: list | None
    reasons: dict | None
    last_window_id: int | None
    credited_until_ms: int
    playing_ms: int
    #: the session's SessionKey
    user_id: int
    project_id: int
    lesson_id: int
    progress_id: int | None
    lesson_ms: int | None
    covered: list | None
    covered_ms: int | None
    is_complete: bool
    max_position_ms: int | None
    user_credited_until_ms: int | None
    next_check_after_ms: int | None
    pending_check_id: str | None
    pending_due_ms: int | None
    day_a_ms: int | None
    day_b_ms: int | None
    #: the session's last credit window (NULL when it has none or it was removed): where it ends
    window_end_ms: int | None
    window_day: date | None
    window_to_ms: int | None
    #: with a credential to check (auth.CREDENTIAL_JOINS): the user it signs in, else NULL; a token's expiry
    auth_user_id: int | None
    auth_expires_at: object


# The hot path's statements as plain SQL run through the connection (no compilation, no ORM):
# a heartbeat is one read and a handful of short writes.
_SQL = {
    "read": """
        SELECT s.status, s.version, s.last_seq, s.last_at_ms, s.last_position_ms, s.is_playing, s.is_visible,
               s.rate, s.credit_from_ms, s.credited_ms, s.held, s.reasons, s.last_window_id,
               s.credited_until_ms, s.playing_ms, s.user_id, s.project_id, s.lesson_id,
               p.id, p.credited_ms, p.covered, p.covered_ms, p.is_complete, p.max_position_ms,
               u.credited_until_ms, u.next_check_after_ms, u.pending_check_id, u.pending_due_ms,
               (SELECT d.credited_ms FROM daily_credits d WHERE d.user_id = s.user_id AND d.day = :b_day_a),
               (SELECT d.credited_ms FROM daily_credits d WHERE d.user_id = s.user_id AND d.day = :b_day_b),
               w.ended_at, w.day, w.to_position_ms, NULL, NULL
        FROM playback_sessions s
        LEFT JOIN lesson_progress p
               ON p.user_id = s.user_id AND p.project_id = s.project_id AND p.lesson_id = s.lesson_id
        LEFT JOIN tracking_user_states u ON u.user_id = s.user_id
        LEFT JOIN credit_windows w ON w.id = s.last_window_id
        WHERE s.id = :b_sid""",
    "session_key": "SELECT user_id, project_id, lesson_id FROM playback_sessions WHERE id = :b_sid",
    "lock_user": "SELECT user_id FROM tracking_user_states WHERE user_id = :b_user FOR UPDATE",
    "write_session": """
        UPDATE playback_sessions SET version = version + 1, last_seq = :b_seq, last_at_ms = :b_at,
               last_position_ms = :b_position, is_playing = :b_playing, is_visible = :b_visible, rate = :b_rate,
               credit_from_ms = :b_credit_from, credited_ms = :b_credited, held = :b_held, reasons = :b_reasons,
               last_window_id = :b_window, credited_until_ms = :b_until, playing_ms = :b_playing_ms
        WHERE id = :b_sid AND version = :b_version AND status = 'open'""",
    "write_user_checks": """
        UPDATE tracking_user_states SET next_check_after_ms = :b_next, pending_check_id = :b_check,
               pending_due_ms = :b_due
        WHERE user_id = :b_user""",
    "write_progress": """
        UPDATE lesson_progress SET credited_ms = credited_ms + :b_add, covered = :b_covered,
               covered_ms = :b_covered_ms, is_complete = :b_complete,
               completed_at = COALESCE(completed_at, :b_completed_at), max_position_ms = :b_max, updated_at = :b_now
        WHERE id = :b_pid""",
    "extend_window": """
        UPDATE credit_windows SET ended_at = :b_end, to_position_ms = :b_to, credited_ms = credited_ms + :b_ms
        WHERE id = :b_window""",
    "insert_window": """
        INSERT INTO credit_windows (session_id, user_id, project_id, lesson_id, day, started_at, ended_at,
                                    from_position_ms, to_position_ms, credited_ms)
        VALUES (:b_sid, :b_user, :b_project, :b_lesson, :b_day, :b_start, :b_end, :b_from, :b_to, :b_ms)
        RETURNING id""",
    "point_at_window": "UPDATE playback_sessions SET last_window_id = :b_window WHERE id = :b_sid",
    "add_to_day": """
        INSERT INTO daily_credits (user_id, day, credited_ms) VALUES (:b_user, :b_day, :b_ms)
        ON CONFLICT (user_id, day) DO UPDATE SET credited_ms = daily_credits.credited_ms + excluded.credited_ms""",
}



def _renamed(sql: str, prefix: str) -> str:
    """A statement of _SQL with its :b_ parameters renamed :<prefix>_, to join others in one statement."""
    return sql.replace(":b_", f":{prefix}_")


# What each part of a heartbeat's writes runs (_write_parts), after the versioned session update.
_PART_STATEMENTS = {"extend": "extend_window", "insert": "insert_window", "day": "add_to_day",
                    "progress": "write_progress", "checks": "write_user_checks"}


def _pg_write_all(parts: tuple[str, ...]) -> str:
    """A heartbeat's writes as one PostgreSQL statement: the session update, then the parts (_write_parts).

    Every part is a data-modifying WITH query, run once and to completion; the
    final division by zero when the versioned session update found no row
    (a lost race) fails the statement, which undoes them all. Parameters:
    write_session's :b_*, and part i's own as :q<i>_*. The session points at
    the last window inserted.
    """
    queries = [f"q{i} AS ({_renamed(_SQL[_PART_STATEMENTS[part]], f'q{i}')})" for i, part in enumerate(parts)]
    session = _SQL["write_session"]
    inserts = [i for i, part in enumerate(parts) if part == "insert"]
    if inserts:
        session = session.replace("last_window_id = :b_window", f"last_window_id = (SELECT id FROM q{inserts[-1]})")
    queries.append(f"s AS ({session} RETURNING 1)")
    return "WITH " + ",\n".join(queries) + "\nSELECT 1 / count(*) FROM s"


class _Sql:
    """The hot path's SQL for one dialect, with values converted the way SQLAlchemy stores them."""

    def __init__(self, dialect: str):
        self.is_postgresql = dialect == "postgresql"
        self.lost_race: tuple[type[Exception], ...] = ()  # what a lost race raises (PostgreSQL); nothing on SQLite
        self.sql = {name: driver_sql(text, dialect) for name, text in _SQL.items()}
        # A read under the user's lock also takes the session row on PostgreSQL, so the hot path's
        # optimistic writes of that session wait for the locked writer (SQLite's BEGIN IMMEDIATE holds
        # the whole database already).
        self.sql["read_for_write"] = self.sql["read"] + (" FOR UPDATE OF s" if self.is_postgresql else "")
        # The heartbeat's read also checks the request's sign-in: one query, one round trip, for both.
        for kind, (joins, columns) in auth.CREDENTIAL_JOINS.items():
            read = _SQL["read"].replace("w.to_position_ms, NULL, NULL", f"w.to_position_ms, {columns}")
            self.sql[f"read:{kind}"] = driver_sql(read.replace("WHERE s.id = :b_sid", f"{joins}\n        WHERE s.id = :b_sid"),
                                                  dialect)
        if self.is_postgresql:
            from psycopg.errors import DeadlockDetected, DivisionByZero
            from psycopg.types.json import Json

            # The version check's division by zero; a deadlock with another writer of the same session's
            # rows (a duplicate request racing this one): PostgreSQL undid the statement either way.
            self.lost_race = (DivisionByZero, DeadlockDetected)

            self._converters = {list: Json, dict: Json}
        else:  # as SQLAlchemy stores them on SQLite
            self._converters = {
                list: _json_text,
                dict: _json_text,
                datetime: _sqlite_datetime,
                date: date.isoformat,
            }

    def run(self, conn, name: str, params: dict, cursor=None):
        """Execute a statement on `conn`, a DBAPI connection (in its current transaction); return the cursor.

        SQLAlchemy's execution layer costs several times what SQLite itself does
        for these one-row statements, so the hot path hands them to the driver.
        """
        cursor = cursor or conn.cursor()
        converters = self._converters
        cursor.execute(self.sql[name], {
            k: v if (convert := converters.get(type(v))) is None else convert(v) for k, v in params.items()
        })
        return cursor

    def write_all(self, parts: tuple[str, ...]) -> str:
        """The name of the PostgreSQL statement doing a heartbeat's writes of this shape (made on first use)."""
        name = "write_all:" + ",".join(parts)
        if name not in self.sql:
            self.sql[name] = driver_sql(_pg_write_all(parts), "postgresql")
        return name

    def read(self, conn, params: dict, for_write: bool = False, credential_kind: str = "") -> _SessionRow | None:
        """Read a heartbeat's row (None when the session does not exist); for_write: in a write transaction.

        credential_kind: the kind of params["b_credential"] (auth.CREDENTIAL_JOINS) to check with it.
        """
        name = f"read:{credential_kind}" if credential_kind else "read_for_write" if for_write else "read"
        raw = self.run(conn, name, params).fetchone()
        if raw is None:
            return None
        row = _SessionRow(*raw)
        if self.is_postgresql:
            if row.window_end_ms is not None:
                row = row._replace(window_end_ms=rules.to_ms(row.window_end_ms))
        else:  # SQLite hands back JSON, dates and timestamps as text and booleans as integers
            row = row._replace(
                held=_loads(row.held), reasons=_loads(row.reasons), covered=_loads(row.covered),
                is_playing=bool(row.is_playing), is_visible=bool(row.is_visible), is_complete=bool(row.is_complete),
            )
            if row.window_end_ms is not None:
                row = row._replace(
                    window_end_ms=rules.to_ms(datetime.fromisoformat(row.window_end_ms).replace(tzinfo=timezone.utc)),
                    window_day=date.fromisoformat(row.window_day),
                )
        return row


def _sqlite_datetime(value: datetime) -> str:
    """A datetime as SQLAlchemy stores it on SQLite: naive UTC, always with microseconds."""
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _json_text(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def _loads(value):
    return json.loads(value) if isinstance(value, str) else value


def _q() -> _Sql:
    cache = _cache()
    statements = cache.get("sql")
    if statements is None:
        statements = cache["sql"] = _Sql(db.engine.dialect.name)
    return statements


def _lock_user(conn, user_id: int) -> None:
    """Take the user's lock row, creating it on first use.

    On PostgreSQL this serialises the user's writes; on SQLite the write
    transaction's BEGIN IMMEDIATE already holds the database's write lock.
    """
    lock = select(U.c.user_id).where(U.c.user_id == user_id).with_for_update()
    if conn.execute(lock).first() is None:
        conn.execute(_dialect_insert(U).values(user_id=user_id).on_conflict_do_nothing())
        conn.execute(lock)


def _read(conn, key: SessionKey | None, session_id: int, days: list[date], in_write: bool,
          credential: auth.ApiCredential | None = None):
    """Read a session with its lesson progress, the user's state and day totals; return (row, day totals, key).

    conn is a DBAPI connection; in_write says it is the Session's, in a write transaction.
    key: None when this worker does not know the session yet: the row tells it (and it is cached).
    credential: the request's sign-in, checked with the read (see _check_signed_in).
    """
    params = {"b_sid": session_id, "b_day_a": days[0], "b_day_b": days[-1]}
    joined = ""
    if credential is not None and credential.kind != "user" and not in_write:
        joined = credential.kind
        params["b_credential"] = credential.value
    row = _q().read(conn, params, for_write=in_write, credential_kind=joined)
    if key is None and row is not None:
        key = _remember_key(session_id, SessionKey(row.user_id, row.project_id, row.lesson_id))
    if credential is not None:
        _check_signed_in(conn, key, credential, row if joined else None)
    if row is None:
        raise _session_not_found()
    if row.progress_id is None or row.next_check_after_ms is None:
        # Both are made when the session opens; recreate what an administrator's cleanup removed
        # (committed with the heartbeat's write transaction).
        if not in_write:
            raise _NeedsLock()
        _ensure_user(db.session.connection(), key.user_id)
        _ensure_progress(key.user_id, key.project_id, key.lesson_id)
        row = _q().read(conn, params, for_write=True)
    if len(days) <= 2:
        totals: Mapping[date, int] = {days[0]: row.day_a_ms or 0, days[-1]: row.day_b_ms or 0}
    else:
        totals = _DayTotals(key.user_id, days)
    return row, totals, key


def _check_signed_in(conn, key: SessionKey | None, credential: auth.ApiCredential, row: _SessionRow | None) -> None:
    """Check that the request signs in the session's user: auth.NotSignedIn if nobody, NotFound if someone else.

    row: a read that joined the credential's check, else None. When that check
    failed, or there was none, the full check decides (a stale cookie may come
    with a valid Bearer token).
    """
    user_id = None if row is None else auth.credential_user_id(credential, row.auth_user_id, row.auth_expires_at)
    if user_id is None:
        if not has_request_context():  # below Flask (api.HeartbeatFastPath): the route runs the full check
            raise auth.NotSignedIn()
        user_id = auth.get_api_user_id(conn)
    if user_id is None:
        raise auth.NotSignedIn()
    if key is None or user_id != key.user_id:
        raise _session_not_found()


def _ensure_user(conn, user_id: int) -> None:
    conn.execute(_dialect_insert(U).values(user_id=user_id).on_conflict_do_nothing())


def _ensure_progress(user_id: int, project_id: int, lesson_id: int) -> None:
    db.session.execute(
        _dialect_insert(P)
        .values(user_id=user_id, project_id=project_id, lesson_id=lesson_id, credited_ms=0, covered=[], covered_ms=0,
                is_complete=False, resume_position_ms=0, max_position_ms=0, updated_at=clock.now())
        .on_conflict_do_nothing()
    )


def _session_state(row) -> rules.SessionState:
    return rules.SessionState(
        seq=row.last_seq,
        at_ms=row.last_at_ms,
        position_ms=row.last_position_ms,
        playing=row.is_playing,
        visible=row.is_visible,
        rate=row.rate,
        credit_from_ms=row.credit_from_ms,
        held=tuple(_piece(p) for p in row.held or ()),
    )


def _user_state(row) -> rules.UserState:
    """The user's rule state: the open session carries the running floor and playing time."""
    return rules.UserState(
        credited_until_ms=max(row.credited_until_ms or 0, row.user_credited_until_ms or 0),
        playing_ms=row.playing_ms or 0,
        next_check_after_ms=row.next_check_after_ms or 0,
        pending_check_id=row.pending_check_id,
        pending_due_ms=row.pending_due_ms,
    )


def _piece(data: list) -> rules.Piece:
    start, end, frm, to, day = data
    return rules.Piece(start, end, frm, to, date.fromisoformat(day))


def _held_json(held: tuple[rules.Piece, ...]) -> list | None:
    if not held:
        return None
    return [[p.start_ms, p.end_ms, p.from_position_ms, p.to_position_ms, p.day.isoformat()] for p in held]


class _DayTotals(Mapping):
    """The user's credited total per local day, read from the database only if the rules ask."""

    def __init__(self, user_id: int, days: list[date]):
        self.user_id = user_id
        self.days = days
        self._values: dict[date, int] | None = None

    def _load(self) -> dict[date, int]:
        if self._values is None:
            self._values = {day: 0 for day in self.days}
            rows = db.session.execute(
                select(D.c.day, D.c.credited_ms).where(D.c.user_id == self.user_id, D.c.day.in_(self.days))
            )
            for day, ms in rows:
                self._values[day] = ms
        return self._values

    def __contains__(self, day: object) -> bool:
        return day in self.days

    def __getitem__(self, day: date) -> int:
        return self._load()[day]

    def __iter__(self) -> Iterator[date]:
        return iter(self.days)

    def __len__(self) -> int:
        return len(self.days)


def _continues(end_ms: int, day: date, to_position_ms: int, piece: rules.Piece) -> bool:
    """Does the piece continue a credit window that ends there (same day, no gap, within 2 s of its position)?"""
    return piece.start_ms == end_ms and piece.day == day and abs(piece.from_position_ms - to_position_ms) <= 2000


def _window_runs(row, pieces: tuple[rules.Piece, ...]) -> list[tuple[bool, rules.Piece]]:
    """The credit windows a heartbeat writes: (extends the session's last window?, the stretch it covers).

    Decided from the read (the window can only change with its session's version): the first piece
    may continue the session's last window, and a piece that continues the one before it joins it.
    """
    runs: list[tuple[bool, rules.Piece]] = []
    for piece in pieces:
        if runs:
            extends, last = runs[-1]
            if _continues(last.end_ms, last.day, last.to_position_ms, piece):
                runs[-1] = (extends, replace(last, end_ms=piece.end_ms, to_position_ms=piece.to_position_ms))
                continue
        elif row.window_end_ms is not None and _continues(row.window_end_ms, row.window_day, row.window_to_ms, piece):
            runs.append((True, piece))
            continue
        runs.append((False, piece))
    return runs


def _window_params(session_id: int, key: SessionKey, window_id: int | None, run: rules.Piece, extend: bool) -> dict:
    """Parameters of extend_window (window_id: the session's last window) or insert_window."""
    params = {"b_end": rules.from_ms(run.end_ms), "b_to": run.to_position_ms, "b_ms": run.ms}
    if extend:
        params["b_window"] = window_id
    else:
        params.update(b_sid=session_id, b_user=key.user_id, b_project=key.project_id, b_lesson=key.lesson_id,
                      b_day=run.day, b_start=rules.from_ms(run.start_ms), b_from=run.from_position_ms)
    return params


@dataclass
class _Computed:
    """A heartbeat or presence answer decided by the rules, ready to be written."""

    out: rules.Outcome
    lesson: dict
    progress: dict | None  # parameters of write_progress, None when nothing changed
    created_check: PresenceCheck | None = None


def _compute(ctx: LessonContext, row, out: rules.Outcome, now: datetime) -> _Computed:
    """Work out the lesson's new figures (pure: nothing is written here)."""
    credited = out.credited_ms
    lesson_ms = (row.lesson_ms or 0) + credited
    segments = row.covered or []
    covered = row.covered_ms or 0
    complete = bool(row.is_complete)
    progress = None
    if out.coverage is not None or credited:
        max_position = row.max_position_ms or 0
        if out.coverage is not None:
            segments = rules.merge_segments(segments, out.coverage)
            covered = rules.covered_ms(segments)
            max_position = max(max_position, segments[-1][1])
            complete = complete or rules.is_complete(covered, ctx.duration_ms, ctx.settings)
        progress = {
            "b_pid": row.progress_id,
            "b_add": credited,
            "b_covered": segments,
            "b_covered_ms": covered,
            "b_complete": complete,
            "b_completed_at": now if complete else None,
            "b_max": max_position,
            "b_now": now,
        }
    return _Computed(out, {"credited_s": _s(lesson_ms), "covered_s": _s(covered), "complete": complete}, progress)


def _checks(user: rules.UserState) -> tuple:
    return user.next_check_after_ms, user.pending_check_id, user.pending_due_ms


def _write(conn, session_id: int, key: SessionKey, row, user_before: rules.UserState, done: _Computed) -> None:
    """Write a computed outcome; raise _Retry when the session is no longer the version that was read.

    On SQLite, _Retry is raised before anything is written (the group commit
    counts on it). On PostgreSQL the writes are one statement: in autocommit
    (the hot path) it is its own transaction, else part of the caller's; it
    fails when the session lost a race, which undoes it.
    """
    q = _q()
    out = done.out
    state = out.session
    checks = _checks(out.user)
    checks_changed = checks != _checks(user_before)
    if checks_changed and done.created_check is not None:
        db.session.add(done.created_check)  # only ever in the Session's transaction, whose connection conn is
        db.session.flush()
    params = {
        "b_sid": session_id,
        "b_version": row.version,
        "b_seq": state.seq,
        "b_at": state.at_ms,
        "b_position": state.position_ms,
        "b_playing": state.playing,
        "b_visible": state.visible,
        "b_rate": state.rate,
        "b_credit_from": state.credit_from_ms,
        "b_credited": row.credited_ms + out.credited_ms,
        "b_held": _held_json(state.held),
        "b_reasons": out.reasons.merge_into(row.reasons) if out.reasons else row.reasons,
        "b_window": row.last_window_id,
        "b_until": out.user.credited_until_ms,
        "b_playing_ms": out.user.playing_ms,
    }
    parts = [("extend" if extends else "insert", _window_params(session_id, key, row.last_window_id, run, extends))
             for extends, run in _window_runs(row, out.credited)]
    days: dict[date, int] = {}  # one write per day: PostgreSQL's one statement may not change a row twice
    for piece in out.credited:
        days[piece.day] = days.get(piece.day, 0) + piece.ms
    parts += [("day", {"b_user": key.user_id, "b_day": day, "b_ms": ms}) for day, ms in days.items()]
    if done.progress is not None:
        parts.append(("progress", done.progress))
    if checks_changed:
        parts.append(("checks", {"b_user": key.user_id, "b_next": checks[0], "b_check": checks[1], "b_due": checks[2]}))
    if q.is_postgresql:
        for i, (_, values) in enumerate(parts):
            params.update((f"q{i}_{k[2:]}", v) for k, v in values.items())
        try:
            q.run(conn, q.write_all(tuple(part for part, _ in parts)), params)
        except q.lost_race:
            raise _Retry() from None
        return
    # SQLite: the versioned session update comes first, so a heartbeat that lost a race writes nothing at all.
    if q.run(conn, "write_session", params).rowcount != 1:
        raise _Retry()
    window_id = row.last_window_id
    for part, values in parts:
        cursor = q.run(conn, _PART_STATEMENTS[part], values)
        if part == "insert":
            window_id = cursor.fetchone()[0]
    if window_id != row.last_window_id:  # point the session at its new window
        q.run(conn, "point_at_window", {"b_sid": session_id, "b_window": window_id})


def _count_reason(session_id: int, reason: str) -> None:
    """Count a refused heartbeat in a closed session's reasons (under the user's lock)."""
    stored = db.session.execute(select(S.c.reasons).where(S.c.id == session_id)).scalar_one()
    tally = rules.Tally()
    tally.add(reason)
    db.session.execute(update(S).where(S.c.id == session_id).values(reasons=tally.merge_into(stored)))


def _closed_error(status: str) -> Exception:
    if status == "superseded":
        return Conflict(
            _("This playback continued in another window or device; this one no longer earns time. Reload to continue here."),
            code="superseded",
        )
    return Gone(_("This playback session has ended. Reload the page to start a new one."), code="ended")


def _greatest(column, value: int):
    """SQL for the larger of a column and a value."""
    return func.greatest(column, value) if _q().is_postgresql else func.max(column, value)


def _fold_session(conn, user_id: int, session_id: int, status: str, now: datetime, held_reason: str) -> None:
    """Close a session: hand its running figures back to the user's row and give up held credit.

    Must run inside the user's lock.
    """
    row = conn.execute(
        select(S.c.project_id, S.c.lesson_id, S.c.held, S.c.reasons, S.c.credited_until_ms, S.c.playing_ms,
               S.c.last_position_ms).where(S.c.id == session_id).with_for_update()  # a heartbeat's write may be on its way
    ).one()
    values: dict = {"status": status, "closed_at": now, "version": S.c.version + 1}
    if row.held:
        tally = rules.Tally()
        tally.add(held_reason, sum(p[1] - p[0] for p in row.held))
        values.update(held=None, reasons=tally.merge_into(row.reasons))
    conn.execute(update(S).where(S.c.id == session_id).values(**values))
    conn.execute(
        update(U)
        .where(U.c.user_id == user_id)
        .values(credited_until_ms=_greatest(U.c.credited_until_ms, row.credited_until_ms), playing_ms=row.playing_ms)
    )
    conn.execute(
        update(P)
        .where(P.c.user_id == user_id, P.c.project_id == row.project_id, P.c.lesson_id == row.lesson_id)
        .values(resume_position_ms=row.last_position_ms)
    )


# ----------------------------------------------------------------- presence checks


def _presence_json(user: rules.UserState, ctx: LessonContext, created: PresenceCheck | None = None) -> dict | None:
    """The pending check as heartbeat answers carry it (cached: a check never changes)."""
    if not user.has_pending_check:
        return None
    checks = _cache().setdefault("checks", {})
    answer = checks.get(user.pending_check_id)
    if answer is None:
        check = created or db.session.get(PresenceCheck, user.pending_check_id)
        if check is None:
            return None
        if len(checks) > 50_000:
            checks.clear()
        answer = checks[check.id] = {
            "id": check.id,
            "prompt": check.prompt,
            "options": list(check.options),
            "due_at": check.due_at.isoformat(),
            "answer_by": rules.from_ms(user.pending_due_ms + ctx.settings.presence_timeout_ms).isoformat(),
        }
    return answer


def _new_check(user_id: int, session_id: int, due_ms: int) -> PresenceCheck:
    made = rules.make_presence_check(_rng, due_ms)
    return PresenceCheck(
        id=made.id,
        user_id=user_id,
        session_id=session_id,
        prompt=_("Are you still there? Select the number %(n)s.", n=made.number),
        options=list(made.options),
        answer=made.answer,
        due_at=rules.from_ms(due_ms),
        is_late=False,
        wrong_answers=0,
    )


# ----------------------------------------------------------------- use cases


def do_open_session(user: User, project_id: int, lesson_id: int, user_agent: str = "") -> dict:
    """Open a playback session, superseding every other open session of the user (R5).

    Raises Forbidden/NotFound when the lesson is not open to the user in that project (R7),
    Conflict when the lesson has no duration yet (media still being processed).
    """
    project, lesson = courses.get_project_lesson(user, project_id, lesson_id)
    if not lesson.duration_s or lesson.duration_s <= 0:
        raise Conflict(_("This lesson is not ready to play yet. Try again later."), code="lesson_not_ready")
    ctx = _make_context(project, lesson)  # opening a session refreshes the cached settings
    with _writing():
        conn = db.session.connection()
        _lock_user(conn, user.id)
        now = clock.now()
        for old_id in conn.execute(select(S.c.id).where(S.c.user_id == user.id, S.c.status == "open")).scalars().all():
            _fold_session(conn, user.id, old_id, "superseded", now, "superseded")
        _ensure_progress(user.id, project.id, lesson.id)
        figures = conn.execute(select(U).where(U.c.user_id == user.id)).one()
        session_id = conn.execute(
            insert(S).values(
                user_id=user.id, project_id=project.id, lesson_id=lesson.id, status="open", opened_at=now,
                user_agent=(user_agent or "")[:255], last_seq=0, last_position_ms=0, is_playing=False,
                is_visible=True, rate=1.0, credited_ms=0, version=0,
                credited_until_ms=figures.credited_until_ms, playing_ms=figures.playing_ms,
            )
        ).inserted_primary_key[0]
        progress = conn.execute(
            select(P.c.resume_position_ms, P.c.max_position_ms, P.c.credited_ms, P.c.covered_ms, P.c.is_complete).where(
                P.c.user_id == user.id, P.c.project_id == project.id, P.c.lesson_id == lesson.id
            )
        ).one()
        presence = _presence_json(
            rules.UserState(pending_check_id=figures.pending_check_id, pending_due_ms=figures.pending_due_ms), ctx
        )
    _cache()["sessions"][session_id] = SessionKey(user.id, project.id, lesson.id)
    resume = progress.resume_position_ms
    if resume >= ctx.duration_ms - 1000:
        resume = 0
    return {
        "session_id": session_id,
        "heartbeat_interval_s": ctx.interval_s,
        "duration_s": lesson.duration_s,
        "resume_position_s": _s(resume),
        "max_position_s": _s(progress.max_position_ms),
        "is_seek_ahead_forbidden": ctx.is_seek_ahead_forbidden,
        "lesson": {"credited_s": _s(progress.credited_ms), "covered_s": _s(progress.covered_ms),
                   "complete": bool(progress.is_complete)},
        "presence_check": presence,
    }


@dataclass(frozen=True)
class HeartbeatInput:
    """A heartbeat body whose types are already checked (seconds, as the client sent them)."""

    seq: int
    position_s: float
    playing: bool
    visible: bool
    rate: float
    event: str
    from_position_s: float | None = None


_FIELD_MESSAGES = {
    "seq": _l("seq must be a whole number of at least 1."),
    "position_s": _l("position_s must be between 0 and the lesson's duration."),
    "from_position_s": _l("from_position_s must be sent with a seek only, between 0 and the lesson's duration."),
    "rate": _l("rate must be between 0.0625 and 16."),
    "event": _l("event must be one of tick, play, pause, seek, ended, hidden, shown."),
}


class Declined(Exception):
    """The heartbeat is answered with an error: nothing was written, the caller leaves it to the route."""


def check_heartbeat(conn, credential: auth.ApiCredential, session_id: int, body: HeartbeatInput,
                    success_only: bool = False) -> dict:
    """Validate and credit one heartbeat of the signed-in user's session (R1–R10); return the answer of TRACKING.md.

    conn is a DBAPI connection of the request outside the Session (common.db.dbapi_connection);
    credential is the request's (auth.get_api_credential), checked with the read: auth.NotSignedIn
    when it signs nobody in. The answer is only returned once its effects are committed (R11).
    success_only: raise Declined, having written nothing, where the answer would be an error that
    writes (a closed session counts the refused heartbeat); every other error is raised before
    anything is written anyway.
    """
    key = _cache()["sessions"].get(session_id)
    ctx = None if key is None else get_lesson_context(key.project_id, key.lesson_id)
    hb = rules.Heartbeat(
        seq=body.seq,
        position_ms=rules.seconds_to_ms(body.position_s),
        playing=body.playing,
        visible=body.visible,
        rate=body.rate,
        event=body.event,
        from_position_ms=None if body.from_position_s is None else rules.seconds_to_ms(body.from_position_s),
    )
    attempt = 0
    while True:
        locked = attempt >= OPTIMISTIC_ATTEMPTS
        if key is None and (locked or attempt or "guess" not in _cache()):
            # Under the lock, or with nothing to guess the days to read from (_decide_heartbeat), the
            # session is looked up first; after a first attempt this is the key its read cached.
            key = _session_key(session_id, conn)
            if key is None:
                if credential is not None:
                    _check_signed_in(conn, None, credential, None)  # 401 when nobody signs in, else 404
                raise _session_not_found()
            ctx = get_lesson_context(key.project_id, key.lesson_id)
        try:
            return _heartbeat_once(conn, key, ctx, session_id, hb, locked, credential, success_only)
        except _NeedsLock:
            attempt = OPTIMISTIC_ATTEMPTS
        except _Retry:
            if locked:
                raise AssertionError("unreachable: a heartbeat computed under the lock cannot lose a race")
            attempt += 1
        db.session.rollback()
        credential = None  # both are raised after the read checked the sign-in: the next attempt need not


@dataclass
class _Plan:
    """What one heartbeat will write and answer, decided from one read."""

    answer: dict | None = None
    error: Exception | None = None
    count_superseded: bool = False
    row: object = None
    user_state: rules.UserState | None = None
    done: _Computed | None = None
    key: SessionKey | None = None


def _heartbeat_once(conn, key: SessionKey | None, ctx: LessonContext | None, session_id: int, hb: rules.Heartbeat,
                    locked: bool, credential: auth.ApiCredential | None, success_only: bool) -> dict:
    """One attempt: read on `conn` (the request's DBAPI connection), decide, write; raise _Retry on a lost race.

    key and ctx: None when this worker does not know the session yet (never under the lock).
    """
    if locked:
        with _writing():
            session_conn = db.session.connection()
            _lock_user(session_conn, key.user_id)
            plan = _decide_heartbeat(driver_connection(session_conn), key, ctx, session_id, hb, True, credential)
            if success_only and plan.error is not None:
                raise Declined()
            _apply_heartbeat(driver_connection(session_conn), key, session_id, plan)
    else:
        plan = _decide_heartbeat(conn, key, ctx, session_id, hb, False, credential)
        key = plan.key
        if success_only and plan.error is not None:
            raise Declined()
        if db.session.registry.has() and db.session().in_transaction():
            db.session.commit()  # a cache miss read through the Session: end it before writing
        simple = plan.done is not None and plan.done.created_check is None
        group = _group_commit()
        if simple and group is not None:
            # SQLite: queued with this worker's other heartbeats in one write transaction.
            group.run(conn, lambda c: _write(c, session_id, key, plan.row, plan.user_state, plan.done))
        elif simple and _checks(plan.done.out.user) == _checks(plan.user_state):
            # PostgreSQL: one statement in autocommit. A heartbeat that issues or clears a presence check
            # writes the user's row, which only ever happens under the user's lock (below).
            _write(conn, session_id, key, plan.row, plan.user_state, plan.done)
        else:
            if plan.done is not None or plan.count_superseded:
                with _writing():  # the lock is held for the writes only
                    _apply_heartbeat(driver_connection(db.session.connection()), key, session_id, plan)
    if plan.error is not None:
        raise plan.error
    return plan.answer


def _decide_heartbeat(conn, key: SessionKey | None, ctx: LessonContext | None, session_id: int,
                      hb: rules.Heartbeat, in_write: bool, credential: auth.ApiCredential | None) -> _Plan:
    """Check the sign-in, read the session and let the rules decide; nothing is written here.

    key and ctx: None when this worker does not know the session yet. The read then tells whose
    session it is, so that it needs no lookup of its own; the days whose totals it reads are
    guessed from the settings of the lesson this worker last loaded, and read again in the rare
    case the session's own settings make them other days.
    """
    now = clock.now()  # the server's receipt time (R1); a recomputed heartbeat is stamped again
    now_ms = rules.to_ms(now)
    days = rules.days_to_read(now_ms, _cache()["guess"] if ctx is None else ctx.settings)
    row, totals, key = _read(conn, key, session_id, days, in_write, credential)
    if ctx is None:
        ctx = get_lesson_context(key.project_id, key.lesson_id)
        if (wanted := rules.days_to_read(now_ms, ctx.settings)) != days:
            row, totals, key = _read(conn, key, session_id, wanted, in_write)
    plan = _decide(ctx, key, session_id, hb, now, now_ms, row, totals)
    plan.key = key
    return plan


def _decide(ctx: LessonContext, key: SessionKey, session_id: int, hb: rules.Heartbeat, now: datetime, now_ms: int,
            row: _SessionRow, days: Mapping[date, int]) -> _Plan:
    """Let the rules decide a heartbeat on what was read; nothing is written here."""
    field = rules.check_bounds(hb, ctx.duration_ms)  # after the sign-in check: 401 comes before 400
    if field is not None:
        raise Invalid(str(_FIELD_MESSAGES[field]), code=field)
    if row.status != "open":
        return _Plan(error=_closed_error(row.status), count_superseded=row.status == "superseded")
    user_state = _user_state(row)
    out = rules.process_heartbeat(
        _session_state(row), user_state, hb, now_ms, ctx.settings, ctx.duration_ms, row.lesson_ms or 0, days, _rng
    )
    created = None
    if out.is_check_due:
        created = _new_check(key.user_id, session_id, now_ms)
        out = replace(out, user=rules.issue_check(out.user, created.id, now_ms))
    done = _compute(ctx, row, out, now)
    done.created_check = created
    answer = {
        "accepted": out.accepted,
        "credited_s_session": _s(row.credited_ms + out.credited_ms),
        "lesson": done.lesson,
        "presence_check": _presence_json(out.user, ctx, created),
    }
    return _Plan(answer=answer, row=row, user_state=user_state, done=done)


def _apply_heartbeat(conn, key: SessionKey, session_id: int, plan: _Plan) -> None:
    """Write a plan in the Session's write transaction (conn is its DBAPI connection)."""
    if _q().is_postgresql:
        _q().run(conn, "lock_user", {"b_user": key.user_id})
    if plan.count_superseded:
        _count_reason(session_id, "superseded")
    elif plan.done is not None:
        _write(conn, session_id, key, plan.row, plan.user_state, plan.done)


def check_presence_answer(user_id: int, session_id: int, check_id: str, answer: str) -> dict:
    """Take the answer to the user's pending presence check (R8).

    A right answer in time credits the time held since the check was due; a late
    one only ends the block. A wrong answer or a check that is not the pending
    one changes nothing (Conflict).
    """
    key = _own_session(user_id, session_id)
    ctx = get_lesson_context(key.project_id, key.lesson_id)
    error: Exception | None = None
    with _writing():
        conn = db.session.connection()
        _lock_user(conn, user_id)
        now = clock.now()
        now_ms = rules.to_ms(now)
        row, days, key = _read(driver_connection(conn), key, session_id, rules.days_to_read(now_ms, ctx.settings), True)
        user_state = _user_state(row)
        check = db.session.get(PresenceCheck, check_id) if check_id == user_state.pending_check_id else None
        if row.status != "open":
            error = _closed_error(row.status)
        elif check is None or check.user_id != user_id:
            error = Conflict(_("This presence check is no longer open."), code="stale_check")
        elif str(answer).strip() != check.answer:
            check.wrong_answers += 1
            error = Conflict(_("That is not the right answer. Please try again."), code="wrong_answer")
        else:
            is_late = rules.is_overdue(user_state, now_ms, ctx.settings)
            out = rules.answer_check(
                _session_state(row), user_state, now_ms, ctx.settings, ctx.duration_ms, row.lesson_ms or 0, days, _rng
            )
            done = _compute(ctx, row, out, now)
            _write(driver_connection(conn), session_id, key, row, user_state, done)
            conn.execute(update(U).where(U.c.user_id == user_id).values(
                playing_ms=0, credited_until_ms=_greatest(U.c.credited_until_ms, out.user.credited_until_ms)))
            check.answered_at = now
            check.is_late = is_late
            result = {
                "ok": True,
                "late": is_late,
                "credited_s_session": _s(row.credited_ms + out.credited_ms),
                "lesson": done.lesson,
            }
    if error is not None:
        raise error
    return result


def do_end_session(user_id: int, session_id: int) -> dict:
    """End the user's session; held credit of an unanswered check is given up."""
    _own_session(user_id, session_id)
    error: Exception | None = None
    with _writing():
        conn = db.session.connection()
        _lock_user(conn, user_id)
        row = conn.execute(select(S.c.status, S.c.credited_ms).where(S.c.id == session_id)).one()
        if row.status != "open":
            error = _closed_error(row.status)
        else:
            _fold_session(conn, user_id, session_id, "ended", clock.now(), "presence_overdue")
    if error is not None:
        raise error
    return {"credited_s_session": _s(row.credited_ms)}


def do_correct_credit(admin: User, learner: User, project: Project, lesson: Lesson, delta_s: float, reason: str) -> CreditCorrection:
    """Add (or remove) credited time of a learner's lesson, recorded with who, when and why (R13).

    The caller checks permissions.can_correct_credit.
    """
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("Say why the credit is corrected."), code="reason")
    delta_ms = rules.seconds_to_ms(delta_s)
    if delta_ms == 0:
        raise Invalid(_("The correction must add or remove some time."), code="delta_s")
    with _writing():
        _lock_user(db.session.connection(), learner.id)
        _ensure_progress(learner.id, project.id, lesson.id)
        current = db.session.execute(
            select(P.c.credited_ms).where(P.c.user_id == learner.id, P.c.project_id == project.id, P.c.lesson_id == lesson.id)
        ).scalar_one()
        if current + delta_ms < 0:
            raise Invalid(_("A correction cannot make the credited time negative."), code="delta_s")
        correction = CreditCorrection(
            user_id=learner.id, project_id=project.id, lesson_id=lesson.id, delta_ms=delta_ms, reason=reason[:2000],
            created_by_id=admin.id, created_at=clock.now(),
        )
        db.session.add(correction)
        # Relative: a heartbeat racing with the correction adds its own seconds on top.
        db.session.execute(
            update(P)
            .where(P.c.user_id == learner.id, P.c.project_id == project.id, P.c.lesson_id == lesson.id)
            .values(credited_ms=P.c.credited_ms + delta_ms, updated_at=clock.now())
        )
    return correction


# ----------------------------------------------------------------- reading progress and audit


def _segments_s(segments) -> list[list[float]]:
    return [[_s(a), _s(b)] for a, b in segments or ()]


def reason_label(reason: str) -> str:
    """Return the translated label of a reason (its English text outside a request: CLI, jobs)."""
    label = REASON_LABELS[reason]
    return str(label) if has_request_context() else label._args[0]


def _reason_list(counters: Mapping[str, list[int]]) -> list[dict]:
    return [
        {"reason": r, "label": reason_label(r), "count": counters[r][0], "seconds": _s(counters[r][1])}
        for r in rules.REASONS
        if r in counters
    ]


#: why a lesson the learner studied is no longer open to them, in words a teacher understands
CLOSED_REASONS = {
    "project_archived": _l("Project archived"),
    "course_archived": _l("Course archived"),
    "lesson_archived": _l("Lesson archived"),
    "course_unlinked": _l("Course removed from the project"),
    "elective_withdrawn": _l("Elective withdrawn"),
    "elective_unconfirmed": _l("Elective awaiting the school's confirmation"),
    "made_elective": _l("Course made elective (not chosen)"),
}


def closed_reason_label(code: str) -> str:
    """Return the translated label of a closed-lesson reason."""
    return str(CLOSED_REASONS[code])


def _closed_reason(project: Project, user: User, lesson: Lesson) -> str:
    """Say why a lesson of the learner's records is not open to them in the project (see CLOSED_REASONS)."""
    course = lesson.module.course
    if project.is_archived:
        return "project_archived"
    if lesson.is_archived:
        return "lesson_archived"
    if course.is_archived:
        return "course_archived"
    if not any(link.course_id == course.id for link in project.course_links):
        return "course_unlinked"
    if course.id in courses.get_elective_choices(project, user):
        return "elective_unconfirmed"
    if course.id in courses.get_elective_choices(project, user, is_withdrawn=True):
        return "elective_withdrawn"
    return "made_elective"


def _progress_item(lesson: Lesson, row: LessonProgress | None, resume_ms: int) -> dict:
    return {
        "lesson_id": lesson.id,
        "course_id": lesson.module.course_id,
        "title": lesson.title,
        "kind": lesson.kind,
        "duration_s": lesson.duration_s,
        "credited_s": _s(row.credited_ms if row else 0),
        "covered_s": _s(row.covered_ms if row else 0),
        "complete": bool(row and row.is_complete),
        "resume_position_s": _s(resume_ms),
        "max_position_s": _s(row.max_position_ms if row else 0),
        "segments": _segments_s(row.covered if row else []),
        "is_open": True,
        "closed_reason": None,
        "closed_reason_text": None,
    }


def get_project_progress(user: User, project: Project) -> dict:
    """Return the user's progress in the project: hours, and per lesson credit, coverage and completion.

    The total is every credited second recorded in the project (R13: nothing vanishes). Lessons
    that hold the learner's records but are no longer open to them follow the open ones, marked
    with `is_open` false and the reason.
    """
    lessons = courses.get_project_lessons(project, user)
    rows = {
        r.lesson_id: r
        for r in db.session.execute(
            select(LessonProgress).where(LessonProgress.user_id == user.id, LessonProgress.project_id == project.id)
        ).scalars()
    }
    # The open session's position is newer than the folded resume point.
    playing_now = db.session.execute(
        select(S.c.lesson_id, S.c.last_position_ms).where(
            S.c.user_id == user.id, S.c.status == "open", S.c.project_id == project.id, S.c.last_at_ms.is_not(None)
        )
    ).first()
    items = []
    for lesson in lessons:
        row = rows.get(lesson.id)
        resume_ms = row.resume_position_ms if row else 0
        if playing_now is not None and playing_now.lesson_id == lesson.id:
            resume_ms = playing_now.last_position_ms
        items.append(_progress_item(lesson, row, resume_ms))
    open_count = len(items)
    closed_ids = sorted(set(rows) - {lesson.id for lesson in lessons})
    if closed_ids:
        closed = db.session.execute(
            select(Lesson).join(Lesson.module).where(Lesson.id.in_(closed_ids))
        ).scalars().all()
        for lesson in sorted(closed, key=lambda x: (x.module.course_id, x.module.position, x.position, x.id)):
            row = rows[lesson.id]
            item = _progress_item(lesson, row, row.resume_position_ms)
            reason = _closed_reason(project, user, lesson)
            item.update(is_open=False, closed_reason=reason, closed_reason_text=closed_reason_label(reason))
            items.append(item)
    total_ms = sum(row.credited_ms for row in rows.values())
    required_ms = int(project.required_hours * project.minutes_per_hour * 60 * 1000)
    return {
        "project_id": project.id,
        "title": project.title,
        "credited_s": _s(total_ms),
        "learning_hours": rules.learning_hours(total_ms, project.minutes_per_hour),
        "required_hours": project.required_hours,
        "minutes_per_hour": project.minutes_per_hour,
        "missing_s": _s(max(0, required_ms - total_ms)),
        "lesson_count": open_count,
        "complete_count": sum(1 for i in items[:open_count] if i["complete"]),
        "closed_count": len(items) - open_count,
        "lessons": items,
    }


def get_recorded_lesson(user: User, project: Project, lesson_id: int) -> Lesson:
    """Return a lesson of the project's courses, or one holding the user's records there (even if no longer open).

    NotFound for an unknown lesson, Forbidden for a lesson that is neither.
    """
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None:
        raise NotFound(_("No such lesson."))
    if lesson.module.course_id in {link.course_id for link in project.course_links}:
        return lesson
    recorded = db.session.execute(
        select(LessonProgress.id).where(LessonProgress.user_id == user.id, LessonProgress.project_id == project.id,
                                        LessonProgress.lesson_id == lesson.id)
    ).first()
    if recorded is None:
        raise Forbidden(_("This lesson is not part of your courses in this project."), code="not_enrolled")
    return lesson


def get_lesson_audit(user: User, project: Project, lesson: Lesson) -> dict:
    """Return the audit trail of the user's lesson in the project (R13): sessions, windows, reasons, corrections."""
    progress = db.session.execute(
        select(LessonProgress).where(
            LessonProgress.user_id == user.id, LessonProgress.project_id == project.id, LessonProgress.lesson_id == lesson.id
        )
    ).scalar_one_or_none()
    sessions = list(
        db.session.execute(
            select(PlaybackSession)
            .where(
                PlaybackSession.user_id == user.id,
                PlaybackSession.project_id == project.id,
                PlaybackSession.lesson_id == lesson.id,
            )
            .order_by(PlaybackSession.id.desc())
        ).scalars()
    )
    windows: dict[int, list[CreditWindow]] = {}
    for window in db.session.execute(
        select(CreditWindow)
        .where(CreditWindow.user_id == user.id, CreditWindow.project_id == project.id, CreditWindow.lesson_id == lesson.id)
        .order_by(CreditWindow.started_at)
    ).scalars():
        windows.setdefault(window.session_id, []).append(window)
    corrections = list(
        db.session.execute(
            select(CreditCorrection, User.real_name, User.username)
            .outerjoin(User, User.id == CreditCorrection.created_by_id)
            .where(
                CreditCorrection.user_id == user.id,
                CreditCorrection.project_id == project.id,
                CreditCorrection.lesson_id == lesson.id,
            )
            .order_by(CreditCorrection.created_at)
        )
    )
    checks = []
    if sessions:
        checks = list(
            db.session.execute(
                select(PresenceCheck)
                .where(PresenceCheck.session_id.in_([s.id for s in sessions]))
                .order_by(PresenceCheck.due_at)
            ).scalars()
        )

    totals: dict[str, list[int]] = {}
    session_items = []
    recomputed_ms = 0
    for session in sessions:
        counters = session.reasons or {}
        for reason, (count, ms) in counters.items():
            entry = totals.setdefault(reason, [0, 0])
            entry[0] += count
            entry[1] += ms
        own = windows.get(session.id, [])
        recomputed_ms += sum(w.credited_ms for w in own)
        session_items.append(
            {
                "id": session.id,
                "status": session.status,
                "opened_at": session.opened_at,
                "closed_at": session.closed_at,
                "user_agent": session.user_agent,
                "credited_s": _s(session.credited_ms),
                "reasons": _reason_list(counters),
                "windows": [
                    {
                        "started_at": w.started_at,
                        "ended_at": w.ended_at,
                        "day": w.day,
                        "from_position_s": _s(w.from_position_ms),
                        "to_position_s": _s(w.to_position_ms),
                        "credited_s": _s(w.credited_ms),
                    }
                    for w in own
                ],
            }
        )
    recomputed_ms += sum(row.CreditCorrection.delta_ms for row in corrections)
    return {
        "project_id": project.id,
        "lesson_id": lesson.id,
        "title": lesson.title,
        "duration_s": lesson.duration_s,
        "credited_s": _s(progress.credited_ms if progress else 0),
        "covered_s": _s(progress.covered_ms if progress else 0),
        "complete": bool(progress and progress.is_complete),
        "segments": _segments_s(progress.covered if progress else []),
        "recomputed_s": _s(recomputed_ms),
        "reasons": _reason_list(totals),
        "sessions": session_items,
        "corrections": [
            {
                "id": row.CreditCorrection.id,
                "delta_s": _s(row.CreditCorrection.delta_ms),
                "reason": row.CreditCorrection.reason,
                "created_by": row.real_name or row.username,
                "created_at": row.CreditCorrection.created_at,
            }
            for row in corrections
        ],
        "presence_checks": [
            {
                "id": c.id,
                "session_id": c.session_id,
                "due_at": c.due_at,
                "answered_at": c.answered_at,
                "is_late": c.is_late,
                "wrong_answers": c.wrong_answers,
            }
            for c in checks
        ],
    }


def get_recomputed_ms(user_id: int, project_id: int, lesson_id: int) -> tuple[int, int]:
    """Return (stored credited ms, windows + corrections ms) of a learner's lesson: they must be equal (R13)."""
    from sqlalchemy import func

    stored = db.session.execute(
        select(P.c.credited_ms).where(P.c.user_id == user_id, P.c.project_id == project_id, P.c.lesson_id == lesson_id)
    ).scalar() or 0
    windows = db.session.execute(
        select(func.coalesce(func.sum(W.c.credited_ms), 0)).where(
            W.c.user_id == user_id, W.c.project_id == project_id, W.c.lesson_id == lesson_id
        )
    ).scalar_one()
    corrections = db.session.execute(
        select(func.coalesce(func.sum(CreditCorrection.delta_ms), 0)).where(
            CreditCorrection.user_id == user_id,
            CreditCorrection.project_id == project_id,
            CreditCorrection.lesson_id == lesson_id,
        )
    ).scalar_one()
    return int(stored), int(windows) + int(corrections)


def get_learner_in_project(staff: User, project_id: int, learner_id: int) -> tuple[Project, User]:
    """Return (project, learner) when staff may view the learner's progress there; NotFound/Forbidden otherwise."""
    from app.tracking.permissions import can_view_progress

    project = db.session.get(Project, project_id)
    learner = db.session.get(User, learner_id)
    if project is None or learner is None:
        raise NotFound(_("No such learner or project."))
    if not can_view_progress(staff, learner, project):
        raise Forbidden(_("This learner is not in your classes or your part of the organisation."))
    return project, learner


def get_lesson_in_project(project: Project, lesson_id: int) -> Lesson:
    """Return a lesson of one of the project's courses (NotFound otherwise)."""
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None or lesson.module.course_id not in {link.course_id for link in project.course_links}:
        raise NotFound(_("No such lesson in this project."))
    return lesson
