"""The pure rules of the reports: roll-up to child units, day series, safe cells, bars."""
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from app.reports import rules
from app.reports.rules import Figures

PATHS = {1: "/1/", 2: "/1/2/", 3: "/1/2/3/", 4: "/1/2/4/", 5: "/1/5/", 6: "/1/5/6/", 9: "/9/"}


def test_roll_up_sums_schools_into_children_and_keeps_other_trees_out():
    per_unit = {3: Figures(10, 5, 1000, 2), 4: Figures(5, 5, 500, 5), 6: Figures(1, 0, 0, 0), 2: Figures(1, 1, 7, 0),
                9: Figures(99, 99, 99, 99)}
    total, children = rules.roll_up(per_unit, PATHS, "/1/")
    assert total == Figures(17, 11, 1507, 7)
    assert children == {2: Figures(16, 11, 1507, 7), 5: Figures(1, 0, 0, 0)}
    total, children = rules.roll_up(per_unit, PATHS, "/1/2/")
    assert children == {3: Figures(10, 5, 1000, 2), 4: Figures(5, 5, 500, 5), None: Figures(1, 1, 7, 0)}


@given(st.dictionaries(st.sampled_from(sorted(PATHS)), st.tuples(*[st.integers(0, 1000)] * 4)))
def test_children_always_add_up_to_the_total(raw):
    per_unit = {k: Figures(*v) for k, v in raw.items()}
    total, children = rules.roll_up(per_unit, PATHS, "/1/")
    assert sum(children.values(), Figures()) == total


def test_shares_and_mean_of_an_empty_group_are_zero():
    assert Figures().completed_share == 0 and Figures().mean_ms == 0
    assert Figures(4, 2, 1000, 1).completed_share == 0.25 and Figures(4, 2, 1000, 1).mean_ms == 250


def test_day_series_fills_thirty_days_ending_today():
    series = rules.day_series([(date(2026, 3, 9), 5), (date(2026, 1, 1), 7)], date(2026, 3, 10))
    assert len(series) == 30 and series[-1] == (date(2026, 3, 10), 0) and series[-2] == (date(2026, 3, 9), 5)
    assert series[0][0] == date(2026, 2, 9)


def test_hours_and_completion_follow_r12():
    assert rules.required_ms(60, 45) == 60 * 45 * 60 * 1000
    assert rules.hours(2699_999, 45) == 0.9 and rules.hours(2700_000, 45) == 1.0
    assert rules.is_complete(100, 100) and not rules.is_complete(99, 100)


def test_formula_like_text_is_made_inert():
    for value in ("=1+1", "+86", "-2", "@SUM(A1)", "\tx"):
        assert rules.inert(value) == "'" + value and rules.is_formula_like(value)
    assert rules.inert("张三") == "张三" and rules.inert(3.5) == 3.5


def test_bars_fill_the_box_and_scale_to_the_tallest():
    bars = rules.bar_chart([("a", 1), ("b", 4), ("c", 0)], width=300, height=100)
    assert [b.height for b in bars] == [25, 100, 0] and bars[1].y == 0
    assert rules.bar_chart([]) == [] and rules.bar_chart([("z", 0)])[0].height == 0
