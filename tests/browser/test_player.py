"""The lesson player in a real Chromium: credited time follows real playing time, even through a dropped network.

The server credits each interval between two accepted heartbeats with
min(wall time, content played / rate, G) (TRACKING.md R2). For an honest player
at 1x the content played between two heartbeats is the wall time between them
(within the decoder's clock drift), so the lesson's credited seconds must equal
the content the player reports it played between its first "play" heartbeat
and its "pause" heartbeat. The tolerance, 1 s over ~12 s, covers what differs
between the browser and the server: each heartbeat's loopback latency (a few
ms, but up to some hundreds on a loaded 2-core CI box, and it can shift which
interval a second lands in but not create or lose it), and a first interval in
which the player had not yet started rendering (the play event precedes the
first frame). The issue's acceptance check asks for "within a second or two";
we hold it to one.
"""
import json
import re
import subprocess
import time

import pytest
from playwright.sync_api import expect

from app.common.ffmpeg import ffmpeg_binary
from app.extensions import db
from tests.conftest import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser

INTERVAL_S = 2          # heartbeat interval of these tests (the server default, as in the demo)
LESSON_S = 40           # the generated lesson's length
TOLERANCE_S = 1.0       # see the module docstring


@pytest.fixture
def demo_lesson(app, org_tree, make_user, make_project, make_course, enroll):
    """A demo-like project: one learner, one generated H.264/AAC lesson under MEDIA_ROOT, default interval."""
    key = "demo/browser-lesson.mp4"
    target = f"{app.config['MEDIA_ROOT']}/{key}"
    subprocess.run(["mkdir", "-p", f"{app.config['MEDIA_ROOT']}/demo"], check=True)
    subprocess.run([
        ffmpeg_binary(), "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc=size=320x180:rate=25:duration={LESSON_S}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={LESSON_S}",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "50",
        "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", "-shortest", target,
    ], check=True, timeout=120)
    learner = make_user("learner1", org=org_tree["school_a1"])
    project = make_project("Demo project")  # heartbeat interval: the server default (HEARTBEAT_INTERVAL_S)
    course = make_course(project, title="Demo course", durations=(LESSON_S,))
    lesson = course.modules[0].lessons[0]
    lesson.media_key = key
    db.session.commit()
    enroll(learner, project)
    return {"project_id": project.id, "lesson_id": lesson.id, "learner": learner}


class Heartbeats:
    """Every heartbeat request the page makes, in order, with its body and (when answered) its answer."""

    def __init__(self, page):
        self.requests = []
        page.on("request", self._on_request)

    def _on_request(self, request):
        if request.method == "POST" and "/heartbeats" in request.url:
            self.requests.append(request)

    def bodies(self):
        return [json.loads(r.post_data) for r in self.requests]


def _sign_in_and_open(page, live_server, demo_lesson):
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", demo_lesson["learner"].username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{live_server.url}/projects/{demo_lesson['project_id']}/lessons/{demo_lesson['lesson_id']}/play")
    page.wait_for_function("() => document.querySelector('video').readyState >= 1")


def _string(page, key: str) -> str:
    """The page's translated player string (the UI is in Chinese by default)."""
    return page.evaluate(f"JSON.parse(document.getElementById('xs-player-strings').textContent)[{key!r}]")


def _position(page) -> float:
    return page.evaluate("document.querySelector('video').currentTime")


def _start_playing(page):
    page.click("[data-testid=toggle]")
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.3")


def _pause_and_get_answer(page):
    def is_pause(response):
        if "/heartbeats" not in response.url or response.request.method != "POST":
            return False
        return json.loads(response.request.post_data)["event"] == "pause"

    with page.expect_response(is_pause) as info:
        page.click("[data-testid=toggle]")
    response = info.value
    assert response.status == 200, response.text()
    return response.json(), json.loads(response.request.post_data), response.request


def _server_credited(page, live_server, demo_lesson) -> float:
    response = page.request.get(f"{live_server.url}/api/v1/me/progress?project_id={demo_lesson['project_id']}")
    assert response.status == 200
    lesson = next(item for item in response.json()["lessons"] if item["lesson_id"] == demo_lesson["lesson_id"])
    return lesson["credited_s"]


