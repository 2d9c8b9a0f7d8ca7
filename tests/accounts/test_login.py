"""Signing in and out through the pages: sessions are server-side, revocable, rate limited on failures only."""
import re

import pytest

from app.accounts.models import LoginSession
from app.extensions import db
from tests.conftest import DEFAULT_PASSWORD, Auth, bearer, csrf_token

from sqlalchemy import select


def test_login_logout_and_stolen_cookie_stops_working(app, client, make_user):
    make_user("dora")
    auth = Auth(client)
    response = auth.login("dora")
    assert response.status_code == 302
    assert client.get("/learn").status_code == 200

    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    assert thief.get("/learn").status_code == 200  # the copied cookie works while the session lives

    assert auth.logout().status_code == 302
    assert client.get("/learn").status_code == 302
    stolen = thief.get("/learn")
    assert stolen.status_code == 302 and "/login" in stolen.headers["Location"]
    assert db.session.execute(select(LoginSession)).scalar_one().revoked_at is not None


def test_each_login_is_a_new_session(app, client, make_user):
    make_user("ed")
    Auth(client).login("ed")
    first = client.get_cookie("session").value
    Auth(client).login("ed")
    second = client.get_cookie("session").value
    assert first != second
    assert len(db.session.execute(select(LoginSession)).scalars().all()) == 2


def test_wrong_password_message_and_rate_limit(client, make_user):
    make_user("fay")
    auth = Auth(client)
    for _ in range(5):
        response = auth.login("fay", "wrong-password")
        assert response.status_code == 401
        assert "Wrong username or password" in response.get_data(as_text=True) or "用户名或密码错误" in response.get_data(as_text=True)
    assert auth.login("fay").status_code == 429  # even the right password waits now


def test_fifty_teachers_behind_one_address_can_all_sign_in(app, make_user):
    for i in range(50):
        make_user(f"teacher{i}")
    for i in range(50):
        response = Auth(app.test_client()).login(f"teacher{i}")
        assert response.status_code == 302, i


def test_failures_on_many_accounts_from_one_address_are_limited(app, make_user):
    make_user("gus")
    app.config["LOGIN_FAILURES_PER_ADDRESS"] = "10 per 5 minutes"
    auth = Auth(app.test_client())
    for i in range(10):
        assert auth.login(f"nobody{i}", "x-wrong-1").status_code == 401
    assert auth.login("gus").status_code == 429


def test_password_change_revokes_other_sessions_and_tokens(app, client, make_user, api_token):
    user = make_user("hal")
    other_device = app.test_client()
    Auth(other_device).login("hal")
    token = api_token(user)
    auth = Auth(client)
    auth.login("hal")
    response = client.post("/account/password", data={
        "csrf_token": auth.csrf(), "current_password": DEFAULT_PASSWORD,
        "new_password": "New-pass-2026", "confirm": "New-pass-2026"})
    assert response.status_code == 302
    assert client.get("/learn").status_code == 200  # this device stays signed in, on a new session
    assert other_device.get("/learn").status_code == 302
    assert app.test_client().get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert Auth(app.test_client()).login("hal", "New-pass-2026").status_code == 302


def test_weak_or_wrong_current_password_changes_nothing(app, client, make_user):
    make_user("ivy")
    auth = Auth(client)
    auth.login("ivy")
    wrong = client.post("/account/password", data={"csrf_token": auth.csrf(), "current_password": "nope",
                                                   "new_password": "New-pass-2026", "confirm": "New-pass-2026"})
    assert wrong.status_code == 400
    weak = client.post("/account/password", data={"csrf_token": auth.csrf(), "current_password": DEFAULT_PASSWORD,
                                                  "new_password": "12345678", "confirm": "12345678"})
    assert weak.status_code == 400
    assert Auth(app.test_client()).login("ivy").status_code == 302  # old password still valid


def test_forms_need_the_csrf_token(client, make_user):
    make_user("jon")
    response = client.post("/login", data={"username": "jon", "password": DEFAULT_PASSWORD})
    assert response.status_code == 400
    assert client.get("/learn").status_code == 302


def test_api_with_cookie_needs_csrf_header(app, client, make_user):
    make_user("kim")
    auth = Auth(client)
    auth.login("kim")
    assert client.get("/api/v1/me").status_code == 200
    response = client.post("/api/v1/auth/logout")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf"
    response = client.post("/api/v1/auth/logout", headers={"X-CSRFToken": auth.csrf()})
    assert response.status_code == 200
    assert client.get("/api/v1/me").status_code == 401


def test_open_redirect_is_refused(client, make_user):
    make_user("lee")
    token = csrf_token(client)
    response = client.post("/login?next=//evil.example.com/x", data={"username": "lee", "password": DEFAULT_PASSWORD,
                                                                     "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_language_switch(client, make_user):
    make_user("may")
    auth = Auth(client)
    auth.login("may")
    chinese = client.get("/learn").get_data(as_text=True)
    assert "我的学习" in chinese
    client.post("/language", data={"csrf_token": auth.csrf(), "locale": "en", "next": "/"})
    english = client.get("/learn").get_data(as_text=True)
    assert "My learning" in english and "我的学习" not in english
    assert re.search(r'<html lang="en"', english)
