"""Permission table of the notifications: only the person a notification is for sees it, opens it or marks it read.

Personas (tests/classrooms/world.py): site admin, province admin, county A admin, county B admin, school A1 admin,
tutor and class manager of class A, a learner of class A, anonymous. Side "a": a notification of the learner of
class A; side "b": one of teacher_beta (a teacher of county B in no class). Someone else's answers 404 (page and
API), anonymous is sent to sign in (pages) or gets 401 (API).
"""
import pytest
from flask import url_for

from app.extensions import db
from tests.classrooms.world import PERSONAS, Row, check_table_covers, fast_hashing, page_csrf, run_rows, world  # noqa: F401
from tests.conftest import Auth

MATRIX_ENDPOINTS = {
    "notifications.index", "notifications.open_", "notifications.read_all",
    "notifications_api.my_notifications", "notifications_api.mark_read",
}

ALL = "200 200 200 200 200 200 200 200 L"
OWNER_A = "404 404 404 404 404 404 404 302 L"
NOBODY = "404 404 404 404 404 404 404 404 L"


def _note(w, s):
    return w[f"note_{s}"]


ROWS = [
    Row("notifications.index", "GET", lambda w, s, p: (url_for("notifications.index"), None), ALL, ALL),
    Row("notifications.index", "GET", lambda w, s, p: (url_for("notifications.index"), None),
        "H H H H H H H Y L", "H H H H H H H H L", marker=lambda w, s: f"NOTE-{s.upper()}-TEXT"),
    Row("notifications.open_", "POST", lambda w, s, p: (url_for("notifications.open_", nid=_note(w, s)), None),
        OWNER_A, NOBODY),
    Row("notifications.read_all", "POST", lambda w, s, p: (url_for("notifications.read_all"), None),
        "302 302 302 302 302 302 302 302 L", "302 302 302 302 302 302 302 302 L"),
]

# the API, per persona: (list of my notifications, mark side a's read, mark side b's read)
API_EXPECTED = {persona: ("200", "404", "404") for persona in PERSONAS}
API_EXPECTED["learner"] = ("200", "200", "404")
API_EXPECTED["anon"] = ("401", "401", "401")


@pytest.fixture
def note_world(app, world):
    from app.notifications.service import notify

    world.ids["note_a"] = notify([world["p_learner"]], "reminder", "NOTE-A-TEXT", "/learn")[0].id
    world.ids["note_b"] = notify([world["user_b"]], "system", "NOTE-B-TEXT", "/learn")[0].id
    db.session.commit()
    return world


def test_notifications_table_covers_every_route(app):
    check_table_covers(ROWS, MATRIX_ENDPOINTS - {"notifications_api.my_notifications", "notifications_api.mark_read"},
                       ("notifications",), app)


@pytest.mark.parametrize("side", ["a", "b"])
def test_notifications_permissions(note_world, side):
    run_rows(note_world, ROWS, side)


def test_notifications_api_permissions(app, note_world):
    problems = []
    for persona in PERSONAS:
        client = note_world.clients[persona]
        headers = {"X-CSRFToken": note_world.csrf[persona]} if persona != "anon" else {}
        got = (str(client.get("/api/v1/me/notifications").status_code),
               str(client.post(f"/api/v1/me/notifications/{note_world['note_a']}/read", headers=headers).status_code),
               str(client.post(f"/api/v1/me/notifications/{note_world['note_b']}/read", headers=headers).status_code))
        if got != API_EXPECTED[persona]:
            problems.append(f"{persona}: expected {API_EXPECTED[persona]}, got {got}")
    assert not problems, "\n".join(problems)


def test_the_other_countys_teacher_sees_only_their_own(app, note_world):
    """teacher_beta (unenrolled in any class, county B) reads and marks their own, never the learner's."""
    client = app.test_client()
    assert Auth(client).login("teacher_beta").status_code == 302
    items = client.get("/api/v1/me/notifications").get_json()["items"]
    assert [i["text"] for i in items] == ["NOTE-B-TEXT"]
    token = page_csrf(client, "/notifications/")
    headers = {"X-CSRFToken": token}
    assert client.post(f"/api/v1/me/notifications/{note_world['note_a']}/read", headers=headers).status_code == 404
    assert client.post(f"/notifications/{note_world['note_a']}/open", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/api/v1/me/notifications/{note_world['note_b']}/read", headers=headers).status_code == 200
    learner_items = note_world.clients["learner"].get("/api/v1/me/notifications").get_json()["items"]
    assert [i["text"] for i in learner_items] == ["NOTE-A-TEXT"] and learner_items[0]["read_at"] is None
