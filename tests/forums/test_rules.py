"""Participation points: the pure rules."""
from datetime import datetime, timedelta, timezone

from hypothesis import given, strategies as st

from app.forums.rules import PointRules, PostFact, compute_entries, normalise, totals

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai
LONG = "这是一条足够长的回复，超过二十个字符，可以获得积分的。"


def post(i, at=T0, first=False, text=None, deleted=False, excellent=False, user=1):
    return PostFact(post_id=i, user_id=user, created_at=at, is_first=first, text=text or f"{LONG}{i}",
                    is_deleted=deleted, is_excellent=excellent)


def test_defaults():
    entries = compute_entries([post(1, first=True), post(2), post(3, excellent=True)], PointRules())
    assert [(e.post_id, e.rule, e.points) for e in entries] == [(1, "topic", 2), (2, "reply", 1), (3, "reply", 1),
                                                                 (3, "excellent", 3)]


def test_short_deleted_and_duplicate_posts_earn_nothing():
    facts = [post(1, text="好"), post(2, deleted=True), post(3, text=LONG), post(4, text=" " + LONG.upper() + "\n"),
             post(5, text="一二三四五六七八九十一二三四五六七八九")]  # 19 characters
    assert [e.post_id for e in compute_entries(facts, PointRules())] == [3]


def test_a_deleted_post_does_not_block_the_same_text_later():
    facts = [post(1, text=LONG, deleted=True), post(2, text=LONG, at=T0 + timedelta(minutes=1))]
    assert [e.post_id for e in compute_entries(facts, PointRules())] == [2]


def test_daily_cap_resets_at_midnight_in_the_project_time_zone():
    rules = PointRules()
    late = datetime(2026, 3, 10, 15, 50, tzinfo=timezone.utc)  # 23:50 in Shanghai
    facts = [post(i, at=late + timedelta(seconds=i)) for i in range(1, 13)]
    facts += [post(100 + i, at=datetime(2026, 3, 10, 16, 0, i, tzinfo=timezone.utc)) for i in range(3)]  # 00:00
    assert totals(compute_entries(facts, rules)) == {1: 13}
    # in UTC the same posts fall on one day
    assert totals(compute_entries(facts, PointRules(timezone="UTC"))) == {1: 10}


def test_the_cap_cuts_an_entry_short_and_the_project_cap_holds():
    facts = [post(i, first=True, excellent=True, at=T0 + timedelta(days=i)) for i in range(1, 5)]
    entries = compute_entries(facts, PointRules(daily_cap=4, project_cap=10))
    assert [(e.rule, e.points) for e in entries][:2] == [("topic", 2), ("excellent", 2)]
    assert totals(entries) == {1: 10}


def test_users_are_counted_apart():
    facts = [post(1, user=1, text=LONG), post(2, user=2, text=LONG)]
    assert totals(compute_entries(facts, PointRules())) == {1: 1, 2: 1}


def test_normalise_ignores_width_case_and_spaces():
    assert normalise("ＡＢＣ  abc\n") == normalise("abcABC")


@given(st.lists(st.tuples(st.integers(0, 3 * 24 * 60), st.booleans(), st.booleans(), st.booleans(),
                          st.sampled_from(["短", LONG, LONG + "甲", LONG + "乙"])), max_size=40))
def test_caps_always_hold(rows):
    facts = [PostFact(i, 1, T0 + timedelta(minutes=m), first, text, deleted, excellent)
             for i, (m, first, deleted, excellent, text) in enumerate(rows)]
    rules = PointRules(daily_cap=5, project_cap=12)
    entries = compute_entries(facts, rules)
    by_day = {}
    for e in entries:
        day = (e.created_at + timedelta(hours=8)).date()
        by_day[day] = by_day.get(day, 0) + e.points
        assert e.points > 0
    assert all(v <= 5 for v in by_day.values())
    assert sum(by_day.values()) <= 12
    assert not {e.post_id for e in entries} & {f.post_id for f in facts if f.is_deleted}
