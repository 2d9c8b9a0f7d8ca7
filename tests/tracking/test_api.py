"""Every crediting rule through the HTTP API, with the test clock: honest viewers and hour-inflating scripts."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, select, text

from app.extensions import db
from app.tracking import rules, service
from app.tracking.models import CreditWindow, DailyCredit, PlaybackSession, PresenceCheck
from tests.conftest import bearer

UTC = timezone.utc
G = 120  # gap allowance with the default 15 s interval


def figures(course, lesson_index=0):
    """(stored credited ms, audit windows + corrections ms) of the learner's lesson."""
    return service.get_recomputed_ms(course.learner.id, course.project.id, course.lessons[lesson_index].id)


def assert_audit_matches(course, lesson_index=0):
    stored, recomputed = figures(course, lesson_index)
    assert stored == recomputed
    return stored


def windows_of(user_id):
    """The user's credit windows as (start, end) datetimes, in time order."""
    rows = db.session.execute(select(CreditWindow.started_ms, CreditWindow.ended_ms).where(CreditWindow.user_id == user_id))
    return sorted((rules.from_ms(start), rules.from_ms(end)) for start, end in rows)


def assert_no_overlap(user_id):
    ws = windows_of(user_id)
    for (s1, e1), (s2, e2) in zip(ws, ws[1:]):
        assert e1 <= s2, (s1, e1, s2, e2)


def session_reasons(session_id):
    db.session.rollback()
    return db.session.get(PlaybackSession, session_id).reasons or {}


# ============================================================== honest viewers


def test_honest_viewer_is_credited_the_time_played(setup, player):
    course = setup()
    p = player(course)
    opened = p.open()
    assert opened["heartbeat_interval_s"] == 15 and opened["duration_s"] == 600
    assert opened["resume_position_s"] == 0 and opened["max_position_s"] == 0
    answer = p.play(300)
    assert answer["accepted"] is True
    assert answer["credited_s_session"] == 300
    assert answer["lesson"] == {"credited_s": 300, "covered_s": 300, "complete": False, "segments": [[0, 300]],
                                "max_position_s": 300}
    assert answer["presence_check"] is None
    assert assert_audit_matches(course) == 300_000


def test_whole_lesson_played_is_complete_and_credited_its_duration(setup, player):
    course = setup()
    p = player(course)
    p.open()
    p.play(600)
    answer = p.beat(playing=False, event="ended")
    assert answer["lesson"] == {"credited_s": 600, "covered_s": 600, "complete": True, "segments": [[0, 600]],
                                "max_position_s": 600}


