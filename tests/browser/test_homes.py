"""Staff sign in with a real browser and land on their homes, at desktop and phone sizes; a two-role teacher switches."""
import re
from datetime import date, datetime, timezone

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.tracking.models import LessonProgress
from tests.browser.conftest import sign_in

SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 360, "height": 640}}
HOUR_MS = 45 * 60 * 1000


@pytest.fixture
def staff_world(clock, org_tree, make_user, make_project, make_course, make_class, enroll):
    clock.set(datetime(2026, 1, 5, 4, 0, tzinfo=timezone.utc))
    project = make_project("县级教师培训", org=org_tree["county_a"], starts_on=date(2026, 1, 1), ends_on=date(2026, 1, 10),
                           required_hours=10)
    lesson = make_course(project, durations=(3600,)).modules[0].lessons[0]
    other = make_project("外县培训", org=org_tree["county_b"])
    cls = make_class(project, org_tree["school_a1"], "一班")
    make_user("tutor", role="tutor", cls=cls, school=org_tree["school_a1"])
    make_user("county_admin", role="org_admin", org=org_tree["county_a"])
    both = make_user("both", role="tutor", cls=cls, school=org_tree["school_a1"])
    enroll(both, project)
    for i, hours in enumerate((0, 3, 7), 1):
        learner = make_user(f"learner{i}", role="learner", org=org_tree["school_a1"], cls=cls, real_name=f"学员{i}")
        enroll(learner, project)
        if hours:
            db.session.add(LessonProgress(user_id=learner.id, project_id=project.id, lesson_id=lesson.id,
                                          credited_ms=hours * HOUR_MS))
    db.session.commit()
    return {"project": project, "other": other}


def _fits_width(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
@pytest.mark.parametrize("size", SIZES)
def test_tutor_lands_on_the_figures_of_their_class(live_server, page, staff_world, size):
    page.set_viewport_size(SIZES[size])
    sign_in(page, live_server, "tutor")
    expect(page).to_have_url(re.compile(r"/classes$"))
    expect(page.locator("h1")).to_have_text("我的班级")
    card = page.locator("[data-testid=class-home]")
    expect(card).to_contain_text("一班")
    expect(card.locator("[data-testid=figure-learners]")).to_have_text("3")
    expect(card.locator("[data-testid=figure-started]")).to_have_text("2")
    expect(card.locator("[data-testid=figure-pace]")).to_have_text("5.0")
    expect(card.locator("[data-testid=laggard]").first).to_contain_text("学员1")
    expect(card.locator("[data-testid=waiting]")).to_contain_text("学员1")
    assert _fits_width(page)


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
@pytest.mark.parametrize("size", SIZES)
def test_org_admin_lands_on_the_projects_of_their_area(live_server, page, staff_world, size):
    page.set_viewport_size(SIZES[size])
    sign_in(page, live_server, "county_admin")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    rows = page.locator("[data-testid=project-row]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("县级教师培训")
    expect(rows.first.locator("[data-testid=enrolled]")).to_have_text("4")
    expect(rows.first.locator("[data-testid=credited]")).to_have_text("10.0")
    expect(page.locator("[data-testid=project-figures]")).not_to_contain_text("外县培训")


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
@pytest.mark.parametrize("size", SIZES)
def test_a_tutor_who_also_learns_switches_role_in_the_navigation(live_server, page, staff_world, size):
    page.set_viewport_size(SIZES[size])
    sign_in(page, live_server, "both")
    expect(page).to_have_url(re.compile(r"/classes$"))
    page.click("[data-testid=current-role]")  # the menu is always expanded (no JavaScript needed)
    page.click("[data-testid=switch-learner]")
    expect(page).to_have_url(re.compile(r"/learn$"))
    expect(page.locator("[data-testid=project]")).to_contain_text("县级教师培训")
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/learn$"))  # the chosen role is kept
    assert _fits_width(page)
