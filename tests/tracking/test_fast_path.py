"""The heartbeat's WSGI fast path (api.HeartbeatFastPath): the route's answers, with the route left for everything else."""
import pytest

from app.tracking import service
from tests.tracking.test_api import figures, session_reasons

def _play_a_lesson(course, player, clock, seek_back=True) -> list[dict]:
    p = player(course)
    p.open()
    answers = [p.beat(event="play")]
    for _ in range(4):
        clock.advance(15)
        answers.append(p.beat(p.position + 15))
    clock.advance(3)
    answers.append(p.beat(p.position + 3, event="pause", playing=False))
    if seek_back:
        clock.advance(1)
        answers.append(p.beat(10, event="seek", frm=p.position))
    answers.append(p.beat(seq=2, position=20))  # a replayed seq changes nothing
    return answers


@pytest.mark.parametrize("fast", [True, False])
def test_the_fast_path_answers_what_the_route_answers(setup, player, clock, app, route_calls, fast):
    app.config["HEARTBEAT_FAST_PATH"] = fast
    course = setup()
    answers = _play_a_lesson(course, player, clock)
    assert [a["lesson"]["credited_s"] for a in answers] == [0, 15, 30, 45, 60, 63, 63, 63]
    assert figures(course) == (63_000, 63_000)
    assert service.get_recomputed_ms(course.learner.id, course.project.id, course.lessons[0].id) == (63_000, 63_000)
    assert len(route_calls) == (0 if fast else len(answers))


def test_a_cookie_sign_in_with_its_csrf_header_is_answered_by_the_fast_path(setup, player, clock, auth, route_calls):
    course = setup()
    auth.login(course.learner.username)
    p = player(course, headers={"X-CSRFToken": auth.csrf()})
    p.open()
    assert p.play(30)["lesson"]["credited_s"] == 30
    assert route_calls == []


@pytest.mark.parametrize("csrf", ["missing", "wrong", "another session's"])
def test_a_cookie_sign_in_without_its_csrf_token_goes_to_the_route_and_is_refused(setup, player, clock, auth, app,
                                                                                  route_calls, csrf):
    course = setup()
    if csrf == "another session's":
        other = app.test_client()
        from tests.conftest import Auth
        Auth(other).login(course.learner.username)
        token = Auth(other).csrf()
    auth.login(course.learner.username)
    p = player(course, headers={"X-CSRFToken": auth.csrf()})
    p.open()
    p.play(30)
    p.headers = {} if csrf == "missing" else {"X-CSRFToken": "x" + auth.csrf()[1:] if csrf == "wrong" else token}
    clock.advance(15)
    assert p.beat(p.position + 15, expect=400)["error"]["code"] == "csrf"
    assert len(route_calls) == 1
    assert figures(course)[0] == 30_000


def test_a_superseded_session_is_refused_once_and_counted_once(setup, player, clock, route_calls):
    course = setup()
    tab1, tab2 = player(course), player(course)
    tab1.open()
    tab1.play(30)
    tab2.open()  # supersedes tab1 (R5)
    clock.advance(15)
    assert tab1.beat(tab1.position + 15, expect=409)["error"]["code"] == "superseded"
    assert session_reasons(tab1.session_id)["superseded"][0] == 1
    assert len(route_calls) == 1  # the fast path declined before writing; the route counted it


@pytest.mark.parametrize("body", [b"{not json", b'{"seq": 1}', b"[]", b'{"seq": 5, "position_s": NaN, "playing": true, '
                                  b'"visible": true, "rate": 1, "event": "tick"}'])
def test_bad_bodies_get_the_routes_answer(setup, player, client, app, route_calls, body):
    course = setup()
    p = player(course)
    p.open()

    def post():
        response = client.post(f"/api/v1/playback/sessions/{p.session_id}/heartbeats", data=body,
                               headers={**course.headers, "Content-Type": "application/json"})
        return response.status_code, response.get_json()

    answered = post()
    assert answered[0] == 400 and len(route_calls) == 1
    app.config["HEARTBEAT_FAST_PATH"] = False
    assert post() == answered


def test_a_failure_in_the_fast_path_leaves_the_heartbeat_to_the_route(setup, player, clock, route_calls, monkeypatch):
    course = setup()
    p = player(course)
    p.open()
    p.play(30)
    real = service.check_heartbeat
    failures = []

    def fails_once(*args, **kwargs):
        if kwargs.get("success_only") and not failures:
            failures.append(1)
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "check_heartbeat", fails_once)
    clock.advance(15)
    assert p.beat(p.position + 15)["lesson"]["credited_s"] == 45
    assert failures and len(route_calls) == 1
    assert figures(course)[0] == 45_000


@pytest.mark.parametrize("case", ["revoked token", "stale cookie with a live token", "unknown session"])
def test_a_heartbeat_whose_sign_in_needs_the_full_check_goes_to_the_route_quietly(setup, player, clock, auth, client,
                                                                                 route_calls, monkeypatch, case):
    from sqlalchemy import update

    from app.accounts.models import ApiToken, LoginSession
    from app.extensions import db
    from app.tracking import api

    logged = []
    monkeypatch.setattr(api._log, "exception", lambda *args, **kwargs: logged.append(args))
    course = setup()
    if case == "stale cookie with a live token":
        auth.login(course.learner.username)
    p = player(course)
    p.open()
    p.play(30)
    if case == "revoked token":
        db.session.execute(update(ApiToken).values(revoked_at=clock.current))
    elif case == "stale cookie with a live token":
        db.session.execute(update(LoginSession).values(revoked_at=clock.current))
    db.session.commit()
    route_calls.clear()
    clock.advance(15)
    if case == "unknown session":
        response = p.post({"seq": 1, "position_s": 0.0, "playing": True, "visible": True, "rate": 1.0,
                           "event": "tick"}, session_id=p.session_id + 1000)
        assert response.status_code == 404
    elif case == "revoked token":
        assert p.beat(p.position + 15, expect=401)["error"]["code"] == "unauthorized"
    else:
        assert p.beat(p.position + 15)["lesson"]["credited_s"] == 45
    assert len(route_calls) == 1
    assert logged == []
