"""username sort key: users.username_key, the natural sort key of the username (learner2 before learner10)

Chained after 0009_password_change_reason (both of this change set). The keys of existing
users are computed here with the same rule as the app (app.accounts.rules.natural_key).

Revision ID: 0010_username_sort_key
Revises: 0009_password_change_reason
"""
import re

from alembic import op
import sqlalchemy as sa

revision = "0010_username_sort_key"
down_revision = "0009_password_change_reason"
branch_labels = None
depends_on = None


def _natural_key(text: str) -> str:
    # a copy of app.accounts.rules.natural_key as of this revision: a migration must not change with the app
    return re.sub(r"\d+", lambda m: f"{len(m.group().lstrip('0') or '0'):02d}{m.group().lstrip('0') or '0'}",
                  (text or "").lower())


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("username_key", sa.String(length=160), nullable=True))
    conn = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String),
                     sa.column("username_key", sa.String))
    rows = conn.execute(sa.select(users.c.id, users.c.username)).all()
    for row in rows:
        conn.execute(users.update().where(users.c.id == row.id).values(username_key=_natural_key(row.username)))
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("username_key", existing_type=sa.String(length=160), nullable=False)
        batch_op.create_index(batch_op.f("ix_users_username_key"), ["username_key"], unique=False)


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_username_key"))
        batch_op.drop_column("username_key")
