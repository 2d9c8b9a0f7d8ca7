"""User administration: search and pages, create, edit, deactivate, reset password, roles."""
import re

import pytest
from sqlalchemy import select

from app.accounts.models import RoleAssignment, User
from app.extensions import db
from tests.classrooms.world import fast_hashing, flashes, signed_in  # noqa: F401
from tests.conftest import DEFAULT_PASSWORD, Auth, bearer


@pytest.fixture
def county_admin(app, fast_hashing, org_tree, make_user):
    return signed_in(app, make_user("county_admin", role="org_admin", org=org_tree["county_a"]))


def usernames(response) -> list[str]:
    return re.findall(r'<tr data-testid="user-row"[^>]*>\s*<td>([^<\s]+)', response.get_data(as_text=True))


def invalid_fields(response) -> set[str]:
    html = response.get_data(as_text=True)
    return set(re.findall(r'<(?:input|select|textarea)[^>]*class="[^"]*is-invalid[^"]*"[^>]*name="(\w+)"', html))


def fresh(user_id: int) -> User:
    return db.session.get(User, user_id)


def test_search_filters_and_pages(county_admin, make_user, org_tree):
    client, _token = county_admin
    for i in range(30):
        make_user(f"t{i:02d}", org=org_tree["school_a1" if i % 2 else "school_a2"], teacher_no=f"NO{i:02d}",
                  phone=f"1380000{i:04d}", real_name=f"教师{i:02d}")
    make_user("other", org=org_tree["school_b1"])
    first = client.get("/admin/users")
    assert len(usernames(first)) == 25 and "31 users found" in first.get_data(as_text=True)
    second = client.get("/admin/users?page=2")
    assert len(usernames(second)) == 6 and "other" not in usernames(first) + usernames(second)
    assert usernames(client.get("/admin/users?q=NO07")) == ["t07"]
    assert usernames(client.get("/admin/users?q=13800000012")) == ["t12"]
    assert usernames(client.get("/admin/users?q=教师2")) == [f"t{i}" for i in range(20, 30)]
    assert usernames(client.get("/admin/users?q=%25")) == []  # a % is searched literally
    in_a1 = usernames(client.get(f"/admin/users?unit={org_tree['school_a1'].id}&page=1"))
    assert in_a1 and all(int(name[1:]) % 2 for name in in_a1)
    assert client.get(f"/admin/users?unit={org_tree['school_b1'].id}").status_code == 404
    assert client.get("/admin/users?page=99").status_code == 200


