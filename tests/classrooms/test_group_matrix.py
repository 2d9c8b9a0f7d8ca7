"""Permission table of group viewing, rosters, reminders and the class dashboard (pages and JSON API).

Columns (PERSONAS): site admin, county A admin (the class's county), county B admin, the class manager and
tutor of class A, the class manager and tutor of class B (another class of the same project), a learner of
class A, a learner of class B, an enrolled teacher in no class, anonymous. Every row acts on class A.
A page answers "L" (sent to sign in) to the anonymous visitor, the API 401.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from flask import url_for

from app.extensions import db
from tests.classrooms.world import fast_hashing, page_csrf  # noqa: F401
from tests.conftest import Auth, bearer

PERSONAS = ("site", "county_a", "county_b", "manager", "tutor", "manager_b", "tutor_b", "learner", "learner_b",
            "teacher", "anon")

MATRIX_ENDPOINTS = {
    "classrooms_api.my_classes", "classrooms_api.roster", "classrooms_api.reminders", "classrooms_api.open_group",
    "classrooms_api.get_group", "classrooms_api.check_in", "classrooms_api.check_out",
    "classrooms_api.tick_attendee", "classrooms_api.remove_attendee", "classrooms_api.end_group",
    "classwork.group_start", "classwork.group_sessions", "classwork.group_projector",
    "classwork.group_qr", "classwork.checkin_page", "classwork.checkin_submit",
    "classwork.group_attendance", "classwork.group_attendance_export",
    "classwork.class_roster", "classwork.class_roster_export", "classwork.class_reminders",
    "classwork.class_dashboard", "classwork.lagging", "classwork.lagging_reminders",
}
_n = itertools.count(1)


@dataclass
class GWorld:
    ids: dict
    users: dict
    clients: dict = field(default_factory=dict)
    csrf: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)

    def fresh_learner(self):
        """A new learner of class A, enrolled."""
        from app.accounts.models import OrgUnit, RoleAssignment
        from app.accounts.service import do_create_user
        from app.courses.models import Enrollment

        user = do_create_user(f"gfresh{next(_n)}", "Passw0rd!-long", real_name="Fresh", check=False,
                              school=db.session.get(OrgUnit, self.ids["school_a"]))
        db.session.add(Enrollment(project_id=self.ids["project"], user_id=user.id))
        db.session.add(RoleAssignment(user_id=user.id, role="learner", class_id=self.ids["class_a"]))
        db.session.commit()
        return user

    def group(self, fresh: bool = False) -> int:
        """The open group session of class A (a new one when fresh, or when none is open)."""
        from sqlalchemy import select

        from app.accounts.models import User
        from app.classrooms import service
        from app.classrooms.models import Class_
        from app.tracking.models import GroupSession

        if not fresh:
            open_id = db.session.execute(select(GroupSession.id).where(GroupSession.status == "open")).scalar()
            if open_id:
                return open_id
        cls = db.session.get(Class_, self.ids["class_a"])
        opened = service.do_start_group(db.session.get(User, self.ids["manager"]), cls, self.ids["lesson"])
        return opened["group_session_id"]

    def code(self, group_id: int) -> str:
        from app.tracking import group

        return group.get_checkin(group.get_group(group_id))["code"]

    def present(self, persona: str) -> int:
        """The open group session, with the learner of class A checked in when that is the persona."""
        from app.tracking import group

        group_id = self.group()
        if persona == "learner":
            group.do_check_in(group.get_group(group_id), self.users["learner"], method="self",
                              by_id=self.ids["learner"], code=self.code(group_id))
        return group_id

    def ticked(self, group_id: int):
        """A fresh learner checked in by the manager."""
        from app.tracking import group

        user = self.fresh_learner()
        group.do_check_in(group.get_group(group_id), user, method="manager", by_id=self.ids["manager"])
        return user


@pytest.fixture
def gworld(app, clock, fast_hashing, org_tree, make_user, make_project, make_course, make_class, enroll,  # noqa: F811
           api_token):
    t = org_tree
    project = make_project("MATRIX-PROJ", org=t["county_a"])
    course = make_course(project, "MATRIX-COURSE", durations=(600,), org=t["county_a"])
    class_a = make_class(project, t["school_a1"], "ALPHA-CLASS", learning_center=t["center_a"])
    class_b = make_class(project, t["school_a2"], "GAMMA-CLASS")
    users = {
        "site": make_user("m_site", role="site_admin"),
        "county_a": make_user("m_county_a", role="org_admin", org=t["county_a"]),
        "county_b": make_user("m_county_b", role="org_admin", org=t["county_b"]),
        "manager": make_user("m_manager", role="class_manager", cls=class_a, school=t["school_a1"]),
        "tutor": make_user("m_tutor", role="tutor", cls=class_a, school=t["school_a1"]),
        "manager_b": make_user("m_manager_b", role="class_manager", cls=class_b, school=t["school_a2"]),
        "tutor_b": make_user("m_tutor_b", role="tutor", cls=class_b, school=t["school_a2"]),
        "learner": make_user("m_learner", role="learner", cls=class_a, org=t["school_a1"]),
        "learner_b": make_user("m_learner_b", role="learner", cls=class_b, org=t["school_a2"]),
        "teacher": make_user("m_teacher", org=t["school_a1"]),
    }
    for name in ("learner", "learner_b", "teacher"):
        enroll(users[name], project)
    ids = {"project": project.id, "class_a": class_a.id, "class_b": class_b.id, "school_a": t["school_a1"].id,
           "lesson": course.modules[0].lessons[0].id}
    ids.update({name: user.id for name, user in users.items()})
    w = GWorld(ids, users)
    for name in PERSONAS:
        client = app.test_client()
        if name == "anon":
            w.csrf[name] = page_csrf(client, "/login")
            w.headers[name] = {}
        else:
            assert Auth(client).login(users[name].username).status_code == 302
            w.csrf[name] = page_csrf(client, "/")
            w.headers[name] = bearer(api_token(users[name]))
        w.clients[name] = client
    return w


@dataclass(frozen=True)
class Row:
    endpoint: str
    kind: str  # "api" or "page"
    method: str
    build: object  # (w, persona) -> (url, body)
    expected: str


def _class_a(w):
    return w.ids["class_a"]


def _gid(w, p):
    return w.group()


ROWS = [
    # ------------------------------------------------------------- JSON API
    Row("classrooms_api.my_classes", "api", "GET", lambda w, p: ("/api/v1/me/classes", None),
        "200 200 200 200 200 200 200 200 200 200 401"),
    Row("classrooms_api.roster", "api", "GET", lambda w, p: (f"/api/v1/classes/{_class_a(w)}/roster", None),
        "200 200 404 200 200 404 404 404 404 404 401"),
    Row("classrooms_api.reminders", "api", "POST",
        lambda w, p: (f"/api/v1/classes/{_class_a(w)}/reminders",
                      {"user_ids": [w.fresh_learner().id], "message": "请抓紧学习"}),
        "200 200 404 200 200 404 404 404 404 404 401"),
    Row("classrooms_api.open_group", "api", "POST",
        lambda w, p: ("/api/v1/group-sessions", {"class_id": _class_a(w), "lesson_id": w.ids["lesson"]}),
        "403 403 404 201 403 404 404 404 404 404 401"),
    Row("classrooms_api.get_group", "api", "GET", lambda w, p: (f"/api/v1/group-sessions/{_gid(w, p)}", None),
        "403 403 404 200 403 404 404 404 404 404 401"),
    Row("classrooms_api.check_in", "api", "POST",
        lambda w, p: (f"/api/v1/group-sessions/{w.group(fresh=True)}/checkins", {"code": w.code(w.group())}),
        "403 403 403 403 403 403 403 201 403 403 401"),
    Row("classrooms_api.check_out", "api", "DELETE",
        lambda w, p: (f"/api/v1/group-sessions/{w.present(p)}/checkins/me", None),
        "403 403 403 403 403 403 403 200 403 403 401"),
    Row("classrooms_api.tick_attendee", "api", "POST",
        lambda w, p: (f"/api/v1/group-sessions/{_gid(w, p)}/attendees", {"user_id": w.fresh_learner().id}),
        "403 403 404 201 403 404 404 404 404 404 401"),
    Row("classrooms_api.remove_attendee", "api", "DELETE",
        lambda w, p: (f"/api/v1/group-sessions/{_gid(w, p)}/attendees/{w.ticked(w.group()).id}", None),
        "403 403 404 200 403 404 404 404 404 404 401"),
    Row("classrooms_api.end_group", "api", "POST",
        lambda w, p: (f"/api/v1/group-sessions/{w.group(fresh=True)}/end", {}),
        "403 403 404 200 403 404 404 404 404 404 401"),
    # ------------------------------------------------------------- pages
    Row("classwork.group_start", "page", "POST",
        lambda w, p: (url_for("classwork.group_start", class_id=_class_a(w)), {"lesson_id": w.ids["lesson"]}),
        "403 403 404 302 403 404 404 404 404 404 L"),
    Row("classwork.group_sessions", "page", "GET",
        lambda w, p: (url_for("classwork.group_sessions", class_id=_class_a(w)), None),
        "200 200 404 200 200 404 404 404 404 404 L"),
    Row("classwork.group_projector", "page", "GET",
        lambda w, p: (url_for("classwork.group_projector", group_id=_gid(w, p)), None),
        "403 403 404 200 403 404 404 404 404 404 L"),
    Row("classwork.group_qr", "page", "GET",
        lambda w, p: (url_for("classwork.group_qr", group_id=_gid(w, p)), None),
        "403 403 404 200 403 404 404 404 404 404 L"),
    Row("classwork.checkin_page", "page", "GET",
        lambda w, p: (url_for("classwork.checkin_page", group_id=_gid(w, p), code="123456"), None),
        "403 403 403 403 403 403 403 200 403 403 L"),
    Row("classwork.checkin_submit", "page", "POST",
        lambda w, p: (url_for("classwork.checkin_submit", group_id=w.group(fresh=True)),
                      {"code": w.code(w.group())}),
        "403 403 403 403 403 403 403 302 403 403 L"),
    Row("classwork.group_attendance", "page", "GET",
        lambda w, p: (url_for("classwork.group_attendance", group_id=_gid(w, p)), None),
        "200 200 404 200 200 404 404 404 404 404 L"),
    Row("classwork.group_attendance_export", "page", "GET",
        lambda w, p: (url_for("classwork.group_attendance_export", group_id=_gid(w, p)), None),
        "200 200 404 200 200 404 404 404 404 404 L"),
    Row("classwork.class_roster", "page", "GET",
        lambda w, p: (url_for("classwork.class_roster", class_id=_class_a(w)), None),
        "200 200 404 200 200 404 404 404 404 404 L"),
    Row("classwork.class_roster_export", "page", "GET",
        lambda w, p: (url_for("classwork.class_roster_export", class_id=_class_a(w)), None),
        "200 200 404 200 200 404 404 404 404 404 L"),
    Row("classwork.class_reminders", "page", "POST",
        lambda w, p: (url_for("classwork.class_reminders", class_id=_class_a(w)),
                      {"user_ids": w.fresh_learner().id, "message": "请抓紧学习"}),
        "302 302 404 302 302 404 404 404 404 404 L"),
    Row("classwork.class_dashboard", "page", "GET",
        lambda w, p: (url_for("classwork.class_dashboard", class_id=_class_a(w)), None),
        "200 200 404 200 200 404 404 404 404 404 L"),
    Row("classwork.lagging", "page", "GET",
        lambda w, p: (url_for("classwork.lagging", project_id=w.ids["project"]), None),
        "200 200 403 403 403 403 403 403 403 403 L"),
    Row("classwork.lagging_reminders", "page", "POST",
        lambda w, p: (url_for("classwork.lagging_reminders", project_id=w.ids["project"]),
                      {"one": w.fresh_learner().id, "message": "请抓紧学习"}),
        "302 302 403 403 403 403 403 403 403 403 L"),
]


def _outcome(response, kind: str) -> str:
    if kind == "page" and response.status_code == 302 and "/login" in response.headers.get("Location", ""):
        return "L"
    return str(response.status_code)


def test_permission_table(app, gworld):
    w = gworld
    problems = []
    for row in ROWS:
        expected = dict(zip(PERSONAS, row.expected.split(), strict=True))
        for persona in PERSONAS:
            with app.test_request_context():
                url, body = row.build(w, persona)
            client = w.clients[persona]
            if row.kind == "api":
                response = client.open(url, method=row.method, headers=w.headers[persona],
                                       json=body if body is not None else None)
            elif row.method == "GET":
                response = client.get(url)
            else:
                response = client.post(url, data={"csrf_token": w.csrf[persona], **(body or {})})
            got = _outcome(response, row.kind)
            if got != expected[persona]:
                problems.append(f"{row.endpoint} {row.method} {persona}: expected {expected[persona]}, got {got}"
                                f" {response.get_data(as_text=True)[:120]!r}")
    assert not problems, "permission table mismatches:\n" + "\n".join(problems)


def test_table_covers_every_endpoint(app):
    in_app = {rule.endpoint for rule in app.url_map.iter_rules()
              if rule.endpoint.split(".")[0] in ("classrooms_api", "classwork")}
    assert in_app == MATRIX_ENDPOINTS
    assert MATRIX_ENDPOINTS == {row.endpoint for row in ROWS}
