"""Sign-in limits hold on every route that signs in: one count per account and per address, failures only.

Each test runs on the database store, and on the Redis store when REDIS_URL is
set (the PostgreSQL run sets it).
"""
import os
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.accounts.limits import Limit, parse_limit, wait_s
from app.accounts.models import SignInFailure
from app.extensions import db
from tests.courses.test_cards import admin, cards_from_csv, generate, register  # noqa: F401
from tests.classrooms.world import fast_hashing, flashes, page_csrf, signed_in  # noqa: F401
from tests.conftest import DEFAULT_PASSWORD, Auth

WRONG = "Wrong-pass-9"
LOCK_MESSAGE = "Too many wrong passwords for this account"


@pytest.fixture(params=["database", "redis"])
def store(request, app):
    """The store the limits count in: the database, or Redis (only when REDIS_URL is set)."""
    if request.param == "redis":
        url = os.environ.get("REDIS_URL")
        if not url:
            pytest.skip("REDIS_URL is not set")
        app.config["REDIS_URL"] = url
    else:
        app.config["REDIS_URL"] = None
    return request.param


def api_sign_in(client, username, password=DEFAULT_PASSWORD):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def form_sign_in(client, username, password=DEFAULT_PASSWORD):
    return Auth(client).login(username, password)


ROUTES = {"api": api_sign_in, "form": form_sign_in}


def assert_locked(response, route):
    assert response.status_code == 429, response.get_data(as_text=True)[:300]
    assert 0 < int(response.headers["Retry-After"]) <= 300
    if route == "api":
        error = response.get_json()["error"]
        assert error["code"] == "rate_limited" and LOCK_MESSAGE in error["message"]
    else:
        assert LOCK_MESSAGE in flashes(response)
        assert 'name="password"' in response.get_data(as_text=True)  # the form, shown again


@pytest.mark.parametrize("locked_by, tried_on", [("api", "form"), ("form", "api"), ("api", "api"), ("form", "form")])
def test_a_lock_made_on_one_route_refuses_the_right_password_on_every_route(app, store, clock, make_user,
                                                                            locked_by, tried_on):
    make_user("ann")
    for i in range(5):
        assert ROUTES[locked_by](app.test_client(), "ann", WRONG).status_code == 401, i
    assert_locked(ROUTES[tried_on](app.test_client(), "ann"), tried_on)
    other = "api" if tried_on == "form" else "form"
    assert_locked(ROUTES[other](app.test_client(), "ann"), other)


def test_failures_on_both_routes_add_up(app, store, clock, make_user):
    make_user("bea")
    for i in range(5):
        route = ("api", "form")[i % 2]
        assert ROUTES[route](app.test_client(), "bea", WRONG).status_code == 401, i
    assert_locked(form_sign_in(app.test_client(), "bea"), "form")


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_the_lock_message_is_translated(app, store, clock, make_user):
    make_user("cai")
    for _ in range(5):
        api_sign_in(app.test_client(), "cai", WRONG)
    response = form_sign_in(app.test_client(), "cai")
    assert response.status_code == 429
    assert "该账号密码错误次数过多，已暂时锁定 5 分钟" in flashes(response)


def test_the_lock_lasts_its_window_then_the_right_password_works(app, store, clock, make_user):
    make_user("dan")
    for _ in range(5):
        api_sign_in(app.test_client(), "dan", WRONG)
        clock.advance(10)  # the failures at 0, 10, 20, 30 and 40 s
    locked = api_sign_in(app.test_client(), "dan")
    assert locked.headers["Retry-After"] == "250"  # the first failure leaves the 5-minute window at 300 s
    clock.advance(249)
    assert_locked(form_sign_in(app.test_client(), "dan"), "form")
    clock.advance(1)
    assert form_sign_in(app.test_client(), "dan").status_code == 302
    # One failure has left the window: one more wrong password locks the account again.
    assert api_sign_in(app.test_client(), "dan", WRONG).status_code == 401
    assert api_sign_in(app.test_client(), "dan").status_code == 429


def test_only_failures_count(app, store, clock, make_user):
    make_user("eva")
    for _ in range(20):
        assert api_sign_in(app.test_client(), "eva").status_code == 200
    for _ in range(4):
        assert form_sign_in(app.test_client(), "eva", WRONG).status_code == 401
    assert form_sign_in(app.test_client(), "eva").status_code == 302
    assert api_sign_in(app.test_client(), "eva").status_code == 200


