"""content archive: projects, courses and lessons with credit are archived, not deleted;
an elective withdrawal is kept (withdrawn_at) so the progress page can say why a course closed

Revision ID: 0005_content_archive
Revises: 0004_tracking_integrity
"""
from alembic import op
import sqlalchemy as sa


revision = "0005_content_archive"
down_revision = "0004_tracking_integrity"
branch_labels = None
depends_on = None

TABLES = ("projects", "courses", "lessons")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("is_archived", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("elective_choices") as batch:
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("elective_choices") as batch:
        batch.drop_column("withdrawn_at")
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("is_archived")
