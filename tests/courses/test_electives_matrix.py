"""Permission table of elective confirmation: who sees the teachers' chosen electives and who confirms or refuses them.

Columns (PERSONAS): site admin, province admin, county A admin, county B admin, school A1 admin, tutor,
class manager, learner, anonymous. Side "a": county A's project, its elective chosen by a teacher of
school A1; side "b": county B's project, chosen by a teacher of school B1. Both projects ask for the
school's confirmation. A project outside the admin's reach answers 404; staff of a class (tutor, class
manager) and learners are not admins: 403.
"""
import itertools

import pytest
from flask import url_for
from sqlalchemy import select

from app.accounts.models import User
from app.courses import permissions
from app.courses.models import ElectiveChoice, ElectiveDecision, Project
from app.extensions import db
from tests.conftest import Auth, bearer
from tests.classrooms.world import PERSONAS, Row, check_table_covers, fast_hashing, flashes, run_rows, world  # noqa: F401

MATRIX_ENDPOINTS = {"electives_admin.electives_page", "electives_admin.decide",
                    "courses_api.my_electives", "courses_api.project_electives", "courses_api.decide_electives"}

_n = itertools.count(1)
SEE_A = "Y Y Y 404 Y 403 403 403 L"
SEE_B = "Y Y 404 Y 404 403 403 403 L"
DECIDE_A = "302 302 302 404 302 403 403 403 L"
DECIDE_B = "302 302 404 302 404 403 403 403 L"


@pytest.fixture
def electives_world(world):
    """The world, with each project asking for confirmation and offering an elective."""
    from app.courses.service import do_add_lesson, do_add_module, do_create_course, do_link_course

    for side in ("a", "b"):
        project = db.session.get(Project, world.obj("project", side))
        project.is_elective_confirmation_required = True
        course = do_create_course(f"ELECTIVE-{side.upper()}", project.org_unit)
        do_add_lesson(do_add_module(course, "Module"), "Lesson", duration_s=60)
        do_link_course(project, course, is_required=False)
        db.session.commit()
        world.ids[f"elective_{side}"] = course.id
        world.ids[f"choice_{side}"] = _choice(world, side, world.obj("user", side))
    return world


def _choice(w, side: str, user_id: int) -> int:
    choice = ElectiveChoice(project_id=w.obj("project", side), user_id=user_id, course_id=w.obj("elective", side))
    db.session.add(choice)
    db.session.commit()
    return choice.id


def fresh_choice(w, side: str) -> int:
    """A pending choice of a fresh teacher of the side's school, for a row that decides it."""
    return _choice(w, side, w.fresh_teacher(side, enrolled=True))


def _u(endpoint, **values):
    return url_for(endpoint, **values)


ROWS = [
    Row("electives_admin.electives_page", "GET",
        lambda w, s, p: (_u("electives_admin.electives_page", project_id=w.obj("project", s)), None), SEE_A, SEE_B,
        marker=lambda w, s: w.names[f"user_{s}"]),
    Row("electives_admin.electives_page", "GET",
        lambda w, s, p: (_u("electives_admin.electives_page", project_id=w.obj("project", s), status="pending"), None),
        SEE_A, SEE_B, marker=lambda w, s: f"ELECTIVE-{s.upper()}"),
    Row("electives_admin.decide", "POST",
        lambda w, s, p: (_u("electives_admin.decide", project_id=w.obj("project", s)),
                         {"action": "confirm", "choice_ids": fresh_choice(w, s)}), DECIDE_A, DECIDE_B),
    Row("electives_admin.decide", "POST",
        lambda w, s, p: (_u("electives_admin.decide", project_id=w.obj("project", s)),
                         {"action": "refuse", "reason": "名额已满", "choice_ids": fresh_choice(w, s)}), DECIDE_A, DECIDE_B),
]


@pytest.mark.parametrize("side", ["a", "b"])
def test_permission_table(electives_world, side):
    run_rows(electives_world, ROWS, side)


def test_table_covers_every_endpoint(app):
    pages = {e for e in MATRIX_ENDPOINTS if e.startswith("electives_admin.")}
    check_table_covers(ROWS, pages, ("electives_admin",), app)


#: can_decide_elective(persona, choice of side) for each persona; tutor, class manager, learner and anonymous never
DECIDES = {"site": "ab", "province": "ab", "county_a": "a", "county_b": "b", "school": "a",
           "tutor": "", "manager": "", "learner": "", "anon": ""}