def test_usernames_count_whatever_their_case_and_unknown_ones_too(app, store, clock, make_user):
    make_user("fan")
    for name in ("FAN", " fan", "Fan", "fAN", "fan "):
        assert api_sign_in(app.test_client(), name, WRONG).status_code == 401
    assert api_sign_in(app.test_client(), "fan").status_code == 429
    for _ in range(5):
        assert api_sign_in(app.test_client(), "ghost", WRONG).status_code == 401
    assert api_sign_in(app.test_client(), "ghost", WRONG).status_code == 429  # no hint that the account is unknown


def test_one_account_locked_leaves_the_others_alone(app, store, clock, make_user):
    make_user("gil")
    make_user("hua")
    for _ in range(5):
        api_sign_in(app.test_client(), "gil", WRONG)
    assert api_sign_in(app.test_client(), "gil").status_code == 429
    assert form_sign_in(app.test_client(), "hua").status_code == 302


@pytest.mark.config(LOGIN_FAILURES_PER_ADDRESS="8 per 5 minutes")
def test_failures_per_address_lock_that_address_on_every_route(app, store, clock, make_user):
    make_user("ida")
    for i in range(8):
        route = ("api", "form")[i % 2]
        assert ROUTES[route](app.test_client(), f"nobody{i}", WRONG).status_code == 401, i
    for route in ("api", "form"):
        response = ROUTES[route](app.test_client(), "ida")
        assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
        text = response.get_data(as_text=True)
        assert "Too many failed sign-ins from your network" in text
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert form_sign_in(elsewhere, "ida").status_code == 302
    clock.advance(300)
    assert api_sign_in(app.test_client(), "ida").status_code == 200


@pytest.mark.config(TRUSTED_PROXIES=1, LOGIN_FAILURES_PER_ADDRESS="8 per 5 minutes")
def test_behind_a_trusted_proxy_the_client_address_is_counted(app, clock, make_user):
    make_user("ivy")
    via_proxy = {"X-Forwarded-For": "203.0.113.7"}
    for i in range(8):
        assert app.test_client().post("/api/v1/auth/token", json={"username": f"nobody{i}", "password": WRONG},
                                      headers=via_proxy).status_code == 401
    assert app.test_client().post("/api/v1/auth/token", json={"username": "ivy", "password": DEFAULT_PASSWORD},
                                  headers=via_proxy).status_code == 429
    other = {"X-Forwarded-For": "203.0.113.8"}
    assert app.test_client().post("/api/v1/auth/token", json={"username": "ivy", "password": DEFAULT_PASSWORD},
                                  headers=other).status_code == 200


@pytest.mark.config(LOGIN_FAILURES_PER_ADDRESS="8 per 5 minutes")
def test_without_a_trusted_proxy_forwarded_addresses_are_ignored(app, clock, make_user):
    make_user("ivo")
    for i in range(8):
        forged = {"X-Forwarded-For": f"198.51.100.{i}"}
        assert app.test_client().post("/api/v1/auth/token", json={"username": f"nobody{i}", "password": WRONG},
                                      headers=forged).status_code == 401
    assert app.test_client().post("/api/v1/auth/token", json={"username": "ivo", "password": DEFAULT_PASSWORD},
                                  headers={"X-Forwarded-For": "198.51.100.99"}).status_code == 429


@pytest.fixture
def card_project(make_project, org_tree):
    return make_project("Card project", org=org_tree["county_a"], ends_on=date(2026, 6, 30))


def redeem(client, number, pin):
    return client.post("/cards/redeem", data={"csrf_token": page_csrf(client, "/cards/redeem"),
                                              "card_number": number, "pin": pin})


@pytest.mark.config(CARD_FAILURES_PER_ADDRESS="4 per 10 minutes")
def test_card_guesses_count_across_registration_and_redemption(app, store, clock, admin, card_project, make_user):
    client, token = admin
    (number, pin), = cards_from_csv(generate(client, token, card_project, count=1))
    wrong = "22222222" if pin != "22222222" else "33333333"
    teacher, _token = signed_in(app, make_user("jia"))
    for i in range(2):
        response = register(app.test_client(), number, wrong, f"guess{i}")
        assert response.status_code == 400 and "number or PIN is wrong" in flashes(response)
        response = redeem(teacher, number, wrong)
        assert response.status_code == 400 and "number or PIN is wrong" in flashes(response)
    for response in (register(app.test_client(), number, pin, "finally"), redeem(teacher, number, pin)):
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) == 600
        assert "Too many wrong card numbers or PINs from your network" in flashes(response)
    # Card guesses lock card redemption only; the card is still unused.
    assert form_sign_in(app.test_client(), "jia").status_code == 302
    clock.advance(600)
    assert register(app.test_client(), number, pin, "finally").status_code == 302


