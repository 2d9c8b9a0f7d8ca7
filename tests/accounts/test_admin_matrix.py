"""Permission table of the accounts administration: org units, users, roles, imports.

Columns (PERSONAS): site admin, province admin, county A admin, county B admin, school A1 admin, tutor,
class manager, learner (all of class A in school A1), anonymous. Side "a" is an object in county A
(school A1), side "b" in county B. An admin gets 404 for an object outside their subtree (its existence
is not revealed), 403 for one they may see but not change; non-admins get 403; anonymous visitors are
sent to sign in (L). Y/H: the page answers 200 and shows / hides the side's object.
"""
import io
import itertools

import pytest
from flask import url_for

from tests.classrooms.world import Row, check_table_covers, fast_hashing, run_rows, world  # noqa: F401

MATRIX_ENDPOINTS = {
    "admin.index", "accounts_admin.org_units", "accounts_admin.org_unit_new", "accounts_admin.org_unit_edit",
    "accounts_admin.users", "accounts_admin.users_export", "accounts_admin.user_new", "accounts_admin.user_edit",
    "accounts_admin.user_set_active", "accounts_admin.user_reset_password", "accounts_admin.user_grant_role",
    "accounts_admin.user_revoke_role", "admin.import_users", "accounts_admin.import_template",
}

_n = itertools.count(1)
ADMINS_ONLY = "200 200 200 200 200 403 403 403 L"


def _school_code(side):
    return "A1" if side == "a" else "B1"


def _csv(side, persona):
    n = next(_n)
    text = f"username,real_name,teacher_no,phone,school_code\r\nimp{n}{persona[:3]},Imported,IMP-{n}-{persona},13800138000,{_school_code(side)}\r\n"
    return {"file": (text.encode(), "teachers.csv")}


def _user_marker(w, side):
    return w.names[f"user_{side}"]


#             site  prov  cA    cB    sch   tutor mgr  lrn  anon
ORG_ROWS = [
    Row("admin.index", "GET", lambda w, s, p: (url_for("admin.index"), None), ADMINS_ONLY, ADMINS_ONLY),
    Row("accounts_admin.org_units", "GET", lambda w, s, p: (url_for("accounts_admin.org_units"), None),
        "Y Y Y H Y 403 403 403 L", "Y Y H Y H 403 403 403 L",
        marker=lambda w, s: "School A1" if s == "a" else "School B1"),
    Row("accounts_admin.org_unit_new", "GET",
        lambda w, s, p: (url_for("accounts_admin.org_unit_new", parent=w.obj("school", s)), None), ADMINS_ONLY, ADMINS_ONLY),
    Row("accounts_admin.org_unit_new", "POST",
        lambda w, s, p: (url_for("accounts_admin.org_unit_new"),
                         {"parent_id": w.obj("school", s), "name": f"Center {next(_n)}", "kind": "learning_center"}),
        "302 302 302 404 302 403 403 403 L", "302 302 404 302 404 403 403 403 L"),
    Row("accounts_admin.org_unit_edit", "GET",
        lambda w, s, p: (url_for("accounts_admin.org_unit_edit", unit_id=w.obj("school", s)), None),
        "200 200 200 404 200 403 403 403 L", "200 200 404 200 404 403 403 403 L"),
    Row("accounts_admin.org_unit_edit", "POST",
        lambda w, s, p: (url_for("accounts_admin.org_unit_edit", unit_id=w.obj("school", s)),
                         {"name": "School A1" if s == "a" else "School B1", "code": _school_code(s)}),
        "302 302 302 404 302 403 403 403 L", "302 302 404 302 404 403 403 403 L"),
]

