"""Phones and old PCs: every learner page fits a 360 px screen (no sideways scrolling), also with long Chinese
titles; tables become stacked rows with their status and 详情 in view; pages work with JavaScript switched off;
the first sign-in of an imported teacher goes through 修改密码."""
import io
import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from tests.classrooms.world import fast_hashing, signed_in  # noqa: F401
from tests.conftest import DEFAULT_PASSWORD, bearer
from tests.tracking.conftest import Player

pytestmark = pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")

PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1366, "height": 768}
LONG_PROJECT = "2026年江南省中小学幼儿园教师信息技术应用能力提升工程2.0全员培训暨城关第一小学校本研修整校推进项目"
LONG_COURSE = "人工智能助力学科教学：从课堂观察、学情诊断到个性化作业设计的整体解决方案与优秀案例深度解析"
PHONE_AGENT = ("Mozilla/5.0 (Linux; Android 10; HarmonyOS; ELS-AN00 Build/HUAWEIELS-AN00; wv) AppleWebKit/537.36 "
               "(KHTML, like Gecko) Version/4.0 Chrome/99.0.4844.88 Mobile Safari/537.36 MicroMessenger/8.0.47.2560")
#: the innermost elements reaching past the window's right edge (to say what to fix)
WIDEST = """() => Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5
               && !Array.from(e.children).some(c => c.getBoundingClientRect().right > window.innerWidth + 0.5))
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


@pytest.fixture
def world(app, make_user, make_project, make_course, make_class, enroll, org_tree, clock, api_token):
    """A learner enrolled in a project with long Chinese titles, in a class with a tutor, who watched a lesson
    on a phone (its audit has sessions, windows and refusals); a site admin."""
    from app.accounts.service import do_assign_role

    project = make_project(LONG_PROJECT, required_hours=24)
    learner = make_user("learner2", org=org_tree["school_a1"], real_name="欧阳文静")
    for n in (10, 1):
        enroll(make_user(f"learner{n}", org=org_tree["school_a1"]), project)
    course = make_course(project, title=LONG_COURSE, durations=(45, 1320, 2710))
    make_course(project, title="选修：" + LONG_COURSE, durations=(600,), is_required=False)
    enroll(learner, project)
    cls = make_class(project, org_tree["school_a1"], "城关第一小学2026年信息技术应用能力提升工程第一研修班")
    do_assign_role(learner, "learner", class_=cls)
    tutor = make_user("tutor1", role="tutor", cls=cls, school=org_tree["school_a1"], real_name="司马相如")
    admin = make_user("admin1", role="site_admin")
    db.session.commit()
    lesson = course.modules[0].lessons[1]
    headers = {**bearer(api_token(learner)), "User-Agent": PHONE_AGENT}
    for _session in range(2):  # the second window takes over from the first
        player = Player(app.test_client(), clock, headers, project.id, lesson.id)
        player.open()
        player.play(90)
        player.beat(player.position + 400)  # a jump ahead
        player.play(30, start=False)
    return {"learner": learner, "tutor": tutor, "admin": admin, "project": project, "lesson": lesson, "class": cls,
            "course": course}


def sign_in_as(page, live_server, username: str, password: str = DEFAULT_PASSWORD) -> None:
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("[data-testid=login-submit]")
    expect(page).not_to_have_url(re.compile(r"/login"))


def assert_fits(page, path: str) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{path} scrolls sideways: {width[0]} px wide in a {width[1]} px window: " + str(
        page.evaluate(WIDEST))


def learner_pages(w) -> list[str]:
    p, lesson = w["project"].id, w["lesson"].id
    return ["/", f"/projects/{p}/progress", f"/projects/{p}/lessons/{lesson}/audit",
            f"/projects/{p}/lessons/{lesson}/play", "/cards/redeem", "/account/password"]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_learner_pages_never_scroll_sideways(live_server, page, world, viewport):
    page.set_viewport_size(viewport)
    for path in ("/login", "/register"):
        page.goto(live_server.url + path)
        assert_fits(page, path)
    sign_in_as(page, live_server, "learner2")
    for path in learner_pages(world):
        page.goto(live_server.url + path)
        expect(page.locator("h1").first).to_be_visible()
        assert_fits(page, path)


def test_progress_rows_stack_on_a_phone_with_status_and_details_in_view(live_server, page, world):
    page.set_viewport_size(PHONE)
    sign_in_as(page, live_server, "learner2")
    page.goto(live_server.url + f"/projects/{world['project'].id}/progress")
    row = page.locator("[data-testid=lesson-row]").nth(1)
    details = row.get_by_role("link", name="详情")
    status = row.locator(".badge")
    for element in (details, status):
        expect(element).to_be_visible()
        box = element.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    label = row.locator("td[data-label]").first.evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"时长"', label  # the column's name shown beside its value
    assert page.evaluate("() => getComputedStyle(document.querySelector('thead')).position") == "absolute"
    page.set_viewport_size(DESKTOP)
    assert page.evaluate("() => getComputedStyle(document.querySelector('thead')).position") != "absolute"

    page.set_viewport_size(PHONE)
    page.goto(live_server.url + f"/projects/{world['project'].id}/lessons/{world['lesson'].id}/audit")
    expect(page.locator("[data-testid=session]")).to_have_count(2)
    page.locator("[data-testid=session] details summary").first.click()
    expect(page.locator("[data-testid=windows]").first).to_be_visible()
    assert_fits(page, "audit with its windows open")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_staff_pages_do_not_scroll_sideways(live_server, page, world, viewport):
    page.set_viewport_size(viewport)
    p, c, cls = world["project"].id, world["course"].id, world["class"].id
    sign_in_as(page, live_server, "tutor1")
    for path in ("/classes", f"/classes/{cls}", f"/projects/{p}/learners/{world['learner'].id}/progress",
                 f"/classes/{cls}/learners", f"/classes/{cls}/dashboard", f"/classes/{cls}/group-sessions"):
        page.goto(live_server.url + path)
        assert_fits(page, path)
    page.click("[data-testid=logout]")
    sign_in_as(page, live_server, "admin1")
    for path in ("/admin/", "/admin/org-units", "/admin/users", "/admin/users/new", f"/admin/users/{world['learner'].id}",
                 "/admin/import", "/admin/projects", f"/admin/projects/{p}", f"/admin/projects/{p}/enrollments",
                 f"/admin/projects/{p}/classes", f"/admin/projects/{p}/cards", "/admin/courses", f"/admin/courses/{c}",
                 f"/classes/{cls}"):
        page.goto(live_server.url + path)
        assert_fits(page, path)


def test_a_learner_signs_in_studies_and_signs_out_without_javascript(live_server, browser, world):
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    try:
        sign_in_as(page, live_server, "learner2")
        expect(page.locator("h1")).to_have_text("我的学习")
        expect(page.locator("[data-testid=project]")).to_contain_text(LONG_PROJECT)
        page.get_by_role("link", name="我的进度").click()
        expect(page.locator("[data-testid=summary]")).to_be_visible()
        expect(page.locator("[data-testid=lesson-row]")).to_have_count(3)  # the elective is not chosen
        assert_fits(page, "progress")
        page.get_by_role("link", name="我的学习").first.click()
        expect(page.locator("h1")).to_have_text("我的学习")
        page.click("[data-testid=lang-en]")
        expect(page.locator("h1")).to_have_text("My learning")
        page.click("[data-testid=logout]")
        expect(page).to_have_url(re.compile(r"/login"))
        page.goto(live_server.url + "/")
        expect(page).to_have_url(re.compile(r"/login"))
    finally:
        context.close()


def test_first_sign_in_of_an_imported_teacher(live_server, page, app, fast_hashing, world, org_tree):
    client, token = signed_in(app, world["admin"])
    body = ("username,real_name,teacher_no,phone,school_code,subject,stage,password\n"
            "wang01,王芳,T001,,A1,数学,小学,\n").encode()
    response = client.post("/admin/import", data={"csrf_token": token, "project_id": str(world["project"].id),
                                                  "file": (io.BytesIO(body), "teachers.csv")})
    generated = re.search(r'<tr><td>wang01</td><td>[^<]*</td><td class="font-monospace">([^<]+)</td>',
                          response.get_data(as_text=True)).group(1)

    page.set_viewport_size(PHONE)
    sign_in_as(page, live_server, "wang01", generated)
    expect(page).to_have_url(re.compile(r"/account/password$"))
    expect(page.locator("[data-testid=password-reason]")).to_have_text("首次登录，请设置您自己的密码。")
    expect(page.locator("[data-testid=password-rules]")).to_contain_text("至少 8 个字符")
    assert_fits(page, "/account/password")
    page.get_by_role("link", name="我的学习").first.click()  # clicking away leads back
    expect(page).to_have_url(re.compile(r"/account/password$"))
    page.goto(live_server.url + f"/projects/{world['project'].id}/progress")
    expect(page).to_have_url(re.compile(r"/account/password$"))

    page.fill("input[name=current_password]", generated)
    page.fill("input[name=new_password]", "Wang-own-pass-1")
    page.fill("input[name=confirm]", "Wang-own-pass-1")
    page.click("[data-testid=password-submit]")
    expect(page.locator("h1")).to_have_text("我的学习")
    expect(page.locator("[data-testid=project]")).to_contain_text(LONG_PROJECT)
    page.click("[data-testid=logout]")
    sign_in_as(page, live_server, "wang01", "Wang-own-pass-1")
    expect(page.locator("h1")).to_have_text("我的学习")
