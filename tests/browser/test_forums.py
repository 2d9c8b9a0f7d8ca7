"""The forums in a real browser, at desktop and phone size: a learner posts, the tutor replies quoting the post
and marks it excellent, the learner asks a question, the expert answers it and the learner accepts the answer."""
import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.forums import service
from tests.browser.conftest import sign_in

SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 360, "height": 640}}


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
@pytest.mark.parametrize("size", sorted(SIZES))
def test_post_reply_quote_excellent_and_answer(live_server, page, size, make_user, make_project, make_course,
                                               make_class, enroll, org_tree):
    page.set_viewport_size(SIZES[size])
    project = make_project("2026年度全员培训", org=org_tree["county_a"])
    make_course(project, "课堂教学设计", org=org_tree["county_a"])
    cls = make_class(project, org_tree["school_a1"], "东湖一班")
    learner = make_user("learner", role="learner", cls=cls, org=org_tree["school_a1"], real_name="张老师")
    enroll(learner, project)
    make_user("tutor", role="tutor", cls=cls, school=org_tree["school_a1"], real_name="王辅导")
    make_user("expert", role="expert", org=org_tree["county_a"], real_name="李专家")
    service.ensure_boards(project)
    db.session.commit()

    # The learner opens a topic on the class board.
    sign_in(page, live_server, "learner")
    page.click("[data-testid=nav-forums]")
    page.get_by_role("link", name="2026年度全员培训").click()
    page.locator("[data-testid=board][data-board-kind=class]").click()
    page.fill("input[name=title]", "第一次研讨：分组合作")
    page.fill("textarea[name=body]", "我在课堂上尝试了**分组合作**，效果不错。")
    page.click("[data-testid=post-topic]")
    expect(page.locator("[data-testid=topic-title]")).to_have_text("第一次研讨：分组合作")
    expect(page.locator("[data-testid=post-body] strong")).to_have_text("分组合作")
    _no_sideways_scroll(page)
    topic_url = page.url

    # The tutor quotes it in a reply and marks the learner's post excellent.
    page.context.clear_cookies()
    sign_in(page, live_server, "tutor")
    page.goto(topic_url)
    page.locator("[data-testid=post]").first.locator("[data-testid=quote]").click()
    expect(page.locator("[data-testid=quoting]")).to_contain_text("张老师")
    page.fill("textarea[name=body]", "很好的尝试，下次可以记录每组的讨论成果。")
    page.click("[data-testid=send-reply]")
    reply = page.locator("[data-testid=post]").nth(1)
    expect(reply.locator("blockquote")).to_contain_text("张老师")
    expect(reply.locator("[data-testid=post-body]")).to_contain_text("记录每组的讨论成果")
    page.locator("[data-testid=post]").first.locator("[data-testid=mark-excellent]").click()
    expect(page.locator("[data-testid=post]").first.locator("[data-testid=post-excellent]")).to_be_visible()
    _no_sideways_scroll(page)

    # The learner asks a question on the course's Q&A board.
    page.context.clear_cookies()
    sign_in(page, live_server, "learner")
    page.goto(topic_url)
    expect(page.locator("[data-testid=post]").first.locator("[data-testid=post-excellent]")).to_be_visible()
    page.goto(f"{live_server.url}/projects/{project.id}/forums")
    expect(page.locator("[data-testid=my-points]")).to_contain_text("5")  # topic 2 + excellent 3
    page.locator("[data-testid=board][data-board-kind=qa]").click()
    page.fill("input[name=title]", "教学设计模板在哪里下载？")
    page.fill("textarea[name=body]", "请问专家，课程要求的教学设计模板在哪里可以找到？")
    page.click("[data-testid=post-topic]")
    question_url = page.url

    # The expert finds it in the queue of unanswered questions and answers it.
    page.context.clear_cookies()
    sign_in(page, live_server, "expert")
    page.goto(f"{live_server.url}/expert")
    page.click("[data-testid=question-queue]")
    page.get_by_role("link", name="教学设计模板在哪里下载？").click()
    page.fill("textarea[name=body]", "模板在课程的学员手册第 3 页。")
    page.click("[data-testid=send-reply]")
    expect(page.locator("[data-testid=topic-answered]")).to_be_visible()
    _no_sideways_scroll(page)

    # The asker accepts the answer.
    page.context.clear_cookies()
    sign_in(page, live_server, "learner")
    page.goto(question_url)
    page.locator("[data-testid=accept]").click()
    expect(page.locator("[data-testid=post]").nth(1).locator("[data-testid=accepted]")).to_be_visible()
    _no_sideways_scroll(page)
