"""A learner and a tutor go through the homework cycle in a real browser, on a desktop and a 360 px phone:
submit with a Chinese file name → return for revision → resubmit → grade (with the side-by-side) → recommend."""
import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from tests.browser.conftest import sign_in
from tests.classrooms.world import fast_hashing  # noqa: F401  (a fixture)
from tests.homework.conftest import PDF, hw  # noqa: F401  (the fixture)

SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 360, "height": 640}}


def _fits_width(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def _as(page, context, live_server, username):
    context.clear_cookies()
    sign_in(page, live_server, username)


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
@pytest.mark.parametrize("size", sorted(SIZES))
def test_submit_return_resubmit_grade_recommend(live_server, page, context, hw, make_user, enroll, size, tmp_path):  # noqa: F811
    from app.accounts.service import do_assign_role
    from app.classrooms.models import Class_
    from app.courses.models import Project

    newcomer = make_user("p_newcomer", real_name="赵老师", teacher_no="T-009")
    enroll(newcomer, db.session.get(Project, hw["project"]))
    do_assign_role(newcomer, "learner", class_=db.session.get(Class_, hw["class_a2"]))
    db.session.commit()
    page.set_viewport_size(SIZES[size])
    assignment_url = f"{live_server.url}/homework/{hw['assignment']}"

    # the learner submits text and a file with a Chinese name
    _as(page, context, live_server, "p_newcomer")
    page.goto(f"{live_server.url}/projects/{hw['project']}/homework")
    page.locator("[data-testid=assignment]").first.click()
    expect(page.locator("[data-testid=instructions] strong")).to_have_text("教学反思")
    page.fill("#answer-text", "第一稿：我的教学反思。")
    page.set_input_files("[data-testid=file-input]", files=[{"name": "教学反思.pdf", "mimeType": "application/pdf",
                                                             "buffer": PDF}])
    page.click("[data-testid=submit]")
    expect(page.locator("[data-testid=my-homework] [data-testid=state]").first).to_have_attribute("data-state", "submitted")
    expect(page.locator("[data-testid=versions]")).to_contain_text("教学反思.pdf")
    assert _fits_width(page), "the assignment page overflows the screen"

    # the tutor of the class returns it for revision
    _as(page, context, live_server, "p_tutor2")
    page.goto(f"{live_server.url}/homework/queue")
    page.locator("[data-testid=queue-item]", has_text="赵老师").click()
    expect(page.locator("[data-testid=answer-text]")).to_have_text("第一稿：我的教学反思。")
    page.fill("#reason", "请补充一个课堂实例。")
    page.click("[data-testid=return-button]")
    expect(page.locator("h1 [data-testid=state]")).to_have_attribute("data-state", "returned")
    assert _fits_width(page), "the grading page overflows the screen"

    # the learner reads the reason and hands in a second version
    _as(page, context, live_server, "p_newcomer")
    page.goto(assignment_url)
    expect(page.locator("[data-testid=return-reason]")).to_contain_text("请补充一个课堂实例。")
    page.fill("#answer-text", "第二稿：我的教学反思。\n补充了课堂实例。")
    page.click("[data-testid=submit]")
    expect(page.locator("[data-testid=version]")).to_have_count(2)

    # the tutor sees the change side by side, grades and recommends
    _as(page, context, live_server, "p_tutor2")
    page.goto(f"{live_server.url}/homework/queue")
    page.locator("[data-testid=queue-item]", has_text="赵老师").click()
    expect(page.locator("[data-testid=diff]")).to_contain_text("补充了课堂实例。")
    page.fill("#score", "92")
    page.fill("#comment", "反思深入，实例恰当。")
    page.click("[data-testid=grade-button]")
    expect(page.locator("[data-testid=grade]")).to_contain_text("92")
    page.click("[data-testid=recommend-button]")
    expect(page.locator("[data-testid=excellent-badge]")).to_be_visible()
    # keyboard: k goes to the previous submission of the class's queue (李老师's came first), j back again
    here = page.url
    previous = page.locator("[data-testid=submission-page]").get_attribute("data-prev-url")
    assert previous
    page.locator("h1").click()
    page.keyboard.press("k")
    expect(page).to_have_url(re.compile(re.escape(previous) + "$"))
    expect(page.locator("h1")).to_contain_text("李老师")
    page.locator("h1").click()
    page.keyboard.press("j")
    expect(page).to_have_url(here)

    # the learner sees the grade, the comment and the recommendation, and downloads the file by its Chinese name
    _as(page, context, live_server, "p_newcomer")
    page.goto(assignment_url)
    expect(page.locator("[data-testid=my-grade]")).to_contain_text("92")
    expect(page.locator("[data-testid=my-grade]")).to_contain_text("反思深入，实例恰当。")
    expect(page.locator("[data-testid=excellent]")).to_contain_text("赵老师")
    with page.expect_download() as info:
        page.locator("[data-testid=version] [data-testid=file-link]").first.click()
    assert info.value.suggested_filename == "教学反思.pdf"
    target = tmp_path / "f.pdf"
    info.value.save_as(target)
    assert target.read_bytes() == PDF
    assert _fits_width(page)

    # a classmate sees the excellent work
    _as(page, context, live_server, "p_learner2")
    page.goto(assignment_url)
    expect(page.locator("[data-testid=excellent]")).to_contain_text("赵老师")
