"""Who may see the learner's own pages and API: anonymous, the learner, an unenrolled teacher, staff."""
import pytest

from tests.conftest import Auth, bearer

MATRIX_ENDPOINTS = {
    "courses.home",
    "courses_api.my_projects",
    "courses_api.project_lessons",
    "accounts_api.me",
    "accounts_api.revoke_token",
    "accounts.change_password",
    "courses.redeem_card",
    "courses.choose_elective",
}


@pytest.fixture
def world(make_user, make_project, make_course, enroll, org_tree):
    project = make_project("Project A", org=org_tree["county_a"])
    make_course(project, durations=(60, 120))
    enrolled = make_user("enrolled", org=org_tree["school_a1"])
    enroll(enrolled, project)
    other = make_user("other", org=org_tree["school_b1"])  # another county, not enrolled
    admin_b = make_user("admin_b", role="org_admin", org=org_tree["county_b"])
    return {"project": project, "enrolled": enrolled, "other": other, "admin_b": admin_b}


# persona -> expected status of GET /api/v1/projects/<id>/lessons
LESSONS_MATRIX = [
    ("anonymous", 401),
    ("enrolled", 200),
    ("other", 403),
    ("admin_b", 403),  # staff of another county are not learners of the project
]


@pytest.mark.parametrize("persona,status", LESSONS_MATRIX)
def test_project_lessons_matrix(app, world, persona, status):
    client = app.test_client()
    headers = {} if persona == "anonymous" else bearer(Auth(client).token(persona))
    response = client.get(f"/api/v1/projects/{world['project'].id}/lessons", headers=headers)
    assert response.status_code == status
    assert response.is_json
    assert client.get("/api/v1/projects/999999/lessons", headers=headers).status_code == (401 if persona == "anonymous" else 404)


@pytest.mark.parametrize("persona,count", [("enrolled", 1), ("other", 0), ("admin_b", 0)])
def test_my_projects_lists_only_own_enrolments(app, world, persona, count):
    client = app.test_client()
    token = Auth(client).token(persona)
    assert len(client.get("/api/v1/me/projects", headers=bearer(token)).get_json()) == count
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert me["username"] == persona
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/me/projects"])
def test_api_needs_authentication(client, path):
    response = client.get(path)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    assert client.post("/api/v1/auth/logout").status_code in (400, 401)


@pytest.mark.parametrize("path", ["/", "/account/password", "/cards/redeem"])
def test_pages_need_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("persona,sees_project", [("enrolled", True), ("other", False)])
def test_home_shows_only_own_projects(app, world, persona, sees_project):
    client = app.test_client()
    Auth(client).login(persona)
    html = client.get("/learn").get_data(as_text=True)
    assert ("Project A" in html) is sees_project
    assert client.get("/account/password").status_code == 200
    assert client.get("/cards/redeem").status_code == 200


def test_learner_chooses_and_withdraws_an_elective(app, world, make_course, make_project, org_tree):
    from app.courses.models import Project
    from app.extensions import db

    project = db.session.get(Project, world["project"].id)
    elective = make_course(project, title="Elective art", durations=(300,), is_required=False)
    client = app.test_client()
    auth = Auth(client)
    token = auth.token("enrolled")
    lessons = lambda: client.get(f"/api/v1/projects/{project.id}/lessons", headers=bearer(token)).get_json()  # noqa: E731
    assert len(lessons()) == 2
    auth.login("enrolled")
    url = f"/projects/{project.id}/electives/{elective.id}"
    assert client.post(url, data={"csrf_token": auth.csrf()}).status_code == 302
    assert len(lessons()) == 3
    assert client.post(url, data={"csrf_token": auth.csrf()}).status_code == 302
    assert len(lessons()) == 2
    assert client.post(url).status_code == 400  # no CSRF token: nothing changes
    assert len(lessons()) == 2


@pytest.mark.parametrize("persona,status", [("other", 403), ("admin_b", 403)])
def test_only_enrolled_learners_choose_electives(app, world, make_course, persona, status):
    from app.courses.models import Project
    from app.extensions import db

    project = db.session.get(Project, world["project"].id)
    elective = make_course(project, title="Elective", durations=(300,), is_required=False)
    client = app.test_client()
    auth = Auth(client)
    auth.login(persona)
    response = client.post(f"/projects/{project.id}/electives/{elective.id}", data={"csrf_token": auth.csrf()})
    assert response.status_code == status


def test_required_course_cannot_be_dropped(app, world):
    from app.courses.models import ProjectCourse
    from app.extensions import db
    from sqlalchemy import select

    link = db.session.execute(select(ProjectCourse)).scalars().first()
    client = app.test_client()
    auth = Auth(client)
    auth.login("enrolled")
    response = client.post(f"/projects/{link.project_id}/electives/{link.course_id}", data={"csrf_token": auth.csrf()})
    assert response.status_code == 400
