"""Projector mode and media-source.js in a real Chromium: highest rendition, full screen, screen kept awake,
manual switch keeping the position, signed URLs renewed before expiry, recovery from a 410."""
import re
import secrets
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.media.models import MediaAsset, MediaRendition
from tests.browser.conftest import sign_in

RUNGS = {"240p": (320, 240, 364_000), "360p": (480, 360, 696_000)}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Two renditions of a 12 s test pattern with a tone (H.264/AAC, faststart, a keyframe a second)."""
    out = tmp_path_factory.mktemp("clips")
    for label, (w, h, _) in RUNGS.items():
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate=25:duration=12",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=12",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
             "-c:a", "aac", "-b:a", "64k", "-shortest", "-movflags", "+faststart", str(out / f"{label}.mp4")],
            check=True,
        )
    return out


@pytest.fixture
def room(app, clips, org_tree, make_project, make_course, make_class, make_user):
    """A project with a video lesson (240p + 360p) and a class whose tutor runs the projector."""
    project = make_project("Group viewing")
    course = make_course(project, "Course", durations=(12,))
    lesson = course.modules[0].lessons[0]
    cls = make_class(project, org_tree["school_a1"], learning_center=org_tree["center_a"])
    tutor = make_user("tutor1", role="tutor", cls=cls)
    uid = secrets.token_hex(16)
    prefix = f"assets/{uid[:2]}/{uid}"
    asset = MediaAsset(uid=uid, course_id=course.id, lesson_id=lesson.id, kind="video", state="done", progress=1.0,
                       source_key=f"{prefix}/source.mp4", duration_s=12, width=480, height=360)
    root = Path(app.config["MEDIA_ROOT"]) / prefix
    root.mkdir(parents=True)
    for label, (w, h, bitrate) in RUNGS.items():
        data = (clips / f"{label}.mp4").read_bytes()
        (root / f"{label}.mp4").write_bytes(data)
        asset.renditions.append(MediaRendition(label=label, width=w, height=h, bitrate=bitrate,
                                               storage_key=f"{prefix}/{label}.mp4", size_bytes=len(data),
                                               checksum="0" * 64, content_type="video/mp4", duration_s=12))
    db.session.add(asset)
    db.session.commit()
    return {"project": project, "lesson": lesson, "tutor": tutor}


def open_projector(page, live_server, room):
    sign_in(page, live_server, "tutor1")
    page.goto(f"{live_server.url}/lessons/{room['lesson'].id}/projector?project_id={room['project'].id}")
    expect(page.locator("[data-testid=video]")).to_have_attribute("data-rendition", "360p")


def video_time(page) -> float:
    return page.eval_on_selector("[data-testid=video]", "v => v.currentTime")


def wait_playing_past(page, seconds: float) -> None:
    page.wait_for_function(
        "s => { const v = document.querySelector('[data-testid=video]'); return !v.paused && v.currentTime > s; }",
        arg=seconds, timeout=15000)


def test_projector_plays_the_highest_rendition_full_screen(page, live_server, room):
    open_projector(page, live_server, room)
    quality = page.locator("[data-testid=quality]")
    expect(quality).to_have_value("1")  # highest, no "Auto" in projector mode
    expect(quality.locator("option")).to_have_count(2)

    page.click("[data-testid=start]")
    wait_playing_past(page, 0.5)
    assert page.evaluate("!!document.fullscreenElement")
    assert "/360p.mp4?md5=" in page.eval_on_selector("[data-testid=video]", "v => v.currentSrc")
    expect(page.locator("[data-testid=awake]")).to_have_attribute("data-method", re.compile("^(lock|fallback)$"))

    # Big controls and the presenter-remote keys.
    box = page.locator("[data-testid=toggle]").bounding_box()
    assert box["height"] >= 40 and box["width"] >= 100
    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelector('[data-testid=video]')?.paused")
    before = video_time(page)
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => document.querySelector('[data-testid=video]')?.currentTime >= {before + 9.5}")
    expect(page.locator("[data-testid=time]")).to_have_text(re.compile(r"^0:1[0-2]$"))
    expect(page.locator("[data-testid=duration]")).to_have_text("0:12")


def test_plain_http_keeps_the_screen_awake_with_a_silent_video(page, live_server, room):
    # A classroom server on plain HTTP: no secure context, so no Wake Lock API.
    page.add_init_script("Object.defineProperty(window, 'isSecureContext', {get: () => false});")
    open_projector(page, live_server, room)
    page.click("[data-testid=start]")
    wait_playing_past(page, 0.3)
    expect(page.locator("[data-testid=awake]")).to_have_attribute("data-method", "fallback")
    keeper = page.locator("[data-testid=keep-awake-video]")
    expect(keeper).to_have_count(1)
    page.wait_for_function(
        "() => { const k = document.querySelector('[data-testid=keep-awake-video]');"
        " return k && !k.paused && k.muted && k.loop && k.currentTime > 0; }", timeout=10000)
    # Pausing the lesson does not let the screen sleep: the keeper plays on.
    page.keyboard.press("Space")
    page.wait_for_timeout(600)
    assert page.eval_on_selector("[data-testid=keep-awake-video]", "k => !k.paused")


def test_manual_switch_keeps_the_position(page, live_server, room):
    open_projector(page, live_server, room)
    page.click("[data-testid=start]")
    wait_playing_past(page, 2.0)
    page.locator("[data-testid=quality]").select_option("0")
    page.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=video]');"
        " return v.currentSrc.includes('/240p.mp4') && v.readyState >= 2 && !v.paused; }", timeout=15000)
    assert video_time(page) >= 2.0  # not back to the start
    expect(page.locator("[data-testid=video]")).to_have_attribute("data-rendition", "240p")


@pytest.mark.config(MEDIA_URL_TTL_S=4)
def test_signed_urls_are_renewed_before_they_expire(page, live_server, room):
    open_projector(page, live_server, room)
    # data-source: the signed URL playing, whether through plain src or Media Source (then src is a blob: URL)
    source = ("first => { const src = document.querySelector('[data-testid=video]').getAttribute('data-source');"
              " return src && src !== first ? src : null; }")
    first = page.wait_for_function(source, arg="", timeout=10000).json_value()
    page.click("[data-testid=start]")
    wait_playing_past(page, 0.5)
    # Renewal is due 1 s before expiry (a quarter of the TTL): a new URL, same position, still playing.
    renewed = page.wait_for_function(source, arg=first, timeout=10000).json_value()
    wait_playing_past(page, 3.2)
    assert "expires=" in renewed, renewed
    assert int(parse_qs(urlsplit(renewed).query)["expires"][0]) > int(parse_qs(urlsplit(first).query)["expires"][0])
    assert "/360p.mp4" in renewed


def test_a_410_fetches_fresh_urls_and_seeks_back(page, live_server, room):
    api_calls = []
    page.on("request", lambda r: api_calls.append(r.url) if "/api/v1/lessons/" in r.url else None)
    open_projector(page, live_server, room)
    page.click("[data-testid=start]")
    wait_playing_past(page, 2.0)
    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelector('[data-testid=video]')?.paused")
    position = video_time(page)

    # The URL now answers 410 (expired) once; the element has to fetch it again.
    page.route(re.compile(r".*/media/s/.*"), lambda route: route.fulfill(status=410, body="gone"), times=1)
    page.eval_on_selector("[data-testid=video]", "v => { v.src = v.currentSrc; v.load(); }")

    page.wait_for_function(
        "p => { const v = document.querySelector('[data-testid=video]');"
        " return v.readyState >= 1 && Math.abs(v.currentTime - p) < 0.6 && !v.seeking; }",
        arg=position, timeout=15000)
    assert len(api_calls) == 2  # the first load, then fresh URLs after the 410
    expect(page.locator("[data-testid=message]")).to_have_text("")


ATTACH_NORMAL = """async ({lessonId, projectId}) => {
  const v = document.createElement('video');
  v.style.width = '1280px';  // a player this wide wants more than 360p: the bandwidth decides
  const box = document.createElement('div');
  document.body.append(v, box);
  const c = await window.XueshiMedia.attach(v, {lessonId, projectId, mode: 'normal', switchContainer: box});
  return {label: c.current.label, bandwidth: c.bandwidth, src: v.getAttribute('src'),
          options: [...box.querySelectorAll('option')].map(o => o.value), selected: box.querySelector('select').value};
}"""


def test_player_choice_follows_measured_bandwidth(page, live_server, room):
    open_projector(page, live_server, room)
    ids = {"lessonId": room["lesson"].id, "projectId": room["project"].id}
    fast = page.evaluate(ATTACH_NORMAL, ids)
    assert fast["label"] == "360p" and fast["bandwidth"] > 0.696e6 / 0.7
    assert fast["options"] == ["auto", "0", "1"] and fast["selected"] == "auto"
    assert "/360p.mp4?md5=" in fast["src"]

    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions",
             {"offline": False, "latency": 150, "downloadThroughput": 60_000, "uploadThroughput": 60_000})
    slow = page.evaluate(ATTACH_NORMAL, ids)
    assert slow["label"] == "240p" and slow["bandwidth"] < 0.696e6 / 0.7


def test_save_data_takes_the_lowest_without_probing(page, live_server, room):
    page.add_init_script("Object.defineProperty(navigator, 'connection', {get: () => ({saveData: true})});")
    open_projector(page, live_server, room)
    ranged = []
    page.on("request", lambda r: ranged.append(r.url) if r.headers.get("range") == "bytes=0-262143" else None)
    chosen = page.evaluate(ATTACH_NORMAL, {"lessonId": room["lesson"].id, "projectId": room["project"].id})
    assert chosen["label"] == "240p" and chosen["bandwidth"] is None
    assert ranged == []


def test_choice_rules(page, live_server, room):
    open_projector(page, live_server, room)
    rungs = [{"height": 240, "width": 426, "bitrate": 364000}, {"height": 360, "width": 640, "bitrate": 696000},
             {"height": 720, "width": 1280, "bitrate": 1928000}, {"height": 1080, "width": 1920, "bitrate": 3628000}]
    cases = [
        ({"mode": "projector"}, 3),
        ({"mode": "normal", "saveData": True, "bandwidth": 1e9}, 0),
        ({"mode": "normal", "bandwidth": 3e6, "playerWidth": 3840}, 2),     # 1.93M fits 70 % of 3M
        ({"mode": "normal", "bandwidth": 1e8, "playerWidth": 1280}, 2),     # the player's size caps it
        ({"mode": "normal", "bandwidth": 1e8, "playerWidth": 1900}, 3),
        ({"mode": "normal", "bandwidth": 2e5, "playerWidth": 1920}, 0),     # slower than every rung
        ({"mode": "normal", "bandwidth": None, "playerWidth": 640}, 1),      # unknown bandwidth: by size
        ({"mode": "normal", "bandwidth": None, "playerWidth": 1920, "isNarrow": True}, 1),
    ]
    for opts, expected in cases:
        assert page.evaluate("([r, o]) => window.XueshiMedia.chooseIndex(r, o)", [rungs, opts]) == expected, opts


@pytest.mark.config(MEDIA_OPEN_RANGE_CAP_BYTES=64 * 1024)
def test_chromium_plays_on_after_a_bounded_answer_to_an_open_range(page, live_server, room):
    # The app answers "bytes=N-" with at most the cap; the browser must ask again from where the answer
    # ended. (Chromium's cache then asks explicit ranges "N-end", which are answered whole.)
    answers = []
    page.on("response", lambda r: answers.append((r.request.headers.get("range"), r.headers.get("content-range")))
            if "/media/s/" in r.url and r.status == 206 else None)
    open_projector(page, live_server, room)
    page.click("[data-testid=start]")
    wait_playing_past(page, 1.0)
    page.eval_on_selector("[data-testid=video]", "v => { v.currentTime = 9; }")
    wait_playing_past(page, 10.0)
    first = [got for asked, got in answers if asked == "bytes=0-"]
    assert first and first[0].startswith("bytes 0-65535/"), answers
    total = int(first[0].split("/")[1])
    assert total > 10 * 64 * 1024  # so playing to 10 s needed far more than the first answer


def test_auto_mode_steps_down_after_repeated_stalls(page, live_server, room):
    open_projector(page, live_server, room)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})  # the page's own player loaded 360p already
    # A third of what 360p needs, while the player believes a bandwidth that fits 360p: playing keeps running dry.
    cdp.send("Network.emulateNetworkConditions",
             {"offline": False, "latency": 20, "downloadThroughput": 70_000, "uploadThroughput": 70_000})
    page.evaluate("""async ({lessonId, projectId}) => {
      const v = document.createElement('video');
      v.id = 'auto-video'; v.muted = true; v.preload = 'auto'; v.style.width = '1280px';
      document.body.append(v);
      window.autoController = await window.XueshiMedia.attach(
        v, {lessonId, projectId, mode: 'normal', bandwidth: 5e6});
      window.firstLabel = window.autoController.current.label;
      v.play();
    }""", {"lessonId": room["lesson"].id, "projectId": room["project"].id})
    assert page.evaluate("window.firstLabel") == "360p"
    page.wait_for_function("() => window.autoController.current.label === '240p'", timeout=45000)
    # data-source: the signed URL playing, whether through plain src or Media Source (then src is a blob: URL)
    assert "/240p.mp4" in page.eval_on_selector("#auto-video", "v => v.getAttribute('data-source')")
    page.wait_for_function("() => document.getElementById('auto-video')?.currentTime > 0.5")  # and it plays on


def test_a_pdf_lesson_is_shown_full_screen(page, live_server, room, app, make_course):
    course = make_course(room["project"], "Reading", kind="document")
    lesson = course.modules[0].lessons[0]
    uid = secrets.token_hex(16)
    key = f"assets/{uid[:2]}/{uid}/source.pdf"
    pdf = Path(app.config["MEDIA_ROOT"]) / key
    pdf.parent.mkdir(parents=True)
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\n"
                    b"trailer<</Root 1 0 R>>\n%%EOF\n")
    db.session.add(MediaAsset(uid=uid, course_id=course.id, lesson_id=lesson.id, kind="document", state="done",
                              source_key=key, content_type="application/pdf"))
    db.session.commit()
    sign_in(page, live_server, "tutor1")
    page.goto(f"{live_server.url}/lessons/{lesson.id}/projector?project_id={room['project'].id}")
    frame = page.locator("[data-pj=document]")
    expect(frame).to_be_visible()
    expect(frame).to_have_attribute("src", re.compile(rf"^/media/s/{key}\?md5=[\w-]+&expires=\d+$"))
    expect(page.locator("[data-pj=bar]")).to_be_hidden()


# --- fragmented renditions (what the transcoder makes now): played through Media Source ----------------

FRAGMENTED = ["-movflags", "+frag_keyframe+empty_moov+default_base_moof+global_sidx"]


@pytest.fixture(scope="module")
def fragmented_clips(tmp_path_factory):
    """The same two renditions as `clips`, 24 s long, as fragmented MP4 with a sidx (a fragment per 2 s keyframe)."""
    out = tmp_path_factory.mktemp("fragmented")
    for label, (w, h, _) in RUNGS.items():
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate=25:duration=24",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=24",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50",
             "-force_key_frames", "expr:gte(t,n_forced*2)", "-c:a", "aac", "-b:a", "64k", "-shortest",
             *FRAGMENTED, str(out / f"{label}.mp4")],
            check=True,
        )
    return out


@pytest.fixture
def fragmented_room(app, room, fragmented_clips):
    """`room` with its renditions replaced by the fragmented ones."""
    asset = db.session.query(MediaAsset).filter_by(lesson_id=room["lesson"].id).one()
    for rendition in asset.renditions:
        data = (fragmented_clips / f"{rendition.label}.mp4").read_bytes()
        (Path(app.config["MEDIA_ROOT"]) / rendition.storage_key).write_bytes(data)
        rendition.size_bytes, rendition.duration_s = len(data), 24
    db.session.commit()
    return room


def _source(page) -> str:
    return page.eval_on_selector("[data-testid=video]", "v => v.getAttribute('data-source')")


@pytest.mark.config(MEDIA_URL_TTL_S=6)
def test_fragmented_renditions_play_through_media_source(page, live_server, fragmented_room):
    ranges = []
    page.on("request", lambda r: ranges.append(r.headers.get("range")) if "/media/s/" in r.url and ".mp4" in r.url
            else None)
    open_projector(page, live_server, fragmented_room)
    video = page.locator("[data-testid=video]")
    expect(video).to_have_attribute("data-delivery", "mse")
    assert page.eval_on_selector("[data-testid=video]", "v => v.currentSrc").startswith("blob:")
    first = _source(page)
    page.click("[data-testid=start]")
    wait_playing_past(page, 1.0)
    assert all(r and r.startswith("bytes=") and not r.endswith("-") for r in ranges), ranges  # explicit ranges only

    # A seek fetches the fragment that holds the target, and playing goes on from there.
    page.eval_on_selector("[data-testid=video]", "v => { v.currentTime = 15; }")
    wait_playing_past(page, 15.5)

    # Renewal (a quarter of the 6 s TTL before expiry) swaps the URL of the next range requests: no reload.
    page.wait_for_function(f"() => document.querySelector('[data-testid=video]').getAttribute('data-source') !== {first!r}",
                           timeout=10000)
    renewed = _source(page)
    assert "expires=" in renewed, renewed
    assert int(parse_qs(urlsplit(renewed).query)["expires"][0]) > int(parse_qs(urlsplit(first).query)["expires"][0])
    assert "/360p.mp4" in renewed
    assert page.eval_on_selector("[data-testid=video]", "v => v.currentTime") > 15

    # A quality switch keeps the position, still through Media Source.
    position = video_time(page)
    page.locator("[data-testid=quality]").select_option("0")
    page.wait_for_function(
        "p => { const v = document.querySelector('[data-testid=video]');"
        " return v.getAttribute('data-source').includes('/240p.mp4') && v.readyState >= 2 && !v.paused"
        " && v.currentTime >= p - 0.5; }", arg=position, timeout=15000)
    expect(video).to_have_attribute("data-rendition", "240p")
    expect(video).to_have_attribute("data-delivery", "mse")


def test_a_410_on_a_fragment_fetches_fresh_urls_and_plays_on(page, live_server, fragmented_room):
    api_calls, refused = [], []
    page.on("request", lambda r: api_calls.append(r.url) if "/api/v1/lessons/" in r.url else None)

    def expire_first_fragment(route):
        # The head (bytes=0-…) passes; the first fragment's range request finds the URL expired (410) once.
        if not refused and not (route.request.headers.get("range") or "").startswith("bytes=0-"):
            refused.append(route.request.headers.get("range"))
            route.fulfill(status=410, body="gone")
        else:
            route.continue_()

    page.route(re.compile(r".*/media/s/.*\.mp4.*"), expire_first_fragment)
    open_projector(page, live_server, fragmented_room)
    page.click("[data-testid=start]")
    wait_playing_past(page, 1.0)
    assert refused, "no fragment was refused"
    assert len(api_calls) == 2, api_calls  # the first load, then fresh URLs after the 410
    expect(page.locator("[data-testid=video]")).to_have_attribute("data-delivery", "mse")


def test_without_media_source_a_fragmented_rendition_plays_through_src(page, live_server, fragmented_room):
    page.add_init_script("delete window.MediaSource;")
    open_projector(page, live_server, fragmented_room)
    expect(page.locator("[data-testid=video]")).to_have_attribute("data-delivery", "progressive")
    page.click("[data-testid=start]")
    wait_playing_past(page, 1.0)
    page.eval_on_selector("[data-testid=video]", "v => { v.currentTime = 15; }")
    wait_playing_past(page, 15.5)
    assert "/360p.mp4" in page.eval_on_selector("[data-testid=video]", "v => v.currentSrc")
