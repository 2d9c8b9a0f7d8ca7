"""A county admin reminds lagging learners from the lagging list of their area, at desktop and phone size."""
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.classrooms.test_subtree_reminders import area  # noqa: F401  (the fixture: the world of those tests)
from tests.classrooms.world import fast_hashing  # noqa: F401

SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 360, "height": 640}}


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
@pytest.mark.parametrize("size", sorted(SIZES))
def test_county_admin_reminds_one_then_all_lagging_learners(live_server, browser, page, area, size):  # noqa: F811
    people = area["people"]
    page.set_viewport_size(SIZES[size])
    sign_in(page, live_server, "ladmin")
    page.goto(f"{live_server.url}/projects/{area['project'].id}/lagging")
    rows = page.locator("[data-testid=lagging-row]")
    expect(rows).to_have_count(3)  # ann, bob (class A) and dan (school A2, no class); eve is county B's
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")

    page.locator(f"[data-testid=lagging-row][data-user-id='{people['ann'].id}'] [data-testid=remind-one]").click()
    expect(page.locator(".alert-success")).to_contain_text("已督促 1 名学员")

    page.locator("[data-testid=remind-all]").click()
    expect(page.locator(".alert-success")).to_contain_text("已督促 2 名学员")
    expect(page.locator(".alert-warning, .alert-info, .alert-danger").first).to_contain_text("今天已被督促过")  # ann

    learner = browser.new_context(viewport=SIZES[size]).new_page()  # ann on her own device
    sign_in(learner, live_server, "lann")
    learner.goto(live_server.url + "/notifications")
    expect(learner.locator("main")).to_contain_text("督促您")
    learner.context.close()