USER_ROWS = [
    Row("accounts_admin.users", "GET", lambda w, s, p: (url_for("accounts_admin.users"), None),
        "Y Y Y H Y 403 403 403 L", "Y Y H Y H 403 403 403 L", marker=_user_marker),
    Row("accounts_admin.users", "GET", lambda w, s, p: (url_for("accounts_admin.users", q="teacher_"), None),
        "Y Y Y H Y 403 403 403 L", "Y Y H Y H 403 403 403 L", marker=_user_marker),
    Row("accounts_admin.users_export", "GET", lambda w, s, p: (url_for("accounts_admin.users_export", fmt="csv"), None),
        "Y Y Y H Y 403 403 403 L", "Y Y H Y H 403 403 403 L", marker=_user_marker),
    Row("accounts_admin.users_export", "GET", lambda w, s, p: (url_for("accounts_admin.users_export", fmt="xlsx"), None),
        ADMINS_ONLY, ADMINS_ONLY),
    Row("accounts_admin.user_new", "GET", lambda w, s, p: (url_for("accounts_admin.user_new"), None), ADMINS_ONLY, ADMINS_ONLY),
    Row("accounts_admin.user_new", "POST",
        lambda w, s, p: (url_for("accounts_admin.user_new"),
                         {"username": f"made{next(_n)}", "real_name": "Made", "school_id": w.obj("school", s),
                          "password": "Made-pass-12"}),
        "302 302 302 400 302 403 403 403 L", "302 302 400 302 400 403 403 403 L"),
    Row("accounts_admin.user_edit", "GET", lambda w, s, p: (url_for("accounts_admin.user_edit", user_id=w.obj("user", s)), None),
        "200 200 200 404 200 403 403 403 L", "200 200 404 200 404 403 403 403 L"),
    Row("accounts_admin.user_edit", "POST",
        lambda w, s, p: (url_for("accounts_admin.user_edit", user_id=w.obj("user", s)),
                         {"real_name": f"Edited by {p}", "school_id": w.obj("school", s), "is_active": "y"}),
        "302 302 302 404 302 403 403 403 L", "302 302 404 302 404 403 403 403 L"),
    Row("accounts_admin.user_set_active", "POST",
        lambda w, s, p: (url_for("accounts_admin.user_set_active", user_id=w.obj("user", s)), {"active": "1"}),
        "302 302 302 404 302 403 403 403 L", "302 302 404 302 404 403 403 403 L"),
    Row("accounts_admin.user_reset_password", "POST",
        lambda w, s, p: (url_for("accounts_admin.user_reset_password", user_id=w.obj("user", s)), {}),
        "200 200 200 404 200 403 403 403 L", "200 200 404 200 404 403 403 403 L"),
    Row("accounts_admin.user_grant_role", "POST",
        lambda w, s, p: (url_for("accounts_admin.user_grant_role", user_id=w.obj("user", s)),
                         {"role": "expert", "org_unit_id": w.obj("school", s)}),
        "302 302 302 404 302 403 403 403 L", "302 302 404 302 404 403 403 403 L"),
    Row("accounts_admin.user_revoke_role", "POST",
        lambda w, s, p: (url_for("accounts_admin.user_revoke_role", user_id=w.obj("user", s), role_id=w.fresh_role(s)), {}),
        "302 302 302 404 302 403 403 403 L", "302 302 404 302 404 403 403 403 L"),
]

IMPORT_ROWS = [
    Row("admin.import_users", "GET", lambda w, s, p: (url_for("admin.import_users"), None),
        ADMINS_ONLY, ADMINS_ONLY),
    # A file whose school lies outside the admin's subtree is refused row by row (400), nothing imported.
    Row("admin.import_users", "POST", lambda w, s, p: (url_for("admin.import_users"), _csv(s, p)),
        "200 200 200 400 200 403 403 403 L", "200 200 400 200 400 403 403 403 L"),
    Row("accounts_admin.import_template", "GET", lambda w, s, p: (url_for("accounts_admin.import_template", fmt="csv"), None),
        ADMINS_ONLY, ADMINS_ONLY),
    Row("accounts_admin.import_template", "GET", lambda w, s, p: (url_for("accounts_admin.import_template", fmt="xlsx"), None),
        ADMINS_ONLY, ADMINS_ONLY),
]

GROUPS = {"org_units": ORG_ROWS, "users": USER_ROWS, "imports": IMPORT_ROWS}


@pytest.mark.parametrize("side", ["a", "b"])
@pytest.mark.parametrize("group", sorted(GROUPS))
def test_permission_table(world, group, side):
    run_rows(world, GROUPS[group], side)


def test_table_covers_every_endpoint(app):
    check_table_covers([r for rows in GROUPS.values() for r in rows], MATRIX_ENDPOINTS, ("accounts_admin",), app)


def test_outside_objects_stay_out_of_lists_and_imports(world):
    """County B's admin sees nothing of county A in search, and importing into county A changes nothing."""
    from sqlalchemy import func, select

    from app.accounts.models import User
    from app.extensions import db

    client = world.clients["county_b"]
    page = client.get("/admin/users?q=alpha").get_data(as_text=True)
    assert "teacher_alpha" not in page and "staff_alpha" not in page
    before = db.session.execute(select(func.count(User.id))).scalar_one()
    content, name = _csv("a", "county_b")["file"]
    response = client.post("/admin/import", data={"csrf_token": world.csrf["county_b"], "file": (io.BytesIO(content), name)})
    assert response.status_code == 400
    assert "outside the area you administer" in response.get_data(as_text=True)
    assert db.session.execute(select(func.count(User.id))).scalar_one() == before
