"""Audit wording: a reload or a second open on the same device reads as "reopened", not "taken over by another
window or device". The device is the random id the player or reader keeps in the browser (device_id when opening
a session); crediting is the same either way (R5)."""
from __future__ import annotations

import re

import pytest


def _open(player, device_id: str | None):
    body = {"lesson_id": player.lesson_id, "project_id": player.project_id}
    if device_id is not None:
        body["device_id"] = device_id
    response = player.client.post("/api/v1/playback/sessions", json=body, headers=player.headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    player.session_id, player.seq = response.get_json()["session_id"], 0
    return player.session_id


def _statuses(player) -> dict[int, tuple[str, bool]]:
    audit = player.client.get(f"/api/v1/me/lessons/{player.lesson_id}/audit?project_id={player.project_id}",
                              headers=player.headers).get_json()
    return {s["id"]: (s["status"], s["is_reopened"]) for s in audit["sessions"]}


@pytest.mark.parametrize("first,second,reopened", [
    ("a1b2c3", "a1b2c3", True),    # a reload: same device
    ("a1b2c3", "ffee00", False),   # another device or browser
    (None, None, False),           # a client that does not say (an API script)
    ("", "", False),
])
def test_same_device_reads_as_reopened_and_credits_the_same(setup, player, first, second, reopened):
    course = setup()
    p = player(course)
    old = _open(p, first)
    p.play(30)
    new = _open(p, second)
    assert _statuses(p) == {old: ("superseded", reopened), new: ("open", False)}
    # R5 is unchanged: the old session earns nothing more and answers 409.
    response = p.post({"seq": 99, "position_s": 40, "playing": True, "visible": True, "rate": 1.0, "event": "tick"},
                      session_id=old)
    assert response.status_code == 409
    assert p.play(30)["lesson"]["credited_s"] == 60


def test_a_bad_device_id_is_refused(setup, player):
    p = player(setup())
    response = p.client.post("/api/v1/playback/sessions", headers=p.headers,
                             json={"lesson_id": p.lesson_id, "project_id": p.project_id, "device_id": "x" * 65})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "device_id"


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_the_audit_page_says_reopened_or_taken_over(app, setup, player, client, login):
    course = setup()
    p = player(course)
    _open(p, "dev1")
    _open(p, "dev1")   # reload on the same device
    _open(p, "dev2")   # another device takes over
    login(client, course.learner)
    html = client.get(f"/projects/{course.project.id}/lessons/{p.lesson_id}/audit").get_data(as_text=True)
    statuses = re.findall(r'data-testid="session-status" data-status="(\w+)"', html)
    assert statuses == ["open", "superseded", "reopened"]  # newest first
    assert "重新打开" in html
    assert "已被其他窗口或设备取代" in html
