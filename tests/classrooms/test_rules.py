"""The pure rules of a class's figures: the project's pace, who lags, who has not started."""
from datetime import date

import pytest
from hypothesis import given, strategies as st

from app.classrooms import rules


@pytest.mark.parametrize("today,share", [
    (date(2025, 12, 31), 0.0),  # before the first day
    (date(2026, 1, 1), 0.1),    # the first of ten days gone by at its end
    (date(2026, 1, 5), 0.5),
    (date(2026, 1, 10), 1.0),
    (date(2026, 3, 1), 1.0),    # after the last day
])
def test_elapsed_share_counts_whole_project_days(today, share):
    assert rules.elapsed_share(date(2026, 1, 1), date(2026, 1, 10), today) == pytest.approx(share)


def test_figures_name_the_learners_furthest_behind_and_those_not_started():
    hour = 45 * 60 * 1000
    credited = {1: 0, 2: 1 * hour, 3: 4 * hour, 4: 6 * hour, 5: 0}
    figures = rules.class_figures(credited, required_ms=10 * hour, share=0.5)
    assert figures.learners == 5 and figures.started == 3
    assert figures.pace_ms == 5 * hour and figures.mean_ms == 11 * hour // 5
    assert [(lag.user_id, lag.behind_ms) for lag in figures.laggards] == [(1, 5 * hour), (5, 5 * hour), (2, 4 * hour)]
    assert figures.not_started == (1, 5)


def test_an_empty_class_has_zero_figures():
    figures = rules.class_figures({}, required_ms=1000, share=0.3)
    assert (figures.learners, figures.started, figures.mean_ms, figures.laggards, figures.not_started) == (0, 0, 0, (), ())


@given(st.dictionaries(st.integers(1, 10_000), st.integers(0, 10**9), max_size=60), st.floats(0, 1),
       st.integers(1, 5))
def test_laggards_are_behind_the_pace_and_sorted(credited, share, count):
    figures = rules.class_figures(credited, required_ms=10**9, share=share, lag_count=count)
    assert len(figures.laggards) <= count
    assert all(lag.behind_ms > 0 and lag.credited_ms + lag.behind_ms == figures.pace_ms for lag in figures.laggards)
    behind = [lag.behind_ms for lag in figures.laggards]
    assert behind == sorted(behind, reverse=True)
    outside = {uid for uid in credited} - {lag.user_id for lag in figures.laggards}
    if len(figures.laggards) == count and figures.laggards:
        assert all(figures.pace_ms - credited[uid] <= behind[-1] for uid in outside)
    assert figures.started + len(figures.not_started) == figures.learners == len(credited)
