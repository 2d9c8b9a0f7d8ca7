"""tracking: R3's fixed 2 s jitter spent once per playback session (coverage_lead_ms), not once per heartbeat

Revision ID: 0019_coverage_lead
Revises: 0018_homework_uploads
"""
from alembic import op
import sqlalchemy as sa

revision = "0019_coverage_lead"
down_revision = "0018_homework_uploads"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("playback_sessions") as batch_op:
        batch_op.add_column(sa.Column("coverage_lead_ms", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.create_check_constraint(op.f("ck_playback_sessions_coverage_lead"),
                                         "coverage_lead_ms BETWEEN 0 AND 2000")


def downgrade():
    with op.batch_alter_table("playback_sessions") as batch_op:
        batch_op.drop_constraint(op.f("ck_playback_sessions_coverage_lead"), type_="check")
        batch_op.drop_column("coverage_lead_ms")
