"""The accounts JSON API: tokens, /me, errors as JSON."""
from tests.conftest import bearer


def test_token_me_and_projects(client, make_user, make_project, make_course, enroll, org_tree):
    learner = make_user("alice", role=None, org=org_tree["school_a1"])
    project = make_project("Spring project")
    make_course(project, durations=(42, 600))
    enroll(learner, project)

    response = client.post("/api/v1/auth/token", json={"username": "alice", "password": "Secret-pass-1"})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"token", "expires_at"}
    headers = bearer(body["token"])

    me = client.get("/api/v1/me", headers=headers).get_json()
    assert me["username"] == "alice" and me["id"] == learner.id

    projects = client.get("/api/v1/me/projects", headers=headers).get_json()
    assert projects == [{"id": project.id, "title": "Spring project", "required_hours": 60.0,
                         "starts_on": "2026-01-01", "ends_on": "2026-12-31"}]
    lessons = client.get(f"/api/v1/projects/{project.id}/lessons", headers=headers).get_json()
    assert [lesson["duration_s"] for lesson in lessons] == [42, 600]
    assert set(lessons[0]) == {"id", "course_id", "title", "kind", "duration_s"}


def test_wrong_password_is_401_json_then_429(client, make_user):
    make_user("bob")
    for _ in range(5):
        response = client.post("/api/v1/auth/token", json={"username": "bob", "password": "wrong"})
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "invalid_credentials"
    response = client.post("/api/v1/auth/token", json={"username": "bob", "password": "Secret-pass-1"})
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"


def test_api_errors_are_json(client):
    for path in ("/api/v1/me", "/api/v1/nowhere"):
        response = client.get(path)
        assert response.is_json, path
        assert "error" in response.get_json()
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/nowhere").status_code == 404
    bad = client.post("/api/v1/auth/token", data="not json", content_type="application/json")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_json"


def test_revoked_token_stops_working(client, make_user, api_token):
    make_user("carol")
    token = api_token(type("U", (), {"username": "carol"}))
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
