"""An org admin opens the statistics in a real browser, drills down to a school and a learner, downloads the export."""
import re

import openpyxl
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.reports.conftest import studied  # noqa: F401  (the fixture)

SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 360, "height": 640}}


def _fits_width(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
@pytest.mark.parametrize("size", sorted(SIZES))
def test_admin_drills_down_and_downloads_the_hours(live_server, page, studied, make_user, size, tmp_path):  # noqa: F811
    make_user("prov_admin", role="org_admin", org=studied.tree["province"])
    page.set_viewport_size(SIZES[size])
    sign_in(page, live_server, "prov_admin")
    page.goto(live_server.url + "/reports/")
    expect(page.locator("h1")).to_have_text("统计")
    page.locator("[data-testid=report-projects] a").first.click()
    expect(page.locator("[data-testid=figure-enrolled]")).to_have_text("6")
    expect(page.locator("[data-testid=figure-completed]")).to_have_text("2")
    expect(page.locator("[data-testid=children-chart]")).to_be_visible()
    expect(page.locator("[data-testid=days-table] tbody tr")).to_have_count(30)
    # the charts' words stay readable at phone size (an SVG scaled to 330 px shrank them to 6-7 px)
    name_px = page.locator("[data-testid=children-chart] .xs-hbar-name").first.evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)")
    day_label_px = page.locator("[data-testid=days-chart] text").first.evaluate("e => e.getBoundingClientRect().height")
    assert name_px >= 12 and day_label_px >= 9, (name_px, day_label_px)
    assert _fits_width(page), "the dashboard overflows the screen"

    page.locator("[data-testid=drill]", has_text="City").click()
    page.locator("[data-testid=drill]", has_text="County A").click()
    expect(page.locator("h1")).to_contain_text("County A")
    expect(page.locator("[data-testid=figure-enrolled]")).to_have_text("4")
    expect(page.locator("[data-testid=children-table]")).to_contain_text("School A1")
    expect(page.locator("[data-testid=report-trail]")).to_contain_text("City")
    assert _fits_width(page)

    page.locator("[data-testid=figure-not_started]").click()
    expect(page.locator("[data-testid=learners]")).to_contain_text("=cal")
    expect(page.locator("[data-testid=learner-count]")).to_have_text("1")
    page.locator("[data-testid=status-completed]").click()
    expect(page.locator("[data-testid=learners]")).to_contain_text("ann")
    page.locator("[data-testid=learner-progress]").first.click()
    expect(page).to_have_url(re.compile(rf"/learners/{studied.learners['ann'].id}/progress"))
    # the way back leads to the statistics, not to the admin's own learning
    expect(page.locator(".breadcrumb a").first).to_have_attribute("href", "/reports/")

    page.go_back()
    page.locator("[data-testid=report-trail] a", has_text="County A").click()
    with page.expect_download() as info:
        page.locator("[data-testid=export-xlsx]").click()
    target = tmp_path / "hours.xlsx"
    info.value.save_as(target)
    rows = list(openpyxl.load_workbook(target, read_only=True).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("姓名", "教师编号", "手机") and len(rows) == 5  # county A's four learners
    assert {row[3] for row in rows[1:]} == {"School A1", "School A2"}
