"""The document reader in a real Chromium, at desktop and phone size: pages render with the vendored pdf.js, page
turning and zoom work, reading is credited by the reading clock (R14), and the progress page shows pages viewed."""
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.extensions import db
from tests.browser.conftest import sign_in
from tests.tracking.test_documents import make_pdf

pytestmark = pytest.mark.browser

PAGES = 6


@pytest.fixture
def handbook(app, org_tree, make_user, make_project, make_course, enroll):
    """A project whose course holds one 6-page PDF handbook lesson credited 120 s."""
    key = "demo/browser-handbook.pdf"
    make_pdf(Path(app.config["MEDIA_ROOT"]) / key, PAGES)
    learner = make_user("learner1", org=org_tree["school_a1"])
    project = make_project("Reading project", is_presence_check_enabled=False)
    course = make_course(project, title="Handbook course", durations=(120,), kind="document")
    lesson = course.modules[0].lessons[0]
    lesson.media_key = key
    db.session.commit()
    enroll(learner, project)
    return {"project_id": project.id, "lesson_id": lesson.id, "learner": learner, "title": lesson.title}


def _credited(page, live_server, handbook) -> dict:
    answer = page.request.get(f"{live_server.url}/api/v1/me/progress?project_id={handbook['project_id']}").json()
    return next(item for item in answer["lessons"] if item["lesson_id"] == handbook["lesson_id"])


@pytest.mark.config(HEARTBEAT_INTERVAL_S=2)
@pytest.mark.parametrize("size", [{"width": 1366, "height": 768}, {"width": 360, "height": 640}])
def test_reading_the_handbook_turns_pages_and_is_credited(live_server, page, handbook, size):
    page.set_viewport_size(size)
    sent = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data))
            if r.method == "POST" and "/heartbeats" in r.url else None)
    sign_in(page, live_server, handbook["learner"].username)
    page.goto(live_server.url + "/")
    page.get_by_role("link", name=handbook["title"]).click()
    page.wait_for_function("() => document.getElementById('xs-reader')?.dataset.renderedPage === '1'")
    canvas_width = page.evaluate("document.querySelector('[data-testid=page-canvas]').getBoundingClientRect().width")
    assert 200 < canvas_width <= size["width"]
    for number in range(2, 5):
        page.wait_for_timeout(1500)
        page.click("[data-testid=next-page]")
        page.wait_for_function(f"() => document.getElementById('xs-reader')?.dataset.renderedPage === '{number}'")
    expect(page.locator("[data-testid=page-number]")).to_have_text("4")
    page.wait_for_timeout(1500)  # a page shown for less than a moment is not reported (rapid turns become one)
    page.click("[data-testid=prev-page]")
    page.wait_for_function("() => document.getElementById('xs-reader')?.dataset.renderedPage === '3'")
    page.click("[data-xr=zoom-in]")
    wider = page.evaluate("document.querySelector('[data-testid=page-canvas]').getBoundingClientRect().width")
    assert wider > canvas_width
    page.click("[data-testid=fit-width]")
    page.wait_for_function("() => Number(document.querySelector('[data-testid=credited]')?.dataset.seconds) >= 3")
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]  # no sideways scrolling

    item = _credited(page, live_server, handbook)
    assert item["credited_s"] >= 3
    assert item["pages_viewed"] >= 4
    assert {body.get("page") for body in sent} >= {1, 2, 3, 4}
    assert all(body["rate"] == 1 for body in sent)

    page.goto(f"{live_server.url}/projects/{handbook['project_id']}/progress")
    pages = page.locator("[data-testid=pages-viewed]")
    expect(pages).to_contain_text(re.compile(rf"\b{PAGES}\b"))
    assert int(pages.get_attribute("data-pages")) >= 4


@pytest.mark.config(HEARTBEAT_INTERVAL_S=2)
def test_the_reading_clock_stops_while_the_page_is_hidden(live_server, page, handbook):
    sign_in(page, live_server, handbook["learner"].username)
    url = f"{live_server.url}/projects/{handbook['project_id']}/lessons/{handbook['lesson_id']}/play"
    with page.expect_request(lambda r: "/heartbeats" in r.url and json.loads(r.post_data)["event"] == "play"):
        page.goto(url)
    page.wait_for_function("() => document.getElementById('xs-reader')?.dataset.running === '1'")
    with page.expect_request(lambda r: "/heartbeats" in r.url and json.loads(r.post_data)["event"] == "hidden") as info:
        page.evaluate("""() => {
            Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
            document.dispatchEvent(new Event('visibilitychange'));
        }""")
    body = json.loads(info.value.post_data)
    assert (body["playing"], body["visible"]) == (False, False)
    assert page.evaluate("document.getElementById('xs-reader').dataset.running") == "0"
