"""homework: resumable (tus) uploads of a learner's files

Revision ID: 0018_homework_uploads
Revises: 0017_subtree_reminders
"""
from alembic import op
import sqlalchemy as sa

revision = "0018_homework_uploads"
down_revision = "0017_subtree_reminders"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "homework_uploads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("offset_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("submission_file_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("size_bytes > 0 AND offset_bytes >= 0 AND offset_bytes <= size_bytes",
                           name=op.f("ck_homework_uploads_sizes")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_homework_uploads_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"],
                                name=op.f("fk_homework_uploads_assignment_id_assignments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"],
                                name=op.f("fk_homework_uploads_submission_id_submissions"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["submission_file_id"], ["submission_files.id"],
                                name=op.f("fk_homework_uploads_submission_file_id_submission_files"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_homework_uploads")),
    )
    with op.batch_alter_table("homework_uploads") as batch_op:
        batch_op.create_index(batch_op.f("ix_homework_uploads_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_homework_uploads_assignment_id"), ["assignment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_homework_uploads_expires_at"), ["expires_at"], unique=False)


def downgrade():
    with op.batch_alter_table("homework_uploads") as batch_op:
        batch_op.drop_index(batch_op.f("ix_homework_uploads_expires_at"))
        batch_op.drop_index(batch_op.f("ix_homework_uploads_assignment_id"))
        batch_op.drop_index(batch_op.f("ix_homework_uploads_user_id"))
    op.drop_table("homework_uploads")
