"""Wording and polish: no raw code (site_admin, card, video, done) as the text of anything on the pages people see;
lists of people in natural order (learner2 before learner10); the favicon."""
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from app.accounts.models import ORG_KINDS, ROLES, User
from app.accounts.rules import natural_key
from app.courses.models import LESSON_KINDS
from app.extensions import db
from app.media.models import ASSET_KINDS, JOB_STATES, MediaAsset
from tests.classrooms.world import fast_hashing, signed_in  # noqa: F401

pytestmark = pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")

ENROLLMENT_SOURCES = ("admin", "import", "card", "self")
CODES = set(ROLES) | set(LESSON_KINDS) | set(ASSET_KINDS) | set(JOB_STATES) | set(ENROLLMENT_SOURCES) | set(ORG_KINDS)


class _Texts(HTMLParser):
    """The text of every element of the page body (scripts and styles aside)."""

    def __init__(self):
        super().__init__()
        self.texts: list[tuple[str, str]] = []
        self._stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ("br", "img", "input", "meta", "link", "hr"):
            self._stack.append(tag)

    def handle_endtag(self, tag):
        while self._stack and self._stack.pop() != tag:
            pass

    def handle_data(self, data):
        if data.strip() and not (set(self._stack) & {"script", "style", "title"}):
            self.texts.append((self._stack[-1] if self._stack else "", data.strip()))


def raw_codes(html: str) -> list[tuple[str, str]]:
    """(tag, text) of each element whose text is a code, or a list of codes ("learner, tutor")."""
    parser = _Texts()
    parser.feed(html)
    return [(tag, text) for tag, text in parser.texts
            if text in CODES or all(part.strip() in CODES for part in re.split(r"[,·/]", text))]


@pytest.fixture
def world(app, fast_hashing, make_user, make_project, make_course, make_class, org_tree):
    from app.accounts.service import do_assign_role
    from app.courses.service import do_enroll

    project = make_project("春季培训", org=org_tree["county_a"])
    course = make_course(project, title="课程", durations=(600, 300), org=org_tree["county_a"])
    cls = make_class(project, org_tree["school_a1"], "一班")
    people = {role: make_user(f"{role}1", role=role, org=org_tree["county_a"] if role in ("org_admin", "expert") else None,
                              cls=cls, school=org_tree["school_a1"]) for role in ROLES if role != "site_admin"}
    admin = make_user("admin1", role="site_admin")
    for role, user in people.items():  # one user holding a second role, listed in one cell
        if role == "tutor":
            do_assign_role(user, "class_manager", class_=cls)
    for source, name in zip(ENROLLMENT_SOURCES, ("e1", "e2", "e3", "e4")):
        do_enroll(make_user(name, school=org_tree["school_a1"]), project, source=source)
    for kind, state in zip(ASSET_KINDS, JOB_STATES):
        db.session.add(MediaAsset(uid=f"{kind}{state}".ljust(32, "0")[:32], course_id=course.id, kind=kind, state=state,
                                  source_key=f"assets/{kind}", source_filename=f"{kind}.mp4"))
    db.session.commit()
    return {"admin": admin, "project": project, "course": course, "class": cls, "people": people,
            "lesson": course.modules[0].lessons[0]}


def test_no_raw_code_on_the_admin_and_staff_pages(app, world):
    client, _token = signed_in(app, world["admin"])
    p, c, cls = world["project"].id, world["course"].id, world["class"].id
    lesson = world["lesson"].id
    tutor = world["people"]["tutor"].id
    pages = ["/admin/", "/admin/org-units", "/admin/users", "/admin/users?status=all", f"/admin/users/{tutor}",
             "/admin/users/new", "/admin/import", "/admin/projects", f"/admin/projects/{p}",
             f"/admin/projects/{p}/enrollments", f"/admin/projects/{p}/classes", f"/admin/projects/{p}/cards",
             "/admin/courses", f"/admin/courses/{c}", f"/admin/lessons/{lesson}", f"/courses/{c}/media",
             f"/classes/{cls}", "/admin/org-units/new"]
    seen = set()
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert not raw_codes(html), f"{path} shows raw codes: {raw_codes(html)}"
        seen.add(html)
    everything = "".join(seen)
    for word in ("辅导教师", "班主任", "课程专家", "系统管理员", "学习卡", "批量导入", "视频", "音频", "文档", "已就绪", "失败"):
        assert word in everything, word


def test_the_checker_sees_a_raw_code():
    assert raw_codes("<table><tr><td>site_admin</td><td><span>learner, tutor</span></td></tr></table>") == [
        ("td", "site_admin"), ("span", "learner, tutor")]
    assert raw_codes("<p>学员 admin1</p>") == []


def test_label_filter_translates_each_kind_of_code(app):
    from app.common.labels import label

    with app.test_request_context("/"):
        assert label("site_admin", "role") == "系统管理员"
        assert label("card", "enrollment_source") == "学习卡"
        assert label("video", "media_kind") == "视频"
        assert label("done", "job_state") == "已就绪"
        assert label(None, "role") == ""
        assert label("unknown", "role") == "unknown"  # never invents a meaning


def test_natural_key_orders_numbers_by_value():
    names = ["learner10", "learner2", "Learner1", "learner", "learner02b", "t10a2", "t10a10", "t9"]
    assert sorted(names, key=natural_key) == ["learner", "Learner1", "learner2", "learner02b", "learner10",
                                              "t9", "t10a2", "t10a10"]


def test_lists_of_people_are_in_natural_order(app, fast_hashing, make_user, make_project, make_class, org_tree):
    from app.accounts.service import do_assign_role
    from app.courses.service import do_enroll

    project = make_project("春季培训", org=org_tree["county_a"])
    cls = make_class(project, org_tree["school_a1"], "一班", capacity=50)
    admin = make_user("admin", role="site_admin")
    for n in (10, 2, 1, 21, 3):
        user = make_user(f"learner{n}", school=org_tree["school_a1"])
        do_enroll(user, project)
        do_assign_role(user, "learner", class_=cls)
    db.session.commit()
    client, _token = signed_in(app, admin)
    expected = ["learner1", "learner2", "learner3", "learner10", "learner21"]

    def order(path: str) -> list[str]:
        html = client.get(path).get_data(as_text=True)
        return [name for name in re.findall(r"\b(learner\d+)\b", html) if name in expected]

    assert order("/admin/users?q=learner") == expected
    assert order(f"/admin/projects/{project.id}/enrollments")[:5] == expected
    assert order(f"/classes/{cls.id}")[:5] == expected
    # the stored key follows a renamed user
    user = db.session.execute(select(User).where(User.username == "learner21")).scalar_one()
    user.username = "learner0"
    db.session.commit()
    html = client.get("/admin/users?q=learner").get_data(as_text=True)
    assert re.findall(r"\b(learner\d+)\b", html)[:2] == ["learner0", "learner1"]


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.data[:4] == b"\x00\x00\x01\x00"
    assert client.get("/static/favicon.svg").status_code == 200
    assert 'rel="icon"' in client.get("/login").get_data(as_text=True)
