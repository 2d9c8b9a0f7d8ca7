"""Migration 0017_subtree_reminders down and up again with reminders in the table (SQLite and PostgreSQL).

Down: the reminders sent from a subtree (no class) go, the class's stay and class_id is required again.
Up: class_id may be empty, the class's reminders get their project.
"""
from datetime import date

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.extensions import db
from config import TestingConfig
from tests.conftest import empty_database


def _nullable(column: str) -> bool:
    return next(c for c in inspect(db.engine).get_columns("class_reminders") if c["name"] == column)["nullable"]


def test_migration_0017_goes_down_and_up_with_reminders(database_url, tmp_path):
    from app.accounts.service import do_create_org_unit, do_create_user
    from app.classrooms.models import ClassReminder
    from app.classrooms.service import do_create_class
    from app.courses.service import do_create_project

    config = type("MigrationConfig", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": empty_database(database_url, tmp_path, "reminders_migration")})
    application = create_app(config)
    with application.app_context():
        upgrade()
        unit = do_create_org_unit("County", "county", None, None)
        project = do_create_project("P", unit, date(2026, 1, 1), date(2026, 6, 30))
        cls = do_create_class(project, "C", unit)
        learner = do_create_user("mlearner", "Passw0rd!-long", real_name="L", check=False)
        common = {"user_id": learner.id, "day": date(2026, 3, 10), "message": "m"}
        db.session.add_all([ClassReminder(class_id=cls.id, project_id=project.id, **common),
                            ClassReminder(org_unit_id=unit.id, project_id=project.id, **common)])
        db.session.commit()
        class_id, project_id = cls.id, project.id
        db.session.remove()

        downgrade(revision="0016_project_day_credits")
        columns = {c["name"] for c in inspect(db.engine).get_columns("class_reminders")}
        assert "org_unit_id" not in columns and "project_id" not in columns and not _nullable("class_id")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT class_id FROM class_reminders")).scalars().all() == [class_id]

        upgrade()
        assert _nullable("class_id") and _nullable("org_unit_id")
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT class_id, org_unit_id, project_id FROM class_reminders")).all()
        assert [tuple(r) for r in rows] == [(class_id, None, project_id)]  # its project from its class
        db.session.remove()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) - {"alembic_version"} == set()
        db.engine.dispose()
