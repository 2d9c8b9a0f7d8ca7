"""Group viewing through the JSON API with the test clock: check-in codes, presence, crediting per attendee."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import delete, select

from app.extensions import db
from tests.conftest import bearer


@dataclass
class Room:
    project: object
    lesson: object
    other_lesson: object
    cls: object
    manager: dict
    learners: list  # [(user, headers)]
    outsider: dict  # learner of another class of the project
    center: object


class Projector:
    """Drives a group session's projector through the API, moving the test clock instead of sleeping."""

    def __init__(self, client, clock, headers, opened):
        self.client, self.clock, self.headers = client, clock, headers
        self.group_id = opened["group_session_id"]
        self.session_id = opened["session_id"]
        self.seq = 0
        self.position = 0.0
        self.last = {}

    def beat(self, *, playing=True, rate=1.0, event="tick", expect=200):
        self.seq += 1
        response = self.client.post(f"/api/v1/playback/sessions/{self.session_id}/heartbeats", headers=self.headers,
                                    json={"seq": self.seq, "position_s": self.position, "playing": playing,
                                          "visible": True, "rate": rate, "event": event})
        assert response.status_code == expect, response.get_data(as_text=True)
        self.last = response.get_json()
        return self.last

    def play(self, seconds: float, *, step: float = 15, rate: float = 1.0, start: bool = True):
        if start:
            self.beat(event="play", rate=rate)
        left = seconds
        while left > 1e-9:
            d = min(step, left)
            self.clock.advance(d)
            left -= d
            self.position = min(self.position + d * rate, 600)
            self.beat(rate=rate)
        return self.last

    def state(self):
        response = self.client.get(f"/api/v1/group-sessions/{self.group_id}", headers=self.headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def code(self) -> str:
        return self.state()["checkin"]["code"]


@pytest.fixture
def room(app, clock, org_tree, make_project, make_course, make_user, make_class, enroll, api_token):
    def make(**settings):
        settings.setdefault("is_presence_check_enabled", False)
        project = make_project("Group project", **settings)
        course = make_course(project, "Course", durations=(600, 300))
        lesson, other = course.modules[0].lessons
        center = org_tree["center_a"]
        cls = make_class(project, org_tree["school_a1"], "Class A", learning_center=center)
        other_cls = make_class(project, org_tree["school_a1"], "Class B")
        manager = make_user("gmanager", role="class_manager", cls=cls, school=org_tree["school_a1"])
        learners = []
        for i in (1, 2, 3):
            user = make_user(f"glearner{i}", role="learner", cls=cls, org=org_tree["school_a1"])
            enroll(user, project)
            learners.append((user, bearer(api_token(user))))
        outsider = make_user("goutsider", role="learner", cls=other_cls, org=org_tree["school_a1"])
        enroll(outsider, project)
        return Room(project, lesson, other, cls, bearer(api_token(manager)), learners,
                    bearer(api_token(outsider)), center)

    return make


def open_group(client, clock, r: Room, lesson=None) -> Projector:
    response = client.post("/api/v1/group-sessions", headers=r.manager,
                           json={"class_id": r.cls.id, "lesson_id": (lesson or r.lesson).id})
    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.get_json()
    assert set(data) >= {"group_session_id", "session_id", "heartbeat_interval_s", "duration_s",
                         "resume_position_s", "checkin"}
    assert len(data["checkin"]["code"]) == 6 and data["checkin"]["code"].isdigit()
    assert data["checkin"]["code"] in data["checkin"]["url"]
    return Projector(client, clock, r.manager, data)


def check_in(client, p: Projector, headers, code=None, expect=201):
    response = client.post(f"/api/v1/group-sessions/{p.group_id}/checkins", headers=headers,
                           json={"code": code if code is not None else p.code()})
    assert response.status_code == expect, response.get_data(as_text=True)
    return response.get_json()


def check_out(client, p: Projector, headers, expect=200):
    response = client.delete(f"/api/v1/group-sessions/{p.group_id}/checkins/me", headers=headers)
    assert response.status_code == expect, response.get_data(as_text=True)
    return response.get_json()


def credited(client, r: Room, headers, lesson=None) -> float:
    response = client.get(f"/api/v1/me/progress?project_id={r.project.id}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    lesson_id = (lesson or r.lesson).id
    return next(item["credited_s"] for item in response.get_json()["lessons"] if item["lesson_id"] == lesson_id)


def recomputed_equal(r: Room, user) -> None:
    from app.tracking.service import get_recomputed_ms

    stored, recomputed = get_recomputed_ms(user.id, r.project.id, r.lesson.id)
    assert stored == recomputed


# ---------------------------------------------------------------- crediting


def test_each_attendee_is_credited_for_their_presence_only(client, clock, room):
    r = room()
    (l1, h1), (l2, h2), (l3, h3) = r.learners
    p = open_group(client, clock, r)
    p.beat(event="play")
    clock.advance(10)
    p.position += 10
    check_in(client, p, h1)  # t=10, inside the first interval
    p.play(30, start=False)  # t=40
    response = client.post(f"/api/v1/group-sessions/{p.group_id}/attendees", headers=r.manager, json={"user_id": l2.id})
    assert response.status_code == 201
    p.play(55, start=False)  # t=95
    clock.advance(5)  # t=100, the projector playing on
    p.position += 5
    out = check_out(client, p, h1)
    assert set(out) >= {"checked_out_at", "credited_s"}
    p.play(50, start=False, step=5)  # t=150
    assert credited(client, r, h1) == pytest.approx(90, abs=0.01)
    assert credited(client, r, h2) == pytest.approx(110, abs=0.01)
    assert credited(client, r, h3) == 0
    state = p.state()
    by_user = {a["user_id"]: a for a in state["attendees"]}
    assert by_user[l1.id]["method"] == "self" and by_user[l2.id]["method"] == "manager"
    assert by_user[l1.id]["credited_s"] == pytest.approx(90, abs=0.01)
    assert by_user[l1.id]["checked_out_at"] is not None and by_user[l2.id]["checked_out_at"] is None
    for user in (l1, l2):
        recomputed_equal(r, user)
    ended = client.post(f"/api/v1/group-sessions/{p.group_id}/end", headers=r.manager, json={})
    assert ended.status_code == 200
    assert all(a["checked_out_at"] for a in ended.get_json()["attendees"])
    # the end checked everyone out and ended the projector's playback
    p.beat(expect=410)
    assert credited(client, r, h2) == pytest.approx(110, abs=0.01)


def test_progress_and_audit_show_the_group_session_and_the_learning_center(client, clock, room):
    r = room()
    (l1, h1), _, _ = r.learners
    p = open_group(client, clock, r)
    check_in(client, p, h1)
    p.play(30)
    progress = client.get(f"/api/v1/me/progress?project_id={r.project.id}", headers=h1).get_json()
    [presence] = progress["group_sessions"]
    assert presence["group_session_id"] == p.group_id
    assert presence["learning_center"] == r.center.name and presence["class_name"] == "Class A"
    assert presence["credited_s"] == pytest.approx(30, abs=0.01)
    audit = client.get(f"/api/v1/me/lessons/{r.lesson.id}/audit?project_id={r.project.id}", headers=h1).get_json()
    [session] = audit["sessions"]
    assert session["kind"] == "attendee"
    assert session["group"]["group_session_id"] == p.group_id and session["group"]["learning_center"] == r.center.name
    assert audit["recomputed_s"] == audit["credited_s"] == pytest.approx(30, abs=0.01)
    # the audit page names the group viewing in words, not the session's "group viewing" user agent
    from tests.classrooms.world import signed_in

    page, _csrf = signed_in(client.application, l1)
    html = page.get(f"/projects/{r.project.id}/lessons/{r.lesson.id}/audit").get_data(as_text=True)
    badge = html.split('data-testid="session-group">')[1].split("</span>")[0]
    assert badge.endswith(" · Class A · " + r.center.name) and "group viewing" not in html


def test_a_projector_at_10x_credits_nobody(client, clock, room):
    r = room()
    (l1, h1), _, _ = r.learners
    p = open_group(client, clock, r)
    check_in(client, p, h1)
    p.position = 0
    p.beat(event="play", rate=10)
    for _i in range(4):
        clock.advance(6)
        p.position = min(p.position + 60, 600)
        p.beat(rate=10)
    assert credited(client, r, h1) == 0
    assert p.last["credited_s_session"] == 0


def test_daily_cap_reached_by_one_attendee_only(client, clock, room):
    r = room(daily_cap_s=100)
    (l1, h1), (l2, h2), _ = r.learners
    # learner 1 already studied 80 s today on their own
    own = client.post("/api/v1/playback/sessions", headers=h1,
                      json={"lesson_id": r.other_lesson.id, "project_id": r.project.id})
    sid = own.get_json()["session_id"]
    for seq, pos in ((1, 0), (2, 40), (3, 80)):
        if seq > 1:
            clock.advance(40)
        assert client.post(f"/api/v1/playback/sessions/{sid}/heartbeats", headers=h1, json={
            "seq": seq, "position_s": pos, "playing": True, "visible": True, "rate": 1.0,
            "event": "play" if seq == 1 else "tick"}).status_code == 200
    assert credited(client, r, h1, r.other_lesson) == pytest.approx(80, abs=0.01)
    p = open_group(client, clock, r)
    check_in(client, p, h1)  # supersedes their own playback
    check_in(client, p, h2)
    p.play(60)
    assert credited(client, r, h1) == pytest.approx(20, abs=0.01)
    assert credited(client, r, h2) == pytest.approx(60, abs=0.01)
    audit = client.get(f"/api/v1/me/lessons/{r.lesson.id}/audit?project_id={r.project.id}", headers=h1).get_json()
    assert {x["reason"]: x["seconds"] for x in audit["reasons"]}["daily_cap"] == pytest.approx(40, abs=0.01)


def test_an_attendee_whose_enrolment_ends_mid_session_earns_nothing_after(client, clock, room):
    from app.courses.models import Enrollment

    r = room()
    (l1, h1), (l2, h2), _ = r.learners
    p = open_group(client, clock, r)
    check_in(client, p, h1)
    check_in(client, p, h2)
    p.play(30)
    db.session.execute(delete(Enrollment).where(Enrollment.user_id == l2.id))
    db.session.commit()
    p.play(30, start=False)
    assert credited(client, r, h1) == pytest.approx(60, abs=0.01)
    from app.tracking.models import LessonProgress

    stored = db.session.execute(select(LessonProgress.credited_ms).where(
        LessonProgress.user_id == l2.id, LessonProgress.lesson_id == r.lesson.id)).scalar_one()
    assert stored == 30_000


def test_opening_an_own_playback_checks_the_attendee_out_at_that_moment(client, clock, room):
    r = room()
    (l1, h1), _, _ = r.learners
    p = open_group(client, clock, r)
    check_in(client, p, h1)
    p.play(30)
    clock.advance(5)
    p.position += 5
    own = client.post("/api/v1/playback/sessions", headers=h1,
                      json={"lesson_id": r.other_lesson.id, "project_id": r.project.id})
    assert own.status_code == 201
    p.play(30, start=False, step=5)
    assert credited(client, r, h1) == pytest.approx(35, abs=0.01)
    [attendee] = p.state()["attendees"]
    assert attendee["checked_out_at"] is not None
    # a second check-in is possible once checked out
    check_in(client, p, h1)


def test_two_group_sessions_of_one_learner_never_credit_the_same_time_twice(
        app, client, clock, room, make_project, make_course, make_class, make_user, enroll, api_token, org_tree):
    from app.tracking.models import CreditWindow

    r = room()
    (l1, h1), _, _ = r.learners
    # a second project and class of the same learner, with its own manager and projector
    project2 = make_project("Second project")
    course2 = make_course(project2, "Course 2", durations=(600,))
    cls2 = make_class(project2, org_tree["school_a1"], "Class C")
    manager2 = make_user("gmanager2", role="class_manager", cls=cls2, school=org_tree["school_a1"])
    from app.accounts.service import do_assign_role

    do_assign_role(l1, "learner", class_=cls2)
    enroll(l1, project2)
    h_m2 = bearer(api_token(manager2))
    second = client.post("/api/v1/group-sessions", headers=h_m2,
                         json={"class_id": cls2.id, "lesson_id": course2.modules[0].lessons[0].id})
    assert second.status_code == 201
    p1 = open_group(client, clock, r)
    p2 = Projector(client, clock, h_m2, second.get_json())
    check_in(client, p1, h1)
    p1.beat(event="play")
    p2.beat(event="play")
    for step in range(8):  # both projectors play, their heartbeats interleaved
        clock.advance(7.5)
        for p in (p1, p2) if step % 2 else (p2, p1):
            p.position += 7.5
            p.beat()
        if step == 3:
            check_in(client, p2, h1)  # t=30: moves to the second group session
    windows = db.session.execute(select(CreditWindow.started_ms, CreditWindow.ended_ms)
                                 .where(CreditWindow.user_id == l1.id).order_by(CreditWindow.started_ms)).all()
    for a, b in zip(windows, windows[1:]):
        assert a.ended_ms <= b.started_ms
    total = sum(w.ended_ms - w.started_ms for w in windows)
    assert total == 60_000
    assert credited(client, r, h1) == pytest.approx(30, abs=0.01)
    attendance = {a["user_id"]: a for a in p1.state()["attendees"]}
    assert attendance[l1.id]["checked_out_at"] is not None


def test_presence_checks_are_answered_on_the_projector(client, clock, room):
    r = room(is_presence_check_enabled=True, presence_min_s=60, presence_max_s=60)
    (l1, h1), _, _ = r.learners
    p = open_group(client, clock, r)
    check_in(client, p, h1)
    p.play(60)
    check = p.last["presence_check"]
    assert check is not None
    p.play(30, start=False)
    # the learner's own client cannot answer it: it is the projector's
    answer = client.post(f"/api/v1/playback/sessions/{p.session_id}/presence", headers=h1,
                         json={"check_id": check["id"], "answer": check["options"][0]})
    assert answer.status_code == 404
    from app.tracking.models import PresenceCheck

    right = db.session.get(PresenceCheck, check["id"]).answer
    answer = client.post(f"/api/v1/playback/sessions/{p.session_id}/presence", headers=r.manager,
                         json={"check_id": check["id"], "answer": right})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert credited(client, r, h1) == pytest.approx(90, abs=0.01)


# ---------------------------------------------------------------- codes and refusals


def test_check_in_codes_change_every_minute_and_last_120_seconds(client, clock, room):
    r = room()
    (l1, h1), (l2, h2), (l3, h3) = r.learners
    p = open_group(client, clock, r)
    first = p.code()
    clock.advance(59)
    assert p.code() == first
    clock.advance(2)  # t=61: a new code is shown, the first still works
    second = p.code()
    assert second != first
    clock.advance(58)  # t=119
    check_in(client, p, h1, first)
    clock.advance(1)  # t=120: the first code is stale
    error = check_in(client, p, h2, first, expect=422)
    assert error["error"]["code"] == "code"
    check_in(client, p, h2, second)
    check_in(client, p, h3, "12345x", expect=422)
    check_in(client, p, h3, "000000" if p.code() != "000000" else "000001", expect=422)


def test_refusals_foreign_code_outsider_second_check_in_ended(client, clock, room, make_user, api_token, org_tree):
    r = room()
    (l1, h1), (l2, h2), _ = r.learners
    p = open_group(client, clock, r)
    check_in(client, p, h1)
    check_in(client, p, h1, expect=409)
    # the code of another group session is refused (422): each session has its own codes
    ended_first = client.post(f"/api/v1/group-sessions/{p.group_id}/end", headers=r.manager, json={})
    assert ended_first.status_code == 200
    p2 = open_group(client, clock, r)
    assert check_in(client, p, h2, p2.code(), expect=410)["error"]["code"] == "ended"
    check_in(client, p2, h2, "999999" if p2.code() != "999999" else "999998", expect=422)
    # a learner of another class
    check_in(client, p2, r.outsider, p2.code(), expect=403)
    # a teacher in no class, unknown session
    check_in(client, p2, r.outsider, "123456", expect=403)
    response = client.post("/api/v1/group-sessions/999999/checkins", headers=h2, json={"code": "123456"})
    assert response.status_code == 404
    # bad bodies
    for body in ({}, {"code": 123456}, {"code": "1" * 40}, {"code": "123456", "x": 1}):
        response = client.post(f"/api/v1/group-sessions/{p2.group_id}/checkins", headers=h2, json=body)
        assert response.status_code == 400, body
    assert client.post(f"/api/v1/group-sessions/{p.group_id}/end", headers=r.manager, json={}).status_code == 410


def test_an_attendee_session_takes_no_heartbeats_of_its_own(client, clock, room):
    from app.tracking.models import GroupAttendance

    r = room()
    (l1, h1), _, _ = r.learners
    p = open_group(client, clock, r)
    check_in(client, p, h1)
    sid = db.session.execute(select(GroupAttendance.session_id)).scalar_one()
    response = client.post(f"/api/v1/playback/sessions/{sid}/heartbeats", headers=h1, json={
        "seq": 1, "position_s": 0, "playing": True, "visible": True, "rate": 1.0, "event": "play"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "group_attendee"


def test_guessing_codes_is_slowed_down(client, clock, room):
    r = room()
    (l1, h1), _, _ = r.learners
    p = open_group(client, clock, r)
    right = p.code()
    wrong = [f"{n:06d}" for n in range(20) if f"{n:06d}" != right][:10]
    for code in wrong:
        check_in(client, p, h1, code, expect=422)
    assert check_in(client, p, h1, right, expect=429)["error"]["code"] == "rate_limited"
    clock.advance(601)
    check_in(client, p, h1, p.code())


def test_two_projectors_and_check_ins_racing_on_threads_never_credit_twice(
        app, client, clock, room, make_project, make_course, make_class, make_user, enroll, api_token, org_tree):
    """R11 for group viewing: two projectors' heartbeats and one learner's check-ins, each on its own thread."""
    from app.accounts.service import do_assign_role
    from tests.tracking.test_concurrency import Rounds, _assert_consistent

    r = room()
    (l1, h1), (l2, h2), _ = r.learners
    project2 = make_project("Second project", is_presence_check_enabled=False)
    course2 = make_course(project2, "Course 2", durations=(1200,))
    cls2 = make_class(project2, org_tree["school_a1"], "Class C")
    manager2 = make_user("rmanager2", role="class_manager", cls=cls2, school=org_tree["school_a1"])
    do_assign_role(l1, "learner", class_=cls2)
    enroll(l1, project2)
    h_m2 = bearer(api_token(manager2))
    second = client.post("/api/v1/group-sessions", headers=h_m2,
                         json={"class_id": cls2.id, "lesson_id": course2.modules[0].lessons[0].id}).get_json()
    first = open_group(client, clock, r)
    check_in(client, first, h2)
    sessions = {"a": (first.session_id, r.manager), "b": (second["session_id"], h_m2)}
    groups = {"a": first.group_id, "b": second["group_session_id"]}

    def projector(name):
        c = app.test_client()
        sid, headers = sessions[name]

        def beat(k):
            response = c.post(f"/api/v1/playback/sessions/{sid}/heartbeats", headers=headers, json={
                "seq": k, "position_s": 15.0 * (k - 1), "playing": True, "visible": True, "rate": 1.0,
                "event": "play" if k == 1 else "tick"})
            assert response.status_code == 200, response.get_data(as_text=True)
        return beat

    def mover():
        c = app.test_client()

        def move(k):
            name = "a" if k % 2 else "b"
            state = c.get(f"/api/v1/group-sessions/{groups[name]}",
                          headers=r.manager if name == "a" else h_m2).get_json()
            response = c.post(f"/api/v1/group-sessions/{groups[name]}/checkins", headers=h1,
                              json={"code": state["checkin"]["code"]})
            assert response.status_code in (201, 409), response.get_data(as_text=True)
        return move

    rounds = 10
    Rounds(clock, 3).run([projector("a"), projector("b"), mover()], rounds)
    total = _assert_consistent(l1.id, rounds * 15_000)
    assert total > 0
    _assert_consistent(l2.id, rounds * 15_000)
