"""Participation points recomputed from stored posts, under the injectable clock."""
from datetime import datetime, timedelta, timezone

from app.extensions import db
from app.forums.models import ForumPointRule
from app.forums.service import points_by_learner
from tests.forums.world import call_api, fast_hashing, forum_world  # noqa: F401

LONG = "这是一条足够长的回复，超过二十个字符，应该可以获得积分。"


def _points(w, persona="learner"):
    answer = call_api(w, persona, "GET", f"/api/v1/me/points?project_id={w.ids['project_a']}")
    assert answer.status_code == 200
    return answer.get_json()


def test_points_follow_posts_deletion_and_excellent(forum_world, clock):
    w = forum_world
    topic_id, first = w.topic("class_a", body="我的第一个话题，讨论单元教学")
    reply = w.reply(topic_id, "learner", LONG)
    w.reply(topic_id, "learner", "太短")
    w.reply(topic_id, "learner", LONG)  # the same text again
    mine = _points(w)
    assert mine["points"] == 3
    assert [(e["post_id"], e["rule"], e["points"]) for e in mine["entries"]] == [(first, "topic", 2), (reply, "reply", 1)]
    call_api(w, "tutor", "POST", f"/api/v1/posts/{reply}/excellent", {"value": True})
    assert _points(w)["points"] == 6
    call_api(w, "learner", "DELETE", f"/api/v1/posts/{reply}")
    # deleted: the reply's points and its excellent bonus are taken back; the duplicate now counts instead
    assert _points(w)["points"] == 3
    assert points_by_learner(w.ids["project_a"], [w.users["learner"], w.users["learner2"], 999999]) == {
        w.users["learner"]: 3, w.users["learner2"]: 0, 999999: 0}


def test_daily_cap_at_midnight_in_the_project_time_zone(forum_world, clock):
    w = forum_world
    clock.set(datetime(2026, 3, 10, 15, 30, tzinfo=timezone.utc))  # 23:30 in Shanghai
    topic_id, _ = w.topic("course_a", body="深夜的讨论话题内容")
    for i in range(12):
        clock.advance(60)
        w.reply(topic_id, "learner", f"{LONG}{i}")
    assert _points(w)["points"] == 10  # 2 + 8 replies, the cap of the day
    clock.set(datetime(2026, 3, 10, 16, 0, 1, tzinfo=timezone.utc))  # 00:00:01 the next day in Shanghai
    w.reply(topic_id, "learner", f"{LONG}新的一天")
    mine = _points(w)
    assert mine["points"] == 11
    assert mine["entries"][-1]["created_at"].startswith("2026-03-10T16:00:01")


def test_project_rules_replace_the_defaults(forum_world, clock):
    w = forum_world
    db.session.add(ForumPointRule(project_id=w.ids["project_a"], topic_points=5, reply_points=2, reply_min_chars=2,
                                  excellent_points=0, daily_cap=100, project_cap=6))
    db.session.commit()
    topic_id, _ = w.topic("class_a", body="项目规则下的话题")
    w.reply(topic_id, "learner", "短回复")
    w.reply(topic_id, "learner", "另一条短回复")
    assert _points(w)["points"] == 6  # 5 + 2 + 2, held at the project cap


def test_points_are_shown_to_the_learner(forum_world, clock):
    w = forum_world
    w.topic("class_a", body="展示积分的话题内容")
    page = w.pages["learner"].get(f"/projects/{w.ids['project_a']}/forums").get_data(as_text=True)
    assert 'data-testid="my-points"' in page and page.count('data-testid="point-entry"') == 1
