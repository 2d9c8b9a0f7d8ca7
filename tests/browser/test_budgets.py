"""Page weights and weak-link budgets on the demo data, measured in Chromium through its DevTools protocol.

Weights (empty cache, no throttling): the learner home at most 120 KB transferred, the player page at most
200 KB before media (video, audio and poster bytes), and a repeat visit fetches only the page itself.
Weak link (Network.emulateNetworkConditions: 1 Mbit/s down, 384 kbit/s up, 150 ms latency): the sign-in
and home pages load within 1.5 s from an empty cache, and a demo lesson shows its first frame within 3 s of
the navigation. Each failing assertion prints the measured figures.
"""
from pathlib import Path

import pytest

from app.demo import DEMO_PASSWORDS, DEMO_VIDEOS, SHORT_PROJECT_TITLE, ensure_demo_ladder, load_demo
from app.extensions import db
from tests.conftest import demo_media_copy

pytestmark = pytest.mark.browser

HOME_BUDGET_B = 120_000
PLAYER_BUDGET_B = 200_000
PAGE_BUDGET_MS = 1500
FIRST_FRAME_BUDGET_MS = 3000
WEAK_LINK = {"offline": False, "latency": 150, "downloadThroughput": 1_000_000 / 8,
             "uploadThroughput": 384_000 / 8, "connectionType": "cellular3g"}
#: the demo lesson the first-frame budget is measured on (the 45 s introduction, with its ladder)
BUDGET_LESSON_KEY = DEMO_VIDEOS[0][0]

# Runs in every page before its scripts: the moment a media element has its first frame.
_FIRST_FRAME = """
window.__xsFirstFrame = null;
document.addEventListener('loadeddata', function (e) {
  if (window.__xsFirstFrame === null && e.target.tagName === 'VIDEO') { window.__xsFirstFrame = performance.now(); }
}, true);
"""


@pytest.fixture(scope="module")
def demo_media(tmp_path_factory) -> Path:
    """This module's copy of the demo media (its ladders are transcoded into it)."""
    return demo_media_copy(tmp_path_factory, "budget-media")


@pytest.fixture
def demo(app, demo_media):
    """The demo data set served from demo_media, the budget lesson transcoded to its ladder."""
    app.config["MEDIA_ROOT"] = str(demo_media)
    load_demo(demo_media)
    ensure_demo_ladder(demo_media, keys={BUDGET_LESSON_KEY})
    from sqlalchemy import select

    from app.courses.models import Lesson, Project

    project = db.session.execute(select(Project).where(Project.title == SHORT_PROJECT_TITLE)).scalar_one()
    lesson = db.session.execute(select(Lesson).where(Lesson.title == DEMO_VIDEOS[0][2])).scalar_one()
    return {"play_path": f"/projects/{project.id}/lessons/{lesson.id}/play"}


class Network:
    """Every request of a page as the DevTools protocol sees it: bytes on the wire, cache hits, kind."""

    def __init__(self, context, page):
        self.cdp = context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.requests: dict[str, dict] = {}
        self.cdp.on("Network.requestWillBeSent", self._sent)
        self.cdp.on("Network.requestServedFromCache", self._cached)
        self.cdp.on("Network.responseReceived", self._received)
        self.cdp.on("Network.loadingFinished", self._finished)

    def _sent(self, event):
        self.requests[event["requestId"]] = {"url": event["request"]["url"], "type": event.get("type", ""),
                                             "bytes": 0, "cached": False}

    def _cached(self, event):
        if event["requestId"] in self.requests:
            self.requests[event["requestId"]]["cached"] = True

    def _received(self, event):
        entry = self.requests.get(event["requestId"])
        if entry is not None:
            entry["type"] = event.get("type", entry["type"])
            response = event["response"]
            entry["cached"] = entry["cached"] or response.get("fromDiskCache") or response.get("fromMemoryCache")

    def _finished(self, event):
        if event["requestId"] in self.requests:
            self.requests[event["requestId"]]["bytes"] = event["encodedDataLength"]

    def reset(self) -> None:
        self.requests.clear()

    def clear_cache(self) -> None:
        self.cdp.send("Network.clearBrowserCache")
        self.reset()

    def throttle(self) -> None:
        self.cdp.send("Network.emulateNetworkConditions", WEAK_LINK)

    def fetched(self, *, media: bool = True) -> list[dict]:
        """Return the requests that went to the network (not served from the cache)."""
        rows = [r for r in self.requests.values() if not r["cached"] and r["bytes"] > 0]
        if not media:
            rows = [r for r in rows if r["type"] != "Media" and "/media/" not in r["url"]]
        return rows

    def total(self, *, media: bool = True) -> int:
        return sum(r["bytes"] for r in self.fetched(media=media))

    def describe(self, *, media: bool = True) -> str:
        return ", ".join(f"{r['url'].split('/', 3)[-1][:60]} {r['bytes']} B" for r in self.fetched(media=media))


