"""A learner sees the unread badge, opens the notifications, clicks one and lands on its page; the badge is gone."""
import pytest
from playwright.sync_api import expect

from app.extensions import db
from tests.browser.conftest import sign_in

SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 360, "height": 640}}


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
@pytest.mark.parametrize("size", sorted(SIZES))
def test_learner_opens_a_notification(live_server, page, make_user, size):
    from app.notifications.service import notify

    learner = make_user("bell_learner")
    other = make_user("bell_other")
    notify([learner.id], "system", "欢迎使用学时", "/notifications/?welcome=1")
    notify([learner.id], "homework_graded", "你的作业《课堂观察》已批改", "/account/password")
    notify([other.id], "system", "别人的通知", "/learn")
    db.session.commit()

    page.set_viewport_size(SIZES[size])
    sign_in(page, live_server, "bell_learner")
    bell = page.locator("[data-testid=nav-notifications]")
    expect(page.locator("[data-testid=unread-badge]")).to_have_text("2")
    bell.click()
    expect(page.locator("h1")).to_have_text("通知")
    items = page.locator("[data-testid=notifications] li")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("作业已批改")  # the newest first, with its kind's label
    expect(items.first).to_contain_text("未读")
    expect(page.locator("[data-testid=notifications]")).not_to_contain_text("别人的通知")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), "overflows"

    items.first.locator("button").click()
    expect(page).to_have_url(live_server.url + "/account/password")
    expect(page.locator("[data-testid=unread-badge]")).to_have_text("1")

    page.locator("[data-testid=nav-notifications]").click()
    page.locator("[data-testid=notifications] li", has_text="欢迎使用学时").locator("button").click()
    expect(page).to_have_url(live_server.url + "/notifications/?welcome=1")
    expect(page.locator("[data-testid=unread-badge]")).to_have_count(0)
    expect(page.locator("[data-testid=unread-mark]")).to_have_count(0)
    expect(page.locator("[data-testid=read-all]")).to_have_count(0)
