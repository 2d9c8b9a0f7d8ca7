"""forums: boards, topics, posts with their history, reports, point rules; Chinese search indexes

SQLite: an FTS5 table with the trigram tokenizer over the posts' text, kept by triggers.
PostgreSQL: the pg_trgm extension and GIN trigram indexes on the posts' text and the topics' titles.

Revision ID: 0014_forums
Revises: 0013_group_viewing
"""
from alembic import op
import sqlalchemy as sa

# Frozen here (not imported from the app): a migration must not change when the models do.
SQLITE_SEARCH_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS forum_search USING fts5("
    "body_md, content='forum_posts', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS forum_search_ai AFTER INSERT ON forum_posts BEGIN "
    "INSERT INTO forum_search(rowid, body_md) VALUES (new.id, new.body_md); END",
    "CREATE TRIGGER IF NOT EXISTS forum_search_ad AFTER DELETE ON forum_posts BEGIN "
    "INSERT INTO forum_search(forum_search, rowid, body_md) VALUES ('delete', old.id, old.body_md); END",
    "CREATE TRIGGER IF NOT EXISTS forum_search_au AFTER UPDATE OF body_md ON forum_posts BEGIN "
    "INSERT INTO forum_search(forum_search, rowid, body_md) VALUES ('delete', old.id, old.body_md); "
    "INSERT INTO forum_search(rowid, body_md) VALUES (new.id, new.body_md); END",
    "INSERT INTO forum_search(forum_search) VALUES ('rebuild')",
)
SQLITE_SEARCH_DROP = (
    "DROP TRIGGER IF EXISTS forum_search_au", "DROP TRIGGER IF EXISTS forum_search_ad",
    "DROP TRIGGER IF EXISTS forum_search_ai", "DROP TABLE IF EXISTS forum_search",
)
POSTGRES_SEARCH_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_forum_posts_body_trgm ON forum_posts USING gin (body_md gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_forum_topics_title_trgm ON forum_topics USING gin (title gin_trgm_ops)",
)
POSTGRES_SEARCH_DROP = ("DROP INDEX IF EXISTS ix_forum_topics_title_trgm", "DROP INDEX IF EXISTS ix_forum_posts_body_trgm")


