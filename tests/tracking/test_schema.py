"""Invariants the database holds by itself (SQLite and PostgreSQL), whatever code writes the rows."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError

from app.courses.models import Lesson, Project
from app.extensions import db
from app.tracking.models import CreditWindow, DailyCredit, LessonProgress, PlaybackSession


def refused(statement) -> None:
    with pytest.raises(IntegrityError):
        db.session.execute(statement)
        db.session.flush()
    db.session.rollback()


@pytest.fixture
def played(setup, player):
    """A learner who played 30 s of the first lesson, session still open."""
    course = setup()
    p = player(course)
    p.open()
    p.play(30)
    db.session.rollback()
    return course, p


def test_one_open_session_per_user(played):
    course, p = played
    opened = db.session.get(PlaybackSession, p.session_id)
    refused(insert(PlaybackSession).values(user_id=course.learner.id, project_id=course.project.id,
                                           lesson_id=course.lessons[1].id, status="open", opened_at=opened.opened_at,
                                           user_agent="", last_seq=0, last_position_ms=0, is_playing=False,
                                           is_visible=True, rate=1.0, credited_ms=0))


@pytest.mark.parametrize("values", [{"status": "paused"}, {"credited_ms": -1}, {"rate": 0.0}, {"status": "ended"}])
def test_session_statuses_and_figures_are_checked(played, values):
    _, p = played
    refused(update(PlaybackSession).where(PlaybackSession.id == p.session_id).values(**values))  # ended: no closed_at


def test_a_credit_window_is_as_long_as_its_credit(played):
    course, _ = played
    refused(update(CreditWindow).where(CreditWindow.user_id == course.learner.id)
            .values(credited_ms=CreditWindow.credited_ms + 1))
    refused(update(CreditWindow).where(CreditWindow.user_id == course.learner.id)
            .values(ended_ms=CreditWindow.ended_ms + 1000))


def test_negative_credit_is_refused(played):
    course, _ = played
    refused(update(LessonProgress).where(LessonProgress.user_id == course.learner.id).values(credited_ms=-1))
    refused(update(DailyCredit).where(DailyCredit.user_id == course.learner.id).values(credited_ms=-5))


def test_content_with_credit_cannot_be_deleted_with_it(played):
    course, _ = played
    refused(delete(Lesson).where(Lesson.id == course.lessons[0].id))
    refused(delete(Project).where(Project.id == course.project.id))
    assert db.session.get(Lesson, course.lessons[0].id) is not None
