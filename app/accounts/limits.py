"""Sign-in limits: failed guesses counted per account and per address, shared by every worker and route.

Only failures count, so the fifty teachers of one learning center behind one
address can all sign in within a minute. Every route that checks a password
or a card PIN goes through `attempt`: it records the attempt before the guess
is checked, so concurrent guesses (four workers, many threads) can never pass
the limit together; a wrong guess leaves its record as a failure, a right one
withdraws it. The records live in the database (sign_in_failures), or in Redis
when REDIS_URL is set; each scope counts over a sliding window of the
injectable clock (app.common.clock), and records older than it are deleted.
"""
import math
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator

from flask import current_app
from flask_babel import ngettext
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.accounts.models import SignInFailure
from app.common import clock
from app.common.db import write_transaction
from app.common.exceptions import DomainError, Invalid
from app.extensions import db

#: the config key holding each scope's limit, e.g. "5 per 5 minutes"
LIMIT_SETTINGS = {
    "account": "LOGIN_FAILURES_PER_ACCOUNT",
    "address": "LOGIN_FAILURES_PER_ADDRESS",
    "card": "CARD_FAILURES_PER_ADDRESS",
    "checkin": "CHECKIN_FAILURES_PER_ACCOUNT",
}
_UNIT_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_LIMIT_RE = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)
_KEY_CHARS = 128


@dataclass(frozen=True)
class Limit:
    """At most `count` failures within any `window_s` seconds."""

    count: int
    window_s: int


def parse_limit(text: str) -> Limit:
    """Read a limit written as "5 per 5 minutes", "100 per hour" or "10/minute"."""
    match = _LIMIT_RE.match(text or "")
    if match is None or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ValueError(f"a limit reads like '5 per 5 minutes', got {text!r}")
    return Limit(int(match.group(1)), int(match.group(2) or 1) * _UNIT_S[match.group(3).lower()])


def wait_s(earlier: list[datetime], limit: Limit, now: datetime) -> int | None:
    """Seconds until one more attempt may be made, given the earlier ones inside the window; None: allowed now."""
    if len(earlier) < limit.count:
        return None
    # Allowed again once all but count - 1 of them have left the window.
    must_leave = sorted(earlier)[len(earlier) - limit.count]
    return max(1, math.ceil((must_leave + timedelta(seconds=limit.window_s) - now).total_seconds()))


class TooManyFailures(DomainError):
    """The account, the address or the card guesses are locked until `retry_after_s` has passed."""

    status = 429
    code = "rate_limited"

    def __init__(self, scope: str, retry_after_s: int):
        minutes = max(1, math.ceil(retry_after_s / 60))
        if scope == "account":
            message = ngettext(
                "Too many wrong passwords for this account. Sign-in is locked for %(num)d more minute; try again then.",
                "Too many wrong passwords for this account. Sign-in is locked for %(num)d more minutes; try again then.",
                minutes)
        elif scope == "address":
            message = ngettext(
                "Too many failed sign-ins from your network. Wait %(num)d minute, then try again.",
                "Too many failed sign-ins from your network. Wait %(num)d minutes, then try again.",
                minutes)
        elif scope == "checkin":
            message = ngettext(
                "Too many wrong check-in codes. Wait %(num)d minute, then scan the code on the screen again.",
                "Too many wrong check-in codes. Wait %(num)d minutes, then scan the code on the screen again.",
                minutes)
        else:
            message = ngettext(
                "Too many wrong card numbers or PINs from your network. Wait %(num)d minute, then try again.",
                "Too many wrong card numbers or PINs from your network. Wait %(num)d minutes, then try again.",
                minutes)
        super().__init__(message)
        self.scope = scope
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class WrongGuess(Invalid):
    """A wrong card number or PIN: raised inside `attempt`, it counts as a failure."""


class Attempt:
    """One guess being checked; `fail()` makes it count."""

    def __init__(self):
        self.is_failed = False

    def fail(self) -> None:
        self.is_failed = True


