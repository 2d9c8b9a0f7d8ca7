"""tracking: playback sessions, lesson progress, daily credits, credit windows, presence checks, corrections

Revision ID: 0002_tracking
Revises: 0001_foundation
"""
from alembic import op
import sqlalchemy as sa

revision = "0002_tracking"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('daily_credits',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('credited_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_daily_credits_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'day', name=op.f('pk_daily_credits'))
    )
    op.create_table('tracking_user_states',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('credited_until_ms', sa.BigInteger(), nullable=False),
    sa.Column('playing_ms', sa.BigInteger(), nullable=False),
    sa.Column('next_check_after_ms', sa.BigInteger(), nullable=False),
    sa.Column('pending_check_id', sa.String(length=32), nullable=True),
    sa.Column('pending_due_ms', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_tracking_user_states_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_tracking_user_states'))
    )
    op.create_table('credit_corrections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('delta_ms', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_credit_corrections_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_credit_corrections_lesson_id_lessons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_credit_corrections_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_credit_corrections_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_corrections'))
    )
    with op.batch_alter_table('credit_corrections', schema=None) as batch_op:
        batch_op.create_index('ix_credit_corrections_user_project_lesson', ['user_id', 'project_id', 'lesson_id'], unique=False)

    op.create_table('lesson_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('credited_ms', sa.BigInteger(), nullable=False),
    sa.Column('covered', sa.JSON(), nullable=False),
    sa.Column('covered_ms', sa.BigInteger(), nullable=False),
    sa.Column('is_complete', sa.Boolean(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resume_position_ms', sa.BigInteger(), nullable=False),
    sa.Column('max_position_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_lesson_progress_lesson_id_lessons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_lesson_progress_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_lesson_progress_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lesson_progress')),
    sa.UniqueConstraint('user_id', 'project_id', 'lesson_id', name='uq_lesson_progress_user_project_lesson')
    )
    with op.batch_alter_table('lesson_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lesson_progress_lesson_id'), ['lesson_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lesson_progress_project_id'), ['project_id'], unique=False)

    op.create_table('playback_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('last_at_ms', sa.BigInteger(), nullable=True),
    sa.Column('last_position_ms', sa.BigInteger(), nullable=False),
    sa.Column('is_playing', sa.Boolean(), nullable=False),
    sa.Column('is_visible', sa.Boolean(), nullable=False),
    sa.Column('rate', sa.Float(), nullable=False),
    sa.Column('credit_from_ms', sa.BigInteger(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('credited_until_ms', sa.BigInteger(), nullable=False),
    sa.Column('playing_ms', sa.BigInteger(), nullable=False),
    sa.Column('credited_ms', sa.BigInteger(), nullable=False),
    sa.Column('held', sa.JSON(), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=True),
    sa.Column('last_window_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_playback_sessions_lesson_id_lessons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_playback_sessions_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_playback_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_playback_sessions'))
    )
    with op.batch_alter_table('playback_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_playback_sessions_user_status', ['user_id', 'status'], unique=False)

    op.create_table('credit_windows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('from_position_ms', sa.BigInteger(), nullable=False),
    sa.Column('to_position_ms', sa.BigInteger(), nullable=False),
    sa.Column('credited_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_credit_windows_lesson_id_lessons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_credit_windows_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['playback_sessions.id'], name=op.f('fk_credit_windows_session_id_playback_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_credit_windows_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_windows'))
    )
    with op.batch_alter_table('credit_windows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_windows_session_id'), ['session_id'], unique=False)
        batch_op.create_index('ix_credit_windows_user_project_lesson', ['user_id', 'project_id', 'lesson_id'], unique=False)

    op.create_table('presence_checks',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('prompt', sa.String(length=200), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('answer', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_late', sa.Boolean(), nullable=False),
    sa.Column('wrong_answers', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['playback_sessions.id'], name=op.f('fk_presence_checks_session_id_playback_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_presence_checks_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_presence_checks'))
    )
    with op.batch_alter_table('presence_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_presence_checks_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('presence_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_presence_checks_user_id'))

    op.drop_table('presence_checks')
    with op.batch_alter_table('credit_windows', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_windows_user_project_lesson')
        batch_op.drop_index(batch_op.f('ix_credit_windows_session_id'))

    op.drop_table('credit_windows')
    with op.batch_alter_table('playback_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_playback_sessions_user_status')

    op.drop_table('playback_sessions')
    with op.batch_alter_table('lesson_progress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lesson_progress_project_id'))
        batch_op.drop_index(batch_op.f('ix_lesson_progress_lesson_id'))

    op.drop_table('lesson_progress')
    with op.batch_alter_table('credit_corrections', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_corrections_user_project_lesson')

    op.drop_table('credit_corrections')
    op.drop_table('tracking_user_states')
    op.drop_table('daily_credits')
