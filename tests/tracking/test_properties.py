"""Property tests through the HTTP API (hypothesis): random heartbeat traffic of one learner on two tabs and
two devices, driven with the test clock, against what the server stores and its own audit, and against the
in-memory ledger built from the pure rules (tests/tracking/ledger.py) as an oracle.

TRACKING_API_EXAMPLES=200 for a longer search than the suite's default.
"""
from __future__ import annotations

import itertools
import os
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from app.tracking import rules, service
from tests.conftest import bearer
from tests.tracking.ledger import Ledger

DURATION_S = 300
START = datetime.fromisoformat("2026-03-10T02:00:00+00:00")
EXAMPLES = hsettings(max_examples=int(os.environ.get("TRACKING_API_EXAMPLES", 12)), deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_learners = itertools.count(1)

RATES = st.sampled_from([1.0] * 5 + [0.5, 2.0, 3.0])
EVENTS = st.sampled_from(["tick"] * 5 + ["play", "pause", "seek", "hidden", "shown"])
MOSTLY = st.sampled_from([True, True, True, False])


@st.composite
def traffic(draw):
    """One learner's traffic: opens on two devices and two lessons, heartbeats of the last two tabs, replays."""
    ops = []
    for _ in range(draw(st.integers(min_value=1, max_value=20))):
        kind = draw(st.sampled_from(["beat"] * 8 + ["open", "replay"]))
        dt = draw(st.sampled_from([0, 1, 5, 15, 15, 15, 16, 30, 200]))
        if kind == "beat":
            event = draw(EVENTS)
            ops.append(("beat", dt, {
                "tab": draw(st.sampled_from([0, 0, 0, 1])),  # 1: the tab opened before the last one
                "advance": draw(st.sampled_from([1.0, 1.0, 1.0, 0.0, 2.0, 10.0])),  # content per wall second
                "playing": draw(MOSTLY), "visible": draw(MOSTLY), "rate": draw(RATES), "event": event,
                "from": draw(st.integers(0, DURATION_S)) if event == "seek" else None,
            }))
        elif kind == "open":
            ops.append(("open", dt, {"device": draw(st.integers(0, 1)), "lesson": draw(st.integers(0, 1))}))
        else:
            ops.append(("replay", dt, {"back": draw(st.integers(1, 3))}))
    return ops


class Learner:
    """A fresh learner (own project, so nothing is shared between examples) driven through the API."""

    def __init__(self, setup, client, clock, api_token):
        self.course = setup(durations=(DURATION_S, DURATION_S), username=f"prop{next(_learners)}")
        self.devices = [self.course.headers, bearer(api_token(self.course.learner))]
        self.client = client
        self.clock = clock
        self.tabs: list[dict] = []  # {"sid", "headers", "seq", "position", "lesson"}, newest last
        self.sent: list[tuple[dict, dict]] = []  # (tab, body)
        clock.set(START)

    def open(self, device: int, lesson: int) -> dict:
        response = self.client.post("/api/v1/playback/sessions", headers=self.devices[device], json={
            "project_id": self.course.project.id, "lesson_id": self.course.lessons[lesson].id})
        assert response.status_code == 201, response.get_data(as_text=True)
        tab = {"sid": response.get_json()["session_id"], "headers": self.devices[device], "seq": 0,
               "position": 0.0, "lesson": lesson}
        self.tabs.append(tab)
        return tab

    def post(self, tab: dict, body: dict):
        response = self.client.post(f"/api/v1/playback/sessions/{tab['sid']}/heartbeats", json=body,
                                    headers=tab["headers"])
        assert response.status_code in (200, 409), response.get_data(as_text=True)  # 409: a superseded tab
        return response

    def beat(self, tab: dict, dt: float, beat: dict) -> dict:
        tab["seq"] += 1
        tab["position"] = min(DURATION_S + 2, tab["position"] + dt * beat["advance"])
        body = {"seq": tab["seq"], "position_s": tab["position"], "playing": beat["playing"],
                "visible": beat["visible"], "rate": beat["rate"], "event": beat["event"]}
        if beat["from"] is not None:
            body["from_position_s"] = float(beat["from"])
        self.post(tab, body)
        self.sent.append((tab, body))
        return body

    def run(self, ops, ledger: Ledger | None = None) -> None:
        """Play the traffic; feed the ledger the same calls at the same server times."""
        sids = {}

        def ledger_open(tab):
            if ledger is not None:
                sids[tab["sid"]] = ledger.open(tab["lesson"] + 1)

        ledger_open(self.open(0, 0))
        for kind, dt, arg in ops:
            self.clock.advance(dt)
            now_ms = rules.to_ms(self.clock())
            if kind == "open":
                ledger_open(self.open(arg["device"], arg["lesson"]))
            elif kind == "beat":
                tab = self.tabs[-1 - arg["tab"]] if arg["tab"] < len(self.tabs) else self.tabs[-1]
                body = self.beat(tab, dt, arg)
                if ledger is not None:
                    ledger.beat(sids[tab["sid"]], _heartbeat(body), now_ms)
            elif self.sent:  # a request the network delivers again
                tab, body = self.sent[-min(arg["back"], len(self.sent))]
                self.post(tab, body)
                if ledger is not None:
                    ledger.beat(sids[tab["sid"]], _heartbeat(body), now_ms)

    # ------------------------------------------------------------------ what the server says
    def progress(self) -> dict:
        response = self.client.get(f"/api/v1/me/progress?project_id={self.course.project.id}",
                                   headers=self.devices[0])
        assert response.status_code == 200
        return response.get_json()

    def audit(self, lesson: int) -> dict:
        response = self.client.get(f"/api/v1/me/lessons/{self.course.lessons[lesson].id}/audit"
                                   f"?project_id={self.course.project.id}", headers=self.devices[0])
        assert response.status_code == 200
        return response.get_json()


def _heartbeat(body: dict) -> rules.Heartbeat:
    return rules.Heartbeat(body["seq"], rules.seconds_to_ms(body["position_s"]), body["playing"], body["visible"],
                           body["rate"], body["event"],
                           None if "from_position_s" not in body else rules.seconds_to_ms(body["from_position_s"]))


@pytest.fixture
def learner(setup, client, clock, api_token):
    return lambda: Learner(setup, client, clock, api_token)


@EXAMPLES
@given(ops=traffic())
def test_stored_credit_is_the_audits_and_never_more_than_wall_time_content_or_cap(learner, ops):
    someone = learner()
    someone.run(ops)
    wall_s = (someone.clock() - START).total_seconds()
    progress = someone.progress()
    windows = []
    for index, lesson in enumerate(progress["lessons"][:2]):
        audit = someone.audit(index)
        assert audit["credited_s"] == audit["recomputed_s"] == lesson["credited_s"]  # R13
        assert lesson["credited_s"] <= DURATION_S  # R4, cap factor 1
        for session in audit["sessions"]:
            for w in session["windows"]:
                windows.append((w["started_at"], w["ended_at"]))
                # ≤ the content played: a window plays its content at most at the fastest allowed rate
                assert w["credited_s"] * 0.5 <= w["to_position_s"] - w["from_position_s"] + 0.002 + 2
    assert progress["credited_s"] <= wall_s  # ≤ wall time
    windows.sort()
    assert all(a[1] <= b[0] for a, b in zip(windows, windows[1:]))  # R5: no wall time credited twice


@EXAMPLES
@given(ops=traffic())
def test_the_server_credits_what_the_pure_rules_credit(learner, ops):
    someone = learner()
    project = someone.course.project
    ledger = Ledger(service.settings_of(project), {1: DURATION_S * 1000, 2: DURATION_S * 1000})
    someone.run(ops, ledger)
    progress = someone.progress()
    assert [round(lesson["credited_s"] * 1000) for lesson in progress["lessons"][:2]] == [
        ledger.lesson_ms[1], ledger.lesson_ms[2]]
    assert [round(lesson["covered_s"] * 1000) for lesson in progress["lessons"][:2]] == [
        ledger.covered_ms(1), ledger.covered_ms(2)]


@st.composite
def honest_beats(draw):
    """A truthful player's heartbeats: (seconds after the start, body without seq), playing at 1x with pauses."""
    t, position, playing = 0, 0.0, True
    beats = [(0, {"position_s": 0.0, "playing": True, "event": "play"})]
    for _ in range(draw(st.integers(min_value=1, max_value=16))):
        action = draw(st.sampled_from(["tick"] * 6 + ["pause", "play"]))
        dt = draw(st.sampled_from([15, 15, 15, 7, 3]))
        if playing:
            position = min(float(DURATION_S), position + dt)
        t += dt
        playing = {"pause": False, "play": True}.get(action, playing)
        beats.append((t, {"position_s": position, "playing": playing, "event": action}))
    return beats


def deliver(someone: Learner, beats, delays=(), tabs=(), twice=False) -> float:
    """Deliver the heartbeats at their time plus a delay (reordering them), on new tabs, or each twice."""
    arrivals = sorted((t + (delays[i] if delays else 0), i) for i, (t, _) in enumerate(beats))
    tab = someone.open(0, 0)
    for at, i in arrivals:
        someone.clock.set(START)
        someone.clock.advance(at)
        if tabs and tabs[i]:
            tab = someone.open(i % 2, 0)  # the learner moves to another tab or device
        body = {"seq": i + 1, "visible": True, "rate": 1.0, **beats[i][1]}
        for _ in range(2 if twice else 1):
            someone.post(tab, body)
    return someone.progress()["credited_s"]


@EXAMPLES
@given(beats=honest_beats(), data=st.data())
def test_duplicating_reordering_or_splitting_heartbeats_never_raises_credit(learner, beats, data):
    in_order = deliver(learner(), beats)
    assert deliver(learner(), beats, twice=True) == in_order
    delays = data.draw(st.lists(st.sampled_from([0, 0, 0, 0.5, 10, 20, 40]), min_size=len(beats),
                                max_size=len(beats)))
    assert deliver(learner(), beats, delays=delays) <= in_order
    tabs = data.draw(st.lists(st.booleans(), min_size=len(beats), max_size=len(beats)))
    assert deliver(learner(), beats, tabs=tabs) <= in_order
