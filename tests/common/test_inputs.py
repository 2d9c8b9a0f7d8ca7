"""No input answers 500 (issue 16, defects 4-8): ids and numbers, deep JSON, declared body sizes, enrolment.

Every test goes through the HTTP client; the last ones walk every GET route of the
app with out-of-range and non-ASCII digits in each numeric slot.
"""
import html
import io
import re

import pytest
from sqlalchemy import func, select

from app.accounts.models import User
from app.common.api import MAX_JSON_DEPTH, JSONTooDeep, check_json_depth
from app.common.numbers import DB_INT_MAX, IdConverter, parse_ids, parse_int
from app.courses.models import Enrollment
from app.extensions import db
from tests.classrooms.world import fast_hashing, flashes, world  # noqa: F401
from tests.conftest import bearer

TWENTY_DIGITS = "9" * 20
#: digits of other scripts that str.isdigit() accepts: superscript two, Arabic-Indic 12, fullwidth 7
FOREIGN_DIGITS = ("²", "١٢", "７")
#: numbers the app reads from query strings
QUERY_NUMBERS = ("page", "unit", "project_id", "parent", "expires")


# ---------------------------------------------------------------- the helpers themselves
def test_parse_int_takes_ascii_digits_within_the_database_range():
    assert parse_int("0") == 0 and parse_int("42") == 42 and parse_int(str(DB_INT_MAX)) == DB_INT_MAX
    for bad in (None, "", " 1", "+1", "-1", "1.0", "1e3", str(DB_INT_MAX + 1), TWENTY_DIGITS, "9" * 5000,
                *FOREIGN_DIGITS, 7):
        assert parse_int(bad) is None, bad
    assert parse_int("0", min_value=1) is None and parse_int("11", max_value=10) is None
    assert parse_ids(["1", "2"]) == [1, 2] and parse_ids([]) == []
    assert parse_ids(["1", TWENTY_DIGITS]) is None and parse_ids(["²"]) is None and parse_ids(["0"]) is None


def test_the_app_int_converter_is_the_bounded_one(app):
    assert app.url_map.converters["int"] is IdConverter
    adapter = app.url_map.bind("localhost")
    assert adapter.match("/classes/12")[1] == {"class_id": 12}
    for bad in (str(DB_INT_MAX + 1), TWENTY_DIGITS, *FOREIGN_DIGITS):
        assert app.test_client().get(f"/classes/{bad}").status_code == 404


def test_json_depth_is_checked_before_parsing():
    check_json_depth("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    check_json_depth('{"a": "' + "[" * 500 + '"}')  # brackets inside a string are text
    check_json_depth('["\\"[[[[", ' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "]")
    with pytest.raises(JSONTooDeep):
        check_json_depth("[" * (MAX_JSON_DEPTH + 1))
    with pytest.raises(JSONTooDeep):
        check_json_depth('{"a": ' * 100)


# ---------------------------------------------------------------- defect 4: 20-digit ids
@pytest.mark.parametrize("path", [
    "/api/v1/projects/{n}/lessons", "/api/v1/lessons/{n}/media", "/api/v1/media/{n}", "/api/v1/courses/{n}/media",
    "/api/v1/me/lessons/{n}/audit?project_id=1", "/api/v1/projects/{n}/learners/1/progress",
])
def test_a_20_digit_id_in_an_api_path_is_404_json(world, path):
    response = world.clients["site"].get(path.format(n=TWENTY_DIGITS))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", [
    "/admin/projects/{n}", "/admin/users/{n}", "/admin/courses/{n}", "/classes/{n}", "/courses/{n}/media",
    "/projects/{n}/progress", "/lessons/{n}/projector",
])
def test_a_20_digit_id_in_a_page_path_is_the_404_page(world, path):
    response = world.clients["site"].get(path.format(n=TWENTY_DIGITS))
    assert response.status_code == 404
    assert response.mimetype == "text/html" and "This page does not exist" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", [TWENTY_DIGITS, "0", "-1", "x", *FOREIGN_DIGITS])
