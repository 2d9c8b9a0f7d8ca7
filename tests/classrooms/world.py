"""Shared by the administration tests: cheap password hashing, a small world with personas, a matrix runner.

The world: province > city > county A (school A1 [code A1], school A2, center A) / county B (school B1).
Objects "a" live in county A (school A1 where a school is meant), objects "b" in county B.
Personas: site admin, province admin, county A admin, county B admin, school A1 admin, the tutor and class
manager of class A, a learner of class A, and an anonymous visitor.
"""
import io
import itertools
import re
from dataclasses import dataclass, field
from typing import Callable

import pytest
from argon2 import PasswordHasher
from flask import current_app

from app.extensions import db
from tests.conftest import DEFAULT_PASSWORD, Auth

PERSONAS = ("site", "province", "county_a", "county_b", "school", "tutor", "manager", "learner", "anon")
_CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
_FLASH_RE = re.compile(r'<div class="alert alert-[a-z]+" role="alert">.*?</div>', re.S)
_fresh = itertools.count(1)


@pytest.fixture
def fast_hashing(monkeypatch):
    """Argon2 at its cheapest in these tests (the real cost is ~0.2 s a hash); verifying is unchanged."""
    from app.accounts import auth, service

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(auth, "_hasher", cheap)
    monkeypatch.setattr(service, "_bulk_hasher", cheap)
    return cheap


def page_csrf(client, path: str = "/") -> str:
    html = client.get(path, follow_redirects=True).get_data(as_text=True)  # "/" sends each role to its home
    match = _CSRF_RE.search(html)
    assert match, f"no csrf token on {path}"
    return match.group(1)


@dataclass
class World:
    ids: dict[str, int]
    names: dict[str, str]
    clients: dict = field(default_factory=dict)
    csrf: dict = field(default_factory=dict)

    def __getitem__(self, key: str) -> int:
        return self.ids[key]

    def obj(self, kind: str, side: str) -> int:
        return self.ids[f"{kind}_{side}"]

    # Fresh objects for write rows that consume what they act on.
    def fresh_teacher(self, side: str, *, enrolled: bool = False, seated: bool = False) -> int:
        from app.accounts.models import OrgUnit
        from app.accounts.service import do_create_user
        from app.classrooms.models import Class_
        from app.courses.models import Enrollment, Project
        from app.accounts.models import RoleAssignment

        school = db.session.get(OrgUnit, self.ids[f"school_{side}"])
        user = do_create_user(f"fresh{next(_fresh)}", DEFAULT_PASSWORD, real_name="Fresh", school=school, check=False)
        if enrolled or seated:
            db.session.add(Enrollment(project_id=db.session.get(Project, self.ids[f"project_{side}"]).id, user_id=user.id))
        if seated:
            db.session.add(RoleAssignment(user_id=user.id, role="learner",
                                          class_id=db.session.get(Class_, self.ids[f"class_{side}"]).id))
        db.session.commit()
        return user.id

    def fresh_enrollment(self, side: str) -> int:
        from sqlalchemy import select

        from app.courses.models import Enrollment

        user_id = self.fresh_teacher(side, enrolled=True)
        return db.session.execute(select(Enrollment.id).where(Enrollment.user_id == user_id)).scalar_one()

    def fresh_role(self, side: str) -> int:
        from app.accounts.models import RoleAssignment

        role = RoleAssignment(user_id=self.ids[f"user_{side}"], role="expert", org_unit_id=self.ids[f"school_{side}"])
        db.session.add(role)
        db.session.commit()
        return role.id

    def fresh_module(self, side: str) -> int:
        from app.courses.models import Course
        from app.courses.service import do_add_module

        module = do_add_module(db.session.get(Course, self.ids[f"course_{side}"]), f"Empty {next(_fresh)}")
        db.session.commit()
        return module.id

    def fresh_batch(self, side: str) -> str:
        from app.courses import cards
        from app.accounts.models import User
        from app.courses.models import Project

        project = db.session.get(Project, self.ids[f"project_{side}"])
        batch, _issued = cards.do_store_cards(project, cards.prepare_cards(project, 1), db.session.get(User, self.ids["p_site"]))
        db.session.commit()
        return batch


