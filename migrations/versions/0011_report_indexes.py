"""reports: a covering index of learners' credit per project, and the background exports

Revision ID: 0011_report_indexes
Revises: 0006_sign_in_failures
"""
from alembic import op
import sqlalchemy as sa

revision = "0011_report_indexes"
down_revision = "0010_username_sort_key"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("lesson_progress") as batch_op:
        batch_op.create_index("ix_lesson_progress_user_project_credit",
                              ["user_id", "project_id", "credited_ms", "updated_at"], unique=False)
    op.create_table(
        "report_exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=True),
        sa.Column("class_id", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_report_exports_status")),
        sa.CheckConstraint("format IN ('xlsx', 'csv')", name=op.f("ck_report_exports_format")),
        sa.CheckConstraint("(org_unit_id IS NULL) <> (class_id IS NULL)", name=op.f("ck_report_exports_unit_or_class")),
        sa.CheckConstraint("rows_total >= 0 AND rows_done >= 0", name=op.f("ck_report_exports_non_negative")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_report_exports_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_report_exports_project_id_projects"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_unit_id"], ["org_units.id"],
                                name=op.f("fk_report_exports_org_unit_id_org_units"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["class_id"], ["classes.id"], name=op.f("fk_report_exports_class_id_classes"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_exports")),
    )
    with op.batch_alter_table("report_exports") as batch_op:
        batch_op.create_index(batch_op.f("ix_report_exports_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("report_exports") as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_exports_user_id"))
    op.drop_table("report_exports")
    with op.batch_alter_table("lesson_progress") as batch_op:
        batch_op.drop_index("ix_lesson_progress_user_project_credit")