def test_bad_page_and_unit_numbers_answer_400_with_a_message(world, value):
    client = world.clients["site"]
    for path in ("/admin/users?page={v}", "/admin/users?unit={v}", "/admin/courses?page={v}",
                 "/admin/org-units/new?parent={v}", f"/admin/projects/{world['project_a']}/enrollments?page={{v}}"):
        response = client.get(path.format(v=value))
        assert response.status_code == 400, path
        assert "must be a whole number" in response.get_data(as_text=True), path
    assert client.get("/admin/users?page=2").status_code == 200
    assert client.get(f"/admin/users?unit={world['school_a']}").status_code == 200


# ---------------------------------------------------------------- defect 5: non-ASCII digits in ?project_id=
@pytest.mark.parametrize("value", [TWENTY_DIGITS, *FOREIGN_DIGITS])
def test_project_id_query_of_other_digits_is_400_json(world, value):
    client = world.clients["learner"]
    for path in (f"/api/v1/me/progress?project_id={value}",
                 f"/api/v1/me/lessons/{world['lesson_a']}/audit?project_id={value}",
                 f"/api/v1/lessons/{world['lesson_a']}/media?project_id={value}"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert response.get_json()["error"]["code"] == "project_id", path
    good = client.get(f"/api/v1/me/progress?project_id={world['project_a']}")
    assert good.status_code == 200


# ---------------------------------------------------------------- defect 6: deeply nested JSON
def _api_posts(app) -> list:
    """Every POST of the JSON API, signing out last."""
    return sorted((rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/") and "POST" in rule.methods),
                  key=lambda r: (r.endpoint == "accounts_api.revoke_token", r.rule))


def test_1000_nested_brackets_answer_400_on_sign_in(client):
    for body in ("[" * 1000, '{"username": ' + "[" * 1000):
        response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "invalid_json"
        assert "levels deep" in response.get_json()["error"]["message"]


def test_1000_nested_brackets_never_answer_500_on_any_json_post(app, world, api_token):
    token = api_token(db.session.get(User, world["p_learner"]))
    assert len(_api_posts(app)) >= 8
    for rule in _api_posts(app):
        path = _fill(rule.rule, world, {})
        response = app.test_client().post(path, data="[" * 1000, content_type="application/json",
                                          headers=bearer(token))
        assert response.status_code < 500, (path, response.status_code)
        assert response.is_json, path  # signing out ignores the body; every other call refuses it
    opened = app.test_client().post("/api/v1/playback/sessions", data="[" * 1000, content_type="application/json",
                                    headers=bearer(api_token(db.session.get(User, world["p_learner"]))))
    assert opened.status_code == 400 and opened.get_json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("body, english, chinese", [
    ({"username": 5, "password": "x"}, "send text", "请发送文字"),
    ({"password": "x"}, "it is required", "必须填写"),
    ({"username": "", "password": "x"}, "at least 1 characters", "至少 1 个字符"),
    ({"username": "a" * 65, "password": "x"}, "at most 64 characters", "最多 64 个字符"),
])
def test_a_bad_field_is_named_in_the_readers_language_without_pydantic_text(client, body, english, chinese):
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 400
    message = response.get_json()["error"]["message"]
    assert english in message and "Input should" not in message and "Field required" not in message
    client.set_cookie("locale", "zh_CN")
    message = client.post("/api/v1/auth/token", json=body).get_json()["error"]["message"]
    assert chinese in message, message
    assert not any(word in message for word in ("Input", "Field", "should", "required")), message


def test_a_heartbeat_field_of_the_wrong_type_says_which_and_what_to_send(app, world, api_token):
    token = api_token(db.session.get(User, world["p_learner"]))
    response = app.test_client().post("/api/v1/playback/sessions", json={"lesson_id": "one"}, headers=bearer(token))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "lesson_id" and "whole number" in error["message"]
    response = app.test_client().post("/api/v1/playback/sessions", headers=bearer(token),
                                      json={"lesson_id": 1, "project_id": 1, "speed": 2})
    assert response.status_code == 400 and "no such field" in response.get_json()["error"]["message"]


# ---------------------------------------------------------------- defect 7: enrolling from outside the area
def test_enrolling_a_teacher_from_outside_the_project_area_says_so(world):
    client = world.clients["province"]  # sees county B's teachers, but project A is county A's
    before = db.session.scalar(select(func.count()).select_from(Enrollment))
    response = client.post(f"/admin/projects/{world['project_a']}/enrollments",
                           data={"csrf_token": world.csrf["province"], "user_ids": [world["user_b"]]})
    assert response.status_code == 403
    assert "these users are outside the project's area: teacher_beta" in html.unescape(flashes(response))
    assert db.session.scalar(select(func.count()).select_from(Enrollment)) == before


@pytest.mark.parametrize("value", [TWENTY_DIGITS, "²"])
def test_enrolling_an_id_that_is_no_id_changes_nothing(world, value):
    client = world.clients["province"]
    before = db.session.scalar(select(func.count()).select_from(Enrollment))
    response = client.post(f"/admin/projects/{world['project_a']}/enrollments",
                           data={"csrf_token": world.csrf["province"], "user_ids": [value]})
    assert response.status_code == 400 and "do not exist" in flashes(response)
    added = client.post(f"/admin/classes/{world['class_a']}/learners",
                        data={"csrf_token": world.csrf["province"], "user_ids": [value], "names": ""})
    assert added.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Enrollment)) == before


