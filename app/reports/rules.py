"""Pure rules of the reports: rolling school totals up to child units, figures, day series, charts, safe cells.

No flask, no db: the service reads stored totals and hands them here.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from app.tracking.rules import learning_hours

#: the dashboards' day series covers this many days, today included
DAYS = 30
#: characters that make a spreadsheet cell a formula (OWASP CSV injection), plus tab and carriage return
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: statuses of the learners behind a figure
STATUSES = ("enrolled", "started", "not_started", "completed", "not_completed")


@dataclass(frozen=True)
class Figures:
    """The figures of a group of learners in a project (a school, a unit, a class)."""

    enrolled: int = 0
    started: int = 0
    credited_ms: int = 0
    completed: int = 0

    def __add__(self, other: "Figures") -> "Figures":
        return Figures(self.enrolled + other.enrolled, self.started + other.started,
                       self.credited_ms + other.credited_ms, self.completed + other.completed)

    @property
    def mean_ms(self) -> int:
        return self.credited_ms // self.enrolled if self.enrolled else 0

    @property
    def completed_share(self) -> float:
        """Share of the enrolled who reached the required hours, 0..1."""
        return self.completed / self.enrolled if self.enrolled else 0.0

    @property
    def started_share(self) -> float:
        return self.started / self.enrolled if self.enrolled else 0.0


def required_ms(required_hours: float, minutes_per_hour: int) -> int:
    """The credited milliseconds a project's required hours take (R12)."""
    return int(required_hours * minutes_per_hour * 60 * 1000)


def hours(ms: int, minutes_per_hour: int) -> float:
    """Credited milliseconds as learning hours, rounded down to 0.1 (R12)."""
    return learning_hours(ms, minutes_per_hour)


def child_id(path: str, parent_path: str) -> int | None:
    """Id of the child of the unit at parent_path on the way to the unit at path (None: the unit itself)."""
    if not path.startswith(parent_path) or path == parent_path:
        return None
    return int(path[len(parent_path):].strip("/").split("/")[0])


def roll_up(per_unit: Mapping[int, Figures], paths: Mapping[int, str], parent_path: str) -> tuple[Figures, dict[int | None, Figures]]:
    """Sum per-unit figures into the total and per child of the unit at parent_path (None: learners at the unit itself)."""
    total = Figures()
    children: dict[int | None, Figures] = {}
    for unit_id, figures in per_unit.items():
        path = paths.get(unit_id)
        if path is None or not path.startswith(parent_path):
            continue
        total = total + figures
        key = child_id(path, parent_path)
        children[key] = children.get(key, Figures()) + figures
    return total, children


def day_series(rows: Iterable[tuple[date, int]], today: date, days: int = DAYS) -> list[tuple[date, int]]:
    """(day, ms) for each of the last `days` days up to today, zero where nothing was credited."""
    found = {day: int(ms or 0) for day, ms in rows}
    first = today - timedelta(days=days - 1)
    return [(first + timedelta(days=i), found.get(first + timedelta(days=i), 0)) for i in range(days)]


def is_complete(credited_ms: int, required: int) -> bool:
    return credited_ms >= required


def inert(value):
    """A cell value a spreadsheet never runs as a formula: text starting with = + - @ gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def is_formula_like(value) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


@dataclass(frozen=True)
class Bar:
    """One bar of a chart, in the chart's own coordinates."""

    x: float
    y: float
    width: float
    height: float
    label: str
    value: float


def bar_chart(values: list[tuple[str, float]], width: float = 600, height: float = 160, gap: float = 2) -> list[Bar]:
    """Vertical bars for (label, value) pairs scaled to the tallest value, filling the given box."""
    if not values:
        return []
    top = max(v for _l, v in values) or 1
    slot = width / len(values)
    bars = []
    for i, (label, value) in enumerate(values):
        h = height * value / top
        bars.append(Bar(x=round(i * slot + gap / 2, 2), y=round(height - h, 2), width=round(max(slot - gap, 1), 2),
                        height=round(h, 2), label=label, value=value))
    return bars

