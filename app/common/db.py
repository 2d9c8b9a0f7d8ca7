"""Database set-up shared by every feature: SQLite pragmas and write transactions.

On SQLite, pysqlite's own transaction handling is switched off and SQLAlchemy's
"begin" emits BEGIN (reads) or BEGIN IMMEDIATE (inside write_transaction), so a
read-then-write sequence holds the write lock from its first read and can never
lose an update. On PostgreSQL, write_transaction is an ordinary transaction;
callers that must serialise per user lock a row with SELECT ... FOR UPDATE.
"""
import re
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from psycopg.pq import TransactionStatus
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


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


@contextmanager
def write_transaction(session: Session | None = None) -> Iterator[Session]:
    """Run the block in one write transaction and commit it; roll back on error.

    Any read transaction already open on the session is ended first, so on
    SQLite the block starts with BEGIN IMMEDIATE and holds the write lock
    from its first statement.
    """
    session = session or db.session()
    if session.in_transaction():
        session.commit()
    token = _immediate.set(True)
    try:
        with session.begin():
            yield session
    finally:
        _immediate.reset(token)


_NAMED_PARAM = re.compile(r"(?<!:):(\w+)")


def driver_sql(sql: str, dialect: str) -> str:
    """Write a statement's :name parameters in the driver's style (psycopg wants %(name)s; SQLite takes :name)."""
    return _NAMED_PARAM.sub(r"%(\1)s", sql) if dialect == "postgresql" else sql


def driver_connection(conn):
    """The DBAPI connection under a SQLAlchemy connection: statements on it run in that connection's transaction."""
    return conn.connection.dbapi_connection


@contextmanager
def dbapi_connection() -> Iterator:
    """A pooled DBAPI connection used without SQLAlchemy's Session, for a hot path's plain SQL.

    SQLAlchemy's Session and execution layer cost several times what the
    database does for a one-row statement. On both databases the connection
    is in autocommit mode (each statement is its own transaction) until the
    caller sends BEGIN, and then until it commits or rolls back: on
    PostgreSQL that saves psycopg's own BEGIN round trip, and lets the caller
    queue BEGIN with its first statements in a pipeline. It goes back to the
    pool, rolled back, at the end of the block.
    """
    pooled = db.engine.raw_connection()
    conn = pooled.dbapi_connection
    postgresql = db.engine.dialect.name == "postgresql"
    try:
        if postgresql:
            conn.autocommit = True
        yield conn
    finally:
        if postgresql:
            try:
                if conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.rollback()
                conn.autocommit = False
            except Exception:
                pooled.invalidate()  # never hand a broken or autocommit connection back to the pool
        pooled.close()