@pytest.mark.parametrize("value", [TWENTY_DIGITS, "²"])
def test_a_chosen_id_that_is_no_id_is_a_form_error(world, value):
    client, token = world.clients["site"], world.csrf["site"]
    for path, data in [("/admin/org-units/new", {"name": "X", "kind": "school", "parent_id": value}),
                       ("/admin/projects/new", {"title": "X", "org_unit_id": value}),
                       (f"/admin/classes/{world['class_a']}/edit", {"name": "X", "org_unit_id": value}),
                       (f"/admin/projects/{world['project_a']}/courses", {"course_id": value}),
                       (f"/admin/projects/{world['project_a']}/enrollments", {"school_id": value})]:
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 400, path


@pytest.mark.parametrize("value", ["sNaN", "NaN", "Infinity", "-Infinity"])
def test_a_setting_that_is_not_a_finite_number_is_a_form_error(world, value):
    from tests.courses.test_admin_projects import settings

    client = world.clients["site"]
    for field in ("gap_factor", "required_hours"):
        data = {**settings(world["county_a"], **{field: value}), "csrf_token": world.csrf["site"]}
        response = client.post(f"/admin/projects/{world['project_a']}/edit", data=data)
        assert response.status_code == 400 and "Not a valid decimal value" in response.get_data(as_text=True)
    lesson = client.post(f"/admin/lessons/{world['lesson_a']}", data={
        "csrf_token": world.csrf["site"], "title": "X", "kind": "document", "duration_min": value})
    assert lesson.status_code == 400


