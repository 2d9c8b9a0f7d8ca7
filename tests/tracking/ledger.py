"""An in-memory stand-in for the tracking service, built only from app.tracking.rules.

It keeps what the service keeps (sessions, the user's state, lesson and daily
totals, covered segments, credited windows, reason counters) so property tests
can drive whole heartbeat sequences through the pure rules quickly.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

from app.tracking import rules
from app.tracking.rules import Heartbeat, Piece, SessionState, Settings, UserState


@dataclass
class Window:
    session_id: int
    lesson_id: int
    piece: Piece


@dataclass
class Ledger:
    settings: Settings = field(default_factory=Settings)
    durations_ms: dict[int, int] = field(default_factory=lambda: {1: 600_000})
    seed: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.user = UserState()
        self.sessions: dict[int, SessionState] = {}
        self.lesson_of: dict[int, int] = {}
        self.status: dict[int, str] = {}
        self.lesson_ms: dict[int, int] = defaultdict(int)
        self.day_ms: dict = defaultdict(int)
        self.segments: dict[int, list[list[int]]] = defaultdict(list)
        self.complete: dict[int, bool] = defaultdict(bool)
        self.windows: list[Window] = []
        self.reasons: dict[str, list[int]] = {}
        self.check: rules.PresenceCheck | None = None
        self.checks_issued = 0
        self.beats_seen: list[tuple[int, int, Heartbeat]] = []  # (session, now_ms, hb) accepted or not

    # ------------------------------------------------------------- use cases
    def open(self, lesson_id: int = 1) -> int:
        """Open a session, superseding every other open one (R5)."""
        for sid, status in self.status.items():
            if status == "open":
                self.status[sid] = "superseded"
                self.sessions[sid], tally = rules.drop_held(self.sessions[sid], "superseded")
                self._count(tally)
        sid = len(self.sessions) + 1
        self.sessions[sid] = SessionState()
        self.lesson_of[sid] = lesson_id
        self.status[sid] = "open"
        return sid

    def end(self, sid: int) -> None:
        if self.status[sid] == "open":
            self.status[sid] = "ended"
            self.sessions[sid], tally = rules.drop_held(self.sessions[sid], "presence_overdue")
            self._count(tally)

    def beat(self, sid: int, hb: Heartbeat, now_ms: int) -> rules.Outcome | None:
        """Post a heartbeat; None when the session is not open (409/410)."""
        self.beats_seen.append((sid, now_ms, hb))
        if self.status[sid] != "open":
            if self.status[sid] == "superseded":
                self._count_one("superseded")
            return None
        lesson = self.lesson_of[sid]
        duration = self.durations_ms[lesson]
        assert rules.check_bounds(hb, duration) is None, hb
        days = {d: self.day_ms[d] for d in rules.days_to_read(now_ms, self.settings)}
        out = rules.process_heartbeat(
            self.sessions[sid], self.user, hb, now_ms, self.settings, duration, self.lesson_ms[lesson], days, self.rng
        )
        self._apply(sid, out, duration)
        if out.is_check_due:
            self.check = rules.make_presence_check(self.rng, now_ms)
            self.user = rules.issue_check(self.user, self.check.id, self.check.due_ms)
            self.checks_issued += 1
        return out

    def answer(self, sid: int, now_ms: int) -> rules.Outcome | None:
        """Answer the pending check rightly through session sid."""
        if self.status[sid] != "open" or not self.user.has_pending_check:
            return None
        lesson = self.lesson_of[sid]
        duration = self.durations_ms[lesson]
        days = {d: self.day_ms[d] for d in rules.days_to_read(now_ms, self.settings)}
        out = rules.answer_check(
            self.sessions[sid], self.user, now_ms, self.settings, duration, self.lesson_ms[lesson], days, self.rng
        )
        self._apply(sid, out, duration)
        self.check = None
        return out

    # ------------------------------------------------------------- figures
    @property
    def credited_ms(self) -> int:
        return sum(self.lesson_ms.values())

    def audit_ms(self, lesson_id: int | None = None) -> int:
        return sum(w.piece.ms for w in self.windows if lesson_id is None or w.lesson_id == lesson_id)

    def covered_ms(self, lesson_id: int = 1) -> int:
        return rules.covered_ms(self.segments[lesson_id])

    # ------------------------------------------------------------- internals
    def _apply(self, sid: int, out: rules.Outcome, duration: int) -> None:
        self.sessions[sid] = out.session
        self.user = out.user
        lesson = self.lesson_of[sid]
        for piece in out.credited:
            self.lesson_ms[lesson] += piece.ms
            self.day_ms[piece.day] += piece.ms
            self.windows.append(Window(sid, lesson, piece))
        if out.coverage is not None:
            self.segments[lesson] = rules.merge_segments(self.segments[lesson], out.coverage)
        if rules.is_complete(self.covered_ms(lesson), duration, self.settings):
            self.complete[lesson] = True
        self._count(out.reasons)

    def _count(self, tally: rules.Tally) -> None:
        self.reasons = tally.merge_into(self.reasons)

    def _count_one(self, reason: str) -> None:
        tally = rules.Tally()
        tally.add(reason)
        self._count(tally)
