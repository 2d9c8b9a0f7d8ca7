"""The crediting rules of TRACKING.md (R2–R10, R13) as pure functions.

No flask, no database: the caller passes the previous accepted state, the new
heartbeat, the project's settings and the server time, and gets the interval's
credit, coverage, reasons and the new state back.

Units: every time and every position is a whole number of milliseconds (times
are milliseconds since the Unix epoch, UTC); a rate is a float. Integers keep
the sums exact, so the audit windows always add up to the stored totals.

How one heartbeat is credited (`process_heartbeat`):
  R9  `is_replayed`              a seq not above the last accepted one changes nothing
  R2  `interval_credit`          min(available wall time, content / rate, G), placed as a window
  R3  `coverage_segment`         the content the interval may cover (never faster than wall time)
  R8  `split_by_presence`        time after an unanswered check is held, then dropped when overdue
  R7  `clip_to_project_window`   nothing outside the project's dates
  R6  `split_by_day`             windows cut at local midnight (project time zone)
  R4/R6 `apply_caps`             lesson cap and daily cap, earliest seconds first
  R8  `advance_presence`         playing time towards the next presence check
  R14 `reading_until_ms`         a document reader that shows one page too long earns nothing more

"Available wall time": an interval may use the wall time since its previous
heartbeat, plus what the previous creditable interval left unused (at most G),
but never time already credited to the user (`UserState.credited_until_ms`).
That is how a delayed request only shifts seconds between two intervals
instead of losing them, while credit never exceeds the wall time that passed
and the credited windows of one user never overlap.

Coverage (R3) may run ahead of the wall time used by J = 2 s + 5 % of the
interval: the 5 % in every interval, the 2 s once per session
(`SessionState.lead_ms`), so a delayed request covers what was played while
a script that beats every 100 ms cannot cover 2 s more with each beat.
"""
from __future__ import annotations

import hashlib
import hmac
import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property, lru_cache
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

MS = 1000

#: every reason something earned nothing (R13), in the order the audit shows them
REASONS = (
    "not_playing",  # the player said it was paused, or its position did not move
    "hidden",  # the tab was hidden
    "rate_out_of_range",  # playback rate outside the project's range
    "ahead_of_wall_time",  # positions advanced faster than wall time allows (content ms)
    "backward_jump",  # position went back without a seek event
    "gap",  # no heartbeat for longer than the gap allowance G
    "presence_overdue",  # a presence check was not answered in time
    "lesson_cap",  # the lesson already has duration × cap factor
    "daily_cap",  # the local day already has the daily cap
    "outside_window",  # before the project's start or after its end
    "superseded",  # heartbeat of a session replaced by a newer one
    "replayed_seq",  # heartbeat whose seq was not above the last accepted one
    "same_page",  # a document reader kept one page longer than its allowance without turning (R14)
    "not_enrolled",  # group viewing: the attendee is no longer enrolled in the project (R7)
)

EVENTS = ("tick", "play", "pause", "seek", "ended", "hidden", "shown")

#: R10 bounds on what a client may send
MIN_RATE_ACCEPTED = 0.0625
MAX_RATE_ACCEPTED = 16.0
POSITION_SLACK_MS = 2 * MS  # positions may exceed the probed duration by this much
#: a position this little behind the previous one is a frozen player, not a jump
BACKWARD_TOLERANCE_MS = 1 * MS
#: R14: the reader's clock stops this long after the reader's last action; one page is credited at least this long
READING_IDLE_MS = 60 * MS


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Settings:
    """A project's tracking settings (TRACKING.md defaults), in milliseconds."""

    interval_ms: int = 15 * MS
    gap_factor: float = 8.0
    min_rate: float = 0.5
    max_rate: float = 2.0
    completion_ratio: float = 0.9
    cap_factor: float = 1.0
    daily_cap_ms: int = 8 * 3600 * MS
    is_presence_check_enabled: bool = True
    presence_min_ms: int = 20 * 60 * MS
    presence_max_ms: int = 30 * 60 * MS
    presence_timeout_ms: int = 120 * MS
    timezone: str = "Asia/Shanghai"
    #: first and last local day of the project (inclusive); None = unbounded
    starts_on: date | None = None
    ends_on: date | None = None

    @cached_property
    def gap_ms(self) -> int:
        """G, the gap allowance (R2)."""
        return int(self.gap_factor * self.interval_ms)

    @cached_property
    def window_start_ms(self) -> int | None:
        return None if self.starts_on is None else local_midnight_ms(self.starts_on, self.timezone)

    @cached_property
    def window_end_ms(self) -> int | None:
        return None if self.ends_on is None else local_midnight_ms(self.ends_on + timedelta(days=1), self.timezone)

    def lesson_cap_ms(self, duration_ms: int) -> int:
        """R4: the most a lesson of this duration can be credited."""
        return int(duration_ms * self.cap_factor)

    def completion_ms(self, duration_ms: int) -> int:
        """R3: covered length that makes a lesson of this duration complete."""
        return int(duration_ms * self.completion_ratio)


