"""media tables (placeholder: filled in by the media feature)

Revision ID: 0003_media
Revises: 0002_tracking
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = "0003_media"
down_revision = "0002_tracking"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
