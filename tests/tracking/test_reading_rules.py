"""R14's page allowance as pure rules: one page earns at most max(60 s, D / pages) until another page is shown."""
from __future__ import annotations

import random

from hypothesis import given, strategies as st

from app.tracking import rules

S = rules.MS
T0 = 1_773_100_800_000  # 2026-03-10 00:00 UTC


def test_the_allowance_is_at_least_a_minute_and_else_the_share_of_one_page():
    assert rules.page_allowance_ms(600 * S, 10) == 60 * S
    assert rules.page_allowance_ms(300 * S, 10) == 60 * S
    assert rules.page_allowance_ms(1200 * S, 4) == 300 * S
    assert rules.page_allowance_ms(600 * S, 1) == 600 * S
    assert rules.reading_until_ms(None, 600 * S, 10) is None
    assert rules.reading_until_ms(T0, 600 * S, 10) == T0 + 60 * S


def test_a_window_is_cut_at_the_allowance_and_the_rest_tallied():
    window = rules.Piece(T0, T0 + 15 * S, 50 * S, 65 * S)
    tally = rules.Tally()
    cut = rules.clip_to_reading(window, T0 + 10 * S, tally)
    assert (cut.start_ms, cut.end_ms, cut.from_position_ms, cut.to_position_ms) == (T0, T0 + 10 * S, 50 * S, 60 * S)
    assert (tally.counts, tally.ms) == ({"same_page": 1}, {"same_page": 5 * S})
    assert rules.clip_to_reading(window, T0, rules.Tally()) is None
    assert rules.clip_to_reading(window, None, rules.Tally()) is window


@given(ticks=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=60),
       allowance_s=st.integers(min_value=60, max_value=300))
def test_credit_never_passes_the_page_allowance(ticks, allowance_s):
    """Whatever the heartbeats of a reader who never turns the page, credit ends by the allowance."""
    settings = rules.Settings(is_presence_check_enabled=False)
    duration = 3600 * S
    session, user = rules.SessionState(), rules.UserState()
    until = T0 + allowance_s * S
    now, position, credited, lesson = T0, 0, 0, 0
    days = {day: 0 for day in rules.days_to_read(T0 + 3 * 3600 * S, settings)}
    days.update({day: 0 for day in rules.days_to_read(T0, settings)})
    for seq, step in enumerate([0, *ticks], 1):
        now += step * S
        position = min(duration, position + step * S)
        hb = rules.Heartbeat(seq, position, True, True, 1.0)
        out = rules.process_heartbeat(session, user, hb, now, settings, duration, lesson, days, random.Random(1),
                                      reading_until=until)
        assert all(piece.end_ms <= until for piece in out.credited)
        credited += out.credited_ms
        lesson += out.credited_ms
        session, user = out.session, out.user
    assert credited <= allowance_s * S
    assert credited <= now - T0
