"""documents: page counts, the reader's PDF of an asset, pages shown per session, same-device reopening

Revision ID: 0007_document_pages
Revises: 0006_sign_in_failures
"""
from alembic import op
import sqlalchemy as sa

revision = "0007_document_pages"
down_revision = "0006_sign_in_failures"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("lessons") as batch_op:
        batch_op.add_column(sa.Column("page_count", sa.Integer(), nullable=True))
    with op.batch_alter_table("media_assets") as batch_op:
        batch_op.add_column(sa.Column("pdf_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("page_count", sa.Integer(), nullable=True))
    with op.batch_alter_table("playback_sessions") as batch_op:
        batch_op.add_column(sa.Column("device_id", sa.String(length=64), server_default="", nullable=False))
        batch_op.add_column(sa.Column("is_reopened", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("page", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("page_turned_ms", sa.BigInteger(), nullable=True))
    op.create_table(
        "document_page_views",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("first_seen_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.CheckConstraint("page >= 1 AND reports >= 1 AND last_seen_ms >= first_seen_ms",
                           name=op.f("ck_document_page_views_valid")),
        sa.ForeignKeyConstraint(["session_id"], ["playback_sessions.id"],
                                name=op.f("fk_document_page_views_session_id_playback_sessions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_id", "page", name=op.f("pk_document_page_views")),
    )


def downgrade():
    op.drop_table("document_page_views")
    with op.batch_alter_table("playback_sessions") as batch_op:
        batch_op.drop_column("page_turned_ms")
        batch_op.drop_column("page")
        batch_op.drop_column("is_reopened")
        batch_op.drop_column("device_id")
    with op.batch_alter_table("media_assets") as batch_op:
        batch_op.drop_column("page_count")
        batch_op.drop_column("pdf_key")
    with op.batch_alter_table("lessons") as batch_op:
        batch_op.drop_column("page_count")
