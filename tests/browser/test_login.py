"""A learner signs in with a real browser, sees the project and its lessons in Chinese, then in English."""
import re

import pytest
from playwright.sync_api import expect


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_learner_signs_in_and_switches_language(live_server, page, make_user, make_project, make_course, enroll, org_tree):
    learner = make_user("learner1", org=org_tree["school_a1"], real_name="学员01")
    project = make_project("2026年度中小学教师全员远程培训", required_hours=60)
    make_course(project, title="信息技术与课堂教学融合", durations=(45, 320, 150))
    enroll(learner, project)

    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("h1")).to_have_text("登录")
    page.fill("input[name=username]", "learner1")
    page.fill("input[name=password]", "wrong-password-1")
    page.click("[data-testid=login-submit]")
    expect(page.locator(".alert-danger")).to_contain_text("用户名或密码错误")

    page.fill("input[name=username]", "learner1")
    page.fill("input[name=password]", "Secret-pass-1")
    page.click("[data-testid=login-submit]")
    expect(page.locator("h1")).to_have_text("我的学习")
    expect(page.locator("[data-testid=project]")).to_contain_text("2026年度中小学教师全员远程培训")
    expect(page.locator("[data-testid=lesson]")).to_have_count(3)
    expect(page.locator("[data-testid=lesson]").first).to_contain_text("0:45")
    expect(page.locator("[data-testid=project]")).to_contain_text("必修")

    page.click("[data-testid=lang-en]")
    expect(page.locator("h1")).to_have_text("My learning")
    expect(page.locator("[data-testid=project]")).to_contain_text("Required")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.click("[data-testid=logout]")
    expect(page).to_have_url(re.compile(r"/login"))
