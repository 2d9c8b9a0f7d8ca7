"""password change reason: why a user must choose a new password ("new" account or admin "reset")

Replaces the flag users.is_password_expired. An expired password becomes "new"
when the account never signed in (an imported or admin-made account), else "reset".

Revision ID: 0009_password_change_reason
Revises: 0006_sign_in_failures
"""
from alembic import op
import sqlalchemy as sa

revision = "0009_password_change_reason"
down_revision = "0008_elective_decisions"
branch_labels = None
depends_on = None

_REASON_CHECK = "password_change_reason IN ('new', 'reset')"


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("password_change_reason", sa.String(length=16), nullable=True))
    op.execute(
        "UPDATE users SET password_change_reason = CASE WHEN EXISTS "
        "(SELECT 1 FROM login_sessions WHERE login_sessions.user_id = users.id) THEN 'reset' ELSE 'new' END "
        "WHERE is_password_expired"
    )
    with op.batch_alter_table("users") as batch_op:
        batch_op.create_check_constraint(op.f("ck_users_password_change_reason"), _REASON_CHECK)
        batch_op.drop_column("is_password_expired")


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("is_password_expired", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE users SET is_password_expired = (password_change_reason IS NOT NULL)")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint(op.f("ck_users_password_change_reason"), type_="check")
        batch_op.drop_column("password_change_reason")
        batch_op.alter_column("is_password_expired", server_default=None)
