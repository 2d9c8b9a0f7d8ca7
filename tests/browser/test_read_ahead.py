"""Read-ahead on a metered link, measured in Chromium through its DevTools protocol.

A demo lesson (150 s, transcoded by the app to fragmented MP4) plays for 20 s of real time at 1 Mbit/s.
Through Media Source the player keeps at most about a minute buffered ahead of the play position, so the
media bytes fetched stay below what 90 s of the rendition cost. As a control, the same page without
Media Source (`window.MediaSource` deleted, as in WeChat on iOS) plays the same file through plain
`video.src`, and Chromium reads ahead as far as the link lets it; after 40 s of playback it has fetched
clearly more than the Media Source path. Each run prints its figures.
"""
from pathlib import Path

import pytest
from sqlalchemy import select

from app.demo import DEMO_VIDEOS, SHORT_PROJECT_TITLE, ensure_demo_ladder, load_demo
from app.extensions import db
from tests.conftest import demo_media_copy
from tests.browser.test_budgets import Network, _sign_in

pytestmark = pytest.mark.browser

#: the lesson measured: the 150 s one ("a few minutes", and quick to transcode)
LESSON_KEY, LESSON_S, LESSON_TITLE = DEMO_VIDEOS[2]
PLAY_S = 20
#: the budget after PLAY_S: the bytes of this many seconds of the rendition (20 s played + at most ~60 s ahead)
BUDGET_S = 90
#: then playback goes on to this many seconds, where a full minute ahead is buffered and the link is idle
LONG_PLAY_S = 40

_NO_MEDIA_SOURCE = "delete window.MediaSource; delete window.ManagedMediaSource; delete window.WebKitMediaSource;"


@pytest.fixture(scope="module")
def demo_media(tmp_path_factory) -> Path:
    """This module's copy of the demo media (its ladders are transcoded into it)."""
    return demo_media_copy(tmp_path_factory, "read-ahead-media")


@pytest.fixture
def lesson(app, demo_media):
    from app.courses.models import Lesson, Project
    from app.media.models import MediaAsset, MediaRendition

    app.config["MEDIA_ROOT"] = str(demo_media)
    load_demo(demo_media)
    ensure_demo_ladder(demo_media, keys={LESSON_KEY})
    project = db.session.execute(select(Project).where(Project.title == SHORT_PROJECT_TITLE)).scalar_one()
    found = db.session.execute(select(Lesson).where(Lesson.title == LESSON_TITLE)).scalar_one()
    rendition = db.session.execute(
        select(MediaRendition).join(MediaAsset, MediaAsset.id == MediaRendition.asset_id)
        .where(MediaAsset.lesson_id == found.id, MediaRendition.label == "240p")).scalar_one()
    return {"play_path": f"/projects/{project.id}/lessons/{found.id}/play",
            "bytes_per_s": rendition.size_bytes / rendition.duration_s, "size": rendition.size_bytes}


class MediaBytes:
    """Body bytes received for the video (the signed URLs of the renditions, not the poster), counted as
    they arrive: a media element's open range request may still run when the test reads the count."""

    def __init__(self, network: Network):
        self.network = network
        self.count = 0
        network.cdp.on("Network.dataReceived", self._data)

    def _data(self, event):
        request = self.network.requests.get(event["requestId"])
        if request is not None and "/media/s/" in request["url"] and ".mp4" in request["url"]:
            self.count += event.get("dataLength", 0)

    def reset(self) -> None:
        self.count = 0


def _play(page, live_server, network: Network, media: MediaBytes, path: str) -> dict:
    """Open the lesson on the weak link, play it for PLAY_S seconds; return what the video and the network saw."""
    network.clear_cache()
    media.reset()
    page.goto(live_server.url + path)
    page.wait_for_function("() => { const v = document.querySelector('[data-testid=video]');"
                           " return v && v.getAttribute('data-delivery') && v.readyState >= 1; }", timeout=30_000)
    page.click("[data-testid=toggle]")
    page.wait_for_function("() => { const v = document.querySelector('[data-testid=video]');"
                           " return !v.paused && v.currentTime > 0.2; }", timeout=30_000)
    started = page.eval_on_selector("[data-testid=video]", "v => v.currentTime")
    page.wait_for_timeout(PLAY_S * 1000)  # real playback takes real seconds
    state = _state(page, media, started)
    page.wait_for_timeout((LONG_PLAY_S - PLAY_S) * 1000)
    state["later"] = _state(page, media, started)
    return state


def _state(page, media: MediaBytes, started: float) -> dict:
    state = page.eval_on_selector(
        "[data-testid=video]",
        "v => ({delivery: v.getAttribute('data-delivery'), rendition: v.getAttribute('data-rendition'),"
        " time: v.currentTime, ahead: v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : 0,"
        " paused: v.paused, src: v.currentSrc})")
    state["played"] = state["time"] - started
    state["bytes"] = media.count
    return state


def test_media_source_reads_about_a_minute_ahead_and_plain_src_reads_more(context, page, live_server, lesson):
    network = Network(context, page)
    media = MediaBytes(network)
    network.throttle()
    _sign_in(page, live_server)
    # The lowest rung, as a learner on this link gets it, without the bandwidth probe's bytes in the count.
    page.evaluate("() => localStorage.setItem('xueshi.media.quality', '240p')")

    # First the control, from the start of the lesson, in a page without Media Source (an init script
    # of a page of its own, so the second visit has Media Source again); then the Media Source path,
    # which resumes where the first visit stopped (a seek to the fragment that holds that time).
    plain_page = context.new_page()
    plain_page.add_init_script(_NO_MEDIA_SOURCE)
    plain_network = Network(context, plain_page)
    plain_media = MediaBytes(plain_network)
    plain_network.throttle()
    plain = _play(plain_page, live_server, plain_network, plain_media, lesson["play_path"])
    plain_page.close()

    mse = _play(page, live_server, network, media, lesson["play_path"])

    budget = lesson["bytes_per_s"] * BUDGET_S
    summary = (f"240p: {lesson['size']} B for {LESSON_S} s ({lesson['bytes_per_s'] * 8 / 1000:.0f} kbit/s), "
               f"budget {budget:.0f} B ({BUDGET_S} s); Media Source: {mse}; plain src: {plain}")
    print(summary)
    assert mse["delivery"] == "mse" and mse["src"].startswith("blob:"), summary
    assert mse["rendition"] == "240p" and not mse["paused"] and mse["played"] >= PLAY_S * 0.75, summary
    assert mse["ahead"] <= 62 and mse["later"]["ahead"] <= 62, summary
    assert mse["bytes"] < budget, summary
    assert plain["delivery"] == "progressive" and "/240p.mp4" in plain["src"], summary
    assert plain["played"] >= PLAY_S * 0.75, summary
    # Once a minute is buffered ahead, Media Source waits; plain src reads on as far as the link lets it.
    later_budget = lesson["bytes_per_s"] * (LONG_PLAY_S + 60 + 8)
    assert mse["later"]["bytes"] < later_budget, summary
    assert plain["later"]["bytes"] > mse["later"]["bytes"] * 1.2, summary