@pytest.fixture
def world(app, fast_hashing, org_tree, make_user, make_project, make_course, make_class, enroll):
    """The personas (signed in, one client each) and one object of each kind per county."""
    ids: dict[str, int] = {}
    t = org_tree
    ids.update({"school_a": t["school_a1"].id, "school_b": t["school_b1"].id, "county_a": t["county_a"].id,
                "county_b": t["county_b"].id, "province": t["province"].id, "center_a": t["center_a"].id,
                "school_a2": t["school_a2"].id})
    project_a = make_project("ALPHA-PROJ", org=t["county_a"])
    project_b = make_project("BETA-PROJ", org=t["county_b"])
    course_a = make_course(project_a, "ALPHA-COURSE", durations=(60, 120), org=t["county_a"])
    course_b = make_course(project_b, "BETA-COURSE", durations=(60, 120), org=t["county_b"])
    spare_a = make_course(None, "ALPHA-SPARE", org=t["county_a"])
    spare_b = make_course(None, "BETA-SPARE", org=t["county_b"])
    class_a = make_class(project_a, t["school_a1"], "ALPHA-CLASS")
    class_b = make_class(project_b, t["school_b1"], "BETA-CLASS")
    ids.update({"project_a": project_a.id, "project_b": project_b.id, "course_a": course_a.id, "course_b": course_b.id,
                "spare_a": spare_a.id, "spare_b": spare_b.id, "class_a": class_a.id, "class_b": class_b.id,
                "module_a": course_a.modules[0].id, "module_b": course_b.modules[0].id,
                "lesson_a": course_a.modules[0].lessons[0].id, "lesson_b": course_b.modules[0].lessons[0].id,
                "link_a": project_a.course_links[0].id, "link_b": project_b.course_links[0].id})

    personas = {
        "site": make_user("p_site", role="site_admin"),
        "province": make_user("p_province", role="org_admin", org=t["province"]),
        "county_a": make_user("p_county_a", role="org_admin", org=t["county_a"]),
        "county_b": make_user("p_county_b", role="org_admin", org=t["county_b"]),
        "school": make_user("p_school", role="org_admin", org=t["school_a1"]),
        "tutor": make_user("p_tutor", role="tutor", cls=class_a, school=t["school_a1"]),
        "manager": make_user("p_manager", role="class_manager", cls=class_a, school=t["school_a1"]),
        "learner": make_user("p_learner", school=t["school_a1"]),
    }
    enroll(personas["learner"], project_a)
    from app.accounts.service import do_assign_role

    do_assign_role(personas["learner"], "learner", class_=class_a)
    db.session.commit()
    user_a = make_user("teacher_alpha", org=t["school_a1"], teacher_no="TA-1")
    user_b = make_user("teacher_beta", org=t["school_b1"], teacher_no="TB-1")
    enroll(user_a, project_a)
    enroll(user_b, project_b)
    staff_a = make_user("staff_alpha", org=t["school_a1"])
    staff_b = make_user("staff_beta", org=t["school_b1"])
    ids.update({"user_a": user_a.id, "user_b": user_b.id, "staff_a": staff_a.id, "staff_b": staff_b.id})
    ids.update({f"p_{name}": user.id for name, user in personas.items()})
    names = {"user_a": "teacher_alpha", "user_b": "teacher_beta", "staff_a": "staff_alpha", "staff_b": "staff_beta"}

    w = World(ids, names)
    for name in PERSONAS:
        client = app.test_client()
        if name != "anon":
            response = Auth(client).login(f"p_{name}")
            assert response.status_code == 302, name
            w.csrf[name] = page_csrf(client, "/")
        else:
            w.csrf[name] = page_csrf(client, "/login")
        w.clients[name] = client
    return w


# ---------------------------------------------------------------- the matrix runner
@dataclass(frozen=True)
class Row:
    """One line of a permission table: an endpoint, how to call it for a side ("a"/"b"), the expected answers.

    Expected answers are given per persona in PERSONAS order: a status code, "L" (sent to sign in),
    or, for rows with a marker, "Y" (200 and the side's object is on the page) / "H" (200, hidden).
    """

    endpoint: str
    method: str
    build: Callable
    a: str
    b: str
    marker: Callable | None = None


def outcome(response, marker: str | None) -> str:
    if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
        return "L"
    if marker is not None and response.status_code == 200:
        text = _FLASH_RE.sub("", response.get_data(as_text=True))  # messages left by earlier writes
        return "Y" if marker in text else "H"
    return str(response.status_code)


def run_rows(w: World, rows: list[Row], side: str) -> None:
    """Call every row as every persona; fail with the full list of cells that differ from the table."""
    problems = []
    for row in rows:
        expected = dict(zip(PERSONAS, (row.a if side == "a" else row.b).split(), strict=True))
        for persona in PERSONAS:
            with current_app.test_request_context():
                url, data = row.build(w, side, persona)
            client = w.clients[persona]
            if row.method == "GET":
                response = client.get(url)
            else:
                payload = {"csrf_token": w.csrf[persona]}
                for key, value in (data or {}).items():
                    payload[key] = (io.BytesIO(value[0]), value[1]) if isinstance(value, tuple) else value
                response = client.post(url, data=payload)
            got = outcome(response, row.marker(w, side) if row.marker else None)
            if got != expected[persona]:
                problems.append(f"{row.endpoint} {row.method} side={side} {persona}: expected {expected[persona]}, got {got}")
    assert not problems, "permission table mismatches:\n" + "\n".join(problems)


def check_table_covers(rows: list[Row], endpoints: set[str], blueprint_prefixes: tuple[str, ...], app) -> None:
    """Every endpoint of the blueprints is declared, and every declared endpoint has a row."""
    in_app = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.split(".")[0] in blueprint_prefixes}
    assert in_app <= endpoints, f"endpoints without a permission table: {sorted(in_app - endpoints)}"
    assert endpoints <= {r.endpoint for r in rows}, f"declared but untested: {sorted(endpoints - {r.endpoint for r in rows})}"


def signed_in(app, user, password: str = DEFAULT_PASSWORD):
    """A new client signed in as user, and its CSRF token."""
    client = app.test_client()
    response = Auth(client).login(user.username if hasattr(user, "username") else user, password)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client, page_csrf(client, "/")


def flashes(response) -> str:
    """The text of the page's alerts (flash messages), for asserting on what the user was told."""
    return " ".join(re.sub(r"<[^>]+>", "", m) for m in _FLASH_RE.findall(response.get_data(as_text=True)))
