"""Who may read a learner's progress and audit, and who may correct credited time: a role × scope matrix."""
from __future__ import annotations

import pytest

from app.tracking.permissions import can_correct_credit, can_view_progress
from tests.conftest import bearer


@pytest.fixture
def world(app, clock, org_tree, make_project, make_course, make_class, make_user, enroll, api_token, player):
    """Project P with class A (school A1, county A) and class B (school B1, county B); learner `la` in A, `lb` in B.

    Another project Q has class C whose tutor also teaches `la` there, but not in P.
    """
    project = make_project("P", is_presence_check_enabled=False)
    course = make_course(project, "Course", durations=(600,))
    lesson = course.modules[0].lessons[0]
    class_a = make_class(project, org_tree["school_a1"], "Class A")
    class_b = make_class(project, org_tree["school_b1"], "Class B")
    other_project = make_project("Q")
    class_c = make_class(other_project, org_tree["school_a1"], "Class C")
    people = {
        "la": make_user("la", role="learner", cls=class_a, org=org_tree["school_a1"]),
        "lb": make_user("lb", role="learner", cls=class_b, org=org_tree["school_b1"]),
        "tutor_a": make_user("tutor_a", role="tutor", cls=class_a),
        "tutor_b": make_user("tutor_b", role="tutor", cls=class_b),
        "manager_a": make_user("manager_a", role="class_manager", cls=class_a),
        "manager_b": make_user("manager_b", role="class_manager", cls=class_b),
        "tutor_c": make_user("tutor_c", role="tutor", cls=class_c),
        "admin_county_a": make_user("admin_county_a", role="org_admin", org=org_tree["county_a"]),
        "admin_county_b": make_user("admin_county_b", role="org_admin", org=org_tree["county_b"]),
        "admin_school_a1": make_user("admin_school_a1", role="org_admin", org=org_tree["school_a1"]),
        "admin_school_a2": make_user("admin_school_a2", role="org_admin", org=org_tree["school_a2"]),
        "admin_province": make_user("admin_province", role="org_admin", org=org_tree["province"]),
        "expert_a": make_user("expert_a", role="expert", org=org_tree["county_a"]),
        "site": make_user("site", role="site_admin"),
    }
    from app.accounts.service import do_assign_role
    from app.extensions import db

    do_assign_role(people["la"], "learner", class_=class_c)
    db.session.commit()
    enroll(people["la"], project)
    enroll(people["lb"], project)
    enroll(people["la"], other_project)
    tokens = {name: api_token(user) for name, user in people.items()}
    # `la` has something to audit
    from tests.tracking.conftest import Course

    p = player(Course(project, [lesson], people["la"], tokens["la"], bearer(tokens["la"])))
    p.open()
    p.play(60)
    return {"project": project, "lesson": lesson, "people": people, "tokens": tokens}


# viewer, whose progress (la = class A / county A, lb = class B / county B), may read?
MATRIX = [
    ("la", "la", True),  # own
    ("la", "lb", False),  # another learner
    ("tutor_a", "la", True),
    ("tutor_a", "lb", False),  # tutor of another class
    ("manager_a", "la", True),
    ("manager_b", "la", False),  # class manager of another class
    ("manager_b", "lb", True),
    ("tutor_c", "la", False),  # teaches `la` in another project only
    ("admin_county_a", "la", True),
    ("admin_county_a", "lb", False),  # another county
    ("admin_county_b", "la", False),
    ("admin_county_b", "lb", True),
    ("admin_school_a1", "la", True),
    ("admin_school_a2", "la", False),  # a sibling school
    ("admin_province", "lb", True),
    ("expert_a", "la", False),
    ("site", "lb", True),
]
CORRECT = {"admin_county_a": {"la"}, "admin_county_b": {"lb"}, "admin_school_a1": {"la"},
           "admin_province": {"la", "lb"}, "site": {"la", "lb"}}


@pytest.mark.parametrize("viewer, learner, allowed", MATRIX)
def test_staff_progress_and_audit_endpoints(world, client, viewer, learner, allowed):
    project, lesson = world["project"], world["lesson"]
    target = world["people"][learner]
    headers = bearer(world["tokens"][viewer])
    base = f"/api/v1/projects/{project.id}/learners/{target.id}"
    progress = client.get(f"{base}/progress", headers=headers)
    audit = client.get(f"{base}/lessons/{lesson.id}/audit", headers=headers)
    expected = 200 if allowed else 404  # a learner one may not see answers as if there were none
    assert progress.status_code == expected, progress.get_data(as_text=True)
    assert audit.status_code == expected, audit.get_data(as_text=True)
    if allowed:
        assert progress.get_json()["project_id"] == project.id
        credited = 60 if learner == "la" else 0
        assert progress.get_json()["credited_s"] == credited
        assert audit.get_json()["credited_s"] == credited and audit.get_json()["recomputed_s"] == credited
    else:
        assert progress.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("viewer, learner, _allowed", MATRIX)
