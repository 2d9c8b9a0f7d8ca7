"""Where each role lands after signing in, the role switcher, the navigation, and the figures of an admin's home."""
import re

import pytest

from app.extensions import db
from app.tracking.models import LessonProgress
from tests.classrooms.world import fast_hashing, page_csrf  # noqa: F401
from tests.conftest import Auth

HOUR_MS = 45 * 60 * 1000


@pytest.fixture
def people(org_tree, make_user, make_project, make_course, make_class, enroll):
    project = make_project("Home project", org=org_tree["county_a"], required_hours=2)
    make_course(project, durations=(3600, 3600))
    cls = make_class(project, org_tree["school_a1"], "Home class")
    users = {
        "learner": make_user("h_learner", role="learner", org=org_tree["school_a1"], cls=cls),
        "tutor": make_user("h_tutor", role="tutor", cls=cls, school=org_tree["school_a1"]),
        "manager": make_user("h_manager", role="class_manager", cls=cls, school=org_tree["school_a1"]),
        "expert": make_user("h_expert", role="expert", org=org_tree["county_a"]),
        "org_admin": make_user("h_admin", role="org_admin", org=org_tree["county_a"]),
        "site_admin": make_user("h_site", role="site_admin"),
        "visitor": make_user("h_visitor", org=org_tree["school_b1"]),
    }
    enroll(users["learner"], project)
    # a teacher who is a learner in the project and the tutor of the class
    both = make_user("h_both", role="tutor", cls=cls, school=org_tree["school_a1"])
    enroll(both, project)
    users["both"] = both
    return {"project": project, "class": cls, **users}


LANDS_ON = [("learner", "/learn", "我的学习"), ("tutor", "/classes", "我的班级"), ("manager", "/classes", "我的班级"),
            ("expert", "/expert", "我的课程"), ("org_admin", "/admin/", "管理后台"), ("site_admin", "/admin/", "管理后台"),
            ("visitor", "/learn", "我的学习")]


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
@pytest.mark.parametrize("who,path,heading", LANDS_ON)
def test_each_role_lands_on_its_home_after_sign_in(app, people, who, path, heading):
    client = app.test_client()
    response = Auth(client).login(people[who].username)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"] == path
    page = client.get(path).get_data(as_text=True)
    assert f">{heading}</h1>" in page
    nav = page[page.index("<nav"):page.index("</nav>")]
    assert 'data-testid="role-switcher"' not in nav  # one role: nothing to switch
    assert re.search(rf'data-testid="nav-home">{heading}<', nav)
    assert ("管理后台" in nav) is (who in ("org_admin", "site_admin"))


def test_a_teacher_with_two_roles_switches_without_signing_out(app, people):
    client = app.test_client()
    Auth(client).login("h_both")
    assert client.get("/").headers["Location"] == "/classes"  # class staff first
    page = client.get("/classes").get_data(as_text=True)
    assert 'data-testid="role-switcher"' in page and 'data-testid="switch-learner"' in page
    csrf = page_csrf(client, "/classes")
    response = client.post("/role", data={"role": "learner", "csrf_token": csrf})
    assert response.status_code == 302 and response.headers["Location"] == "/learn"
    assert client.get("/").headers["Location"] == "/learn"  # kept in the session
    learn = client.get("/learn").get_data(as_text=True)
    assert "Home project" in learn and 'data-testid="switch-class_staff"' in learn
    assert client.post("/role", data={"role": "org_admin", "csrf_token": csrf}).status_code == 403
    assert client.get("/").headers["Location"] == "/learn"  # a refused switch changes nothing
    client.post("/role", data={"role": "class_staff", "csrf_token": csrf})
    assert client.get("/").headers["Location"] == "/classes"
    Auth(client).logout()
    Auth(client).login("h_both")
    assert client.get("/").headers["Location"] == "/classes"  # a new sign-in starts from the first home


def test_admin_home_figures_count_the_admins_own_teachers(app, people, make_user, enroll, org_tree):
    project = people["project"]
    lessons = project.course_links[0].course.modules[0].lessons
    # learner: 2 hours (complete); h_both: half an hour; an enrolled teacher of county B: 2 hours, not county A's
    outsider = make_user("h_outsider", org=org_tree["school_b1"])
    enroll(outsider, project)
    for user, ms in [(people["learner"], HOUR_MS), (people["both"], HOUR_MS // 4), (outsider, HOUR_MS)]:
        for lesson in lessons:
            db.session.add(LessonProgress(user_id=user.id, project_id=project.id, lesson_id=lesson.id, credited_ms=ms))
    db.session.commit()

    def row(username: str) -> dict:
        client = app.test_client()
        Auth(client).login(username)
        html = client.get("/admin/").get_data(as_text=True)
        match = re.search(rf'data-project-id="{project.id}">(.*?)</tr>', html, re.S)
        assert match, html[:500]
        return {key: value.strip() for key, value in re.findall(r'data-testid="(\w+)">([^<]*)<', match.group(1))}

    county = row("h_admin")
    assert (county["enrolled"], county["started"], county["credited"], county["complete"]) == ("2", "2", "2.5", "1 (50.0%)")
    assert county["mean"] == "1.2"
    site = row("h_site")
    assert (site["enrolled"], site["started"], site["credited"], site["complete"]) == ("3", "3", "4.5", "2 (66.7%)")


def test_admin_home_leads_to_the_figures_of_each_project(app, people):
    """The admin home links each project's figures and the statistics page, and the links open them."""
    project = people["project"]
    client = app.test_client()
    Auth(client).login("h_admin")
    html = client.get("/admin/").get_data(as_text=True)
    row = re.search(rf'data-project-id="{project.id}">(.*?)</tr>', html, re.S).group(1)
    link = re.search(r'data-testid="project-report" href="([^"]+)"', row).group(1)
    dashboard = client.get(link, follow_redirects=True)
    assert dashboard.status_code == 200 and project.title in dashboard.get_data(as_text=True)
    statistics = re.search(r'data-testid="task-reports" href="([^"]+)"', html).group(1)
    assert client.get(statistics).status_code == 200
