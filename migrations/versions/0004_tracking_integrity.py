"""tracking integrity: CHECK constraints, one open session per user, windows in epoch ms, no cascade from content

The running figures an open session carried (credited_until_ms, playing_ms)
move back to tracking_user_states, the one place a user's state is kept; the
session's version (optimistic writes) and its pointer to its last window go.
Credit windows keep their bounds as epoch milliseconds, so that a CHECK holds
credited_ms = ended_ms - started_ms on both databases.

Revision ID: 0004_tracking_integrity
Revises: 0003_media
"""
from alembic import op
import sqlalchemy as sa

revision = "0004_tracking_integrity"
down_revision = "0003_media"
branch_labels = None
depends_on = None

#: tracking tables pointing at content, whose foreign keys stop cascading
CONTENT_REFERENCES = ("playback_sessions", "lesson_progress", "credit_windows", "credit_corrections")

CHECKS = {
    "tracking_user_states": {
        "non_negative": "credited_until_ms >= 0 AND playing_ms >= 0 AND next_check_after_ms >= 0"
                        " AND COALESCE(pending_due_ms, 0) >= 0",
        "pending_check_pair": "(pending_check_id IS NULL) = (pending_due_ms IS NULL)",
    },
    "playback_sessions": {
        "status": "status IN ('open', 'superseded', 'ended')",
        "closed_when_not_open": "(status = 'open') = (closed_at IS NULL)",
        "non_negative": "last_seq >= 0 AND last_position_ms >= 0 AND credited_ms >= 0",
        "rate_positive": "rate > 0",
    },
    "lesson_progress": {
        "non_negative": "credited_ms >= 0 AND covered_ms >= 0 AND resume_position_ms >= 0 AND max_position_ms >= 0",
        "completed_at_when_complete": "NOT is_complete OR completed_at IS NOT NULL",
    },
    "daily_credits": {"non_negative": "credited_ms >= 0"},
    "credit_windows": {
        "credited_is_span": "credited_ms = ended_ms - started_ms AND ended_ms > started_ms",
        "non_negative": "started_ms >= 0 AND from_position_ms >= 0 AND to_position_ms >= 0",
    },
    "presence_checks": {"non_negative": "wrong_answers >= 0"},
    "credit_corrections": {
        "delta_not_zero": "delta_ms <> 0",
        "reason_given": "reason <> ''",
    },
}


def _content_fks(batch_op, table: str, ondelete: str) -> None:
    for column, target in (("project_id", "projects"), ("lesson_id", "lessons")):
        name = f"fk_{table}_{column}_{target}"
        batch_op.drop_constraint(name, type_="foreignkey")
        batch_op.create_foreign_key(name, target, [column], ["id"], ondelete=ondelete)


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _ms(column: str) -> str:
    """SQL for a stored UTC timestamp as epoch milliseconds."""
    if _is_sqlite():  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff'
        return f"CAST(strftime('%s', {column}) AS INTEGER) * 1000 + CAST(substr({column}, 21, 3) AS INTEGER)"
    return f"CAST(round(extract(epoch from {column}) * 1000) AS BIGINT)"


def _timestamp(column: str) -> str:
    """SQL for epoch milliseconds as a stored UTC timestamp."""
    if _is_sqlite():
        return f"strftime('%Y-%m-%d %H:%M:%f', {column} / 1000.0, 'unixepoch') || '000'"
    return f"to_timestamp({column} / 1000.0)"


