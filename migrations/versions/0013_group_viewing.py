"""group viewing (集中学习): group sessions, attendance, kinds of playback sessions; class reminders; lag grace

Revision ID: 0013_group_viewing
Revises: 0012_notifications
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_group_viewing'
down_revision = '0012_notifications'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('class_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_class_reminders_class_id_classes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sent_by_id'], ['users.id'], name=op.f('fk_class_reminders_sent_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_class_reminders_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_class_reminders'))
    )
    with op.batch_alter_table('class_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_class_reminders_class_id'), ['class_id'], unique=False)
        batch_op.create_index('ix_class_reminders_user_day', ['user_id', 'day'], unique=False)

    op.create_table('group_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=False),
    sa.Column('learning_center_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('code_secret', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_ms', sa.BigInteger(), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status = 'open') = (ended_at IS NULL)", name=op.f('ck_group_sessions_ended_when_not_open')),
    sa.CheckConstraint("status IN ('open', 'ended')", name=op.f('ck_group_sessions_status')),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_group_sessions_class_id_classes'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['learning_center_id'], ['org_units.id'], name=op.f('fk_group_sessions_learning_center_id_org_units'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_group_sessions_lesson_id_lessons'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['manager_id'], ['users.id'], name=op.f('fk_group_sessions_manager_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_group_sessions_project_id_projects'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_sessions'))
    )
    with op.batch_alter_table('group_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_sessions_class_id'), ['class_id'], unique=False)

    op.create_table('group_attendances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_session_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=12), nullable=False),
    sa.Column('checked_in_by_id', sa.Integer(), nullable=True),
    sa.Column('checked_in_ms', sa.BigInteger(), nullable=False),
    sa.Column('checked_out_ms', sa.BigInteger(), nullable=True),
    sa.Column('checkout_reason', sa.String(length=16), nullable=True),
    sa.Column('credited_ms', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("method IN ('self', 'manager')", name=op.f('ck_group_attendances_method')),
    sa.CheckConstraint('(checked_out_ms IS NULL) = (checkout_reason IS NULL)', name=op.f('ck_group_attendances_reason_when_out')),
    sa.CheckConstraint('checked_out_ms IS NULL OR checked_out_ms >= checked_in_ms', name=op.f('ck_group_attendances_out_after_in')),
    sa.CheckConstraint('credited_ms >= 0', name=op.f('ck_group_attendances_non_negative')),
    sa.ForeignKeyConstraint(['checked_in_by_id'], ['users.id'], name=op.f('fk_group_attendances_checked_in_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_session_id'], ['group_sessions.id'], name=op.f('fk_group_attendances_group_session_id_group_sessions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['session_id'], ['playback_sessions.id'], name=op.f('fk_group_attendances_session_id_playback_sessions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_group_attendances_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_attendances')),
    sa.UniqueConstraint('session_id', name=op.f('uq_group_attendances_session_id'))
    )
    with op.batch_alter_table('group_attendances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_attendances_group_session_id'), ['group_session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_group_attendances_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_group_attendances_open', ['group_session_id', 'user_id'], unique=True, sqlite_where=sa.text('checked_out_ms IS NULL'), postgresql_where=sa.text('checked_out_ms IS NULL'))

    with op.batch_alter_table('playback_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=12), server_default='own', nullable=False))
        batch_op.add_column(sa.Column('group_session_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_playback_sessions_group_session_id'), ['group_session_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_playback_sessions_group_session_id_group_sessions'), 'group_sessions', ['group_session_id'], ['id'], ondelete='RESTRICT')
        batch_op.create_check_constraint(op.f('ck_playback_sessions_kind'), "kind IN ('own', 'projector', 'attendee')")
        batch_op.create_check_constraint(op.f('ck_playback_sessions_group_when_not_own'),
                                         "(kind = 'own') = (group_session_id IS NULL)")

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lag_grace_days', sa.Integer(), server_default='7', nullable=False))

    # wrong check-in codes are counted like wrong passwords (app.accounts.limits, scope "checkin")
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_sign_in_failures_scope'), type_='check')
        batch_op.create_check_constraint(op.f('ck_sign_in_failures_scope'),
                                         "scope IN ('account', 'address', 'card', 'checkin')")



def downgrade():
    op.execute("DELETE FROM sign_in_failures WHERE scope = 'checkin'")
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_sign_in_failures_scope'), type_='check')
        batch_op.create_check_constraint(op.f('ck_sign_in_failures_scope'), "scope IN ('account', 'address', 'card')")

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('lag_grace_days')

    with op.batch_alter_table('playback_sessions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_playback_sessions_group_when_not_own'), type_='check')
        batch_op.drop_constraint(op.f('ck_playback_sessions_kind'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_playback_sessions_group_session_id_group_sessions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_playback_sessions_group_session_id'))
        batch_op.drop_column('group_session_id')
        batch_op.drop_column('kind')

    with op.batch_alter_table('group_attendances', schema=None) as batch_op:
        batch_op.drop_index('uq_group_attendances_open', sqlite_where=sa.text('checked_out_ms IS NULL'), postgresql_where=sa.text('checked_out_ms IS NULL'))
        batch_op.drop_index(batch_op.f('ix_group_attendances_user_id'))
        batch_op.drop_index(batch_op.f('ix_group_attendances_group_session_id'))

    op.drop_table('group_attendances')
    with op.batch_alter_table('group_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_sessions_class_id'))

    op.drop_table('group_sessions')
    with op.batch_alter_table('class_reminders', schema=None) as batch_op:
        batch_op.drop_index('ix_class_reminders_user_day')
        batch_op.drop_index(batch_op.f('ix_class_reminders_class_id'))

    op.drop_table('class_reminders')