# ---------------------------------------------------------------- defect 8: a huge declared body
class CountingStream(io.BytesIO):
    """A request body that counts how often the app read from it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.reads = 0

    def read(self, *args):
        self.reads += 1
        return super().read(*args)

    def readline(self, *args):
        self.reads += 1
        return super().readline(*args)


def test_import_with_a_huge_declared_length_is_refused_at_once(world):
    stream = CountingStream(b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.csv\"\r\n\r\na\r\n--x--\r\n")
    users_before = db.session.scalar(select(func.count()).select_from(User))
    response = world.clients["county_a"].post(
        "/admin/import", input_stream=stream, content_type="multipart/form-data; boundary=x",
        environ_overrides={"CONTENT_LENGTH": "99999999999999"})
    assert response.status_code == 413
    assert response.mimetype == "text/html" and "too large" in response.get_data(as_text=True)
    assert stream.reads == 0
    assert db.session.scalar(select(func.count()).select_from(User)) == users_before


def test_json_api_with_a_huge_declared_length_is_refused_at_once(client):
    stream = CountingStream(b'{"username": "a", "password": "b"}')
    response = client.post("/api/v1/auth/token", input_stream=stream, content_type="application/json",
                           environ_overrides={"CONTENT_LENGTH": "99999999999999"})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "body_too_large"
    assert stream.reads == 0


@pytest.mark.config(MAX_FORM_BYTES=1000)
def test_a_form_over_the_page_limit_is_413(client):
    response = client.post("/login", data={"username": "x" * 2000, "password": "y"})
    assert response.status_code == 413


# ---------------------------------------------------------------- every GET route, every numeric slot
_ARG = re.compile(r"<(?:(?P<conv>[a-z]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def _slot_values(w) -> dict:
    """A value per URL argument name that names a real object of county A."""
    return {"project_id": w["project_a"], "course_id": w["course_a"], "lesson_id": w["lesson_a"],
            "class_id": w["class_a"], "user_id": w["user_a"], "learner_id": w["p_learner"],
            "unit_id": w["school_a"], "module_id": w["module_a"], "link_id": w["link_a"],
            "key": "assets/00/0000/source.mp4", "upload_id": "0" * 32, "batch": "b", "fmt": "csv",
            "filename": "x.css"}


def _fill(rule: str, w, overrides: dict) -> str:
    values = _slot_values(w)

    def value(match):
        name = match["name"]
        return str(overrides.get(name, values.get(name, 1)))

    return _ARG.sub(value, rule)


def _get_rules(app) -> list:
    return sorted((r for r in app.url_map.iter_rules() if "GET" in r.methods), key=lambda r: r.rule)


@pytest.mark.parametrize("persona", ["site", "learner"])
def test_every_numeric_path_slot_of_every_get_route_is_404_for_other_numbers(app, world, persona):
    client = world.clients[persona]
    checked = 0
    for rule in _get_rules(app):
        for match in _ARG.finditer(rule.rule):
            if match["conv"] != "int":
                continue
            for bad in (TWENTY_DIGITS, str(DB_INT_MAX + 1), *FOREIGN_DIGITS):
                path = _fill(rule.rule, world, {match["name"]: bad})
                response = client.get(path)
                assert response.status_code == 404, (persona, path, response.status_code)
                checked += 1
    assert checked >= 100


@pytest.mark.parametrize("persona", ["site", "learner"])
def test_every_get_route_with_other_numbers_in_the_query_never_answers_500(app, world, persona):
    client = world.clients[persona]
    refused = set()
    for rule in _get_rules(app):
        base = _fill(rule.rule, world, {})
        for name in QUERY_NUMBERS:
            for bad in (TWENTY_DIGITS, "²"):
                response = client.get(f"{base}?{name}={bad}")
                assert response.status_code < 500, (persona, base, name, bad, response.status_code)
                if response.status_code == 400:
                    refused.add((rule.endpoint, name))
    if persona == "site":  # the numbers each page reads are refused, not ignored
        assert {("accounts_admin.users", "page"), ("accounts_admin.users", "unit"),
                ("courses_admin.projects", "page"), ("tracking_api.my_progress", "project_id")} <= refused


@pytest.mark.parametrize("session_id", [str(DB_INT_MAX + 1), "9999999999", TWENTY_DIGITS, "²"])
def test_a_heartbeat_to_a_session_id_beyond_the_range_is_404(app, world, api_token, session_id):
    token = api_token(db.session.get(User, world["p_learner"]))
    body = {"seq": 1, "position_s": 0.0, "playing": True, "visible": True, "rate": 1.0, "event": "play"}
    response = app.test_client().post(f"/api/v1/playback/sessions/{session_id}/heartbeats", json=body,
                                      headers=bearer(token))
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