def test_network_drop_shorter_than_gap_allowance_costs_nothing(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(60)
    clock.advance(100)  # four heartbeats lost; the video kept playing from its buffer
    answer = p.beat(p.position + 100)
    assert answer["lesson"]["credited_s"] == 160
    p.play(30, start=False)
    assert p.credited == 190


def test_heartbeat_delayed_by_ten_seconds_loses_nothing(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(30)
    clock.advance(25)  # the tick sent at +15 s (position +15) arrives 10 s late
    p.beat(p.position + 15)
    clock.advance(5)  # the next tick is on time, position +30
    answer = p.beat(p.position + 15)
    assert answer["lesson"]["credited_s"] == 60
    assert answer["lesson"]["covered_s"] == 60


def test_reload_mid_lesson_resumes_and_keeps_credit(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(120)
    old_session = p.session_id
    clock.advance(3)
    reopened = p.open()  # the page reloads: a new session
    assert reopened["resume_position_s"] == 120
    assert reopened["max_position_s"] >= 119
    assert reopened["lesson"]["credited_s"] == 120
    p.play(60)
    assert p.credited == 180
    stale = p.post({"seq": 99, "position_s": 130, "playing": True, "visible": True, "rate": 1, "event": "tick"},
                   session_id=old_session)
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "superseded"
    assert assert_audit_matches(course) == 180_000


def test_laptop_sleeping_an_hour_is_not_credited_and_playing_resumes(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(60)
    clock.advance(3600)  # the lid is closed: the video stopped, no heartbeat for an hour
    answer = p.beat(p.position + 0.5)  # on wake-up the player reports where it is
    assert answer["lesson"]["credited_s"] == 60.5
    p.play(30, start=False)
    assert p.credited == 90.5
    reasons = session_reasons(p.session_id)
    assert reasons["gap"][0] == 1


def test_switching_devices_continues_where_the_other_stopped(setup, player, app, clock, api_token):
    course = setup()
    phone = player(course)
    phone.open()
    phone.play(90)
    laptop = player(course, other_client=app.test_client(), headers=bearer(api_token(course.learner)))
    clock.advance(20)
    opened = laptop.open()
    assert opened["resume_position_s"] == 90
    laptop.play(60)
    assert laptop.credited == 150
    phone.beat(phone.position + 15, expect=409)
    assert_no_overlap(course.learner.id)


def test_seek_back_to_rewatch_credits_time_but_no_new_coverage(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(120)
    clock.advance(1)
    p.beat(30, event="seek", frm=p.position + 1)
    p.play(60, start=False)
    assert p.credited == 181
    assert p.last["lesson"]["covered_s"] == 121


def test_two_second_jitter_still_covers_what_was_played(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.beat(event="play")
    for _ in range(10):  # the player's clock runs slightly fast: 15.5 s of content per 15 s
        clock.advance(15)
        p.beat(p.position + 15.5)
    assert p.credited == 150
    assert p.last["lesson"]["covered_s"] == 155


# ============================================================== scripts that try to inflate hours


def test_final_position_with_no_playing_earns_nothing(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.beat(0, playing=False, event="pause")
    clock.advance(1)
    answer = p.beat(600, playing=False, event="ended")
    assert answer["lesson"] == {"credited_s": 0, "covered_s": 0, "complete": False, "segments": [],
                                "max_position_s": 0}
    clock.advance(1)
    answer = p.beat(600, playing=True, event="ended")
    assert answer["lesson"]["complete"] is False


def test_complete_flag_is_refused(setup, player):
    course = setup()
    p = player(course)
    p.open()
    response = p.post({"seq": 1, "position_s": 600, "playing": False, "visible": True, "rate": 1, "event": "ended",
                       "complete": True})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "complete"


@pytest.mark.parametrize("factor", [10, 16])
def test_positions_racing_ahead_earn_only_wall_time_and_cover_no_more(setup, player, clock, factor):
    course = setup()
    p = player(course)
    p.open()
    p.beat(event="play")
    ticks = 0
    while p.position + 15 * factor <= 600:
        clock.advance(15)
        p.beat(p.position + 15 * factor)
        ticks += 1
    clock.advance(15)
    answer = p.beat(600, playing=False, event="ended")
    wall = 15 * (ticks + 1)
    assert answer["lesson"]["credited_s"] <= wall
    assert answer["lesson"]["covered_s"] <= (wall + (ticks + 1) * rules.jitter_ms(15_000) / 1000)
    assert answer["lesson"]["complete"] is False
    assert session_reasons(p.session_id)["ahead_of_wall_time"][0] >= ticks


@pytest.mark.parametrize("every, ahead", [(0.25, 2.2), (0.1, 2.1)])
def test_beating_many_times_a_second_does_not_spend_the_jitter_again_and_again(setup, player, clock, every, ahead):
    """R3: a script that beats every 100 ms, each beat 2 s ahead, covers at most wall time + one J."""
    course = setup()
    p = player(course)
    p.open()
    p.beat(event="play")
    wall = 0.0
    while wall < 20:  # 20 s of wall time: 420 s of the 600 s lesson claimed at 100 ms
        clock.advance(every)
        wall += every
        answer = p.beat(p.position + ahead)
    assert answer["lesson"]["credited_s"] <= wall + 0.01
    assert answer["lesson"]["covered_s"] <= wall * 1.05 + 2.01
    assert answer["lesson"]["complete"] is False
    # honest play after the attack is covered again in full
    before = answer["lesson"]["covered_s"]
    p.play(60)
    assert p.last["lesson"]["covered_s"] >= before + 60 - 0.01


def test_a_late_play_event_still_covers_what_was_played(setup, player, clock):
    """The fixed 2 s of J absorbs a request delayed in transit, and is given back by the pauses."""
    course = setup()
    p = player(course)
    p.open()
    for _ in range(5):
        p.beat(event="pause", playing=False)
        clock.advance(30)
        clock.advance(1.5)  # the play event leaves at once but arrives 1.5 s late
        p.beat(event="play")
        clock.advance(13.5)
        p.beat(p.position + 15)
        p.play(30, start=False)
    assert p.last["lesson"]["covered_s"] == 5 * 45


def test_claimed_rate_outside_the_project_range_earns_nothing(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(150, rate=2.5)  # accepted (within 0.0625..16) but outside the project's 0.5..2
    assert p.credited == 0
    assert p.last["lesson"]["covered_s"] == 0
    assert session_reasons(p.session_id)["rate_out_of_range"][1] == 150_000
    assert p.beat(rate=17, expect=400) == {"error": {"code": "rate", "message": p.last["error"]["message"]}}


def test_project_rate_range_is_a_setting(setup, player, clock):
    course = setup(max_rate=3.0)
    p = player(course)
    p.open()
    p.play(30, rate=2.5)
    assert p.credited == 30


def test_hidden_tab_earns_nothing_after_it_hides(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(30)
    p.beat(visible=False, event="hidden")
    for _ in range(20):
        clock.advance(15)
        p.beat(p.position + 15, visible=False)
    assert p.credited == 30
    assert session_reasons(p.session_id)["hidden"] == [20, 300_000]


def test_paused_player_that_keeps_sending_ticks_earns_nothing(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(45)
    p.pause()
    for _ in range(40):
        clock.advance(15)
        p.beat(playing=False)
    assert p.credited == 45
    assert session_reasons(p.session_id)["not_playing"][0] == 40


def test_frozen_position_while_playing_earns_nothing(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(45)
    for _ in range(40):
        clock.advance(15)
        p.beat()  # "playing" but the position never moves
    assert p.credited == 45


def test_two_tabs_never_earn_the_same_time_twice(setup, player, app, clock):
    course = setup()
    tab1 = player(course)
    tab2 = player(course, other_client=app.test_client())
    tab1.open()
    tab2.open()  # supersedes tab1
    tab1.beat(event="play", expect=409)
    tab2.beat(event="play")
    for _ in range(20):
        clock.advance(15)
        tab1.beat(tab1.position + 15, expect=409)
        tab2.beat(tab2.position + 15)
    assert tab2.credited == 300
    assert assert_audit_matches(course) == 300_000
    assert session_reasons(tab1.session_id)["superseded"][0] == 21


def test_two_devices_alternating_opens_earn_at_most_wall_time(setup, player, app, clock, api_token):
    course = setup()
    a = player(course)
    b = player(course, other_client=app.test_client(), headers=bearer(api_token(course.learner)))
    start = clock()
    for _ in range(6):  # each device reopens every minute and both keep ticking
        for device in (a, b):
            device.open()
            device.beat(event="play")
            for _ in range(2):
                clock.advance(15)
                for d in (a, b):
                    d.post({"seq": d.seq + 1, "position_s": min(d.position + 15, 600), "playing": True,
                            "visible": True, "rate": 1, "event": "tick"})
                    d.seq += 1
                    d.position = min(d.position + 15, 600)
    wall = (clock() - start).total_seconds()
    stored, recomputed = figures(course)
    assert stored == recomputed
    assert stored <= wall * 1000
    assert_no_overlap(course.learner.id)


def test_two_lessons_at_once_earn_at_most_wall_time(setup, player, clock):
    course = setup()
    first = player(course, 0)
    second = player(course, 1)
    first.open()
    second.open()
    first.beat(event="play", expect=409)
    second.beat(event="play")
    for _ in range(10):
        clock.advance(15)
        first.beat(first.position + 15, expect=409)
        second.beat(second.position + 15)
    assert figures(course, 0) == (0, 0)
    assert figures(course, 1) == (150_000, 150_000)


def test_replayed_and_out_of_order_seq_change_nothing(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(60)  # seq 1..5
    before = dict(p.last)
    for seq in (5, 3, 1):
        clock.advance(15)
        answer = p.beat(p.position + 100, seq=seq)
        assert answer["accepted"] is False
        assert answer["lesson"] == before["lesson"]
        assert answer["credited_s_session"] == before["credited_s_session"]
    assert session_reasons(p.session_id)["replayed_seq"] == [3, 0]
    db.session.rollback()
    assert db.session.get(PlaybackSession, p.session_id).last_position_ms == 60_000
    clock.advance(1)
    p.seq = 9  # gaps in seq are normal
    answer = p.beat(p.position + 46)
    assert answer["accepted"] is True and answer["lesson"]["credited_s"] == 60 + 46


def test_old_session_replayed_after_its_end_earns_nothing(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(30)
    assert p.end() == {"credited_s_session": 30}
    p.end(expect=410)
    clock.advance(15)
    response = p.post({"seq": 100, "position_s": 45, "playing": True, "visible": True, "rate": 1, "event": "tick"})
    assert response.status_code == 410 and response.get_json()["error"]["code"] == "ended"
    assert figures(course) == (30_000, 30_000)


def test_long_silence_earns_at_most_the_gap_allowance(setup, player, clock):
    course = setup(durations=(7200,))
    p = player(course)
    p.open()
    p.beat(event="play")
    clock.advance(3600)
    answer = p.beat(3600)  # "I played for an hour without telling you"
    assert answer["lesson"]["credited_s"] == G
    assert answer["lesson"]["covered_s"] <= G + rules.jitter_ms(G * 1000) / 1000


@pytest.mark.parametrize("position, code", [(602.1, "position_s"), (-0.5, "position_s"), (601.9, None)])
def test_positions_past_the_end_are_refused(setup, player, position, code):
    course = setup()
    p = player(course)
    p.open()
    response = p.post({"seq": 1, "position_s": position, "playing": True, "visible": True, "rate": 1, "event": "tick"})
    if code:
        assert response.status_code == 400 and response.get_json()["error"]["code"] == code
    else:
        assert response.status_code == 200


@pytest.mark.parametrize(
    "raw, code",
    [
        (b'{"seq": 1, "position_s": NaN, "playing": true, "visible": true, "rate": 1, "event": "tick"}', "invalid_json"),
        (b'{"seq": 1, "position_s": Infinity, "playing": true, "visible": true, "rate": 1, "event": "tick"}', "invalid_json"),
        (b'{"seq": 1, "position_s": 1e400, "playing": true, "visible": true, "rate": 1, "event": "tick"}', "position_s"),
        (b'{"seq": 1, "position_s": 1, "playing": true, "visible": true, "rate": -Infinity, "event": "tick"}', "invalid_json"),
        (b'{"seq": 1, "position_s": 1, "playing": true, "visible": true, "rate": 1e999, "event": "tick"}', "rate"),
        # finite, but infinite once turned into milliseconds
        (b'{"seq": 1, "position_s": 1e308, "playing": true, "visible": true, "rate": 1, "event": "tick"}', "position_s"),
        (b'{"seq": 1, "position_s": -1.7e308, "playing": true, "visible": true, "rate": 1, "event": "tick"}',
         "position_s"),
        (b'{"seq": 1, "position_s": 1, "playing": true, "visible": true, "rate": 1, "event": "seek",'
         b' "from_position_s": 1e308}', "from_position_s"),
    ],
)
def test_non_finite_numbers_are_refused(setup, player, raw, code):
    course = setup()
    p = player(course)
    p.open()
    response = p.post({}, raw=raw)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_another_users_session_is_not_found(setup, player, app, clock, make_user, org_tree, enroll, api_token):
    course = setup()
    p = player(course)
    p.open()
    p.play(30)
    intruder = make_user("intruder", org=org_tree["school_a1"])
    enroll(intruder, course.project)
    headers = bearer(api_token(intruder))
    client = app.test_client()
    body = {"seq": 50, "position_s": 100, "playing": True, "visible": True, "rate": 1, "event": "tick"}
    for path, payload in [("heartbeats", body), ("end", {}), ("presence", {"check_id": "x", "answer": "1"})]:
        response = client.post(f"/api/v1/playback/sessions/{p.session_id}/{path}", json=payload, headers=headers)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "session_not_found"
    response = client.post("/api/v1/playback/sessions/99999/heartbeats", json=body, headers=headers)
    assert response.status_code == 404
    clock.advance(15)
    assert p.beat(p.position + 15)["lesson"]["credited_s"] == 45  # the owner's session is untouched


def test_lesson_looped_for_hours_stops_at_its_duration(setup, player, clock):
    course = setup(durations=(600, 1800, 60))
    p = player(course, 2)  # the 60 s lesson
    p.open()
    p.beat(event="play")
    for _ in range(120):  # two hours of looping
        for _ in range(4):
            clock.advance(15)
            p.beat(p.position + 15)
        p.beat(0, event="seek", frm=p.position)
    assert p.credited == 60
    assert p.last["lesson"]["complete"] is True
    assert session_reasons(p.session_id)["lesson_cap"][1] >= 7000_000
    assert assert_audit_matches(course, 2) == 60_000


def test_cap_factor_allows_replays_up_to_it(setup, player, clock):
    course = setup(durations=(600, 1800, 60), cap_factor=2.0)
    p = player(course, 2)
    p.open()
    p.play(60)
    for _ in range(2):
        p.beat(0, event="seek", frm=60)
        p.play(60, start=False)
    assert p.credited == 120


def test_whole_day_of_playing_is_capped_and_split_at_midnight(setup, player, clock):
    course = setup(durations=(6 * 3600,), daily_cap_s=3600)
    # 22:30 in Shanghai: an hour and a half before local midnight
    clock.set(datetime(2026, 3, 10, 14, 30, tzinfo=UTC))
    p = player(course)
    p.open()
    p.play(3 * 3600 + 7)
    days = dict(db.session.execute(select(DailyCredit.day, DailyCredit.credited_ms)).all())
    assert days == {date(2026, 3, 10): 3600_000, date(2026, 3, 11): 3600_000}
    assert p.credited == 7200
    midnight = rules.to_ms(datetime(2026, 3, 10, 16, 0, tzinfo=UTC))
    for started, ended, day in db.session.execute(select(CreditWindow.started_ms, CreditWindow.ended_ms, CreditWindow.day)):
        assert (ended <= midnight and day == date(2026, 3, 10)) or (started >= midnight and day == date(2026, 3, 11))
    assert session_reasons(p.session_id)["daily_cap"][1] == (3 * 3600 + 7 - 7200) * 1000
    assert assert_audit_matches(course) == 7200_000


def test_interval_across_midnight_is_split_between_days(setup, player, clock):
    course = setup()
    clock.set(datetime(2026, 3, 10, 15, 59, 50, tzinfo=UTC))  # 23:59:50 local
    p = player(course)
    p.open()
    p.play(15)
    days = dict(db.session.execute(select(DailyCredit.day, DailyCredit.credited_ms)).all())
    assert days == {date(2026, 3, 10): 10_000, date(2026, 3, 11): 5_000}


def test_nothing_is_credited_outside_the_project_dates(setup, player, clock):
    course = setup(starts_on=date(2026, 3, 11), ends_on=date(2026, 3, 20))
    clock.set(datetime(2026, 3, 10, 15, 59, tzinfo=UTC))  # 23:59 local, the day before the start
    p = player(course)
    p.open()
    p.play(120)
    assert p.credited == 60  # only what is after local midnight
    assert session_reasons(p.session_id)["outside_window"][1] == 60_000
    clock.set(datetime(2026, 3, 21, 0, 0, tzinfo=UTC))  # 08:00 local on the 21st: after the end
    p.open()
    p.play(120)
    assert p.credited == 60


def test_presence_check_answered_in_time_loses_nothing(setup, player, clock):
    course = setup(durations=(7200,), is_presence_check_enabled=True, presence_min_s=60, presence_max_s=60)
    p = player(course)
    p.open()
    answer = p.play(60)
    check = answer["presence_check"]
    assert check is not None and check["id"] and check["prompt"] and len(check["options"]) == 4
    assert datetime.fromisoformat(check["due_at"]) == clock()
    assert datetime.fromisoformat(check["answer_by"]) == clock() + timedelta(seconds=120)
    p.play(45, start=False)
    assert p.credited == 60 and p.last["presence_check"]["id"] == check["id"]  # held, asked again
    right = db.session.get(PresenceCheck, check["id"]).answer
    wrong = next(o for o in check["options"] if o != right)
    err = p.answer(check["id"], wrong, expect=409)
    assert err["error"]["code"] == "wrong_answer"
    assert p.answer("not-a-check", right, expect=409)["error"]["code"] == "stale_check"
    clock.advance(10)  # the learner reads the prompt; the player was paused meanwhile
    result = p.answer(check["id"], right)
    assert result["ok"] is True and result["late"] is False
    assert result["lesson"]["credited_s"] == 105
    p.play(30)
    assert p.credited == 135 and p.last["presence_check"] is None
    assert p.answer(check["id"], right, expect=409)["error"]["code"] == "stale_check"
    assert assert_audit_matches(course) == 135_000


def test_blocked_presence_check_stops_credit_from_its_due_time(setup, player, clock):
    course = setup(durations=(7200,), is_presence_check_enabled=True, presence_min_s=60, presence_max_s=60)
    p = player(course)
    p.open()
    check = p.play(60)["presence_check"]
    p.play(600, start=False)  # the script never shows the prompt
    assert p.credited == 60
    reload = p.open()  # a new session does not escape it
    assert reload["presence_check"]["id"] == check["id"]
    p.play(300)
    assert p.credited == 60
    right = db.session.get(PresenceCheck, check["id"]).answer
    late = p.answer(check["id"], right)
    assert late["late"] is True
    answered_at = clock()
    p.play(30, start=False)
    assert p.credited == 90
    due = datetime.fromisoformat(check["due_at"])
    for started, ended in windows_of(course.learner.id):
        assert ended <= due or started >= answered_at
    assert assert_audit_matches(course) == 90_000


def test_reloading_before_a_check_does_not_reset_the_playing_time(setup, player, clock):
    course = setup(durations=(7200,), is_presence_check_enabled=True, presence_min_s=60, presence_max_s=60)
    p = player(course)
    p.open()
    assert p.play(45)["presence_check"] is None
    clock.advance(2)
    p.open()  # reload (or another device) before the check is due
    assert p.play(15)["presence_check"] is not None


def test_presence_check_is_never_issued_while_paused(setup, player, clock):
    course = setup(durations=(7200,), is_presence_check_enabled=True, presence_min_s=60, presence_max_s=60)
    p = player(course)
    p.open()
    p.play(45)
    p.pause()
    for _ in range(20):
        clock.advance(15)
        assert p.beat(playing=False)["presence_check"] is None
    assert p.play(15)["presence_check"] is not None


def test_presence_checks_default_to_twenty_to_thirty_minutes(setup, player, clock):
    course = setup(durations=(7200,), is_presence_check_enabled=True)
    p = player(course)
    p.open()
    p.beat(event="play")
    first = None
    for i in range(1, 125):
        clock.advance(15)
        if p.beat(p.position + 15)["presence_check"] is not None:
            first = i * 15
            break
    assert first is not None and 1200 <= first <= 1800 + 15


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"seq": "1", "position_s": 1, "playing": True, "visible": True, "rate": 1, "event": "tick"}, 400, "seq"),
        ({"seq": 0, "position_s": 1, "playing": True, "visible": True, "rate": 1, "event": "tick"}, 400, "seq"),
        ({"seq": 1.5, "position_s": 1, "playing": True, "visible": True, "rate": 1, "event": "tick"}, 400, "seq"),
        ({"seq": True, "position_s": 1, "playing": True, "visible": True, "rate": 1, "event": "tick"}, 400, "seq"),
        ({"seq": 1, "position_s": "1", "playing": True, "visible": True, "rate": 1, "event": "tick"}, 400, "position_s"),
        ({"seq": 1, "position_s": 1, "playing": "true", "visible": True, "rate": 1, "event": "tick"}, 400, "playing"),
        ({"seq": 1, "position_s": 1, "playing": True, "visible": 1, "rate": 1, "event": "tick"}, 400, "visible"),
        ({"seq": 1, "position_s": 1, "playing": True, "visible": True, "rate": 0.01, "event": "tick"}, 400, "rate"),
        ({"seq": 1, "position_s": 1, "playing": True, "visible": True, "rate": 1, "event": "complete"}, 400, "event"),
        ({"seq": 1, "position_s": 1, "playing": True, "visible": True, "rate": 1}, 400, "event"),
        ({"seq": 1, "position_s": 1, "playing": True, "visible": True, "rate": 1, "event": "seek"}, 400, "from_position_s"),
        ({"seq": 1, "position_s": 1, "playing": True, "visible": True, "rate": 1, "event": "tick",
          "from_position_s": 3}, 400, "from_position_s"),
        ({"seq": 1, "position_s": 1, "playing": True, "visible": True, "rate": 1, "event": "tick", "user_id": 2},
         400, "user_id"),
        ([1, 2, 3], 400, "invalid_json"),
    ],
)
def test_malformed_heartbeats_are_refused_and_change_nothing(setup, player, body, status, code):
    course = setup()
    p = player(course)
    p.open()
    response = p.post(body)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    db.session.rollback()
    assert db.session.get(PlaybackSession, p.session_id).last_seq == 0


def test_oversized_non_json_and_broken_bodies_are_refused(setup, player):
    course = setup()
    p = player(course)
    p.open()
    url = f"/api/v1/playback/sessions/{p.session_id}/heartbeats"
    big = json.dumps({"seq": 1, "position_s": 1, "playing": True, "visible": True, "rate": 1, "event": "tick",
                      "pad": "x" * 1100})
    assert p.client.post(url, data=big, headers={**p.headers, "Content-Type": "application/json"}).status_code == 413
    response = p.client.post(url, data="seq=1", headers={**p.headers, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415 and response.get_json()["error"]["code"] == "not_json"
    response = p.post({}, raw=b'{"seq": 1,')
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_json"


def test_open_session_checks_enrolment_and_the_lesson(setup, player, app, make_user, org_tree, api_token, make_course,
                                                       make_project):
    course = setup()
    stranger = make_user("stranger", org=org_tree["school_a1"])
    client = app.test_client()
    headers = bearer(api_token(stranger))
    body = {"lesson_id": course.lessons[0].id, "project_id": course.project.id}
    response = client.post("/api/v1/playback/sessions", json=body, headers=headers)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "not_enrolled"
    other = make_course(make_project("Other"), "Elsewhere", durations=(300,))
    response = client.post("/api/v1/playback/sessions", json={"lesson_id": other.modules[0].lessons[0].id,
                                                               "project_id": course.project.id}, headers=course.headers)
    assert response.status_code == 403
    response = client.post("/api/v1/playback/sessions", json={"lesson_id": 9999, "project_id": course.project.id},
                           headers=course.headers)
    assert response.status_code == 404
    response = client.post("/api/v1/playback/sessions", json={"lesson_id": "1", "project_id": course.project.id},
                           headers=course.headers)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "lesson_id"
    response = client.post("/api/v1/playback/sessions", json=body, headers=bearer("not-a-token"))
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"


def test_lesson_without_duration_cannot_be_played_yet(setup, player):
    course = setup(durations=(0,))
    p = player(course)
    assert p.open(expect=409)["error"]["code"] == "lesson_not_ready"


@pytest.mark.config(HEARTBEAT_INTERVAL_S=3)
def test_heartbeat_interval_setting_drives_the_gap_allowance(setup, player, clock):
    course = setup()
    p = player(course)
    assert p.open()["heartbeat_interval_s"] == 3
    p.play(30, step=3)
    assert p.credited == 30
    clock.advance(30)  # longer than G = 8 × 3 s
    p.beat(p.position + 30)
    assert p.credited == 30 + 24


def test_project_interval_overrides_the_server_default(setup, player):
    course = setup(heartbeat_interval_s=10)
    assert player(course).open()["heartbeat_interval_s"] == 10


def test_browser_session_with_csrf_header_and_beacon_query_token(setup, player, app, clock, auth, client):
    course = setup()
    auth.login(course.learner.username)
    token = auth.csrf()
    p = player(course, headers={"X-CSRFToken": token})
    p.open()
    p.play(30)
    assert p.credited == 30
    clock.advance(5)
    body = json.dumps({"seq": p.seq + 1, "position_s": p.position + 5, "playing": False, "visible": False, "rate": 1,
                       "event": "hidden"})
    response = client.post(f"/api/v1/playback/sessions/{p.session_id}/heartbeats?beacon=1&csrf_token={token}",
                           data=body, headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert response.status_code == 200 and response.get_json()["lesson"]["credited_s"] == 35
    response = client.post(f"/api/v1/playback/sessions/{p.session_id}/heartbeats", data=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 403)
    assert figures(course) == (35_000, 35_000)


def test_every_answered_heartbeat_is_already_committed(setup, player, clock, app):
    """R11: what the answer says is on disk for any other connection (a kill -9 right after loses nothing)."""
    course = setup()
    p = player(course)
    p.open()
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        p.beat(event="play")
        for _ in range(5):
            clock.advance(15)
            answer = p.beat(p.position + 15)
            with other.connect() as conn:
                stored = conn.execute(text("SELECT credited_ms FROM lesson_progress WHERE user_id = :u"),
                                      {"u": course.learner.id}).scalar_one()
            assert stored == answer["lesson"]["credited_s"] * 1000
    finally:
        other.dispose()


def test_end_answers_the_session_credit(setup, player):
    course = setup()
    p = player(course)
    p.open()
    p.play(45)
    assert p.end() == {"credited_s_session": 45}
    response = p.client.post(f"/api/v1/playback/sessions/{p.session_id}/end", json={"extra": 1}, headers=p.headers)
    assert response.status_code == 400


# ============================================================== progress and audit


def test_progress_reports_hours_per_project_and_lesson(setup, player, clock):
    course = setup(durations=(3600, 1800, 60), minutes_per_hour=45, required_hours=2)
    p = player(course)
    p.open()
    p.play(2700)
    response = p.client.get(f"/api/v1/me/progress?project_id={course.project.id}", headers=course.headers)
    assert response.status_code == 200
    data = response.get_json()
    assert data["project_id"] == course.project.id
    assert data["credited_s"] == 2700 and data["learning_hours"] == 1.0
    assert data["missing_s"] == 2700
    first = data["lessons"][0]
    assert first == {**first, "lesson_id": course.lessons[0].id, "credited_s": 2700, "covered_s": 2700,
                     "duration_s": 3600, "complete": False}
    assert first["segments"] == [[0, 2700]]
    assert [lesson["credited_s"] for lesson in data["lessons"][1:]] == [0, 0]
    assert p.client.get("/api/v1/me/progress", headers=course.headers).status_code == 400


def test_audit_explains_every_second(setup, player, clock):
    course = setup()
    p = player(course)
    p.open()
    p.play(60)
    p.beat(visible=False, event="hidden")
    clock.advance(30)
    p.beat(p.position + 30, visible=False)
    p.beat(visible=True, event="shown")
    p.play(30, start=False)
    p.beat(seq=2)
    url = f"/api/v1/me/lessons/{course.lessons[0].id}/audit?project_id={course.project.id}"
    data = p.client.get(url, headers=course.headers).get_json()
    assert data["credited_s"] == 90 and data["recomputed_s"] == 90
    session = data["sessions"][0]
    assert session["id"] == p.session_id and session["status"] == "open" and session["credited_s"] == 90
    assert sum(w["credited_s"] for w in session["windows"]) == 90
    assert [w["from_position_s"] for w in session["windows"]][0] == 0
    reasons = {r["reason"]: r for r in data["reasons"]}
    assert reasons["hidden"]["count"] == 1 and reasons["hidden"]["seconds"] == 30
    assert reasons["replayed_seq"]["count"] == 1
    assert all(r["label"] for r in data["reasons"])
    datetime.fromisoformat(session["windows"][0]["started_at"])
    date.fromisoformat(session["windows"][0]["day"])


def test_audit_of_another_project_or_lesson_is_refused(setup, player, make_project, make_course):
    course = setup()
    other = make_project("Other")
    url = f"/api/v1/me/lessons/{course.lessons[0].id}/audit?project_id={other.id}"
    assert player(course).client.get(url, headers=course.headers).status_code == 403


def test_correction_is_recorded_and_recomputed(setup, player, app, make_user, org_tree, api_token):
    course = setup()
    p = player(course)
    p.open()
    p.play(60)
    admin = make_user("countyadmin", role="org_admin", org=org_tree["county_a"])
    headers = bearer(api_token(admin))
    client = app.test_client()
    url = (f"/api/v1/projects/{course.project.id}/learners/{course.learner.id}/lessons/"
           f"{course.lessons[0].id}/corrections")
    response = client.post(url, json={"delta_s": 540, "reason": "Watched at the learning center, roster signed"},
                           headers=headers)
    assert response.status_code == 201
    assert client.post(url, json={"delta_s": 10, "reason": ""}, headers=headers).status_code == 400
    assert client.post(url, json={"delta_s": -10_000, "reason": "x"}, headers=headers).status_code == 400
    assert client.post(url, json={"delta_s": 5, "reason": "me"}, headers=course.headers).status_code == 403
    audit = client.get(f"/api/v1/projects/{course.project.id}/learners/{course.learner.id}/lessons/"
                       f"{course.lessons[0].id}/audit", headers=headers).get_json()
    assert audit["credited_s"] == 600 and audit["recomputed_s"] == 600
    correction = audit["corrections"][0]
    assert correction["delta_s"] == 540 and correction["created_by"] == admin.display_name
    assert correction["reason"].startswith("Watched") and correction["created_at"]
    assert assert_audit_matches(course) == 600_000


# ============================================================== the heartbeat's own sign-in check


@pytest.mark.parametrize("spoil", ["revoked token", "expired token", "deactivated user", "no credential", "bad token"])
def test_heartbeats_need_a_live_credential(setup, player, clock, spoil):
    from sqlalchemy import update

    from app.accounts.models import ApiToken, User

    course = setup()
    p = player(course)
    p.open()
    p.play(30)
    if spoil == "revoked token":
        db.session.execute(update(ApiToken).values(revoked_at=clock.current))
    elif spoil == "expired token":
        db.session.execute(update(ApiToken).values(expires_at=clock.current - timedelta(seconds=1)))
    elif spoil == "deactivated user":
        db.session.execute(update(User).where(User.id == course.learner.id).values(is_active_flag=False))
    elif spoil == "no credential":
        p.headers = {}
    else:
        p.headers = {"Authorization": "Bearer not-a-token"}
    db.session.commit()
    assert figures(course)[0] == 30_000
    clock.advance(15)
    answer = p.beat(p.position + 15, expect=401)
    assert answer["error"]["code"] == "unauthorized"
    db.session.rollback()
    assert figures(course)[0] == 30_000


@pytest.mark.parametrize("credential", ["revoked token", "bad token", "none"])
@pytest.mark.parametrize("body", [b"{not json", b'{"seq": 0}', "out of range"])
def test_a_heartbeat_without_a_live_credential_gets_401_before_its_body_is_judged(setup, player, clock, client,
                                                                                 credential, body):
    from sqlalchemy import update

    from app.accounts.models import ApiToken

    course = setup()
    p = player(course)
    p.open()
    p.play(30)
    headers = {"Authorization": "Bearer not-a-token"} if credential == "bad token" else dict(course.headers)
    if credential == "revoked token":
        db.session.execute(update(ApiToken).values(revoked_at=clock.current))
        db.session.commit()
    elif credential == "none":
        headers = {}
    clock.advance(15)
    if body == "out of range":  # well-formed, but past the lesson's end: judged after the sign-in check
        body = json.dumps({"seq": 99, "position_s": 10_000.0, "playing": True, "visible": True, "rate": 1.0,
                           "event": "tick"}).encode()
    response = client.post(f"/api/v1/playback/sessions/{p.session_id}/heartbeats", data=body, headers=headers,
                           content_type="application/json")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    headers = course.headers if credential != "revoked token" else None
    if headers:  # the same body with the learner's live token is judged, and refused as bad input
        response = client.post(f"/api/v1/playback/sessions/{p.session_id}/heartbeats", data=body, headers=headers,
                               content_type="application/json")
        assert response.status_code == 400
    db.session.rollback()
    assert figures(course)[0] == 30_000


def test_a_browser_whose_login_was_revoked_is_still_signed_in_by_its_bearer_token(setup, player, client, clock,
                                                                                 login):
    from sqlalchemy import update

    from app.accounts.models import LoginSession
    from tests.conftest import Auth

    course = setup()
    login(client, course.learner)
    p = player(course)  # the cookie and the Bearer token both come with every request
    p.open()
    p.play(30)
    db.session.execute(update(LoginSession).values(revoked_at=clock.current))  # signed out on another device
    db.session.commit()
    assert p.play(30, start=False)["credited_s_session"] == 60
    p.headers = {"X-CSRFToken": Auth(client).csrf()}
    clock.advance(15)
    assert p.beat(p.position + 15, expect=401)["error"]["code"] == "unauthorized"  # the cookie alone is worthless
    db.session.rollback()
    assert figures(course)[0] == 60_000


def test_another_users_live_token_cannot_beat_a_session(setup, player, client, clock, make_user, org_tree, api_token):
    course = setup()
    p = player(course)
    p.open()
    p.play(30)
    stranger = make_user("stranger", org=org_tree["school_a1"])
    p.headers = bearer(api_token(stranger))
    clock.advance(15)
    assert p.beat(p.position + 15, expect=404)["error"]["code"] == "session_not_found"
    db.session.rollback()
    assert figures(course)[0] == 30_000


def test_heartbeats_of_a_signed_in_browser_are_credited_until_logout(setup, player, client, clock, login):
    from tests.conftest import Auth

    course = setup()
    login(client, course.learner)
    csrf = {"X-CSRFToken": Auth(client).csrf()}
    p = player(course, headers=csrf)
    p.open()
    assert p.play(30)["credited_s_session"] == 30
    Auth(client).logout()
    clock.advance(15)
    assert p.beat(p.position + 15, expect=401)["error"]["code"] == "unauthorized"
