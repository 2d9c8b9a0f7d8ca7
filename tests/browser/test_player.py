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
    page.wait_for_function("() => document.querySelector('video')?.readyState >= 1")


def _string(page, key: str) -> str:
    """The page's translated player string (the UI is in Chinese by default)."""
    return page.evaluate(f"JSON.parse(document.getElementById('xs-player-strings').textContent)[{key!r}]")


def _position(page) -> float:
    return page.evaluate("document.querySelector('video').currentTime")


def _start_playing(page):
    page.click("[data-testid=toggle]")
    page.wait_for_function("() => document.querySelector('video')?.currentTime > 0.3")


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
    other.wait_for_function("() => document.querySelector('video')?.readyState >= 1")
    # The first tab's next heartbeat answers 409: it stops and says why.
    blocked = page.locator("[data-xs=blocked]")
    expect(blocked).to_be_visible(timeout=INTERVAL_S * 1000 + 4_000)
    expect(blocked).to_contain_text(_string(page, "superseded"))
    page.wait_for_function("() => document.querySelector('video')?.paused")
    # "Resume here" opens a new session, which supersedes the other tab in turn.
    with page.expect_response(lambda r: r.url.endswith("/playback/sessions") and r.status == 201):
        page.click("[data-testid=resume-here]")
    expect(blocked).to_be_hidden()
    page.wait_for_function("() => document.querySelector('video')?.paused === false")
    # Its heartbeats are accepted again.
    with page.expect_response(lambda r: "/heartbeats" in r.url and r.status == 200, timeout=INTERVAL_S * 1000 + 4_000):
        pass
    other.close()


# ----------------------------------------------------------------- the player's own controls