def _sign_in(page, live_server) -> None:
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", "learner1")
    page.fill("input[name=password]", DEMO_PASSWORDS["learner"])
    page.click("[data-testid=login-submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def _load_ms(page) -> float:
    page.wait_for_function("() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
    return page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")


def test_page_weights_from_an_empty_cache_and_repeat_visits(context, page, live_server, demo):
    network = Network(context, page)
    _sign_in(page, live_server)

    network.clear_cache()
    page.goto(live_server.url + "/", wait_until="load")
    home = network.total()
    assert home <= HOME_BUDGET_B, f"learner home: {home} B from an empty cache ({network.describe()})"

    page.wait_for_load_state("networkidle")  # the favicon is fetched after "load": let it land before counting
    network.reset()
    page.goto(live_server.url + "/", wait_until="load")
    again = network.fetched()
    assert [r["type"] for r in again] == ["Document"], f"a repeat visit fetched more than the page: {network.describe()}"

    network.clear_cache()
    page.goto(live_server.url + demo["play_path"], wait_until="load")
    page.wait_for_function("() => document.querySelector('video') && document.querySelector('video').readyState >= 1")
    player = network.total(media=False)
    assert player <= PLAYER_BUDGET_B, f"player page: {player} B before media ({network.describe(media=False)})"

    network.reset()
    page.goto(live_server.url + demo["play_path"], wait_until="load")
    page.wait_for_function("() => document.querySelector('video') && document.querySelector('video').readyState >= 1")
    statics = [r for r in network.fetched(media=False) if "/static/" in r["url"]]
    assert not statics, f"a repeat visit of the player fetched static files again: {statics}"


def test_weak_link_budgets(context, page, live_server, demo):
    """1 Mbit/s down, 384 kbit/s up, 150 ms: pages within 1.5 s from an empty cache, first frame within 3 s."""
    context.add_init_script(_FIRST_FRAME)
    network = Network(context, page)
    network.throttle()
    figures = {}

    network.clear_cache()
    page.goto(live_server.url + "/login")
    figures["sign-in page ms"] = _load_ms(page)
    _sign_in(page, live_server)

    network.clear_cache()
    page.goto(live_server.url + "/")
    figures["home page ms"] = _load_ms(page)

    # The media side: the learner's stored choice of the lowest rung (no automatic choice to make).
    page.evaluate("() => localStorage.setItem('xueshi.media.quality', '240p')")
    network.clear_cache()
    page.goto(live_server.url + demo["play_path"])
    page.wait_for_function("() => window.__xsFirstFrame !== null", timeout=30_000)
    figures["first frame ms, 240p chosen"] = page.evaluate("() => window.__xsFirstFrame")
    figures["bytes before first frame, 240p chosen"] = network.total()

    # What a newcomer gets: the player's automatic choice on this link.
    page.evaluate("() => localStorage.removeItem('xueshi.media.quality')")
    network.clear_cache()
    page.goto(live_server.url + demo["play_path"])
    page.wait_for_function("() => window.__xsFirstFrame !== null", timeout=30_000)
    figures["first frame ms, automatic choice"] = page.evaluate("() => window.__xsFirstFrame")
    figures["rendition chosen"] = page.evaluate("() => document.querySelector('video').getAttribute('data-rendition')")
    figures["navigator.connection.downlink"] = page.evaluate("() => navigator.connection && navigator.connection.downlink")

    # A browser that reports no link speed (Firefox, Safari): the player measures the link itself.
    page.add_init_script("Object.defineProperty(Navigator.prototype, 'connection', {get: () => undefined})")
    network.clear_cache()
    page.goto(live_server.url + demo["play_path"])
    page.wait_for_function("() => window.__xsFirstFrame !== null", timeout=30_000)
    figures["first frame ms, measured link"] = page.evaluate("() => window.__xsFirstFrame")
    figures["rendition chosen, measured link"] = page.evaluate(
        "() => document.querySelector('video').getAttribute('data-rendition')")
    assert page.evaluate("() => navigator.connection") is None

    summary = ", ".join(f"{k}: {v:.0f}" if isinstance(v, float) else f"{k}: {v}" for k, v in figures.items())
    print(summary)
    assert figures["sign-in page ms"] <= PAGE_BUDGET_MS, summary
    assert figures["home page ms"] <= PAGE_BUDGET_MS, summary
    assert figures["first frame ms, 240p chosen"] <= FIRST_FRAME_BUDGET_MS, summary
    assert figures["rendition chosen"] == "240p", summary
    assert figures["first frame ms, automatic choice"] <= FIRST_FRAME_BUDGET_MS, summary
    assert figures["rendition chosen, measured link"] == "240p", summary
    assert figures["first frame ms, measured link"] <= FIRST_FRAME_BUDGET_MS, summary