@contextmanager
def attempt(*buckets: tuple[str, str | None]) -> Iterator[Attempt]:
    """Check one guess against each (scope, key) bucket: a scope of LIMIT_SETTINGS, a username or an address.

    Raises TooManyFailures before the block runs while a bucket is full. The
    guess counts as a failure when the block calls fail() or raises WrongGuess;
    otherwise (success, or any other error) it leaves no trace. Call it
    outside any write transaction: it writes in its own.
    """
    now = clock.now()
    config = current_app.config
    checked = [(scope, _normal_key(key), parse_limit(config[LIMIT_SETTINGS[scope]])) for scope, key in buckets]
    store = _store()
    records, earlier = store.record(checked, now)
    waits = [(wait_s(times, limit, now), scope) for (scope, _key, limit), times in zip(checked, earlier)]
    locked = [(wait, scope) for wait, scope in waits if wait is not None]
    if locked:
        store.withdraw(records)
        longest, scope = max(locked)
        raise TooManyFailures(scope, longest)
    guess = Attempt()
    try:
        yield guess
    except WrongGuess:
        raise
    except BaseException:
        store.withdraw(records)
        raise
    if not guess.is_failed:
        store.withdraw(records)


def _normal_key(key: str | None) -> str:
    return (key or "").strip().lower()[:_KEY_CHARS]


def _store():
    stores = current_app.extensions.setdefault("xueshi_sign_in_limits", {})
    url = current_app.config.get("REDIS_URL")
    if url not in stores:
        stores[url] = _RedisStore(url, current_app.config["SIGN_IN_LIMITS_PREFIX"]) if url else _DatabaseStore()
    return stores[url]


class _DatabaseStore:
    """Records as rows of sign_in_failures, written in a transaction of their own."""

    def record(self, buckets: list[tuple[str, str, Limit]], now: datetime) -> tuple[list, list[list[datetime]]]:
        with Session(db.engine) as session:
            with write_transaction(session):
                rows = []
                for scope, key, limit in buckets:
                    session.execute(delete(SignInFailure).where(
                        SignInFailure.scope == scope, SignInFailure.attempted_at <= _start(now, limit)))
                    rows.append(SignInFailure(scope=scope, key=key, attempted_at=now))
                session.add_all(rows)
                session.flush()
                ids = [row.id for row in rows]
            # Read after the commit: every attempt recorded before ours is seen, whichever worker made it.
            earlier = [
                list(session.scalars(select(SignInFailure.attempted_at).where(
                    SignInFailure.scope == scope, SignInFailure.key == key,
                    SignInFailure.attempted_at > _start(now, limit), SignInFailure.id != row_id)))
                for (scope, key, limit), row_id in zip(buckets, ids)
            ]
        return ids, earlier

    def withdraw(self, records: list[int]) -> None:
        with Session(db.engine) as session, write_transaction(session):
            session.execute(delete(SignInFailure).where(SignInFailure.id.in_(records)))


class _RedisStore:
    """Records as members of one sorted set per bucket, scored by time; a set expires with its window."""

    def __init__(self, url: str, prefix: str):
        import redis

        self.redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self.prefix = prefix

    def record(self, buckets: list[tuple[str, str, Limit]], now: datetime) -> tuple[list, list[list[datetime]]]:
        at = now.timestamp()
        records = []
        pipe = self.redis.pipeline(transaction=True)  # MULTI: all buckets at once, nobody in between
        for scope, key, limit in buckets:
            name, member = f"{self.prefix}{scope}:{key}", secrets.token_hex(8)
            records.append((name, member))
            pipe.zremrangebyscore(name, "-inf", at - limit.window_s)
            pipe.zadd(name, {member: at})
            pipe.expire(name, limit.window_s + 60)
            pipe.zrangebyscore(name, f"({at - limit.window_s}", "+inf", withscores=True)
        results = pipe.execute()[3::4]
        earlier = [
            [datetime.fromtimestamp(score, now.tzinfo) for found, score in result if found.decode() != member]
            for result, (_name, member) in zip(results, records)
        ]
        return records, earlier

    def withdraw(self, records: list[tuple[str, str]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for name, member in records:
            pipe.zrem(name, member)
        pipe.execute()


def _start(now: datetime, limit: Limit) -> datetime:
    return now - timedelta(seconds=limit.window_s)
