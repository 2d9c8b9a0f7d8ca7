"""我的账户: a user sees who they are and keeps their own e-mail address (where notifications are copied)."""
import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.extensions import db
from tests.classrooms.world import fast_hashing, signed_in  # noqa: F401

MATRIX_ENDPOINTS = {"accounts.account"}


def _email(username: str) -> str | None:
    db.session.expire_all()
    return db.session.execute(select(User.email).where(User.username == username)).scalar_one()


@pytest.fixture
def teacher(fast_hashing, make_user, org_tree):
    return make_user("zhang_san", org=org_tree["school_a1"])


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post("/account", data={"email": "x@example.com"}).status_code in (302, 400)


@pytest.mark.parametrize("role", [None, "site_admin", "org_admin"])
def test_each_user_sets_only_their_own_address(app, make_user, org_tree, fast_hashing, teacher, role):
    me = make_user(f"me_{role}", role=role, org=org_tree["county_a"]) if role else teacher
    client, csrf = signed_in(app, me)
    page = client.get("/account").get_data(as_text=True)
    assert me.username in page and 'data-testid="account-password"' in page
    saved = client.post("/account", data={"email": " li.si@example.cn ", "csrf_token": csrf})
    assert saved.status_code == 302
    assert _email(me.username) == "li.si@example.cn"
    if me is not teacher:
        assert _email(teacher.username) is None  # no id in the address: nobody changes someone else's


@pytest.mark.parametrize("bad", ["not-an-address", "a b@example.com", "x@" + "e" * 260 + ".cn", "李四@例子"])
def test_a_bad_address_is_refused_and_changes_nothing(app, teacher, bad):
    client, csrf = signed_in(app, teacher)
    client.post("/account", data={"email": "first@example.com", "csrf_token": csrf})
    response = client.post("/account", data={"email": bad, "csrf_token": csrf})
    assert response.status_code == 400
    assert "is-invalid" in response.get_data(as_text=True)
    assert _email(teacher.username) == "first@example.com"


def test_an_empty_address_clears_it_and_a_stale_form_changes_nothing(app, teacher):
    client, csrf = signed_in(app, teacher)
    client.post("/account", data={"email": "first@example.com", "csrf_token": csrf})
    assert client.post("/account", data={"email": "other@example.com", "csrf_token": "stale"}).status_code == 400
    assert _email(teacher.username) == "first@example.com"
    assert client.post("/account", data={"email": "", "csrf_token": csrf}).status_code == 302
    assert _email(teacher.username) is None


def test_the_navigation_leads_to_my_account(app, teacher):
    client, csrf = signed_in(app, teacher)
    client.post("/language", data={"locale": "zh_CN", "next": "/", "csrf_token": csrf})
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert 'href="/account" data-testid="nav-account"' in home
    assert "我的账户" in home
