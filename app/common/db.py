"""Database set-up shared by every feature: SQLite pragmas and write transactions.

On SQLite, pysqlite's own transaction handling is switched off and SQLAlchemy's
"begin" emits BEGIN (reads) or BEGIN IMMEDIATE (inside write_transaction), so a
read-then-write sequence holds the write lock from its first read and can never
lose an update. On PostgreSQL, write_transaction is an ordinary transaction;
callers that must serialise per user lock a row with SELECT ... FOR UPDATE.
"""
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.extensions import db

_immediate: ContextVar[bool] = ContextVar("xueshi_begin_immediate", default=False)

SQLITE_BUSY_TIMEOUT_MS = 15000


def configure_engine(engine: Engine) -> None:
    """Install the SQLite pragmas and BEGIN handling on an engine (no-op elsewhere)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # pysqlite must not BEGIN on its own
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _immediate.get() else "BEGIN")


@contextmanager
def write_transaction(session: Session | None = None) -> Iterator[Session]:
    """Run the block in one write transaction and commit it; roll back on error.

    Any read transaction already open on the session is ended first, so on
    SQLite the block starts with BEGIN IMMEDIATE and holds the write lock
    from its first statement.
    """
    session = session or db.session()
    if session.in_transaction():
        if session.get_bind().dialect.name != "sqlite" and not (session.new or session.dirty or session.deleted):
            # PostgreSQL: a transaction that has only read (the sign-in) simply goes on as the write
            # transaction; each statement reads what is committed (READ COMMITTED), and the locks
            # the block takes serialise writers. Two round trips fewer than COMMIT + BEGIN.
            try:
                yield session
            except BaseException:
                session.rollback()
                raise
            session.commit()
            return
        session.commit()
    token = _immediate.set(True)
    try:
        with session.begin():
            yield session
    finally:
        _immediate.reset(token)