def test_a_refused_card_that_is_not_a_guess_does_not_count(app, store, clock, admin, card_project):
    client, token = admin
    (number, pin), = cards_from_csv(generate(client, token, card_project, count=1))
    assert register(app.test_client(), number, pin, "first").status_code == 302
    for i in range(12):  # more than CARD_FAILURES_PER_ADDRESS (10): a used card is no wrong guess
        response = register(app.test_client(), number, pin, f"again{i}")
        assert response.status_code == 409 and "already been used" in flashes(response)


def test_failure_rows_older_than_their_window_are_deleted(app, clock, make_user):
    app.config["REDIS_URL"] = None
    make_user("kai")
    for i in range(5):
        api_sign_in(app.test_client(), f"old{i}", WRONG)
    assert db.session.scalar(select(func.count()).select_from(SignInFailure)) == 10  # an account and an address each
    assert api_sign_in(app.test_client(), "kai").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(SignInFailure)) == 10  # a success leaves nothing
    clock.advance(301)
    assert api_sign_in(app.test_client(), "kai", WRONG).status_code == 401
    assert db.session.execute(select(SignInFailure.scope, SignInFailure.key)).all() == [
        ("account", "kai"), ("address", "127.0.0.1")]


def test_redis_store_keeps_the_database_out_of_it(app, clock, make_user):
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set")
    import redis

    app.config["REDIS_URL"] = url
    make_user("lin")
    for _ in range(5):
        api_sign_in(app.test_client(), "lin", WRONG)
    assert api_sign_in(app.test_client(), "lin").status_code == 429
    assert db.session.scalar(select(func.count()).select_from(SignInFailure)) == 0
    keys = redis.Redis.from_url(url).keys(app.config["SIGN_IN_LIMITS_PREFIX"] + "*")
    assert sorted(k.decode().rsplit(":", 2)[-2] for k in keys) == ["account", "address"]


def test_concurrent_wrong_guesses_never_pass_the_limit(app, store, clock, make_user):
    make_user("mei")
    threads, results = 8, []
    barrier = threading.Barrier(threads)

    def guess():
        client = app.test_client()
        barrier.wait()
        results.append(api_sign_in(client, "mei", WRONG).status_code)

    pool = [threading.Thread(target=guess) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert set(results) <= {401, 429} and len(results) == threads
    assert results.count(401) <= 5
    # Guesses refused in the race left nothing behind: guessing on, one at a time, reaches exactly five failures.
    failures = results.count(401)
    while (status := api_sign_in(app.test_client(), "mei", WRONG).status_code) == 401:
        failures += 1
    assert status == 429 and failures == 5
    assert api_sign_in(app.test_client(), "mei").status_code == 429


@pytest.mark.parametrize("text, limit", [("5 per 5 minutes", Limit(5, 300)), ("100 per hour", Limit(100, 3600)),
                                         ("10/minute", Limit(10, 60)), ("3 PER 2 Days", Limit(3, 172800))])
def test_limits_read_as_written_in_the_config(text, limit):
    assert parse_limit(text) == limit


@pytest.mark.parametrize("text", ["", "5", "0 per minute", "5 per 0 minutes", "5 per fortnight", "five per minute"])
def test_a_limit_that_cannot_be_read_is_refused(text):
    with pytest.raises(ValueError):
        parse_limit(text)


def test_the_wait_ends_when_enough_failures_have_left_the_window():
    now = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)
    earlier = [now - timedelta(seconds=s) for s in (250, 10, 100)]
    assert wait_s(earlier[:2], Limit(3, 300), now) is None
    assert wait_s(earlier, Limit(3, 300), now) == 50  # the oldest leaves at 300 s
    assert wait_s(earlier, Limit(2, 300), now) == 200  # two must leave: the one of 100 s ago is the second