revision = '0014_forums'
down_revision = "0013_group_viewing"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('forum_point_rules',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('topic_points', sa.Integer(), nullable=False),
    sa.Column('reply_points', sa.Integer(), nullable=False),
    sa.Column('reply_min_chars', sa.Integer(), nullable=False),
    sa.Column('excellent_points', sa.Integer(), nullable=False),
    sa.Column('daily_cap', sa.Integer(), nullable=False),
    sa.Column('project_cap', sa.Integer(), nullable=False),
    sa.CheckConstraint('topic_points >= 0 AND reply_points >= 0 AND excellent_points >= 0 AND reply_min_chars >= 0 AND daily_cap >= 0 AND project_cap >= 0', name=op.f('ck_forum_point_rules_non_negative')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_forum_point_rules_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_forum_point_rules'))
    )
    op.create_table('forum_boards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=True),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'class') = (class_id IS NOT NULL)", name=op.f('ck_forum_boards_class_board_has_class')),
    sa.CheckConstraint("(kind = 'class') = (course_id IS NULL)", name=op.f('ck_forum_boards_course_board_has_course')),
    sa.CheckConstraint("kind IN ('class', 'course', 'qa')", name=op.f('ck_forum_boards_kind')),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_forum_boards_class_id_classes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_forum_boards_course_id_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_forum_boards_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_boards'))
    )
    with op.batch_alter_table('forum_boards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_boards_project_id'), ['project_id'], unique=False)
        batch_op.create_index('uq_forum_boards_class', ['class_id'], unique=True, sqlite_where=sa.text('class_id IS NOT NULL'), postgresql_where=sa.text('class_id IS NOT NULL'))
        batch_op.create_index('uq_forum_boards_course', ['project_id', 'course_id', 'kind'], unique=True, sqlite_where=sa.text('course_id IS NOT NULL'), postgresql_where=sa.text('course_id IS NOT NULL'))

    op.create_table('forum_topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('board_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('is_pinned', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('is_locked', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('is_excellent', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('is_answered', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('is_deleted', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_post_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_forum_topics_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['board_id'], ['forum_boards.id'], name=op.f('fk_forum_topics_board_id_forum_boards'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_topics'))
    )
    with op.batch_alter_table('forum_topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_topics_author_id'), ['author_id'], unique=False)
        batch_op.create_index('ix_forum_topics_board_order', ['board_id', 'is_pinned', 'last_post_at'], unique=False)

    op.create_table('forum_posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('body_md', sa.Text(), nullable=False),
    sa.Column('is_first', sa.Boolean(), nullable=False),
    sa.Column('quote_post_id', sa.Integer(), nullable=True),
    sa.Column('is_excellent', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('is_answer', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('is_expert_answer', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('is_deleted', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_forum_posts_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['users.id'], name=op.f('fk_forum_posts_deleted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['quote_post_id'], ['forum_posts.id'], name=op.f('fk_forum_posts_quote_post_id_forum_posts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['topic_id'], ['forum_topics.id'], name=op.f('fk_forum_posts_topic_id_forum_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_posts'))
    )
    with op.batch_alter_table('forum_posts', schema=None) as batch_op:
        batch_op.create_index('ix_forum_posts_author_created', ['author_id', 'created_at'], unique=False)
        batch_op.create_index('ix_forum_posts_topic_created', ['topic_id', 'created_at'], unique=False)

    op.create_table('forum_post_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('body_md', sa.Text(), nullable=False),
    sa.Column('editor_id', sa.Integer(), nullable=True),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['editor_id'], ['users.id'], name=op.f('fk_forum_post_revisions_editor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['post_id'], ['forum_posts.id'], name=op.f('fk_forum_post_revisions_post_id_forum_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_post_revisions'))
    )
    with op.batch_alter_table('forum_post_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_post_revisions_post_id'), ['post_id'], unique=False)

    op.create_table('forum_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['forum_posts.id'], name=op.f('fk_forum_reports_post_id_forum_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_forum_reports_reporter_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forum_reports'))
    )
    with op.batch_alter_table('forum_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forum_reports_post_id'), ['post_id'], unique=False)

    _search_objects(create=True)


def _search_objects(create: bool) -> None:
    """The search indexes the models cannot declare (the same statements create_all runs, see app.forums.models)."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        statements = SQLITE_SEARCH_DDL if create else SQLITE_SEARCH_DROP
    elif dialect == "postgresql":
        statements = POSTGRES_SEARCH_DDL if create else POSTGRES_SEARCH_DROP
    else:
        statements = ()
    for statement in statements:
        op.execute(statement)


def downgrade():
    _search_objects(create=False)
    with op.batch_alter_table('forum_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forum_reports_post_id'))

    op.drop_table('forum_reports')
    with op.batch_alter_table('forum_post_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forum_post_revisions_post_id'))

    op.drop_table('forum_post_revisions')
    with op.batch_alter_table('forum_posts', schema=None) as batch_op:
        batch_op.drop_index('ix_forum_posts_topic_created')
        batch_op.drop_index('ix_forum_posts_author_created')

    op.drop_table('forum_posts')
    with op.batch_alter_table('forum_topics', schema=None) as batch_op:
        batch_op.drop_index('ix_forum_topics_board_order')
        batch_op.drop_index(batch_op.f('ix_forum_topics_author_id'))

    op.drop_table('forum_topics')
    with op.batch_alter_table('forum_boards', schema=None) as batch_op:
        batch_op.drop_index('uq_forum_boards_course', sqlite_where=sa.text('course_id IS NOT NULL'), postgresql_where=sa.text('course_id IS NOT NULL'))
        batch_op.drop_index('uq_forum_boards_class', sqlite_where=sa.text('class_id IS NOT NULL'), postgresql_where=sa.text('class_id IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_forum_boards_project_id'))

    op.drop_table('forum_boards')
    op.drop_table('forum_point_rules')