DESKTOP = {"width": 1366, "height": 768}
PHONES = ({"width": 390, "height": 844}, {"width": 360, "height": 640})
RUNG_SIZES = {"240p": (320, 240), "360p": (480, 360), "720p": (1280, 720)}
CLIP_S = 30


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 30 s test pattern with a tone, small (H.264/AAC, faststart, a keyframe a second); every rung is a copy."""
    path = tmp_path_factory.mktemp("player") / "clip.mp4"
    subprocess.run([
        ffmpeg_binary(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=15:duration={CLIP_S}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={CLIP_S}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "15",
        "-c:a", "aac", "-b:a", "48k", "-shortest", "-movflags", "+faststart", str(path),
    ], check=True, timeout=120)
    return path.read_bytes()


def _add_asset(app, course, lesson, clip: bytes, state: str = "done", rungs=("240p", "360p", "720p")):
    """Store a media asset for the lesson: its renditions are copies of `clip` (or none while it is processing)."""
    import secrets
    from pathlib import Path

    from app.media.models import MediaAsset, MediaRendition

    uid = secrets.token_hex(16)
    prefix = f"assets/{uid[:2]}/{uid}"
    asset = MediaAsset(uid=uid, course_id=course.id, lesson_id=lesson.id, kind="video", state=state,
                       progress=1.0 if state == "done" else 0.3, source_key=f"{prefix}/source.mp4",
                       duration_s=CLIP_S, width=1280, height=720)
    root = Path(app.config["MEDIA_ROOT"]) / prefix
    root.mkdir(parents=True)
    for label in rungs if state == "done" else ():
        width, height = RUNG_SIZES[label]
        (root / f"{label}.mp4").write_bytes(clip)
        asset.renditions.append(MediaRendition(
            label=label, width=width, height=height, bitrate=300_000 * height // 240,
            storage_key=f"{prefix}/{label}.mp4", size_bytes=len(clip), checksum="0" * 64,
            content_type="video/mp4", duration_s=CLIP_S))
    db.session.add(asset)
    db.session.commit()
    return asset


@pytest.fixture
def ladder(app, clip, org_tree, make_user, make_project, make_course, enroll):
    """make(**project settings) -> a lesson with a 240p/360p/720p ladder in a new project of learner1."""
    learner = make_user("learner1", org=org_tree["school_a1"])
    made = []

    def make(state: str = "done", **settings):
        project = make_project(f"Project {len(made) + 1}", **settings)
        course = make_course(project, title=f"Course {len(made) + 1}", durations=(CLIP_S,))
        lesson = course.modules[0].lessons[0]
        _add_asset(app, course, lesson, clip, state=state)
        enroll(learner, project)
        made.append(lesson)
        return {"project_id": project.id, "lesson_id": lesson.id, "learner": learner}

    return make


def _open(page, live_server, lesson, viewport=DESKTOP):
    page.set_viewport_size(viewport)
    _sign_in_and_open(page, live_server, lesson)


def _video(page, expression: str):
    return page.eval_on_selector("[data-testid=video]", f"v => {expression}")


def _wait_video(page, condition: str, timeout: float = 10_000):
    page.wait_for_function(f"() => {{ const v = document.querySelector('[data-testid=video]'); return {condition}; }}",
                           timeout=timeout)


@pytest.mark.parametrize("viewport", [DESKTOP, *PHONES], ids=["desktop", "phone390", "phone360"])
@pytest.mark.config(HEARTBEAT_INTERVAL_S=INTERVAL_S, BABEL_DEFAULT_LOCALE="zh_CN")
def test_timeline_shows_the_time_and_moves_and_the_controls_fit(live_server, page, ladder, viewport):
    lesson = ladder()
    beats = []
    page.on("response", lambda r: beats.append(r) if "/heartbeats" in r.url and r.status == 200 else None)
    _open(page, live_server, lesson, viewport)
    expect(page.locator("[data-testid=total]")).to_have_text("0:30")
    expect(page.locator("[data-testid=elapsed]")).to_have_text("0:00")
    # Nothing was saved yet, so nothing says so.
    expect(page.locator("[data-testid=save-state]")).to_have_attribute("data-state", "")
    page.click("[data-testid=toggle]")
    _wait_video(page, "v.currentTime > 2.2 && !v.paused")
    expect(page.locator("[data-testid=elapsed]")).to_have_text(re.compile(r"^0:0[2-9]$"))
    timeline = page.locator("[data-testid=timeline]")
    assert int(timeline.get_attribute("aria-valuenow")) >= 2
    assert timeline.get_attribute("aria-valuemax") == "30"
    # The credited counter follows each answer at once (not one interval later), and the covered
    # segments the answers carry are drawn on the timeline.
    page.wait_for_function("() => document.querySelector('[data-testid=session-credited]')?.dataset.seconds >= '1'",
                           timeout=INTERVAL_S * 1000 + 4_000)
    last = beats[-1].json()
    credited = page.locator("[data-testid=credited]").get_attribute("data-seconds")
    assert int(credited) >= int(last["lesson"]["credited_s"]) and last["lesson"]["segments"]
    expect(page.locator("[data-testid=save-state]")).to_have_attribute("data-state", "saved")
    expect(page.locator("[data-testid=save-state] .xs-save-ok")).to_have_text("已保存")
    segment = page.locator("[data-testid=covered] .xs-tl-seg").first
    expect(segment).to_be_visible()
    assert float(segment.get_attribute("data-end")) > 0

    # Every control is a touch target of at least 40 px, and the page does not scroll sideways.
    for testid in ("toggle", "back", "forward", "mute", "fullscreen", "speed"):
        box = page.locator(f"[data-testid={testid}]").bounding_box()
        assert box["height"] >= 40 and box["width"] >= 40, (testid, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (testid, box)
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    # Icons are inline SVG, no emoji or icon font.
    assert page.locator("[data-testid=toggle] svg use").count() == 2
    assert "▶" not in page.locator("[data-xs=bar]").inner_text()


@pytest.mark.config(HEARTBEAT_INTERVAL_S=INTERVAL_S)
def test_seeking_ahead_is_held_to_what_was_watched(live_server, page, ladder):
    lesson = ladder(is_seek_ahead_forbidden=True)
    _open(page, live_server, lesson)
    page.click("[data-testid=toggle]")
    _wait_video(page, "v.currentTime > 1.5")
    page.click("[data-testid=toggle]")
    _wait_video(page, "v.paused")
    watched = _video(page, "v.currentTime")
    expect(page.locator("[data-testid=locked]")).to_be_visible()
    # The arrow key, the +10 button and a click far along the timeline all stop at the furthest point watched.
    page.click("[data-testid=frame]", position={"x": 5, "y": 5})
    _wait_video(page, "!v.paused")
    page.keyboard.press("Space")
    _wait_video(page, "v.paused")
    limit = _video(page, "v.currentTime")
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-testid=notice]")).to_be_visible()
    page.click("[data-testid=forward]")
    box = page.locator("[data-testid=timeline]").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
    page.wait_for_timeout(400)
    assert _video(page, "v.currentTime") <= limit + 1.6
    assert _video(page, "v.currentTime") >= watched - 0.5
    # Going back is always allowed.
    page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2)
    _wait_video(page, "v.currentTime < 0.5 && !v.seeking")


@pytest.mark.config(HEARTBEAT_INTERVAL_S=INTERVAL_S)
def test_speed_stays_within_the_projects_range(live_server, page, ladder):
    lesson = ladder(min_rate=0.75, max_rate=1.5)
    _open(page, live_server, lesson)
    options = page.locator("[data-testid=speed] option")
    assert [o.get_attribute("value") for o in options.all()] == ["0.75", "1", "1.25", "1.5"]
    page.select_option("[data-testid=speed]", "1.25")
    assert _video(page, "v.playbackRate") == 1.25
    # Whatever else sets a speed outside the range (a script, the browser's menu) is undone.
    page.eval_on_selector("[data-testid=video]", "v => { v.playbackRate = 3; }")
    _wait_video(page, "v.playbackRate === 1.5")
    expect(page.locator("[data-testid=speed]")).to_have_value("1.5")


@pytest.mark.config(HEARTBEAT_INTERVAL_S=INTERVAL_S)
def test_quality_menu_switches_the_rendition_and_is_remembered(live_server, page, ladder):
    lesson = ladder()
    _open(page, live_server, lesson)
    quality = page.locator("[data-testid=quality]")
    assert [o.get_attribute("value") for o in quality.locator("option").all()] == ["auto", "0", "1", "2"]
    assert quality.locator("option").all_inner_texts()[1:] == ["240p", "360p", "720p"]
    page.click("[data-testid=toggle]")
    _wait_video(page, "v.currentTime > 1.2")
    quality.select_option("0")
    _wait_video(page, "v.currentSrc.includes('/240p.mp4') && v.readyState >= 2 && !v.paused && v.currentTime > 1")
    expect(page.locator("[data-testid=video]")).to_have_attribute("data-rendition", "240p")
    page.reload()
    _wait_video(page, "v.readyState >= 1")
    expect(page.locator("[data-testid=quality]")).to_have_value("0")
    assert "/240p.mp4" in _video(page, "v.currentSrc")


@pytest.mark.config(HEARTBEAT_INTERVAL_S=INTERVAL_S)
def test_automatic_quality_fits_the_player_and_the_phone(live_server, page, ladder):
    lesson = ladder()
    _open(page, live_server, lesson, PHONES[0])
    # A phone-sized screen: at most 360p, whatever the bandwidth.
    _wait_video(page, "v.currentSrc.includes('p.mp4')")
    assert _video(page, "v.getAttribute('data-rendition')") in ("240p", "360p")
    rungs = [{"height": 240, "width": 426, "bitrate": 400000}, {"height": 360, "width": 640, "bitrate": 700000},
             {"height": 720, "width": 1280, "bitrate": 1900000}, {"height": 1080, "width": 1920, "bitrate": 3600000}]
    cases = [
        ({"mode": "normal", "bandwidth": 5e7, "playerWidth": 960}, 2),          # 960 px wide: 540 high -> 720p
        ({"mode": "normal", "bandwidth": 5e7, "playerWidth": 640}, 1),          # 360p fills it
        ({"mode": "normal", "bandwidth": 5e7, "playerWidth": 1920}, 3),
        ({"mode": "normal", "bandwidth": 5e7, "playerWidth": 1170, "isNarrow": True}, 1),  # 390 px phone at 3x
        ({"mode": "normal", "bandwidth": 1.9e6, "playerWidth": 1170, "isNarrow": True}, 1),
        ({"mode": "normal", "bandwidth": 9e5, "playerWidth": 1920}, 0),         # below 1 Mbit/s
        ({"mode": "normal", "saveData": True, "bandwidth": 5e7, "playerWidth": 1920}, 0),
        ({"mode": "normal", "bandwidth": 1.5e6, "playerWidth": 1920}, 1),       # 720p needs more than 70 %
        ({"mode": "projector"}, 3),
    ]
    for opts, expected in cases:
        assert page.evaluate("([r, o]) => window.XueshiMedia.chooseIndex(r, o)", [rungs, opts]) == expected, opts


@pytest.mark.config(HEARTBEAT_INTERVAL_S=INTERVAL_S)
def test_keys_work_inside_the_player_only(live_server, page, ladder):
    lesson = ladder()
    _open(page, live_server, lesson)
    page.keyboard.press("Space")  # focus is not in the player: nothing happens
    page.wait_for_timeout(300)
    assert _video(page, "v.paused")
    page.focus("[data-testid=frame]")
    page.keyboard.press("Space")
    _wait_video(page, "!v.paused && v.currentTime > 0.5")
    page.keyboard.press("Space")
    _wait_video(page, "v.paused")
    before = _video(page, "v.currentTime")
    page.keyboard.press("ArrowRight")
    _wait_video(page, f"Math.abs(v.currentTime - {before + 10}) < 0.3 && !v.seeking")
    page.keyboard.press("ArrowLeft")
    _wait_video(page, f"Math.abs(v.currentTime - {before}) < 0.3 && !v.seeking")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert _video(page, "v.volume") == pytest.approx(0.8)
    page.keyboard.press("ArrowUp")
    assert _video(page, "v.volume") == pytest.approx(0.9)
    page.keyboard.press("m")
    assert _video(page, "v.muted")
    expect(page.locator("[data-testid=mute]")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("m")
    assert not _video(page, "v.muted")
    page.keyboard.press("f")
    page.wait_for_function("() => document.fullscreenElement === document.querySelector('[data-testid=frame]')")
    page.keyboard.press("f")
    page.wait_for_function("() => !document.fullscreenElement")
    # In a field (the speed menu) the keys are the field's own.
    page.focus("[data-testid=speed]")
    page.keyboard.press("Space")
    page.keyboard.press("Escape")
    assert _video(page, "v.paused")


@pytest.mark.config(HEARTBEAT_INTERVAL_S=INTERVAL_S, BABEL_DEFAULT_LOCALE="zh_CN")
def test_saved_turns_to_not_saved_as_soon_as_a_heartbeat_is_late(live_server, page, ladder):
    lesson = ladder()
    state = page.locator("[data-testid=save-state]")
    _open(page, live_server, lesson)
    page.click("[data-testid=toggle]")
    expect(state).to_have_attribute("data-state", "saved", timeout=INTERVAL_S * 1000 + 4_000)

    # Offline: said at once.
    page.context.set_offline(True)
    expect(state).to_have_attribute("data-state", "not-saved", timeout=1_500)
    expect(page.locator("[data-testid=save-state] .xs-save-bad")).to_have_text("未保存")
    expect(page.locator("[data-testid=not-saved]")).to_be_visible()
    page.context.set_offline(False)
    expect(state).to_have_attribute("data-state", "saved", timeout=INTERVAL_S * 1000 + 6_000)

    # A heartbeat that gets no answer (a link that silently stalls): "not saved" within 5 s of it leaving.
    held = []
    sent = []
    page.route("**/heartbeats", lambda route: held.append(route))
    page.on("request", lambda r: sent.append(time.monotonic()) if "/heartbeats" in r.url else None)
    expect(state).to_have_attribute("data-state", "not-saved", timeout=INTERVAL_S * 1000 + 6_000)
    late_by = time.monotonic() - sent[0]
    print(f"'not saved' shown {late_by:.2f} s after the unanswered heartbeat left")
    assert late_by <= 5.5
    assert not _video(page, "v.paused")  # the video plays on
    page.unroute("**/heartbeats")  # the held requests timed out in the page already (and were cancelled)
    expect(state).to_have_attribute("data-state", "saved", timeout=8_000)


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_a_lesson_still_transcoding_shows_one_clear_state(live_server, page, ladder):
    lesson = ladder(state="running")
    opened = []
    page.on("request", lambda r: opened.append(r.url) if r.url.endswith("/playback/sessions") else None)
    _open_page = f"{live_server.url}/projects/{lesson['project_id']}/lessons/{lesson['lesson_id']}/play"
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "learner1")
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(_open_page)
    waiting = page.locator("[data-testid=waiting]")
    expect(waiting).to_be_visible()
    expect(waiting).to_contain_text("转码")
    # Nothing contradicts it: no controls, no banner, no "not saved", no session opened.
    expect(page.locator("[data-testid=toggle]")).to_be_hidden()
    expect(page.locator("[data-testid=notice]")).to_be_hidden()
    expect(page.locator("[data-testid=not-saved]")).to_be_hidden()
    expect(page.locator("[data-xs=blocked]")).to_be_hidden()
    page.wait_for_timeout(500)
    assert opened == []
