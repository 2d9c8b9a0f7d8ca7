"""Every role's home: where each person lands after sign-in, the role switcher, and who may use which home.

The permission table runs on the classrooms world (two counties, class A in school A1, class B in school
B1) with two more personas: the tutor of class B and an expert of county A.
"""
import pytest
from flask import url_for

from app.extensions import db
from tests.classrooms.world import PERSONAS, fast_hashing, page_csrf, world  # noqa: F401
from tests.conftest import Auth

MATRIX_ENDPOINTS = {"homes.index", "homes.switch_role", "courses_expert.home"}

ALL = PERSONAS + ("tutor_b", "expert_a")


@pytest.fixture
def homes_world(app, world, make_user):
    """The classrooms world, plus the tutor of class B and an expert of county A, each signed in."""
    from app.accounts.models import OrgUnit
    from app.classrooms.models import Class_

    extra = {
        "tutor_b": make_user("p_tutor_b", role="tutor", cls=db.session.get(Class_, world["class_b"]),
                             school=db.session.get(OrgUnit, world["school_b"])),
        "expert_a": make_user("p_expert_a", role="expert", org=db.session.get(OrgUnit, world["county_a"])),
    }
    for name, user in extra.items():
        client = app.test_client()
        assert Auth(client).login(user.username).status_code == 302
        world.clients[name] = client
        world.csrf[name] = page_csrf(client, "/")
    return world


def _outcome(response) -> str:
    """The status, or for a redirect where it goes: "L" (sign in) or the home's path."""
    if response.status_code == 302:
        location = response.headers["Location"]
        return "L" if "/login" in location else location
    return str(response.status_code)


# persona -> where GET / sends them
LANDING = {"site": "/admin/", "province": "/admin/", "county_a": "/admin/", "county_b": "/admin/", "school": "/admin/",
           "tutor": "/classes", "manager": "/classes", "learner": "/learn", "anon": "L",
           "tutor_b": "/classes", "expert_a": "/expert"}
# (role asked for) -> persona -> answer of POST /role
SWITCH = {
    "learner": {"site": "403", "province": "403", "county_a": "403", "county_b": "403", "school": "403",
                "tutor": "403", "manager": "403", "learner": "/learn", "anon": "L", "tutor_b": "403", "expert_a": "403"},
    "class_staff": {"site": "403", "province": "403", "county_a": "403", "county_b": "403", "school": "403",
                    "tutor": "/classes", "manager": "/classes", "learner": "403", "anon": "L", "tutor_b": "/classes",
                    "expert_a": "403"},
    "org_admin": {"site": "403", "province": "/admin/", "county_a": "/admin/", "county_b": "/admin/", "school": "/admin/",
                  "tutor": "403", "manager": "403", "learner": "403", "anon": "L", "tutor_b": "403", "expert_a": "403"},
    "expert": {"site": "403", "province": "403", "county_a": "403", "county_b": "403", "school": "403", "tutor": "403",
               "manager": "403", "learner": "403", "anon": "L", "tutor_b": "403", "expert_a": "/expert"},
    "nonsense": {p: "L" if p == "anon" else "400" for p in ALL},
}
EXPERT_HOME = {p: "L" if p == "anon" else "200" if p == "expert_a" else "403" for p in ALL}


def test_permission_table(app, homes_world):
    w = homes_world
    problems = []
    with app.test_request_context():
        index, switch, expert = url_for("homes.index"), url_for("homes.switch_role"), url_for("courses_expert.home")
    for persona in ALL:
        client = w.clients[persona]
        checks = [("GET /", _outcome(client.get(index)), LANDING[persona]),
                  ("GET /expert", _outcome(client.get(expert)), EXPERT_HOME[persona])]
        for role, table in SWITCH.items():
            got = _outcome(client.post(switch, data={"role": role, "csrf_token": w.csrf[persona]}))
            checks.append((f"POST /role {role}", got, table[persona]))
        problems += [f"{what} as {persona}: expected {want}, got {got}" for what, got, want in checks if got != want]
    assert not problems, "\n".join(problems)


def test_switch_without_csrf_changes_nothing(app, homes_world):
    client = homes_world.clients["learner"]
    assert client.post("/role", data={"role": "learner"}).status_code == 400


def test_expert_sees_the_projects_and_courses_of_their_area_only(homes_world):
    html = homes_world.clients["expert_a"].get("/expert").get_data(as_text=True)
    assert "ALPHA-PROJ" in html and "ALPHA-COURSE" in html and "ALPHA-SPARE" in html
    assert "BETA-PROJ" not in html and "BETA-COURSE" not in html


def test_class_staff_see_their_own_class_only(homes_world):
    mine = homes_world.clients["tutor"].get("/classes").get_data(as_text=True)
    theirs = homes_world.clients["tutor_b"].get("/classes").get_data(as_text=True)
    assert "ALPHA-CLASS" in mine and "BETA-CLASS" not in mine
    assert "BETA-CLASS" in theirs and "ALPHA-CLASS" not in theirs


@pytest.mark.parametrize("persona,sees,hidden", [
    ("county_a", "ALPHA-PROJ", "BETA-PROJ"), ("county_b", "BETA-PROJ", "ALPHA-PROJ"), ("school", "ALPHA-PROJ", "BETA-PROJ"),
])
def test_admin_home_lists_the_projects_of_the_admins_area(homes_world, persona, sees, hidden):
    html = homes_world.clients[persona].get("/admin/").get_data(as_text=True)
    assert 'data-testid="project-figures"' in html
    assert sees in html and hidden not in html
