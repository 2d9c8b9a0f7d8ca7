"""The homework rules, pure: when a learner may still hand in, and which state changes are allowed.

Time is passed in (aware UTC datetimes); nothing here touches Flask or the database.
"""
from dataclasses import dataclass
from datetime import datetime

MIN_SCORE, MAX_SCORE = 0, 100


@dataclass(frozen=True)
class Window:
    """An assignment's deadline and its optional late window."""

    due_at: datetime
    late_until: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        return now <= (self.late_until or self.due_at)

    def is_late(self, now: datetime) -> bool:
        return now > self.due_at


@dataclass(frozen=True)
class Latest:
    """What the learner's latest version is: its state (None before the first one)."""

    state: str | None


def can_edit(latest: Latest, window: Window, now: datetime) -> str | None:
    """Return why the learner may not save or submit now, or None when they may.

    A draft is edited until the window closes; a submitted version not yet graded may be
    replaced by a new one while the window is open; a returned one may be revised even after
    the deadline (the tutor asked for it); a graded one is final.
    """
    state = latest.state
    if state == "graded":
        return "graded"
    if state == "returned":
        return None
    if not window.is_open(now):
        return "closed"
    return None


def needs_new_version(latest: Latest) -> bool:
    """A save goes into a new version unless the latest one is still a draft."""
    return latest.state not in (None, "draft")


def can_grade(state: str) -> bool:
    """Grade a submitted version, or grade a graded one again."""
    return state in ("submitted", "graded")


def can_return(state: str, is_returnable: bool) -> bool:
    return is_returnable and state in ("submitted", "graded")


def can_recommend(state: str) -> bool:
    return state == "graded"


def check_score(value: object) -> int | None:
    """Return the score as an int in 0..100, or None when it is not one (bools and floats with a fraction too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or not value.is_integer():
            return None
        value = int(value)
    if not isinstance(value, int):
        return None
    return value if MIN_SCORE <= value <= MAX_SCORE else None


def my_state(latest_state: str | None) -> str:
    """The learner's state of an assignment as lists show it ("not_started" before anything)."""
    return latest_state or "not_started"