def test_can_decide_elective_matrix(electives_world):
    from flask_login import AnonymousUserMixin

    w = electives_world
    got = {}
    for persona in PERSONAS:
        user = AnonymousUserMixin() if persona == "anon" else db.session.get(User, w[f"p_{persona}"])
        got[persona] = "".join(side for side in "ab"
                               if permissions.can_decide_elective(user, db.session.get(ElectiveChoice, w.obj("choice", side))))
    assert got == DECIDES


def test_admin_of_another_school_below_the_project_sees_it_but_not_the_teacher(app, electives_world, make_user, org_tree):
    """School A2's admin sees county A's project, but neither lists nor decides school A1's teacher's choice."""
    from tests.classrooms.world import signed_in

    w = electives_world
    make_user("p_school_a2", role="org_admin", org=org_tree["school_a2"])
    client, csrf = signed_in(app, "p_school_a2")
    page = client.get(f"/admin/projects/{w['project_a']}/electives")
    assert page.status_code == 200 and w.names["user_a"] not in page.get_data(as_text=True)
    response = client.post(f"/admin/projects/{w['project_a']}/electives/decide",
                           data={"csrf_token": csrf, "action": "confirm", "choice_ids": w["choice_a"]})
    assert response.status_code == 400 and "Nothing changed" in flashes(response)
    db.session.rollback()
    assert db.session.get(ElectiveChoice, w["choice_a"]).status == "pending"


def test_a_choice_of_a_project_outside_the_admins_scope_is_refused(app, electives_world):
    """County B's admin posts county A's choice through county B's project: refused, nothing changed."""
    w = electives_world
    client = w.clients["county_b"]
    response = client.post(f"/admin/projects/{w['project_b']}/electives/decide",
                           data={"csrf_token": w.csrf["county_b"], "action": "refuse", "choice_ids": w["choice_a"]})
    assert response.status_code == 400
    db.session.rollback()
    assert db.session.get(ElectiveChoice, w["choice_a"]).status == "pending"
    assert db.session.execute(select(ElectiveDecision)).first() is None


# ---------------------------------------------------------------- the JSON API, with Bearer tokens
#: (endpoint, method, build(w, side) -> (path, json body), expected on side a, on side b); "Y"/"H" as in Row
API_ROWS = [
    ("courses_api.project_electives", "GET", lambda w, s: (f"/api/v1/projects/{w.obj('project', s)}/electives", None),
     "Y Y Y 404 Y 403 403 403 401", "Y Y 404 Y 404 403 403 403 401"),
    ("courses_api.decide_electives", "POST",
     lambda w, s: (f"/api/v1/projects/{w.obj('project', s)}/electives/decisions",
                   {"choice_ids": [fresh_choice(w, s)], "action": "confirm"}),
     "200 200 200 404 200 403 403 403 401", "200 200 404 200 404 403 403 403 401"),
    ("courses_api.my_electives", "GET", lambda w, s: (f"/api/v1/me/electives?project_id={w.obj('project', s)}", None),
     "403 403 403 403 403 403 403 200 401", "403 403 403 403 403 403 403 403 401"),
]


@pytest.mark.parametrize("side", ["a", "b"])
def test_api_permission_table(app, electives_world, side):
    w = electives_world
    tokens = {p: Auth(app.test_client()).token(f"p_{p}") for p in PERSONAS if p != "anon"}
    client = app.test_client()
    problems = []
    for endpoint, method, build, a, b in API_ROWS:
        for persona, expected in zip(PERSONAS, (a if side == "a" else b).split(), strict=True):
            path, body = build(w, side)
            headers = bearer(tokens[persona]) if persona in tokens else {}
            response = client.open(path, method=method, json=body, headers=headers)
            got = str(response.status_code)
            if expected in ("Y", "H") and response.status_code == 200:
                got = "Y" if w.names[f"user_{side}"] in response.get_data(as_text=True) else "H"
            if got != expected:
                problems.append(f"{endpoint} side={side} {persona}: expected {expected}, got {got}")
    assert not problems, "\n".join(problems)
    covered = {row[0] for row in API_ROWS} | {row.endpoint for row in ROWS}
    assert covered == MATRIX_ENDPOINTS