@pytest.mark.config(HEARTBEAT_INTERVAL_S=INTERVAL_S)
def test_playing_a_lesson_credits_the_time_it_played(live_server, page, demo_lesson):
    beats = Heartbeats(page)
    _sign_in_and_open(page, live_server, demo_lesson)
    _start_playing(page)
    page.wait_for_timeout(12_000)
    answer, pause_body, pause_request = _pause_and_get_answer(page)

    bodies = beats.bodies()
    play_index = next(i for i, b in enumerate(bodies) if b["event"] == "play")
    play_body, play_request = bodies[play_index], beats.requests[play_index]
    content_played = pause_body["position_s"] - play_body["position_s"]
    wall_s = (pause_request.timing["startTime"] - play_request.timing["startTime"]) / 1000
    credited = answer["lesson"]["credited_s"]

    print(f"credited {credited:.3f} s, content played {content_played:.3f} s, wall {wall_s:.3f} s")
    assert content_played > 10, "the video did not really play"
    assert credited == pytest.approx(content_played, abs=TOLERANCE_S)
    assert credited <= wall_s + 0.25                       # never more than the wall time that passed
    # Ticks every heartbeat_interval_s while playing (12 s at 2 s: about 6), seq rising by one.
    ticks = [b for b in bodies[play_index:] if b["event"] == "tick"]
    assert 4 <= len(ticks) <= 8
    assert [b["seq"] for b in bodies] == list(range(1, len(bodies) + 1))
    assert all(b["playing"] and b["visible"] and b["rate"] == 1 for b in ticks)

    # What the server stored is what the answer said, and what the page shows.
    assert _server_credited(page, live_server, demo_lesson) == pytest.approx(credited, abs=0.001)
    expect(page.locator("[data-testid=credited]")).to_have_attribute("data-seconds", str(int(credited)))
    expect(page.locator("[data-testid=not-saved]")).to_be_hidden()


@pytest.mark.config(HEARTBEAT_INTERVAL_S=INTERVAL_S)
def test_an_offline_spell_is_announced_and_costs_nothing(live_server, page, demo_lesson):
    beats = Heartbeats(page)
    _sign_in_and_open(page, live_server, demo_lesson)
    _start_playing(page)
    page.wait_for_timeout(4_000)

    # The network to the server drops (heartbeats fail) for 7 s; with the retry that follows the
    # server hears nothing for at most ~10 s, less than the gap allowance G = 8 × 2 s.
    page.route("**/heartbeats*", lambda route: route.abort("internetdisconnected"))
    dropped_at = time.monotonic()
    offline_from = _position(page)
    expect(page.locator("[data-testid=not-saved]")).to_be_visible(timeout=INTERVAL_S * 1000 + 3_000)
    expect(page.locator("[data-testid=not-saved]")).to_have_text(_string(page, "notSaved"))
    page.wait_for_timeout(max(0, 7_000 - (time.monotonic() - dropped_at) * 1000))
    offline_to = _position(page)
    assert offline_to - offline_from > 5, "playback must go on while progress cannot be saved"
    assert not page.evaluate("document.querySelector('video').paused")
    page.unroute("**/heartbeats*")

    # A retry gets through within a few seconds; the notice goes away.
    expect(page.locator("[data-testid=not-saved]")).to_be_hidden(timeout=6_000)
    page.wait_for_timeout(3_000)
    answer, pause_body, _request = _pause_and_get_answer(page)

    bodies = beats.bodies()
    play_body = next(b for b in bodies if b["event"] == "play")
    content_played = pause_body["position_s"] - play_body["position_s"]
    credited = answer["lesson"]["credited_s"]
    print(f"credited {credited:.3f} s, content played {content_played:.3f} s, "
          f"{sum(1 for r in beats.requests if r.failure)} heartbeats failed while offline")
    assert content_played > 12
    # The drop cost nothing: everything played is credited, the offline seconds included.
    assert credited == pytest.approx(content_played, abs=TOLERANCE_S)
    # Failed heartbeats were retried with fresh seqs (never a replay), and some did fail.
    seqs = [b["seq"] for b in bodies]
    assert seqs == sorted(set(seqs))
    assert any(r.failure for r in beats.requests)

    audit = page.request.get(f"{live_server.url}/api/v1/me/lessons/{demo_lesson['lesson_id']}/audit"
                             f"?project_id={demo_lesson['project_id']}").json()
    assert "gap" not in {r["reason"] for r in audit["reasons"]}
    assert audit["recomputed_s"] == pytest.approx(audit["credited_s"], abs=0.001)