@dataclass(frozen=True)
class Heartbeat:
    """A validated heartbeat body (positions in ms)."""

    seq: int
    position_ms: int
    playing: bool
    visible: bool
    rate: float
    event: str = "tick"
    #: where the player was just before a seek (only with event "seek")
    from_position_ms: int | None = None

    @property
    def is_seek(self) -> bool:
        return self.event == "seek" and self.from_position_ms is not None


@dataclass(frozen=True)
class Piece:
    """A stretch of server time credited (or held) for content [from, to]."""

    start_ms: int
    end_ms: int
    from_position_ms: int
    to_position_ms: int
    #: local calendar day (project time zone) once split by day
    day: date | None = None

    @property
    def ms(self) -> int:
        return self.end_ms - self.start_ms

    def cut(self, start_ms: int, end_ms: int) -> "Piece":
        """Return the part of this piece inside [start_ms, end_ms], positions interpolated."""
        start_ms, end_ms = max(start_ms, self.start_ms), min(end_ms, self.end_ms)
        span = self.ms
        content = self.to_position_ms - self.from_position_ms

        def at(t: int) -> int:
            return self.from_position_ms + (content * (t - self.start_ms) // span if span else 0)

        return Piece(start_ms, end_ms, at(start_ms), at(end_ms), self.day)


@dataclass(frozen=True)
class SessionState:
    """A playback session's last accepted heartbeat (R2) and its held credit (R8)."""

    seq: int = 0
    #: server time of the last accepted heartbeat; None before the first one
    at_ms: int | None = None
    position_ms: int = 0
    playing: bool = False
    visible: bool = True
    rate: float = 1.0
    #: earliest server time the next interval may be credited from
    credit_from_ms: int | None = None
    #: how far coverage has run ahead of the wall time used (R3's fixed jitter, spent once, not per interval)
    lead_ms: int = 0
    #: credit after a presence check's due time, waiting for the answer (R8)
    held: tuple[Piece, ...] = ()

    @property
    def held_ms(self) -> int:
        return sum(p.ms for p in self.held)


@dataclass(frozen=True)
class UserState:
    """What the rules keep per user across sessions: the credit floor and presence checks."""

    #: end of the latest wall time credited or reserved for the user: nothing before it is credited again
    credited_until_ms: int = 0
    #: playing time since the last passed presence check (R8)
    playing_ms: int = 0
    #: playing time after which the next check is due; 0 until drawn
    next_check_after_ms: int = 0
    pending_check_id: str | None = None
    pending_due_ms: int | None = None

    @property
    def has_pending_check(self) -> bool:
        return self.pending_due_ms is not None


class Tally:
    """Counts and milliseconds of what earned nothing, by reason (R13)."""

    __slots__ = ("counts", "ms")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.ms: dict[str, int] = {}

    def add(self, reason: str, ms: int = 0, count: int = 1) -> None:
        assert reason in REASONS, reason
        if ms <= 0 and count <= 0:
            return
        self.counts[reason] = self.counts.get(reason, 0) + count
        self.ms[reason] = self.ms.get(reason, 0) + max(ms, 0)

    def merge_into(self, stored: Mapping[str, list[int]] | None) -> dict[str, list[int]]:
        """Return stored counters `{reason: [count, ms]}` plus this tally."""
        merged = {k: list(v) for k, v in (stored or {}).items()}
        for reason, count in self.counts.items():
            entry = merged.setdefault(reason, [0, 0])
            entry[0] += count
            entry[1] += self.ms.get(reason, 0)
        return merged

    def __bool__(self) -> bool:
        return bool(self.counts)

    def __repr__(self) -> str:
        return f"Tally({ {k: (self.counts[k], self.ms[k]) for k in self.counts} })"


@dataclass(frozen=True)
class Interval:
    """R2's verdict on one interval between two accepted heartbeats."""

    #: credit before presence, window and caps (0 when the interval earns nothing)
    base_ms: int
    #: the server-time window of that credit
    window: Piece | None
    #: the content the interval covers (R3), or None
    coverage: tuple[int, int] | None
    #: the credit floor after this interval (the session's next credit_from_ms)
    next_credit_from_ms: int
    #: the session's next lead_ms
    next_lead_ms: int = 0


@dataclass(frozen=True)
class Outcome:
    """Everything one heartbeat (or presence answer) changes."""

    accepted: bool
    session: SessionState
    user: UserState
    #: credited pieces, split by local day, in time order
    credited: tuple[Piece, ...] = ()
    #: content segment to add to the lesson's covered set
    coverage: tuple[int, int] | None = None
    reasons: Tally = field(default_factory=Tally)
    #: a presence check is due now: the caller creates it (make_presence_check) and records it
    is_check_due: bool = False

    @property
    def credited_ms(self) -> int:
        return sum(p.ms for p in self.credited)


# ------------------------------------------------------------------- time helpers


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_ms(moment: datetime) -> int:
    """Return an aware datetime as epoch milliseconds."""
    return round(moment.timestamp() * MS)


def from_ms(ms: int) -> datetime:
    """Return epoch milliseconds as an aware UTC datetime (exact to the millisecond)."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)


#: any position beyond this is out of bounds anyway: clamping keeps 1e308 s from overflowing to infinity
SECONDS_LIMIT = 1e12


def seconds_to_ms(seconds: float) -> int:
    """Return seconds as milliseconds; a finite value beyond ±SECONDS_LIMIT stays beyond every bound."""
    return round(max(-SECONDS_LIMIT, min(SECONDS_LIMIT, seconds)) * MS)


def local_day(ms: int, tz: str) -> date:
    """Return the local calendar day of an instant in the time zone."""
    return from_ms(ms).astimezone(zone(tz)).date()


@lru_cache(maxsize=1024)
def local_midnight_ms(day: date, tz: str) -> int:
    """Return the instant a local day starts in the time zone."""
    return to_ms(datetime.combine(day, time(0), tzinfo=zone(tz)))


# --------------------------------------------------------------------- R10 bounds


def check_bounds(hb: Heartbeat, duration_ms: int) -> str | None:
    """R10: return the name of the first field out of bounds, or None."""
    if isinstance(hb.seq, bool) or not isinstance(hb.seq, int) or hb.seq < 1:
        return "seq"
    if not 0 <= hb.position_ms <= duration_ms + POSITION_SLACK_MS:
        return "position_s"
    if hb.event not in EVENTS:
        return "event"
    if hb.event == "seek":
        if hb.from_position_ms is None or not 0 <= hb.from_position_ms <= duration_ms + POSITION_SLACK_MS:
            return "from_position_s"
    elif hb.from_position_ms is not None:
        return "from_position_s"
    if not MIN_RATE_ACCEPTED <= hb.rate <= MAX_RATE_ACCEPTED:
        return "rate"
    return None


# ------------------------------------------------------------------------- R9 seq


def is_replayed(state: SessionState, hb: Heartbeat) -> bool:
    """R9: a seq not greater than the last accepted one changes nothing."""
    return hb.seq <= state.seq


# -------------------------------------------------------------------- R2 credit


#: R3's J is this plus 5 % of the interval's wall time
JITTER_FIXED_MS = 2 * MS


def jitter_ms(delta_t_ms: int) -> int:
    """R3's J: 2 s + 5 % of the interval's wall time."""
    return JITTER_FIXED_MS + delta_t_ms // 20


def content_advanced_ms(prev: SessionState, hb: Heartbeat) -> int:
    """R2's Δp: for a seek, up to where the player was just before jumping."""
    end = hb.from_position_ms if hb.is_seek else hb.position_ms
    return end - prev.position_ms


def interval_credit(
    prev: SessionState, hb: Heartbeat, now_ms: int, settings: Settings, credited_until_ms: int, reasons: Tally
) -> Interval:
    """R2 + R3: credit the interval since the previous accepted heartbeat, and what it covers.

    The interval earns min(available wall time, Δp / rate, G) when the previous
    heartbeat was playing, visible, at an allowed rate and the content moved
    forward; otherwise nothing, and the reason is tallied.
    """
    assert prev.at_ms is not None
    delta_t = now_ms - prev.at_ms
    delta_p = content_advanced_ms(prev, hb)
    gap = settings.gap_ms
    # wall time passed without coverage lets the content fall back behind it
    nothing = Interval(0, None, None, now_ms, max(0, prev.lead_ms - max(0, delta_t)))
    if delta_t <= 0:
        return nothing  # clocks of two workers disagree: no wall time passed
    if not prev.playing:
        reasons.add("not_playing", delta_t)
        return nothing
    if not prev.visible:
        reasons.add("hidden", delta_t)
        return nothing
    if not settings.min_rate <= prev.rate <= settings.max_rate:
        reasons.add("rate_out_of_range", delta_t)
        return nothing
    if delta_p < -BACKWARD_TOLERANCE_MS:
        reasons.add("backward_jump", delta_t)
        return nothing
    if delta_p <= 0:
        reasons.add("not_playing", delta_t)  # "playing" but the position did not move
        return nothing

    if delta_t > gap:
        # After a silence longer than G only its last G can be credited: place the window there.
        start = max(now_ms - gap, credited_until_ms)
    else:
        credit_from = prev.at_ms if prev.credit_from_ms is None else prev.credit_from_ms
        start = max(credit_from, prev.at_ms - gap, credited_until_ms)
    available = max(0, now_ms - start)
    played = int(delta_p / prev.rate)  # wall time the content needs at that rate
    base = min(available, played, gap)

    if played > max(available, delta_t) + jitter_ms(delta_t):
        reasons.add("ahead_of_wall_time", played - max(available, delta_t))
    if delta_t > gap:
        reasons.add("gap", delta_t - gap)

    # Coverage follows R3 but, like credit, never spans more wall time than G: a client that
    # stays silent for an hour and then claims the hour's content covers only G of it. J's 5 %
    # applies to every interval; its fixed 2 s is one allowance for the session (lead_ms), spent
    # by coverage that runs ahead of the wall time used and won back by wall time used without
    # coverage. Per interval, a script beating ten times a second would gain 2 s with each beat.
    wall = min(available, gap)
    drift = min(delta_t, gap) // 20
    allowance = wall + drift + max(0, JITTER_FIXED_MS - prev.lead_ms)
    covered = min(delta_p, int(allowance * prev.rate))
    coverage = (prev.position_ms, prev.position_ms + covered) if base > 0 else None
    window = None
    if base > 0:
        content = min(delta_p, int(base * prev.rate))
        window = Piece(start, start + base, prev.position_ms, prev.position_ms + content)
    # Unused wall time carries to the next interval, but never across a silence longer than G.
    next_from = max(start + base if delta_t <= gap else now_ms, now_ms - gap)
    # Wall time used: what this interval takes from the next one's (carried time is not used yet).
    used = max(0, next_from - start)
    lead = prev.lead_ms + (int(covered / prev.rate) if coverage else 0) - used - drift
    return Interval(base, window, coverage, next_from, min(JITTER_FIXED_MS, max(0, lead)))


# -------------------------------------------------------------------- R3 coverage


def merge_segments(segments: Iterable[tuple[int, int]] | Iterable[list[int]], new: tuple[int, int] | None = None) -> list[list[int]]:
    """R3: return the union of segments (plus `new`) as sorted, disjoint [start, end] pairs."""
    items = sorted([int(a), int(b)] for a, b in segments if b > a)
    if new is not None and new[1] > new[0]:
        items.append([int(new[0]), int(new[1])])
        items.sort()
    merged: list[list[int]] = []
    for start, end in items:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def covered_ms(segments: Iterable[tuple[int, int]] | Iterable[list[int]]) -> int:
    """Return the covered length of a union of disjoint segments."""
    return sum(b - a for a, b in segments)


def clip_segment(segment: tuple[int, int], duration_ms: int) -> tuple[int, int] | None:
    """Return the part of a content segment inside the lesson [0, duration]."""
    start, end = max(0, segment[0]), min(duration_ms, segment[1])
    return (start, end) if end > start else None


def is_complete(covered: int, duration_ms: int, settings: Settings) -> bool:
    """R3: complete once covered ≥ completion ratio × duration."""
    return duration_ms > 0 and covered >= settings.completion_ms(duration_ms)


# ------------------------------------------------------------------ R8 presence


def split_by_presence(
    window: Piece, user: UserState, now_ms: int, settings: Settings, reasons: Tally
) -> tuple[list[Piece], list[Piece]]:
    """R8: return (creditable, held) parts of a window.

    Time from an unanswered check's due time is held while the answer may still
    come in time, and earns nothing once the check is overdue.
    """
    due = user.pending_due_ms
    if due is None or window.end_ms <= due:
        return [window], []
    before = [window.cut(window.start_ms, due)] if window.start_ms < due else []
    after = window.cut(max(due, window.start_ms), window.end_ms)
    if is_overdue(user, now_ms, settings):
        reasons.add("presence_overdue", after.ms)
        return before, []
    return before, [after]


def is_overdue(user: UserState, now_ms: int, settings: Settings) -> bool:
    """R8: the pending check got no right answer within the timeout."""
    return user.pending_due_ms is not None and now_ms > user.pending_due_ms + settings.presence_timeout_ms


def draw_check_after_ms(rng: random.Random, settings: Settings) -> int:
    """R8: playing time until the next check, uniformly between the project's bounds."""
    low, high = sorted((settings.presence_min_ms, settings.presence_max_ms))
    return rng.randint(low, high)


def advance_presence(
    user: UserState, base_ms: int, hb: Heartbeat, settings: Settings, rng: random.Random
) -> tuple[UserState, bool]:
    """R8: add playing time; return the new user state and whether a check is due now.

    Playing time only grows while no check is pending, and a check is only
    issued to a player that is playing and visible (never while paused).
    """
    if not settings.is_presence_check_enabled or user.has_pending_check:
        return user, False
    threshold = user.next_check_after_ms or draw_check_after_ms(rng, settings)
    playing = user.playing_ms + base_ms
    user = replace(user, playing_ms=playing, next_check_after_ms=threshold)
    return user, playing >= threshold and hb.playing and hb.visible


@dataclass(frozen=True)
class PresenceCheck:
    """A presence check: pick `answer` among `options`."""

    id: str
    number: int
    options: tuple[str, ...]
    answer: str
    due_ms: int


def make_presence_check(rng: random.Random, due_ms: int) -> PresenceCheck:
    """R8: a fresh check: a number to pick among four shuffled options."""
    numbers = rng.sample(range(10, 100), 4)
    options = tuple(str(n) for n in numbers)
    answer = options[rng.randrange(4)]
    check_id = "%032x" % rng.getrandbits(128)
    return PresenceCheck(check_id, int(answer), options, answer, due_ms)


def pass_check(user: UserState, rng: random.Random, settings: Settings) -> UserState:
    """R8: the pending check was answered: start counting towards the next one."""
    return replace(
        user,
        pending_check_id=None,
        pending_due_ms=None,
        playing_ms=0,
        next_check_after_ms=draw_check_after_ms(rng, settings),
    )


# ----------------------------------------------------------------------- R7 window


def clip_to_project_window(pieces: list[Piece], settings: Settings, reasons: Tally) -> list[Piece]:
    """R7: keep only what falls between the project's first and last local day."""
    start, end = settings.window_start_ms, settings.window_end_ms
    kept: list[Piece] = []
    for piece in pieces:
        lo = piece.start_ms if start is None else max(piece.start_ms, start)
        hi = piece.end_ms if end is None else min(piece.end_ms, end)
        if hi > lo:
            kept.append(piece.cut(lo, hi))
        outside = piece.ms - max(0, hi - lo)
        if outside > 0:
            reasons.add("outside_window", outside)
    return kept


# ------------------------------------------------------------------- R6 local days


def split_by_day(pieces: Iterable[Piece], tz: str) -> list[Piece]:
    """R6: cut pieces at local midnight and label each with its local day."""
    result: list[Piece] = []
    for piece in pieces:
        start = piece.start_ms
        while start < piece.end_ms:
            day = local_day(start, tz)
            next_midnight = local_midnight_ms(day + timedelta(days=1), tz)
            end = min(piece.end_ms, next_midnight)
            result.append(replace(piece.cut(start, end), day=day))
            start = end
    return result


def days_to_read(now_ms: int, settings: Settings) -> list[date]:
    """Return every local day a heartbeat or answer at now_ms can credit (read their totals first)."""
    earliest = now_ms - 2 * settings.gap_ms - settings.presence_timeout_ms - settings.interval_ms
    first, last = local_day(earliest, settings.timezone), local_day(now_ms, settings.timezone)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# ----------------------------------------------------------------- R4 + R6 caps


def apply_caps(
    pieces: Iterable[Piece],
    lesson_credited_ms: int,
    lesson_cap_ms: int,
    day_credited_ms: Mapping[date, int],
    daily_cap_ms: int,
    reasons: Tally,
) -> list[Piece]:
    """R4 + R6: credit the earliest seconds that fit under the lesson cap and each day's cap."""
    lesson_left = max(0, lesson_cap_ms - lesson_credited_ms)
    used: dict[date, int] = {}
    credited: list[Piece] = []
    for piece in pieces:
        assert piece.day is not None, "split_by_day first"
        if piece.day not in day_credited_ms:
            raise KeyError(f"daily total of {piece.day} was not read (see days_to_read)")
        day_left = max(0, daily_cap_ms - day_credited_ms[piece.day] - used.get(piece.day, 0))
        allowed = min(piece.ms, lesson_left, day_left)
        if allowed < piece.ms:
            reasons.add("lesson_cap" if lesson_left <= day_left else "daily_cap", piece.ms - allowed)
        if allowed > 0:
            credited.append(piece.cut(piece.start_ms, piece.start_ms + allowed))
            lesson_left -= allowed
            used[piece.day] = used.get(piece.day, 0) + allowed
    return credited


# ---------------------------------------------------------------- R14 documents


def page_allowance_ms(duration_ms: int, page_count: int) -> int:
    """R14: how long one page may stay shown and still be credited: max(60 s, D / pages)."""
    return max(READING_IDLE_MS, duration_ms // max(1, page_count))


def reading_until_ms(page_turned_ms: int | None, duration_ms: int, page_count: int) -> int | None:
    """R14: the server time after which a document session earns nothing until the page changes.

    The server cannot see the reader act; what it sees is the page shown. A
    session that keeps one page longer than page_allowance_ms earns nothing
    more until another page is shown (None before the first page is reported).
    """
    if page_turned_ms is None:
        return None
    return page_turned_ms + page_allowance_ms(duration_ms, page_count)


def clip_to_reading(window: Piece, until_ms: int | None, reasons: Tally) -> Piece | None:
    """R14: the part of a window before `until_ms` (the rest is tallied as "same_page")."""
    if until_ms is None or window.end_ms <= until_ms:
        return window
    if window.start_ms >= until_ms:
        reasons.add("same_page", window.ms)
        return None
    reasons.add("same_page", window.end_ms - until_ms)
    return window.cut(window.start_ms, until_ms)


# ------------------------------------------------------------------- one heartbeat


def process_heartbeat(
    session: SessionState,
    user: UserState,
    hb: Heartbeat,
    now_ms: int,
    settings: Settings,
    duration_ms: int,
    lesson_credited_ms: int,
    day_credited_ms: Mapping[date, int],
    rng: random.Random,
    reading_until: int | None = None,
) -> Outcome:
    """Apply every rule to one heartbeat received at now_ms (server time).

    `hb` must have passed check_bounds. `day_credited_ms` holds the user's
    credited total of every day in days_to_read(now_ms, settings).
    `reading_until` (document sessions, R14): nothing after it is credited.
    """
    reasons = Tally()
    if is_replayed(session, hb):
        reasons.add("replayed_seq")
        return Outcome(False, session, user, reasons=reasons)

    held = list(session.held)
    if is_overdue(user, now_ms, settings) and held:
        reasons.add("presence_overdue", sum(p.ms for p in held))
        held = []

    credited: list[Piece] = []
    coverage = None
    base_ms = 0
    credit_from = now_ms
    lead = 0
    credited_until = user.credited_until_ms
    if session.at_ms is not None:
        interval = interval_credit(session, hb, now_ms, settings, credited_until, reasons)
        base_ms, credit_from, lead = interval.base_ms, interval.next_credit_from_ms, interval.next_lead_ms
        window = interval.window
        if window is not None:
            credited_until = max(credited_until, window.end_ms)
            window = clip_to_reading(window, reading_until, reasons)
        if window is not None:
            now_part, held_part = split_by_presence(window, user, now_ms, settings, reasons)
            now_part = split_by_day(clip_to_project_window(now_part, settings, reasons), settings.timezone)
            held_part = split_by_day(clip_to_project_window(held_part, settings, reasons), settings.timezone)
            held += held_part
            credited = apply_caps(
                now_part,
                lesson_credited_ms,
                settings.lesson_cap_ms(duration_ms),
                day_credited_ms,
                settings.daily_cap_ms,
                reasons,
            )
            eligible = sum(p.ms for p in now_part) + sum(p.ms for p in held_part)
            if eligible and interval.coverage is not None:
                # Coverage shrinks with the share of the interval that was outside the window or overdue.
                start, end = interval.coverage
                end = start + (end - start) * eligible // interval.base_ms
                coverage = clip_segment((start, end), duration_ms)

    new_session = SessionState(
        seq=hb.seq,
        at_ms=now_ms,
        position_ms=hb.position_ms,
        playing=hb.playing,
        visible=hb.visible,
        rate=hb.rate,
        credit_from_ms=credit_from,
        lead_ms=lead,
        held=tuple(held),
    )
    new_user, is_due = advance_presence(replace(user, credited_until_ms=credited_until), base_ms, hb, settings, rng)
    return Outcome(True, new_session, new_user, tuple(credited), coverage, reasons, is_due)


def issue_check(user: UserState, check_id: str, due_ms: int) -> UserState:
    """R8: record the check that process_heartbeat said is due."""
    return replace(user, pending_check_id=check_id, pending_due_ms=due_ms)


def answer_check(
    session: SessionState,
    user: UserState,
    now_ms: int,
    settings: Settings,
    duration_ms: int,
    lesson_credited_ms: int,
    day_credited_ms: Mapping[date, int],
    rng: random.Random,
) -> Outcome:
    """R8: the right answer to the pending check arrived at now_ms.

    In time: the held credit of the session is credited now (under the caps).
    Late: the held credit is dropped and nothing before now_ms is ever credited.
    """
    assert user.has_pending_check
    reasons = Tally()
    credited: list[Piece] = []
    if is_overdue(user, now_ms, settings):
        reasons.add("presence_overdue", session.held_ms)
        user = replace(user, credited_until_ms=max(user.credited_until_ms, now_ms))
        # The next interval of the session starts no earlier than the answer.
        session = replace(session, held=(), credit_from_ms=max(session.credit_from_ms or 0, now_ms))
    else:
        credited = apply_caps(
            session.held,
            lesson_credited_ms,
            settings.lesson_cap_ms(duration_ms),
            day_credited_ms,
            settings.daily_cap_ms,
            reasons,
        )
        session = replace(session, held=())
    return Outcome(True, session, pass_check(user, rng, settings), tuple(credited), None, reasons)


def drop_held(session: SessionState, reason: str) -> tuple[SessionState, Tally]:
    """Give up a session's held credit (the session ended or was superseded before the answer)."""
    reasons = Tally()
    if session.held:
        reasons.add(reason, session.held_ms)
    return replace(session, held=()), reasons


# ------------------------------------------------------------ group viewing


def clip_to_attendance(pieces: Iterable[Piece], checked_in_ms: int, checked_out_ms: int | None) -> list[Piece]:
    """Group viewing: the part of the projector session's credited pieces inside one attendee's presence.

    Each attendee's part then goes through R4, R6 and R7 (apply_caps with the attendee's own
    totals) and is recorded as their own credit.
    """
    end = checked_out_ms if checked_out_ms is not None else max((p.end_ms for p in pieces), default=checked_in_ms)
    kept = []
    for piece in pieces:
        lo, hi = max(piece.start_ms, checked_in_ms), min(piece.end_ms, end)
        if hi > lo:
            kept.append(piece.cut(lo, hi))
    return kept


#: a group session's check-in code is new every CODE_PERIOD_MS and accepted for CODE_LIFETIME_MS after it appeared
CODE_PERIOD_MS = 60 * MS
CODE_LIFETIME_MS = 120 * MS


def checkin_code(secret: str, group_session_id: int, index: int) -> str:
    """The 6-digit check-in code number `index` (minutes since the start) of a group session."""
    digest = hmac.new(secret.encode(), f"{group_session_id}:{index}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"


@dataclass(frozen=True)
class CheckinCode:
    code: str
    #: server times (epoch ms) it appeared and stops being accepted
    appeared_ms: int
    expires_ms: int


def current_code(secret: str, group_session_id: int, started_ms: int, now_ms: int) -> CheckinCode:
    """The code the projector shows at now_ms: a new one every CODE_PERIOD_MS from the start."""
    index = max(0, (now_ms - started_ms) // CODE_PERIOD_MS)
    appeared = started_ms + index * CODE_PERIOD_MS
    return CheckinCode(checkin_code(secret, group_session_id, index), appeared, appeared + CODE_LIFETIME_MS)


def is_code_accepted(code: str, secret: str, group_session_id: int, started_ms: int, now_ms: int) -> bool:
    """Is `code` one of this group session's codes that appeared less than CODE_LIFETIME_MS before now_ms?"""
    if len(code) != 6 or not code.isascii() or not code.isdigit() or now_ms < started_ms:
        return False
    newest = (now_ms - started_ms) // CODE_PERIOD_MS
    oldest = max(0, (now_ms - started_ms - CODE_LIFETIME_MS) // CODE_PERIOD_MS + 1)
    return any(hmac.compare_digest(code, checkin_code(secret, group_session_id, i))
               for i in range(oldest, newest + 1))


def attendee_share(pieces: Iterable[Piece], checked_in_ms: int, checked_out_ms: int | None,
                   credited_until_ms: int, reasons: Tally) -> list[Piece]:
    """Group viewing: what of the projector's credited pieces an attendee may be credited before the caps.

    The part inside their presence (check-in to check-out), and never wall time already
    credited to them elsewhere (R5: their windows never overlap).
    """
    present = clip_to_attendance(pieces, checked_in_ms, checked_out_ms)
    kept = []
    for piece in present:
        if piece.end_ms <= credited_until_ms:
            reasons.add("superseded", piece.ms)
            continue
        if piece.start_ms < credited_until_ms:
            reasons.add("superseded", credited_until_ms - piece.start_ms)
            piece = piece.cut(credited_until_ms, piece.end_ms)
        kept.append(piece)
    return kept


def pieces_coverage(pieces: Iterable[Piece], duration_ms: int) -> list[tuple[int, int]]:
    """R3 for an attendee: the content the projector played during their credited share."""
    spans = []
    for piece in pieces:
        segment = clip_segment((piece.from_position_ms, piece.to_position_ms), duration_ms)
        if segment is not None:
            spans.append(segment)
    return spans


# ----------------------------------------------------------------- R12 hours


def learning_hours(credited_ms: int, minutes_per_hour: int) -> float:
    """R12: credited seconds / 60 / minutes per hour, rounded down to 0.1."""
    if minutes_per_hour <= 0:
        return 0.0
    tenths = credited_ms * 10 // (60 * MS * minutes_per_hour)
    return tenths / 10
