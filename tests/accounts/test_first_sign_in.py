"""First sign-in: an imported, admin-made or reset account chooses its own password before anything else.

A card-registered teacher chose a password when registering and is not asked again. Until the change,
every page but sign-out, the language switch and static files redirects to 修改密码, and the API answers
a JSON 403 `password_change_required` (the token endpoint refuses to issue a token).
"""
import io
import re
from datetime import date

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.courses import cards
from app.extensions import db
from tests.classrooms.world import fast_hashing, page_csrf, signed_in  # noqa: F401
from tests.conftest import Auth, bearer
from tests.test_route_matrix import every_request

NEW_PASSWORD = "My-own-pass-7"
MESSAGES = {"new": "首次登录，请设置您自己的密码", "reset": "您的密码已被管理员重置"}
#: endpoints a user who must change the password still reaches
STILL_OPEN = {"accounts.change_password", "accounts.logout", "accounts.set_language", "static", "bootstrap.static",
              "site.favicon", "health.healthz", "health.readyz", "accounts_api.revoke_token"}


def fresh(username: str) -> User:
    db.session.expire_all()
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


@pytest.fixture
def county_admin(app, fast_hashing, org_tree, make_user):
    return signed_in(app, make_user("county_admin", role="org_admin", org=org_tree["county_a"]))


def imported_teacher(app, county_admin, make_project, org_tree) -> tuple[str, str]:
    client, token = county_admin
    project = make_project("Spring", org=org_tree["county_a"])
    body = "username,real_name,teacher_no,phone,school_code,subject,stage,password\nwang01,王芳,T001,,A1,,,\n"
    response = client.post("/admin/import", data={"csrf_token": token, "project_id": str(project.id),
                                                  "file": (io.BytesIO(body.encode()), "teachers.csv")})
    password = re.search(r'<tr><td>wang01</td><td>[^<]*</td><td class="font-monospace">([^<]+)</td>',
                         response.get_data(as_text=True)).group(1)
    return "wang01", password


def admin_made_teacher(app, county_admin, make_project, org_tree) -> tuple[str, str]:
    client, token = county_admin
    response = client.post("/admin/users/new", data={"csrf_token": token, "username": "made01", "real_name": "李明",
                                                     "school_id": org_tree["school_a1"].id, "password": "Given-pass-9"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return "made01", "Given-pass-9"


def reset_teacher(app, county_admin, make_project, org_tree, make_user) -> tuple[str, str]:
    client, token = county_admin
    target = make_user("forgetful", org=org_tree["school_a1"])
    response = client.post(f"/admin/users/{target.id}/reset-password", data={"csrf_token": token})
    password = re.search(r'data-testid="temporary-password">([^<]+)<', response.get_data(as_text=True)).group(1)
    return "forgetful", password


def card_teacher(app, make_project, org_tree) -> tuple[str, str]:
    admin = db.session.execute(select(User).where(User.username == "county_admin")).scalar_one()
    project = make_project("Cards", org=org_tree["school_a1"], ends_on=date(2099, 1, 1))
    _batch, issued = cards.do_generate_cards(project, 1, admin)
    db.session.commit()
    client = app.test_client()
    token = page_csrf(client, "/register")
    response = client.post("/register", data={
        "csrf_token": token, "card_number": issued[0].number, "pin": issued[0].pin, "username": "card01",
        "real_name": "赵磊", "password": "Chosen-pass-3", "confirm": "Chosen-pass-3"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return "card01", "Chosen-pass-3"


@pytest.fixture
def account(request, app, county_admin, make_project, org_tree, make_user):
    """(case, username, password) of an account made the way the case says."""
    case = request.param
    if case == "imported":
        return case, *imported_teacher(app, county_admin, make_project, org_tree)
    if case == "admin_made":
        return case, *admin_made_teacher(app, county_admin, make_project, org_tree)
    if case == "reset":
        return case, *reset_teacher(app, county_admin, make_project, org_tree, make_user)
    return case, *card_teacher(app, make_project, org_tree)


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
@pytest.mark.parametrize("account", ["imported", "admin_made", "reset"], indirect=True)
def test_must_change_accounts_see_the_right_message_and_reach_nothing_else(app, account):
    case, username, password = account
    reason = {"imported": "new", "admin_made": "new", "reset": "reset"}[case]
    assert fresh(username).password_change_reason == reason
    client = app.test_client()
    response = Auth(client).login(username, password)
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/password")
    page = client.get("/account/password").get_data(as_text=True)
    assert MESSAGES[reason] in page
    assert MESSAGES[{"new": "reset", "reset": "new"}[reason]] not in page
    rules = page.index('data-testid="password-rules"')
    assert "至少 8 个字符" in page[rules:rules + 300] and rules < page.index('name="new_password"')

    for method, path in every_request(app):
        endpoint = app.url_map.bind("localhost").match(path.split("?")[0], method=method)[0]
        if method != "GET" or endpoint in STILL_OPEN:
            continue
        response = client.get(path)
        if path.startswith("/api/"):
            assert response.status_code == 403, path
            assert response.get_json()["error"]["code"] == "password_change_required", path
        else:
            assert response.status_code == 302, path
            assert response.headers["Location"].endswith("/account/password"), path
    assert client.get("/static/css/app.css").status_code == 200
    assert client.get("/favicon.ico").status_code == 200

    refused = app.test_client().post("/api/v1/auth/token", json={"username": username, "password": password})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "password_change_required"

    token = page_csrf(client, "/account/password")
    weak = client.post("/account/password", data={"csrf_token": token, "current_password": password,
                                                  "new_password": "abcdefgh", "confirm": "abcdefgh"})
    assert weak.status_code == 400 and fresh(username).must_change_password
    same = client.post("/account/password", data={"csrf_token": token, "current_password": password,
                                                  "new_password": password, "confirm": password})
    assert "请设置一个与当前密码不同的密码" in same.get_data(as_text=True) and fresh(username).must_change_password
    changed = client.post("/account/password", data={"csrf_token": token, "current_password": password,
                                                     "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert changed.status_code == 302 and fresh(username).password_change_reason is None
    assert client.get("/learn").status_code == 200
    assert Auth(app.test_client()).token(username, NEW_PASSWORD)


@pytest.mark.parametrize("account", ["card"], indirect=True)
def test_a_card_registered_teacher_chose_the_password_and_is_not_asked_again(app, account):
    _case, username, password = account
    assert fresh(username).password_change_reason is None
    client = app.test_client()
    response = Auth(client).login(username, password)
    assert response.status_code == 302 and not response.headers["Location"].endswith("/account/password")
    assert client.get("/learn").status_code == 200
    assert app.test_client().get("/api/v1/me", headers=bearer(Auth(app.test_client()).token(username, password))).status_code == 200


@pytest.mark.parametrize("account", ["imported"], indirect=True)
def test_sign_out_and_language_switch_stay_open(app, account):
    _case, username, password = account
    client = app.test_client()
    Auth(client).login(username, password)
    token = page_csrf(client, "/account/password")
    switched = client.post("/language", data={"csrf_token": token, "locale": "en", "next": "/account/password"})
    assert switched.status_code == 302 and switched.headers["Location"].endswith("/account/password")
    assert "First sign-in: please choose your own password." in client.get("/account/password").get_data(as_text=True)
    out = client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 302 and "/login" in out.headers["Location"]
    assert "/login" in client.get("/").headers["Location"]