@pytest.fixture
def quick_checks_lesson(demo_lesson, make_project, make_course, enroll, app):
    """A project whose presence checks come after 3–4 s of playing (instead of 20–30 min)."""
    project = make_project("Checked project", presence_min_s=3, presence_max_s=4, presence_timeout_s=120)
    course = make_course(project, title="Checked course", durations=(LESSON_S,))
    lesson = course.modules[0].lessons[0]
    lesson.media_key = "demo/browser-lesson.mp4"
    db.session.commit()
    enroll(demo_lesson["learner"], project)
    return {**demo_lesson, "project_id": project.id, "lesson_id": lesson.id}


@pytest.mark.config(HEARTBEAT_INTERVAL_S=INTERVAL_S)
def test_presence_check_is_asked_and_answered(live_server, page, quick_checks_lesson):
    _sign_in_and_open(page, live_server, quick_checks_lesson)
    _start_playing(page)
    prompt = page.locator("[data-xs=presence]")
    expect(prompt).to_be_visible(timeout=12_000)
    text = page.locator("[data-xs=presence-prompt]").inner_text()
    number = re.search(r"\d+", text).group(0)
    options = page.locator("[data-xs=presence-options] button")
    expect(options).to_have_count(4)
    labels = options.all_inner_texts()
    assert number in labels
    # A wrong pick is refused and says so; the prompt stays.
    page.locator("[data-xs=presence-options] button", has_text=next(x for x in labels if x != number)).click()
    expect(page.locator("[data-xs=presence-error]")).to_have_text(_string(page, "presenceWrong"))
    expect(prompt).to_be_visible()
    # The right one closes it; the video played on all along.
    with page.expect_response(lambda r: r.url.endswith("/presence") and r.status == 200):
        page.locator("[data-xs=presence-options] button", has_text=number).click()
    expect(prompt).to_be_hidden()
    assert not page.evaluate("document.querySelector('video').paused")
    audit = page.request.get(f"{live_server.url}/api/v1/me/lessons/{quick_checks_lesson['lesson_id']}/audit"
                             f"?project_id={quick_checks_lesson['project_id']}").json()
    first = audit["presence_checks"][0]
    assert first["answered_at"] is not None and not first["is_late"]
    assert first["wrong_answers"] == 1


@pytest.mark.config(HEARTBEAT_INTERVAL_S=INTERVAL_S)
def test_a_second_tab_supersedes_and_resume_here_takes_over(live_server, page, demo_lesson):
    _sign_in_and_open(page, live_server, demo_lesson)
    _start_playing(page)
    page.wait_for_timeout(2_500)
    other = page.context.new_page()  # same browser, same login: a second tab
    other.goto(page.url)
    other.wait_for_function("() => document.querySelector('video').readyState >= 1")
    # The first tab's next heartbeat answers 409: it stops and says why.
    blocked = page.locator("[data-xs=blocked]")
    expect(blocked).to_be_visible(timeout=INTERVAL_S * 1000 + 4_000)
    expect(blocked).to_contain_text(_string(page, "superseded"))
    page.wait_for_function("() => document.querySelector('video').paused")
    # "Resume here" opens a new session, which supersedes the other tab in turn.
    with page.expect_response(lambda r: r.url.endswith("/playback/sessions") and r.status == 201):
        page.click("[data-testid=resume-here]")
    expect(blocked).to_be_hidden()
    page.wait_for_function("() => !document.querySelector('video').paused")
    # Its heartbeats are accepted again.
    with page.expect_response(lambda r: "/heartbeats" in r.url and r.status == 200, timeout=INTERVAL_S * 1000 + 4_000):
        pass
    other.close()
