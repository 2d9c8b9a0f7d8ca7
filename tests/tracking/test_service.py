"""The tracking service: what pages get from it, several workers on one database, cached settings."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import delete, select

from app import create_app
from app.extensions import db
from app.tracking import service
from app.tracking.models import LessonProgress, PlaybackSession, TrackingUserState
from config import TestingConfig


def test_progress_and_audit_shapes_for_pages(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(90)
    p.beat(visible=False, event="hidden")
    clock.advance(15)
    p.beat(p.position + 15, visible=False)
    db.session.rollback()
    progress = service.get_project_progress(course.learner, course.project)
    assert progress["credited_s"] == 90 and progress["lesson_count"] == 3 and progress["complete_count"] == 0
    assert progress["learning_hours"] == 0.0 and progress["missing_s"] == 60 * 45 * 60 - 90
    lesson = progress["lessons"][0]
    assert lesson["credited_s"] == 90 and lesson["segments"] == [[0.0, 90.0]]
    assert lesson["resume_position_s"] == 105  # the open session's position
    audit = service.get_lesson_audit(course.learner, course.project, course.lessons[0])
    assert audit["credited_s"] == audit["recomputed_s"] == 90
    session = audit["sessions"][0]
    assert isinstance(session["opened_at"], datetime) and session["closed_at"] is None
    window = session["windows"][0]
    assert isinstance(window["started_at"], datetime) and isinstance(window["day"], date)
    assert window["credited_s"] == 90 and window["from_position_s"] == 0 and window["to_position_s"] == 90
    assert [r["reason"] for r in audit["reasons"]] == ["hidden"]
    assert all(isinstance(r["label"], str) and r["label"] for r in audit["reasons"])


def test_contiguous_credit_is_one_audit_window_and_a_pause_starts_another(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(300)
    p.pause()
    clock.advance(60)
    p.play(30)
    db.session.rollback()
    windows = service.get_lesson_audit(course.learner, course.project, course.lessons[0])["sessions"][0]["windows"]
    assert [w["credited_s"] for w in windows] == [300, 30]


def test_a_heartbeat_recreates_progress_rows_removed_mid_session(setup, player):
    course = setup()
    p = player(course)
    p.open()
    p.play(30)
    # An administrator's cleanup removes the lesson's progress row and the user's tracking state.
    db.session.execute(delete(LessonProgress).where(LessonProgress.user_id == course.learner.id))
    db.session.execute(delete(TrackingUserState).where(TrackingUserState.user_id == course.learner.id))
    db.session.commit()
    p.play(30, start=False)
    assert p.credited == 30  # what was credited before the cleanup went with its row; play goes on counting
    db.session.rollback()
    assert db.session.execute(
        select(LessonProgress.credited_ms).where(LessonProgress.user_id == course.learner.id)).scalar_one() == 30_000
    assert db.session.execute(
        select(TrackingUserState.user_id).where(TrackingUserState.user_id == course.learner.id)).scalar_one()


def another_worker(app):
    """A second app on the same database, as another gunicorn worker is: its own caches, nothing shared."""
    config = type("OtherWorker", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    return create_app(config)


def test_a_worker_new_to_a_session_credits_it_like_the_one_that_opened_it(app, setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(30)
    other = another_worker(app)
    try:
        p.client = other.test_client()
        p.play(30, start=False)
        assert p.credited == 60
        # Someone else's session is just as unknown to a new worker, and just as missing.
        stranger = setup(username="learner2")
        response = player(stranger, other_client=other.test_client()).post(
            {"seq": 99, "position_s": 61, "playing": True, "visible": True, "rate": 1, "event": "tick"},
            session_id=p.session_id)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "session_not_found"
    finally:
        with other.app_context():
            db.engine.dispose()
    db.session.rollback()
    assert db.session.get(PlaybackSession, p.session_id).last_seq == p.seq
    assert service.get_recomputed_ms(course.learner.id, course.project.id, course.lessons[0].id) == (60_000, 60_000)


def test_a_new_worker_caps_the_day_of_the_sessions_own_time_zone(app, setup, player, clock):
    # At 23:00 in New York it is already the next day in Shanghai: the daily cap is New York's day.
    new_york = setup(durations=(6 * 3600,), daily_cap_s=3600, timezone="America/New_York", username="ny")
    clock.set(datetime(2026, 3, 11, 2, 0, tzinfo=timezone.utc))  # 22:00 on the 10th in New York (EDT)
    p = player(new_york)
    p.open()
    p.play(3600 + 60)
    assert p.credited == 3600  # the 10th's cap in New York
    player(setup(username="sh")).open()  # another learner's session, in Shanghai time
    other = another_worker(app)
    try:
        p.client = other.test_client()
        p.play(120, start=False)
    finally:
        with other.app_context():
            db.engine.dispose()
    assert p.credited == 3600
    db.session.rollback()
    assert db.session.get(PlaybackSession, p.session_id).reasons["daily_cap"][1] == 180_000


def test_settings_are_cached_and_refreshed_when_a_session_opens(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(30, rate=2.5)
    assert p.credited == 0  # 2.5 is outside 0.5..2
    course.project.max_rate = 3.0
    db.session.commit()
    p.play(30, rate=2.5, start=False)
    assert p.credited == 0  # still the cached range
    p.open()
    p.play(30, rate=2.5)
    assert p.credited == 30
    service.clear_cache()
