"""Fixtures of the tracking tests: an enrolled learner with lessons, and a scripted player over the HTTP API."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.conftest import bearer


class Player:
    """Drives one playback session through the JSON API, moving the test clock instead of sleeping."""

    def __init__(self, client, clock, headers: dict, project_id: int, lesson_id: int):
        self.client = client
        self.clock = clock
        self.headers = headers
        self.project_id = project_id
        self.lesson_id = lesson_id
        self.session_id: int | None = None
        self.seq = 0
        self.position = 0.0
        self.opened: dict = {}
        self.last: dict = {}

    # -------------------------------------------------------------- raw calls
    def open(self, expect: int = 201) -> dict:
        response = self.client.post(
            "/api/v1/playback/sessions",
            json={"lesson_id": self.lesson_id, "project_id": self.project_id},
            headers=self.headers,
        )
        assert response.status_code == expect, response.get_data(as_text=True)
        data = response.get_json()
        if expect == 201:
            self.session_id = data["session_id"]
            self.seq = 0
            self.position = data["resume_position_s"]
            self.opened = data
        return data

    def post(self, body: dict, session_id: int | None = None, raw: bytes | None = None, **kwargs):
        url = f"/api/v1/playback/sessions/{session_id or self.session_id}/heartbeats"
        if raw is not None:
            return self.client.post(url, data=raw, headers={**self.headers, "Content-Type": "application/json"}, **kwargs)
        return self.client.post(url, json=body, headers=self.headers, **kwargs)

    def beat(self, position: float | None = None, *, playing=True, visible=True, rate=1.0, event="tick",
             frm: float | None = None, seq: int | None = None, expect: int = 200) -> dict:
        if seq is None:
            self.seq += 1
            seq = self.seq
        if position is not None:
            self.position = position
        body = {"seq": seq, "position_s": self.position, "playing": playing, "visible": visible, "rate": rate,
                "event": event}
        if frm is not None:
            body["from_position_s"] = frm
        response = self.post(body)
        assert response.status_code == expect, response.get_data(as_text=True)
        self.last = response.get_json()
        return self.last

    def end(self, expect: int = 200) -> dict:
        response = self.client.post(f"/api/v1/playback/sessions/{self.session_id}/end", json={}, headers=self.headers)
        assert response.status_code == expect, response.get_data(as_text=True)
        return response.get_json()

    def answer(self, check_id: str, answer, expect: int = 200) -> dict:
        response = self.client.post(
            f"/api/v1/playback/sessions/{self.session_id}/presence",
            json={"check_id": check_id, "answer": answer},
            headers=self.headers,
        )
        assert response.status_code == expect, response.get_data(as_text=True)
        return response.get_json()

    # -------------------------------------------------------------- behaviours
    def play(self, seconds: float, *, step: float = 15, rate: float = 1.0, start: bool = True) -> dict:
        """Play honestly for `seconds` of wall time: a play event, then a tick every `step` seconds."""
        if start:
            self.beat(event="play", rate=rate)
        left = seconds
        while left > 1e-9:
            d = min(step, left)
            self.clock.advance(d)
            left -= d
            self.beat(self.position + d * rate, rate=rate)
        return self.last

    def pause(self) -> dict:
        return self.beat(playing=False, event="pause")

    @property
    def credited(self) -> float:
        return self.last["lesson"]["credited_s"]


@dataclass
class Course:
    project: object
    lessons: list
    learner: object
    token: str
    headers: dict = field(default_factory=dict)


@pytest.fixture
def setup(app, clock, org_tree, make_project, make_course, make_user, enroll, api_token):
    """A project (default tracking settings, presence checks off), three lessons, an enrolled learner with a token."""

    def make(durations=(600, 1800, 60), username="learner1", **project_settings):
        project_settings.setdefault("is_presence_check_enabled", False)
        project = make_project("Tracking project", **project_settings)
        course = make_course(project, "Course", durations=durations)
        learner = make_user(username, org=org_tree["school_a1"])
        enroll(learner, project)
        token = api_token(learner)
        return Course(project, list(course.modules[0].lessons), learner, token, bearer(token))

    return make


@pytest.fixture
def player(client, clock):
    """player(course, lesson_index=0, client=None) -> Player with the learner's Bearer token."""

    def make(course: Course, lesson_index: int = 0, other_client=None, headers=None) -> Player:
        return Player(other_client or client, clock, headers or course.headers, course.project.id,
                      course.lessons[lesson_index].id)

    return make
