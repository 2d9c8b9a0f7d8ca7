"""sign-in failures: failed guesses per account and per address, shared by every worker

Revision ID: 0006_sign_in_failures
Revises: 0005_content_archive
"""
from alembic import op
import sqlalchemy as sa

revision = "0006_sign_in_failures"
down_revision = "0005_content_archive"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("scope IN ('account', 'address', 'card')", name=op.f("ck_sign_in_failures_scope")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    with op.batch_alter_table("sign_in_failures") as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_failures_attempted_at"), ["attempted_at"], unique=False)
        batch_op.create_index("ix_sign_in_failures_scope_key_at", ["scope", "key", "attempted_at"], unique=False)


def downgrade():
    with op.batch_alter_table("sign_in_failures") as batch_op:
        batch_op.drop_index("ix_sign_in_failures_scope_key_at")
        batch_op.drop_index(batch_op.f("ix_sign_in_failures_attempted_at"))
    op.drop_table("sign_in_failures")
