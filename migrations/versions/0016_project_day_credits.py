"""tracking: each learner's credit per project and local day, for the reports' day series

Revision ID: 0016_project_day_credits
Revises: 0015_homework
"""
from alembic import op
import sqlalchemy as sa

revision = "0016_project_day_credits"
down_revision = "0015_homework"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "project_day_credits",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("credited_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("credited_ms >= 0", name=op.f("ck_project_day_credits_non_negative")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_project_day_credits_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_project_day_credits_project_id_projects"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("user_id", "project_id", "day", name=op.f("pk_project_day_credits")),
    )
    with op.batch_alter_table("project_day_credits") as batch_op:
        batch_op.create_index("ix_project_day_credits_project_day", ["project_id", "day"], unique=False)
    # what was credited before: the credit windows hold every credited piece with its project and local day
    op.execute("INSERT INTO project_day_credits (user_id, project_id, day, credited_ms)"
               " SELECT user_id, project_id, day, SUM(credited_ms) FROM credit_windows"
               " GROUP BY user_id, project_id, day")


def downgrade():
    with op.batch_alter_table("project_day_credits") as batch_op:
        batch_op.drop_index("ix_project_day_credits_project_day")
    op.drop_table("project_day_credits")