def test_only_admins_of_the_learner_may_correct_credit(world, client, viewer, learner, _allowed):
    project, lesson = world["project"], world["lesson"]
    target = world["people"][learner]
    url = f"/api/v1/projects/{project.id}/learners/{target.id}/lessons/{lesson.id}/corrections"
    response = client.post(url, json={"delta_s": 30, "reason": "Attended the group viewing"},
                           headers=bearer(world["tokens"][viewer]))
    allowed = learner in CORRECT.get(viewer, set())
    expected = 201 if allowed else 403 if _allowed else 404  # seen but not theirs to change: 403; not seen: 404
    assert response.status_code == expected, response.get_data(as_text=True)


def test_permission_helpers_agree_with_the_matrix(world):
    people, project = world["people"], world["project"]
    for viewer, learner, allowed in MATRIX:
        assert can_view_progress(people[viewer], people[learner], project) is allowed, (viewer, learner)
        assert can_correct_credit(people[viewer], people[learner], project) is (learner in CORRECT.get(viewer, set()))


def test_learner_endpoints_answer_only_for_the_signed_in_user(world, client):
    project, lesson = world["project"], world["lesson"]
    headers = bearer(world["tokens"]["lb"])
    mine = client.get(f"/api/v1/me/progress?project_id={project.id}", headers=headers).get_json()
    assert mine["credited_s"] == 0  # lb's own, never la's
    audit = client.get(f"/api/v1/me/lessons/{lesson.id}/audit?project_id={project.id}", headers=headers).get_json()
    assert audit["sessions"] == []
    assert client.get(f"/api/v1/me/progress?project_id={project.id}").status_code == 401
    unknown = client.get(f"/api/v1/projects/{project.id}/learners/99999/progress", headers=bearer(world["tokens"]["site"]))
    assert unknown.status_code == 404
    outside = client.get(f"/api/v1/projects/{project.id}/learners/{world['people']['la'].id}/lessons/99999/audit",
                         headers=bearer(world["tokens"]["site"]))
    assert outside.status_code == 404


MATRIX_ENDPOINTS = {
    "tracking_api.open_session",
    "tracking_api.heartbeat",
    "tracking_api.presence",
    "tracking_api.end_session",
    "tracking_api.my_progress",
    "tracking_api.my_lesson_audit",
    "tracking_api.learner_progress",
    "tracking_api.learner_lesson_audit",
    "tracking_api.correct_credit",
}

# caller of the learner endpoints against `la`'s open session: the owner, another learner of the project,
# staff of the owner's class, a site admin (nobody drives another person's playback), anonymous.
PLAYBACK_MATRIX = [
    ("open_session", {"la": 201, "lb": 201, "tutor_a": 403, "site": 403, None: 401}),
    ("heartbeat", {"la": 200, "lb": 404, "tutor_a": 404, "site": 404, None: 401}),
    ("presence", {"la": 409, "lb": 404, "tutor_a": 404, "site": 404, None: 401}),
    ("end_session", {"la": 200, "lb": 404, "tutor_a": 404, "site": 404, None: 401}),
    ("my_progress", {"la": 200, "lb": 200, "tutor_a": 403, "site": 403, None: 401}),
    ("my_lesson_audit", {"la": 200, "lb": 200, "tutor_a": 403, "site": 403, None: 401}),
]


@pytest.mark.parametrize("endpoint, expected", PLAYBACK_MATRIX)
@pytest.mark.parametrize("caller", ["la", "lb", "tutor_a", "site", None])
def test_learner_endpoints_matrix(world, app, player, clock, endpoint, expected, caller):
    from tests.tracking.conftest import Course

    project, lesson, people, tokens = world["project"], world["lesson"], world["people"], world["tokens"]
    owner = player(Course(project, [lesson], people["la"], tokens["la"], bearer(tokens["la"])))
    owner.open()
    owner.beat(event="play")
    clock.advance(15)
    headers = bearer(tokens[caller]) if caller else {}
    client = app.test_client()
    sid = owner.session_id
    calls = {
        "open_session": ("post", "/api/v1/playback/sessions", {"lesson_id": lesson.id, "project_id": project.id}),
        "heartbeat": ("post", f"/api/v1/playback/sessions/{sid}/heartbeats",
                      {"seq": 2, "position_s": 15, "playing": True, "visible": True, "rate": 1, "event": "tick"}),
        "presence": ("post", f"/api/v1/playback/sessions/{sid}/presence", {"check_id": "abc", "answer": "1"}),
        "end_session": ("post", f"/api/v1/playback/sessions/{sid}/end", {}),
        "my_progress": ("get", f"/api/v1/me/progress?project_id={project.id}", None),
        "my_lesson_audit": ("get", f"/api/v1/me/lessons/{lesson.id}/audit?project_id={project.id}", None),
    }
    method, url, body = calls[endpoint]
    if method == "post":
        if not caller:
            headers = bearer("no-such-token")
        response = client.post(url, json=body, headers=headers)
    else:
        response = client.get(url, headers=headers)
    assert response.status_code == expected[caller], response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.is_json and "error" in response.get_json()