def test_create_user_shows_generated_password_once(app, county_admin, org_tree):
    client, token = county_admin
    response = client.post("/admin/users/new", data={"csrf_token": token, "username": "newbie", "real_name": "新人",
                                                     "school_id": org_tree["school_a1"].id, "phone": "13800138000"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = re.search(r'data-testid="temporary-password">([^<]+)<', response.get_data(as_text=True)).group(1)
    user = db.session.execute(select(User).where(User.username == "newbie")).scalar_one()
    assert user.password_change_reason == "new" and user.school_id == org_tree["school_a1"].id
    login = Auth(app.test_client()).login("newbie", password)
    assert login.headers["Location"].endswith("/account/password")


@pytest.mark.parametrize("fields, problem", [
    ({"username": "x"}, "username"),
    ({"username": "valid_name\n"}, "username"),  # a trailing newline is not part of a valid name
    ({"phone": "12345"}, "Enter an 11-digit mobile number."),
    ({"password": "short"}, "at least 8 characters"),
    ({"teacher_no": "TAKEN"}, "already registered"),
    ({"username": "Existing"}, "is taken"),
    ({"school_id": "far"}, "Choose a unit of the area you administer."),
    ({"school_id": ""}, "Choose the school or org unit the user belongs to."),
])
def test_create_user_refuses_bad_input(county_admin, make_user, org_tree, fields, problem):
    client, token = county_admin
    make_user("existing", org=org_tree["school_a1"], teacher_no="TAKEN")
    data = {"csrf_token": token, "username": "valid_name", "real_name": "Valid", "school_id": org_tree["school_a1"].id}
    if fields.get("school_id") == "far":
        fields = {"school_id": org_tree["school_b1"].id}
    data.update(fields)
    before = db.session.execute(select(User.id)).all()
    response = client.post("/admin/users/new", data=data)
    assert response.status_code == 400
    assert problem in invalid_fields(response) or problem in response.get_data(as_text=True)
    assert db.session.execute(select(User.id)).all() == before


def test_edit_user_and_refuse_bad_edits(county_admin, make_user, org_tree):
    client, token = county_admin
    make_user("holder", org=org_tree["school_a1"], teacher_no="HELD")
    target = make_user("target", org=org_tree["school_a1"], teacher_no="T-1")
    url = f"/admin/users/{target.id}"
    base = {"csrf_token": token, "real_name": "改名", "teacher_no": "T-1", "phone": "", "subject": "物理",
            "stage": "senior", "school_id": org_tree["school_a2"].id, "is_active": "y"}
    assert client.post(url, data=base).status_code == 302
    user = fresh(target.id)
    assert (user.real_name, user.subject, user.stage, user.school_id) == ("改名", "物理", "senior", org_tree["school_a2"].id)
    for change, message in [({"teacher_no": "HELD"}, "already registered"), ({"phone": "999"}, "11-digit"),
                            ({"school_id": org_tree["school_b1"].id}, "area you administer"),
                            ({"real_name": ""}, "real_name")]:
        response = client.post(url, data={**base, **change})
        assert response.status_code == 400, change
        assert message in invalid_fields(response) or message in response.get_data(as_text=True), change
        assert fresh(target.id).teacher_no == "T-1" and fresh(target.id).school_id == org_tree["school_a2"].id


def test_deactivation_ends_sessions_and_tokens(app, county_admin, make_user, org_tree, api_token):
    client, token = county_admin
    target = make_user("leaver", org=org_tree["school_a1"])
    victim, _ = signed_in(app, target)
    bearer_token = api_token(target)
    assert victim.get("/learn").status_code == 200
    response = client.post(f"/admin/users/{target.id}/active", data={"csrf_token": token, "active": "0"}, follow_redirects=True)
    assert "deactivated and signed out everywhere" in flashes(response)
    assert not fresh(target.id).is_active
    assert "/login" in victim.get("/learn").headers["Location"]
    assert app.test_client().get("/api/v1/me", headers=bearer(bearer_token)).status_code == 401
    assert Auth(app.test_client()).login("leaver").status_code == 401
    client.post(f"/admin/users/{target.id}/active", data={"csrf_token": token, "active": "1"})
    assert fresh(target.id).is_active and Auth(app.test_client()).login("leaver").status_code == 302


def test_admin_cannot_deactivate_or_reset_themselves(county_admin, org_tree):
    client, token = county_admin
    me = db.session.execute(select(User).where(User.username == "county_admin")).scalar_one()
    assert client.post(f"/admin/users/{me.id}/active", data={"csrf_token": token, "active": "0"}).status_code == 403
    assert client.post(f"/admin/users/{me.id}/reset-password", data={"csrf_token": token}).status_code == 403
    assert fresh(me.id).is_active


def test_password_reset_shows_a_temporary_password_once(app, county_admin, make_user, org_tree, api_token):
    client, token = county_admin
    target = make_user("forgetful", org=org_tree["school_a1"])
    victim, _ = signed_in(app, target)
    bearer_token = api_token(target)
    response = client.post(f"/admin/users/{target.id}/reset-password", data={"csrf_token": token})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    temporary = re.search(r'data-testid="temporary-password">([^<]+)<', response.get_data(as_text=True)).group(1)
    assert "/login" in victim.get("/learn").headers["Location"]
    assert app.test_client().get("/api/v1/me", headers=bearer(bearer_token)).status_code == 401
    assert Auth(app.test_client()).login("forgetful", DEFAULT_PASSWORD).status_code == 401
    login = Auth(app.test_client()).login("forgetful", temporary)
    assert login.status_code == 302 and login.headers["Location"].endswith("/account/password")
    assert fresh(target.id).password_change_reason == "reset"
    page = client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    assert temporary not in page


def test_powers_outside_the_scope_protect_a_user(app, fast_hashing, make_user, org_tree):
    """A teacher of school A1 who is also site admin or county B's admin is beyond the school/county A admin."""
    school_admin, token = signed_in(app, make_user("school_admin", role="org_admin", org=org_tree["school_a1"]))
    boss = make_user("boss", role="site_admin", school=org_tree["school_a1"])
    dual = make_user("dual", role="org_admin", org=org_tree["county_b"], school=org_tree["school_a1"])
    for target in (boss, dual):
        assert school_admin.get(f"/admin/users/{target.id}").status_code == 200  # visible: their school is in scope
        assert school_admin.post(f"/admin/users/{target.id}/reset-password", data={"csrf_token": token}).status_code == 403
        assert school_admin.post(f"/admin/users/{target.id}/active", data={"csrf_token": token, "active": "0"}).status_code == 403
        assert school_admin.post(f"/admin/users/{target.id}", data={"csrf_token": token, "real_name": "x",
                                                                     "school_id": org_tree["school_a1"].id}).status_code == 403
        assert fresh(target.id).is_active


def test_grant_and_revoke_roles_within_scope(app, county_admin, make_user, org_tree):
    client, token = county_admin
    target = make_user("promoted", org=org_tree["school_a1"])
    url = f"/admin/users/{target.id}/roles"
    response = client.post(url, data={"csrf_token": token, "role": "org_admin", "org_unit_id": org_tree["school_a1"].id},
                           follow_redirects=True)
    assert "is now Org admin of School A1" in flashes(response)
    promoted, _ = signed_in(app, target)
    assert promoted.get("/admin/").status_code == 200
    refused = client.post(url, data={"csrf_token": token, "role": "org_admin", "org_unit_id": org_tree["school_b1"].id})
    assert refused.status_code == 403
    assert client.post(url, data={"csrf_token": token, "role": "site_admin", "org_unit_id": org_tree["school_a1"].id}).status_code == 400
    roles = db.session.execute(select(RoleAssignment).where(RoleAssignment.user_id == target.id)).scalars().all()
    assert [(r.role, r.org_unit_id) for r in roles] == [("org_admin", org_tree["school_a1"].id)]
    client.post(f"/admin/users/{target.id}/roles/{roles[0].id}/revoke", data={"csrf_token": token})
    assert db.session.execute(select(RoleAssignment).where(RoleAssignment.user_id == target.id)).first() is None
    assert promoted.get("/admin/").status_code == 403
    # An admin cannot take away their own admin role (another admin does that).
    me = db.session.execute(select(User).where(User.username == "county_admin")).scalar_one()
    mine = db.session.execute(select(RoleAssignment).where(RoleAssignment.user_id == me.id)).scalar_one()
    assert client.post(f"/admin/users/{me.id}/roles/{mine.id}/revoke", data={"csrf_token": token}).status_code == 403


def test_dashboard_counts_only_the_subtree(county_admin, make_user, make_project, org_tree):
    client, _token = county_admin
    make_user("in_a", org=org_tree["school_a1"])
    make_user("in_b", org=org_tree["school_b1"])
    make_project("B only", org=org_tree["county_b"])
    make_project("Province wide")
    html = client.get("/admin/").get_data(as_text=True)
    counts = dict(re.findall(r'data-testid="count-(\w+)">(\d+)<', html))
    # county A + A1 + A2 + center; in_a and the admin; the province project reaches county A, B's does not.
    assert counts == {"units": "4", "users": "2", "projects": "1", "courses": "0", "classes": "0"}


def test_dashboard_counts_the_classes_of_the_subtree(county_admin, make_project, make_class, org_tree):
    client, _token = county_admin
    project = make_project("Province wide")
    make_class(project, org_tree["school_a1"], "A1 class")
    make_class(project, org_tree["school_b1"], "B1 class")
    html = client.get("/admin/").get_data(as_text=True)
    assert re.search(r'data-testid="count-classes">1<', html)


def test_user_page_lists_the_users_projects_and_classes(county_admin, make_user, make_project, make_class, enroll,
                                                        org_tree):
    client, _token = county_admin
    current, old = make_project("Current project"), make_project("Old project", is_archived=True)
    cls = make_class(current, org_tree["school_a1"], "Maths A")
    teacher = make_user("teacher", role="learner", org=org_tree["school_a1"], cls=cls)
    enroll(teacher, current)
    enroll(teacher, old)
    lone = make_user("lone", org=org_tree["school_a1"])
    assert "Not enrolled in any project." in client.get(f"/admin/users/{lone.id}").get_data(as_text=True)
    html = client.get(f"/admin/users/{teacher.id}").get_data(as_text=True)
    assert "Current project" in html and "Old project" in html and "Not enrolled in any project." not in html
    assert f'Learner · <a href="/classes/{cls.id}">Maths A</a>' in html


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
@pytest.mark.parametrize("phone", ["1３８００１３８０００", "1380013800٢", "1380013800²", "13800138000\n"])
def test_phone_takes_only_ascii_digits(county_admin, org_tree, make_user, phone):
    client, token = county_admin
    before = db.session.execute(select(User.id)).all()
    response = client.post("/admin/users/new", data={"csrf_token": token, "username": "wide_phone", "real_name": "全角",
                                                     "school_id": org_tree["school_a1"].id, "phone": phone})
    assert response.status_code == 400 and "请输入 11 位手机号。" in response.get_data(as_text=True)
    assert db.session.execute(select(User.id)).all() == before
    target = make_user("target", org=org_tree["school_a1"], phone="13800138000")
    edit = client.post(f"/admin/users/{target.id}", data={"csrf_token": token, "real_name": "改名", "phone": phone,
                                                          "school_id": org_tree["school_a1"].id, "is_active": "y"})
    assert edit.status_code == 400 and "请输入 11 位手机号。" in edit.get_data(as_text=True)
    assert fresh(target.id).phone == "13800138000" and fresh(target.id).real_name != "改名"


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_class_roles_on_the_user_page_are_labelled(county_admin, make_user, make_project, make_class, org_tree):
    client, _token = county_admin
    cls = make_class(make_project("县项目", org=org_tree["county_a"]), org_tree["county_a"], name="东湖县一班")
    learner = make_user("classy", role="learner", org=org_tree["school_a1"], cls=cls)
    html = client.get(f"/admin/users/{learner.id}").get_data(as_text=True)
    assert re.search(r"<li>学员 · <a [^>]*>东湖县一班</a></li>", html)
    assert "learner · " not in html