def upgrade():
    # An open session's running figures go back to the user's row.
    op.execute("""
        UPDATE tracking_user_states SET
            credited_until_ms = (SELECT CASE WHEN s.credited_until_ms > tracking_user_states.credited_until_ms
                                             THEN s.credited_until_ms ELSE tracking_user_states.credited_until_ms END
                                 FROM playback_sessions s
                                 WHERE s.user_id = tracking_user_states.user_id AND s.status = 'open'),
            playing_ms = (SELECT s.playing_ms FROM playback_sessions s
                          WHERE s.user_id = tracking_user_states.user_id AND s.status = 'open')
        WHERE EXISTS (SELECT 1 FROM playback_sessions s
                      WHERE s.user_id = tracking_user_states.user_id AND s.status = 'open')""")
    op.execute("UPDATE playback_sessions SET closed_at = opened_at WHERE status <> 'open' AND closed_at IS NULL")

    with op.batch_alter_table("tracking_user_states") as batch_op:
        for name, sql in CHECKS["tracking_user_states"].items():
            batch_op.create_check_constraint(op.f(f"ck_tracking_user_states_{name}"), sql)

    with op.batch_alter_table("playback_sessions") as batch_op:
        batch_op.drop_index("ix_playback_sessions_user_status")
        for column in ("version", "credited_until_ms", "playing_ms", "last_window_id"):
            batch_op.drop_column(column)
        _content_fks(batch_op, "playback_sessions", "RESTRICT")
        for name, sql in CHECKS["playback_sessions"].items():
            batch_op.create_check_constraint(op.f(f"ck_playback_sessions_{name}"), sql)
    op.create_index("uq_playback_sessions_open_user", "playback_sessions", ["user_id"], unique=True,
                    sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
    op.create_index("ix_playback_sessions_user_project_lesson", "playback_sessions",
                    ["user_id", "project_id", "lesson_id"])

    with op.batch_alter_table("lesson_progress") as batch_op:
        _content_fks(batch_op, "lesson_progress", "RESTRICT")
        for name, sql in CHECKS["lesson_progress"].items():
            batch_op.create_check_constraint(op.f(f"ck_lesson_progress_{name}"), sql)

    with op.batch_alter_table("daily_credits") as batch_op:
        batch_op.create_check_constraint(op.f("ck_daily_credits_non_negative"), CHECKS["daily_credits"]["non_negative"])

    with op.batch_alter_table("credit_windows") as batch_op:
        batch_op.add_column(sa.Column("started_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("ended_ms", sa.BigInteger(), nullable=True))
    op.execute(f"UPDATE credit_windows SET started_ms = {_ms('started_at')}, ended_ms = {_ms('ended_at')}")
    with op.batch_alter_table("credit_windows") as batch_op:
        batch_op.alter_column("started_ms", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("ended_ms", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_column("started_at")
        batch_op.drop_column("ended_at")
        batch_op.drop_index("ix_credit_windows_session_id")
        batch_op.create_index("ix_credit_windows_session_id_id", ["session_id", "id"])
        _content_fks(batch_op, "credit_windows", "RESTRICT")
        for name, sql in CHECKS["credit_windows"].items():
            batch_op.create_check_constraint(op.f(f"ck_credit_windows_{name}"), sql)

    with op.batch_alter_table("presence_checks") as batch_op:
        batch_op.create_index("ix_presence_checks_session_id", ["session_id"])
        batch_op.create_check_constraint(op.f("ck_presence_checks_non_negative"),
                                         CHECKS["presence_checks"]["non_negative"])

    with op.batch_alter_table("credit_corrections") as batch_op:
        _content_fks(batch_op, "credit_corrections", "RESTRICT")
        for name, sql in CHECKS["credit_corrections"].items():
            batch_op.create_check_constraint(op.f(f"ck_credit_corrections_{name}"), sql)


def downgrade():
    with op.batch_alter_table("credit_corrections") as batch_op:
        for name in CHECKS["credit_corrections"]:
            batch_op.drop_constraint(op.f(f"ck_credit_corrections_{name}"), type_="check")
        _content_fks(batch_op, "credit_corrections", "CASCADE")

    with op.batch_alter_table("presence_checks") as batch_op:
        batch_op.drop_constraint(op.f("ck_presence_checks_non_negative"), type_="check")
        batch_op.drop_index("ix_presence_checks_session_id")

    with op.batch_alter_table("credit_windows") as batch_op:
        for name in CHECKS["credit_windows"]:
            batch_op.drop_constraint(op.f(f"ck_credit_windows_{name}"), type_="check")
        _content_fks(batch_op, "credit_windows", "CASCADE")
        batch_op.drop_index("ix_credit_windows_session_id_id")
        batch_op.create_index("ix_credit_windows_session_id", ["session_id"])
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(f"UPDATE credit_windows SET started_at = {_timestamp('started_ms')}, ended_at = {_timestamp('ended_ms')}")
    with op.batch_alter_table("credit_windows") as batch_op:
        batch_op.alter_column("started_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column("ended_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_column("started_ms")
        batch_op.drop_column("ended_ms")

    with op.batch_alter_table("daily_credits") as batch_op:
        batch_op.drop_constraint(op.f("ck_daily_credits_non_negative"), type_="check")

    with op.batch_alter_table("lesson_progress") as batch_op:
        for name in CHECKS["lesson_progress"]:
            batch_op.drop_constraint(op.f(f"ck_lesson_progress_{name}"), type_="check")
        _content_fks(batch_op, "lesson_progress", "CASCADE")

    op.drop_index("ix_playback_sessions_user_project_lesson", table_name="playback_sessions")
    op.drop_index("uq_playback_sessions_open_user", table_name="playback_sessions")
    with op.batch_alter_table("playback_sessions") as batch_op:
        for name in CHECKS["playback_sessions"]:
            batch_op.drop_constraint(op.f(f"ck_playback_sessions_{name}"), type_="check")
        _content_fks(batch_op, "playback_sessions", "CASCADE")
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("credited_until_ms", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("playing_ms", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_window_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_playback_sessions_user_status", ["user_id", "status"])
    # The open session carries the user's running figures again, and points at its last window.
    op.execute("""
        UPDATE playback_sessions SET
            credited_until_ms = (SELECT u.credited_until_ms FROM tracking_user_states u
                                 WHERE u.user_id = playback_sessions.user_id),
            playing_ms = (SELECT u.playing_ms FROM tracking_user_states u WHERE u.user_id = playback_sessions.user_id)
        WHERE status = 'open' AND EXISTS (SELECT 1 FROM tracking_user_states u
                                          WHERE u.user_id = playback_sessions.user_id)""")
    op.execute("UPDATE playback_sessions SET last_window_id = "
               "(SELECT max(w.id) FROM credit_windows w WHERE w.session_id = playback_sessions.id)")
    with op.batch_alter_table("playback_sessions") as batch_op:
        for column in ("version", "credited_until_ms", "playing_ms"):
            batch_op.alter_column(column, server_default=None)

    with op.batch_alter_table("tracking_user_states") as batch_op:
        for name in CHECKS["tracking_user_states"]:
            batch_op.drop_constraint(op.f(f"ck_tracking_user_states_{name}"), type_="check")
