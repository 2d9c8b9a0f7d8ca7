"""A group viewing in real Chromium contexts: the manager projects, two learners check in with the code's URL on
their own "phones", the projector plays for real, each is credited for their presence only; an outsider is refused."""
import re
import secrets
import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.media.models import MediaAsset, MediaRendition
from tests.browser.conftest import sign_in

CLIP_S = 20
INTERVAL_S = 2


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 20 s test pattern with a tone (H.264/AAC, faststart)."""
    out = tmp_path_factory.mktemp("group-clip") / "240p.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={CLIP_S}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={CLIP_S}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
         "-c:a", "aac", "-b:a", "64k", "-shortest", "-movflags", "+faststart", str(out)], check=True)
    return out


@pytest.fixture
def hall(app, clip, org_tree, make_project, make_course, make_class, make_user, enroll):
    project = make_project("Group viewing", heartbeat_interval_s=INTERVAL_S, is_presence_check_enabled=False)
    course = make_course(project, "Course", durations=(CLIP_S,))
    lesson = course.modules[0].lessons[0]
    cls = make_class(project, org_tree["school_a1"], "Class G", learning_center=org_tree["center_a"])
    other = make_class(project, org_tree["school_a1"], "Class H")
    make_user("gm", role="class_manager", cls=cls, school=org_tree["school_a1"])
    for name, klass in (("gl1", cls), ("gl2", cls), ("gout", other)):
        enroll(make_user(name, role="learner", cls=klass, org=org_tree["school_a1"], real_name=name.upper()), project)
    uid = secrets.token_hex(16)
    prefix = f"assets/{uid[:2]}/{uid}"
    asset = MediaAsset(uid=uid, course_id=course.id, lesson_id=lesson.id, kind="video", state="done", progress=1.0,
                       source_key=f"{prefix}/source.mp4", duration_s=CLIP_S, width=320, height=240)
    root = Path(app.config["MEDIA_ROOT"]) / prefix
    root.mkdir(parents=True)
    data = clip.read_bytes()
    (root / "240p.mp4").write_bytes(data)
    asset.renditions.append(MediaRendition(label="240p", width=320, height=240, bitrate=300_000,
                                           storage_key=f"{prefix}/240p.mp4", size_bytes=len(data), checksum="0" * 64,
                                           content_type="video/mp4", duration_s=CLIP_S))
    db.session.add(asset)
    db.session.commit()
    return {"project": project, "lesson": lesson, "cls": cls}


def _position(page) -> float:
    return page.eval_on_selector("[data-testid=video]", "v => v.currentTime")


def _wait_position(page, seconds: float) -> None:
    page.wait_for_function(
        "s => { const v = document.querySelector('[data-testid=video]'); return v.currentTime > s || v.ended; }",
        arg=seconds, timeout=40000)


def _phone(browser, live_server, username):
    context = browser.new_context(viewport={"width": 360, "height": 640})
    page = context.new_page()
    sign_in(page, live_server, username)
    return context, page


def test_group_viewing_credits_each_learner_for_their_presence(browser, page, live_server, hall):
    from app.tracking.models import GroupAttendance

    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, live_server, "gm")
    page.goto(f"{live_server.url}/classes/{hall['cls'].id}")
    page.select_option("[data-testid=group-lesson]", str(hall["lesson"].id))
    page.click("[data-testid=group-start-button]")
    expect(page).to_have_url(re.compile(r"/group-sessions/\d+/projector"))
    group_id = int(re.search(r"/group-sessions/(\d+)/", page.url).group(1))
    code = page.locator("[data-testid=code]")
    expect(code).to_have_text(re.compile(r"^\d{6}$"))
    expect(page.locator("[data-testid=qr]")).to_have_attribute("src", re.compile(r"qr\.svg\?c=\d{6}"))
    expect(page.locator("[data-testid=video]")).to_have_attribute("data-rendition", "240p")
    url = f"{live_server.url}/g/{group_id}?code={code.inner_text()}"

    ctx1, phone1 = _phone(browser, live_server, "gl1")
    ctx2, phone2 = _phone(browser, live_server, "gl2")
    ctx3, outsider = _phone(browser, live_server, "gout")
    try:
        phone1.goto(url)
        width = phone1.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], "the check-in page scrolls sideways on a phone"
        phone1.click("[data-testid=checkin-button]")
        expect(phone1.locator("[data-testid=checked-in]")).to_be_visible()
        expect(page.locator("[data-testid=present-count]")).to_have_text("1", timeout=10000)

        page.click("[data-testid=start]")
        _wait_position(page, 0.2)
        played_from = time.time() - _position(page)
        _wait_position(page, 6)
        phone2.goto(f"{live_server.url}/g/{group_id}?code={code.inner_text()}")
        phone2.click("[data-testid=checkin-button]")
        expect(phone2.locator("[data-testid=checked-in]")).to_be_visible()
        in2 = time.time()
        _wait_position(page, 12)
        phone1.click("[data-testid=checkout]")
        expect(phone1.locator("[data-testid=checkin-button]")).to_be_visible()
        out1 = time.time()
        expect(page.locator("[data-testid=present-count]")).to_have_text("1", timeout=10000)

        response = outsider.goto(url)
        assert response.status == 403
        assert outsider.locator("[data-testid=checkin-button]").count() == 0

        page.wait_for_function("() => document.querySelector('[data-testid=video]')?.ended", timeout=40000)
        played_to = played_from + CLIP_S
        page.wait_for_timeout(500)  # the "ended" heartbeat
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("[data-testid=end-group]")
        expect(page).to_have_url(re.compile(rf"/group-sessions/{group_id}$"), timeout=15000)
        expect(page.locator("[data-testid=attendance-row]")).to_have_count(2)
    finally:
        for context in (ctx1, ctx2, ctx3):
            context.close()

    db.session.rollback()
    rows = {a.user.username: a for a in db.session.execute(select(GroupAttendance)).scalars()}
    tolerance = INTERVAL_S + 1.5
    assert rows["gl1"].credited_ms / 1000 == pytest.approx(out1 - played_from, abs=tolerance)
    assert rows["gl2"].credited_ms / 1000 == pytest.approx(played_to - in2, abs=tolerance)
    assert rows["gl1"].checkout_reason == "self" and rows["gl2"].checkout_reason == "end"
    assert "gout" not in rows
