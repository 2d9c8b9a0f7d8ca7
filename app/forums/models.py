"""Forums (研讨): boards of a class, of a course in a project and Q&A boards; topics, posts, history, reports."""
from datetime import datetime

from sqlalchemy import (
    DDL, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, event, false, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common import clock
from app.common.types import UTCDateTime
from app.extensions import db

BOARD_KINDS = ("class", "course", "qa")
TITLE_MAX = 120
BODY_MAX = 20000
REASON_MAX = 200


def _now() -> datetime:
    return clock.now()


class ForumBoard(db.Model):
    """A board of a project: one per class, one per course (discussion) and one per course (Q&A, 答疑)."""

    __tablename__ = "forum_boards"
    __table_args__ = (
        CheckConstraint("kind IN ('class', 'course', 'qa')", name="kind"),
        CheckConstraint("(kind = 'class') = (class_id IS NOT NULL)", name="class_board_has_class"),
        CheckConstraint("(kind = 'class') = (course_id IS NULL)", name="course_board_has_course"),
        Index("uq_forum_boards_class", "class_id", unique=True,
              sqlite_where=text("class_id IS NOT NULL"), postgresql_where=text("class_id IS NOT NULL")),
        Index("uq_forum_boards_course", "project_id", "course_id", "kind", unique=True,
              sqlite_where=text("course_id IS NOT NULL"), postgresql_where=text("course_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    #: one of BOARD_KINDS
    kind: Mapped[str] = mapped_column(String(10))
    #: the class of a class board
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    #: the course of a course or Q&A board
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    project = relationship("Project")
    class_ = relationship("Class_")
    course = relationship("Course")


class ForumTopic(db.Model):
    """A topic (主题) of a board, or a question on a Q&A board; its first post holds the text."""

    __tablename__ = "forum_topics"
    __table_args__ = (Index("ix_forum_topics_board_order", "board_id", "is_pinned", "last_post_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("forum_boards.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    is_pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: locked topics take no more replies
    is_locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: marked excellent (优秀帖) by a moderator
    is_excellent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: a question answered by an expert of the course (Q&A boards)
    is_answered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: soft-deleted with its first post (kept for the audit)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    #: time of the newest visible post, for ordering
    last_post_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)

    board: Mapped[ForumBoard] = relationship()
    author = relationship("User")


class ForumPost(db.Model):
    """A post: the first post of a topic or a reply; Markdown text, rendered and cleaned when shown."""

    __tablename__ = "forum_posts"
    __table_args__ = (Index("ix_forum_posts_topic_created", "topic_id", "created_at"),
                      Index("ix_forum_posts_author_created", "author_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("forum_topics.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: the text as written (Markdown)
    body_md: Mapped[str] = mapped_column(Text)
    #: the opening post of its topic
    is_first: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the post this one quotes
    quote_post_id: Mapped[int | None] = mapped_column(ForeignKey("forum_posts.id", ondelete="SET NULL"))
    is_excellent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: the answer the asker accepted (Q&A)
    is_answer: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: written by an expert of the course on a Q&A board
    is_expert_answer: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: soft delete: hidden from readers, kept for the audit
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    topic: Mapped[ForumTopic] = relationship()
    author = relationship("User", foreign_keys=[author_id])
    quote = relationship("ForumPost", remote_side=[id])


class ForumPostRevision(db.Model):
    """An earlier text of an edited post (the edit history)."""

    __tablename__ = "forum_post_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"), index=True)
    #: the text before the edit
    body_md: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    edited_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class ForumReport(db.Model):
    """A post reported to the board's moderators."""

    __tablename__ = "forum_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("forum_posts.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(REASON_MAX), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    #: when a moderator dealt with it; NULL while open
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    post: Mapped[ForumPost] = relationship()


class ForumPointRule(db.Model):
    """A project's participation-point rules (研讨积分); a project without a row uses the defaults."""

    __tablename__ = "forum_point_rules"
    __table_args__ = (CheckConstraint(
        "topic_points >= 0 AND reply_points >= 0 AND excellent_points >= 0 AND reply_min_chars >= 0 "
        "AND daily_cap >= 0 AND project_cap >= 0", name="non_negative"),)

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    topic_points: Mapped[int] = mapped_column(Integer, default=2)
    reply_points: Mapped[int] = mapped_column(Integer, default=1)
    #: replies shorter than this (characters, spaces not counted) earn nothing
    reply_min_chars: Mapped[int] = mapped_column(Integer, default=20)
    excellent_points: Mapped[int] = mapped_column(Integer, default=3)
    #: most points a learner earns per day in the project's time zone
    daily_cap: Mapped[int] = mapped_column(Integer, default=10)
    #: most points a learner earns in the project
    project_cap: Mapped[int] = mapped_column(Integer, default=100)


# Search indexes that SQLAlchemy cannot declare: SQLite FTS5 (trigram) over the posts' text kept by triggers,
# and PostgreSQL pg_trgm GIN indexes. The migration creates the same; create_all (tests) runs these.
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
#: names of the search objects, which the models do not declare (the schema comparison skips them)
SEARCH_OBJECT_PREFIXES = ("forum_search", "ix_forum_posts_body_trgm", "ix_forum_topics_title_trgm")

for _statement in SQLITE_SEARCH_DDL:
    event.listen(ForumPost.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in SQLITE_SEARCH_DROP:
    event.listen(ForumPost.__table__, "before_drop", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in POSTGRES_SEARCH_DDL[1:]:
    event.listen(ForumPost.__table__ if "forum_posts" in _statement else ForumTopic.__table__, "after_create",
                 DDL(_statement).execute_if(dialect="postgresql"))
event.listen(db.metadata, "before_create", DDL(POSTGRES_SEARCH_DDL[0]).execute_if(dialect="postgresql"))
