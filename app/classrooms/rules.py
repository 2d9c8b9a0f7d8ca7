"""Pure rules of a class's figures: the project's pace, who lags behind it, who has not started.

No flask, no database: the service passes the credited totals and the day in.
"""
from dataclasses import dataclass
from datetime import date

#: how many of the learners furthest behind the pace a class's home names
LAGGARD_COUNT = 3


def elapsed_share(starts_on: date, ends_on: date, today: date) -> float:
    """Share of the project's days gone by at the end of today: 0 before the first day, 1 from the last."""
    total = (ends_on - starts_on).days + 1
    if total <= 0 or today < starts_on:
        return 0.0
    return min(1.0, ((today - starts_on).days + 1) / total)


def pace_ms(required_ms: int, share: float) -> int:
    """Credit a learner keeping the project's pace holds by now: required × elapsed share."""
    return int(required_ms * share)


@dataclass(frozen=True)
class Laggard:
    user_id: int
    credited_ms: int
    #: how far below the pace (always > 0)
    behind_ms: int


@dataclass(frozen=True)
class ClassFigures:
    learners: int
    started: int
    #: mean credited time per learner (0 without learners)
    mean_ms: int
    required_ms: int
    #: what a learner keeping the pace holds today
    pace_ms: int
    #: learners below the pace, furthest behind first, at most LAGGARD_COUNT
    laggards: tuple[Laggard, ...]
    #: learners with no credited second yet (by user id, in the order given)
    not_started: tuple[int, ...]


def class_figures(credited: dict[int, int], required_ms: int, share: float, lag_count: int = LAGGARD_COUNT) -> ClassFigures:
    """Figures of a class from each learner's credited milliseconds in the class's project."""
    pace = pace_ms(required_ms, share)
    learners = len(credited)
    behind = sorted(
        (Laggard(user_id, ms, pace - ms) for user_id, ms in credited.items() if ms < pace),
        key=lambda lag: (-lag.behind_ms, lag.user_id),
    )
    return ClassFigures(
        learners=learners,
        started=sum(1 for ms in credited.values() if ms > 0),
        mean_ms=sum(credited.values()) // learners if learners else 0,
        required_ms=required_ms,
        pace_ms=pace,
        laggards=tuple(behind[:lag_count]),
        not_started=tuple(user_id for user_id, ms in credited.items() if ms <= 0),
    )


def lag_threshold_ms(required_ms: int, share: float, grace_ms: int) -> int:
    """督促: a learner lags when credited < required × elapsed share − grace (never below 0)."""
    return max(0, pace_ms(required_ms, share) - grace_ms)


def is_lagging(credited_ms: int, required_ms: int, share: float, grace_ms: int) -> bool:
    return credited_ms < lag_threshold_ms(required_ms, share, grace_ms)


# ---------------------------------------------------------------- reminders (督促)
#: reminders a learner may get a day, from a class's roster and an org subtree's lagging list together
#: (the REMINDERS_PER_DAY setting overrides it)
REMINDERS_PER_DAY = 1
#: why a learner was skipped (the `reason` of API.md's `skipped`)
SKIP_LIMIT = "limit"
SKIP_NOT_IN_CLASS = "not_in_class"
SKIP_NOT_IN_SCOPE = "not_in_scope"


def reminder_skip_reason(in_reach: bool, reminded_today: int, per_day: int = REMINDERS_PER_DAY,
                         outside: str = SKIP_NOT_IN_CLASS) -> str | None:
    """Why a learner gets no reminder now (None: send it): `outside` when out of the sender's reach, else the limit."""
    if not in_reach:
        return outside
    if reminded_today >= per_day:
        return SKIP_LIMIT
    return None
