"""elective decisions: a school confirms or refuses a chosen elective (who, when, why), every decision kept

Revision ID: 0008_elective_decisions
Revises: 0006_sign_in_failures
"""
from alembic import op
import sqlalchemy as sa

revision = "0008_elective_decisions"
down_revision = "0007_document_pages"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("elective_choices") as batch:
        batch.add_column(sa.Column("is_refused", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("decided_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("refusal_reason", sa.String(length=200), nullable=True))
        batch.create_foreign_key(op.f("fk_elective_choices_decided_by_id_users"), "users", ["decided_by_id"], ["id"],
                                 ondelete="SET NULL")
        batch.create_check_constraint(op.f("ck_elective_choices_decided_once"), "NOT (is_confirmed AND is_refused)")
    op.create_table(
        "elective_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("choice_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("refusal_reason", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("outcome IN ('confirmed', 'refused')", name=op.f("ck_elective_decisions_outcome")),
        sa.ForeignKeyConstraint(["choice_id"], ["elective_choices.id"],
                                name=op.f("fk_elective_decisions_choice_id_elective_choices"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_elective_decisions_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_elective_decisions_decided_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elective_decisions")),
    )
    with op.batch_alter_table("elective_decisions") as batch:
        batch.create_index(batch.f("ix_elective_decisions_choice_id"), ["choice_id"], unique=False)
        batch.create_index(batch.f("ix_elective_decisions_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("elective_decisions") as batch:
        batch.drop_index(batch.f("ix_elective_decisions_user_id"))
        batch.drop_index(batch.f("ix_elective_decisions_choice_id"))
    op.drop_table("elective_decisions")
    with op.batch_alter_table("elective_choices") as batch:
        batch.drop_constraint(op.f("ck_elective_choices_decided_once"), type_="check")
        batch.drop_constraint(op.f("fk_elective_choices_decided_by_id_users"), type_="foreignkey")
        batch.drop_column("refusal_reason")
        batch.drop_column("decided_by_id")
        batch.drop_column("decided_at")
        batch.drop_column("is_refused")
