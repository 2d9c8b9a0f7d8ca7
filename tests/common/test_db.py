"""The database layer: concurrent read-then-write updates lose nothing; migrations match the models."""
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.common.db import write_transaction
from app.extensions import db
from config import TestingConfig
from tests.conftest import empty_database


def test_concurrent_read_then_write_updates_lose_nothing(app):
    db.session.execute(text("CREATE TABLE counters (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)"))
    db.session.execute(text("INSERT INTO counters (id, value) VALUES (1, 0)"))
    db.session.commit()
    threads, per_thread = 8, 25
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work():
        try:
            with app.app_context():
                barrier.wait()
                for _ in range(per_thread):
                    with write_transaction():
                        value = db.session.execute(text("SELECT value FROM counters WHERE id = 1")).scalar_one()
                        lock = " FOR UPDATE" if db.engine.dialect.name == "postgresql" else ""
                        if lock:  # PostgreSQL serialises on the row lock instead of the database lock
                            value = db.session.execute(text("SELECT value FROM counters WHERE id = 1" + lock)).scalar_one()
                        db.session.execute(text("UPDATE counters SET value = :v WHERE id = 1"), {"v": value + 1})
        except BaseException as exc:  # reported below
            errors.append(exc)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert not errors, errors
    assert db.session.execute(text("SELECT value FROM counters WHERE id = 1")).scalar_one() == threads * per_thread
    db.session.execute(text("DROP TABLE counters"))
    db.session.commit()


def test_sqlite_runs_in_wal_with_foreign_keys(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas only")  # the PostgreSQL run has nothing to check here
    assert db.session.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    assert db.session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    assert db.session.execute(text("PRAGMA busy_timeout")).scalar_one() >= 5000


def _is_search_object(diff) -> bool:
    """The forums' search indexes (FTS5 table and its shadow tables, pg_trgm indexes) are not declared as models."""
    from app.forums.models import SEARCH_OBJECT_PREFIXES

    item = diff[1] if isinstance(diff, tuple) and len(diff) > 1 else None
    name = getattr(item, "name", "") or ""
    return diff[0] in ("remove_table", "remove_index") and name.startswith(SEARCH_OBJECT_PREFIXES)


def test_migrations_create_exactly_the_models_and_downgrade_cleanly(database_url, tmp_path):
    """Upgrade a fresh database to head, compare it with the models, then downgrade to nothing."""
    url = empty_database(database_url, tmp_path, "migrations_check")
    config = type("MigrationConfig", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": url})
    application = create_app(config)
    with application.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = [d for d in compare_metadata(context, db.metadata) if not _is_search_object(d)]
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        remaining = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        db.engine.dispose()
