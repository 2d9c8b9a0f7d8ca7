"""The OpenAPI document of /api/v1: every route documented, served publicly, readable as a page."""
import pytest
from flask import Blueprint, jsonify

from app.common.openapi import MAX_ID, api_doc, undocumented
from tests.conftest import bearer


def test_every_api_route_is_documented(app):
    assert undocumented(app) == []


def test_a_route_without_api_doc_is_reported(app):
    extra = Blueprint("extra_api", __name__, url_prefix="/api/v1")

    @extra.get("/things/<int:thing_id>")
    def thing(thing_id):
        return jsonify({})

    @extra.get("/documented")
    @api_doc(summary="documented", responses={200: None})
    def documented():
        return jsonify({})

    app.register_blueprint(extra)
    assert undocumented(app) == ["GET /api/v1/things/{thing_id}"]


def test_document_is_public_json_with_bounded_ids_and_both_sign_ins(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "description": schemes["bearerAuth"]["description"]}
    assert schemes["csrfToken"]["name"] == "X-CSRFToken" and schemes["sessionCookie"]["in"] == "cookie"
    audit = document["paths"]["/api/v1/me/lessons/{lesson_id}/audit"]["get"]
    params = {p["name"]: p for p in audit["parameters"]}
    assert params["lesson_id"]["in"] == "path"
    assert params["lesson_id"]["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    assert params["project_id"]["in"] == "query" and params["project_id"]["required"] is True
    assert params["project_id"]["schema"]["maximum"] == MAX_ID
    assert {"200", "400", "401", "403", "404"} <= set(audit["responses"])
    assert audit["security"] == [{"bearerAuth": []}, {"sessionCookie": [], "csrfToken": []}]
    token = document["paths"]["/api/v1/auth/token"]["post"]
    assert token["security"] == []
    assert token["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TokenRequest"}
    heartbeat = document["components"]["schemas"]["HeartbeatBody"]
    assert heartbeat["additionalProperties"] is False and "seq" in heartbeat["required"]
    error = document["components"]["schemas"]["ErrorEnvelope"]
    assert error["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}


def test_every_operation_documents_its_errors_as_the_envelope(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operations = [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]
    assert len(operations) >= 24
    for path, method, op in operations:
        assert op["summary"] and op["operationId"], (method, path)
        if op["security"]:
            assert "401" in op["responses"], (method, path)
        for status, answer in op["responses"].items():
            if int(status) >= 400:
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path, status)


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_docs_page_lists_every_operation_in_chinese(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    document = client.get("/api/v1/openapi.json").get_json()
    count = sum(len(item) for item in document["paths"].values())
    assert html.count('data-testid="operation"') == count
    assert "接口说明" in html  # the page's title, Chinese first
    assert "开始播放" in html  # an operation's summary
    assert "/api/v1/playback/sessions/{session_id}/heartbeats" in html
    assert "integer 1..2147483647" in html


def test_docs_page_in_english_when_chosen(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert "API reference" in html and "Open a playback session" in html


def test_document_matches_what_a_learner_gets(client, make_user, make_project, make_course, make_class, enroll,
                                               org_tree, api_token):
    """A sample answer validates against its documented model (the full check is tests/api/test_contract.py)."""
    from app.courses.api import LessonList

    project = make_project()
    make_course(project, durations=(120, 60))
    learner = make_user(role="learner", cls=make_class(project, org_tree["school_a1"]), school=org_tree["school_a1"])
    enroll(learner, project)
    answer = client.get(f"/api/v1/projects/{project.id}/lessons", headers=bearer(api_token(learner)))
    assert answer.status_code == 200
    assert len(LessonList.model_validate(answer.get_json()).root) == 2


def test_cookie_writes_without_csrf_token_answer_a_documented_400(client, login, make_user, org_tree, make_course):
    """A cookie sign-in that sends no X-CSRFToken gets 400 `csrf` on any write: every secured write documents it."""
    document = client.get("/api/v1/openapi.json").get_json()
    writes = [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()
              if method in ("post", "put", "patch", "delete") and op["security"]]
    assert writes
    for path, method, op in writes:
        assert "400" in op["responses"], (method, path)
    admin = make_user(role="org_admin", org=org_tree["province"])
    course = make_course(None)
    login(client, admin)
    answer = client.delete("/api/v1/uploads/" + "0" * 32, headers={"Tus-Resumable": "1.0.0"})
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "csrf"
    answer = client.get(f"/api/v1/courses/{course.id}/media")  # reads need no token
    assert answer.status_code == 200
