"""Elective confirmation in a real browser, at desktop and phone size: a teacher chooses, the school admin refuses
one with a reason and confirms the rest in bulk, the teacher sees the decision."""
import pytest
from playwright.sync_api import expect

from app.courses.models import ElectiveChoice
from app.extensions import db
from tests.browser.conftest import sign_in

SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 360, "height": 640}}


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
@pytest.mark.parametrize("size", sorted(SIZES))
def test_admin_confirms_in_bulk_and_the_teacher_sees_it(live_server, page, size, make_user, make_project, make_course,
                                                        enroll, org_tree):
    page.set_viewport_size(SIZES[size])
    project = make_project("2026年度全员培训", org=org_tree["county_a"], is_elective_confirmation_required=True)
    make_course(project, "师德修养", durations=(600,), org=org_tree["county_a"])
    elective = make_course(project, "信息技术应用（选修）", durations=(300,), org=org_tree["county_a"], is_required=False)
    teachers = [make_user(f"teacher{n}", org=org_tree["school_a1"], real_name=f"教师{n}") for n in (1, 2, 3)]
    for teacher in teachers:
        enroll(teacher, project)
    for teacher in teachers[1:]:
        db.session.add(ElectiveChoice(project_id=project.id, user_id=teacher.id, course_id=elective.id))
    db.session.commit()
    make_user("school_admin", role="org_admin", org=org_tree["school_a1"], real_name="李校长")

    # The teacher chooses the elective: it waits for the school.
    sign_in(page, live_server, "teacher1")
    page.get_by_role("button", name="选修此课程").click()
    badge = page.locator("[data-testid=elective-status]")
    expect(badge).to_have_text("待确认")
    _no_sideways_scroll(page)

    # The school admin finds it from the project's page, refuses one with a reason, confirms the others in bulk.
    page.context.clear_cookies()
    sign_in(page, live_server, "school_admin")
    page.goto(f"{live_server.url}/admin/projects/{project.id}")
    link = page.locator("[data-testid=electives-link]")
    expect(link).to_contain_text("3 项待确认")
    link.click()
    expect(page.locator("h1")).to_have_text("选修课确认")
    expect(page.locator("[data-testid=choice]")).to_have_count(3)
    _no_sideways_scroll(page)
    third = page.locator("[data-testid=choice]", has_text="教师3")
    third.locator("[data-testid=refuse-open]").click()
    third.locator("[data-testid=refuse-reason]").fill("本学期名额已满")
    third.locator("[data-testid=refuse-one]").click()
    expect(page.locator(".alert-success")).to_contain_text("1 项选修课未通过")
    expect(page.locator("[data-testid=choice-check]")).to_have_count(2)
    page.check("[data-testid=select-all]")
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=choice-check]')].every(b => b.checked)")
    page.click("[data-testid=bulk-confirm]")
    expect(page.locator(".alert-success")).to_contain_text("已确认 2 项选修课")
    expect(page.locator("[data-testid=pending-count]")).to_have_text("0")
    expect(page.locator("[data-testid=no-choices]")).to_be_visible()  # nothing left awaiting
    page.locator("[data-testid=status-filter] a", has_text="全部").click()
    expect(page.locator("[data-testid=elective-status]")).to_have_text(["已确认", "已确认", "未通过"])
    expect(page.locator("[data-testid=refusal-reason]")).to_contain_text("本学期名额已满")
    _no_sideways_scroll(page)

    # The teacher is told on 我的学习, and the lessons are open.
    page.context.clear_cookies()
    sign_in(page, live_server, "teacher1")
    expect(page.locator("[data-testid=elective-notice]")).to_contain_text("学校已确认")
    expect(page.locator("[data-testid=elective-status]")).to_have_text("已确认")
    expect(page.locator("a", has_text="信息技术应用（选修） lesson 1")).to_be_visible()
    _no_sideways_scroll(page)
    page.goto(f"{live_server.url}/projects/{project.id}/progress")
    expect(page.locator("[data-testid=my-elective]")).to_contain_text("已确认")

    # The refused teacher reads the reason and may choose again.
    page.context.clear_cookies()
    sign_in(page, live_server, "teacher3")
    expect(page.locator("[data-testid=elective-notice]")).to_contain_text("本学期名额已满")
    expect(page.locator("[data-testid=elective-status]")).to_have_text("未通过")
    page.click("[data-testid=choose-again]")
    expect(page.locator("[data-testid=elective-status]")).to_have_text("待确认")
    _no_sideways_scroll(page)
