"""Participation points (研讨积分): pure rules over a learner's stored posts.

Points are never stored: they are recomputed from the posts, so a post deleted later takes its
points back. A post earns nothing when it is deleted, too short, or repeats the text of the same
learner's earlier post; the sum of a local day (the project's time zone) and of the project are capped.
"""
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class PointRules:
    topic_points: int = 2
    reply_points: int = 1
    #: replies (and topic texts) shorter than this many characters, spaces not counted, earn nothing
    reply_min_chars: int = 20
    excellent_points: int = 3
    daily_cap: int = 10
    project_cap: int = 100
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True)
class PostFact:
    post_id: int
    user_id: int
    created_at: datetime
    is_first: bool
    text: str
    is_deleted: bool = False
    is_excellent: bool = False


@dataclass(frozen=True)
class PointEntry:
    post_id: int
    user_id: int
    #: "topic", "reply" or "excellent"
    rule: str
    points: int
    created_at: datetime


#: the smallest text a topic needs to earn points (characters, spaces not counted)
TOPIC_MIN_CHARS = 5
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The text as compared for duplicates: NFKC, case folded, whitespace removed."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text or "")).casefold()


def local_day(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def compute_entries(posts: Iterable[PostFact], rules: PointRules) -> list[PointEntry]:
    """Every point entry the posts earn, oldest first, after the duplicate, length and cap rules."""
    entries: list[PointEntry] = []
    by_user: dict[int, list[PostFact]] = {}
    for post in posts:
        by_user.setdefault(post.user_id, []).append(post)
    for user_id, own in by_user.items():
        own.sort(key=lambda p: (p.created_at, p.post_id))
        seen: set[str] = set()
        per_day: dict[date, int] = {}
        total = 0
        for post in own:
            if post.is_deleted:
                continue
            key = normalise(post.text)
            duplicate = key in seen
            seen.add(key)
            if duplicate:
                continue
            if post.is_first:
                wanted = [("topic", rules.topic_points)] if len(key) >= TOPIC_MIN_CHARS else []
            else:
                wanted = [("reply", rules.reply_points)] if len(key) >= rules.reply_min_chars else []
            if post.is_excellent:
                wanted.append(("excellent", rules.excellent_points))
            day = local_day(post.created_at, rules.timezone)
            for rule, points in wanted:
                allowed = min(points, rules.daily_cap - per_day.get(day, 0), rules.project_cap - total)
                if allowed <= 0:
                    continue
                per_day[day] = per_day.get(day, 0) + allowed
                total += allowed
                entries.append(PointEntry(post.post_id, user_id, rule, allowed, post.created_at))
    entries.sort(key=lambda e: (e.created_at, e.post_id))
    return entries


def totals(entries: Iterable[PointEntry]) -> dict[int, int]:
    out: dict[int, int] = {}
    for entry in entries:
        out[entry.user_id] = out.get(entry.user_id, 0) + entry.points
    return out
