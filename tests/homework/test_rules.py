"""The pure homework rules: the window, what a learner may still change, the score."""
from datetime import datetime, timedelta, timezone

from hypothesis import given, strategies as st

from app.homework import rules

DUE = datetime(2026, 3, 20, 16, 0, tzinfo=timezone.utc)


def test_the_window_and_the_late_window():
    plain, late = rules.Window(DUE), rules.Window(DUE, DUE + timedelta(days=2))
    assert plain.is_open(DUE) and not plain.is_open(DUE + timedelta(seconds=1))
    assert late.is_open(DUE + timedelta(days=2)) and not late.is_open(DUE + timedelta(days=2, seconds=1))
    assert not late.is_late(DUE) and late.is_late(DUE + timedelta(seconds=1))


def test_what_a_learner_may_change():
    after = DUE + timedelta(days=1)
    window = rules.Window(DUE)
    assert rules.can_edit(rules.Latest(None), window, DUE) is None
    assert rules.can_edit(rules.Latest("draft"), window, after) == "closed"
    assert rules.can_edit(rules.Latest("submitted"), window, DUE) is None
    assert rules.can_edit(rules.Latest("returned"), window, after) is None  # revision asked by the tutor
    assert rules.can_edit(rules.Latest("graded"), window, DUE) == "graded"
    assert not rules.needs_new_version(rules.Latest("draft")) and not rules.needs_new_version(rules.Latest(None))
    assert rules.needs_new_version(rules.Latest("submitted")) and rules.needs_new_version(rules.Latest("returned"))


def test_tutor_transitions():
    assert rules.can_grade("submitted") and rules.can_grade("graded") and not rules.can_grade("draft")
    assert rules.can_return("submitted", True) and not rules.can_return("submitted", False)
    assert not rules.can_return("returned", True) and rules.can_recommend("graded") and not rules.can_recommend("submitted")


@given(st.one_of(st.integers(), st.floats(allow_nan=True), st.booleans(), st.text(max_size=5), st.none()))
def test_a_score_is_a_whole_number_from_0_to_100(value):
    score = rules.check_score(value)
    if score is not None:
        assert isinstance(score, int) and 0 <= score <= 100 and not isinstance(value, (bool, str))
        assert score == value
