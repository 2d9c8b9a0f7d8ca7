"""Use cases of watch-time tracking: playback sessions, heartbeats, presence checks, progress, audit.

The crediting itself is decided by app.tracking.rules; this module loads what
the rules need, calls them and stores the result. Every write to a user's
tracking rows runs in one short write transaction holding that user's lock
(user_write_lock): a heartbeat takes the lock, reads everything it needs in
one SELECT, lets the rules decide, writes, and commits before it answers
(R11). The statements are SQLAlchemy Core, built once at import; rows are
read by column name.

Functions for pages and the API (seconds are floats rounded to 0.001):

get_project_progress(user, project) -> dict
    {"project_id", "title", "credited_s", "learning_hours", "required_hours",
     "minutes_per_hour", "missing_s" (credited seconds still needed for the
     required hours), "lesson_count", "complete_count",
     "lessons": [{"lesson_id", "course_id", "title", "kind", "duration_s",
                  "credited_s", "covered_s", "complete", "resume_position_s",
                  "max_position_s", "segments": [[start_s, end_s], ...]}]}

get_lesson_audit(user, project, lesson) -> dict
    {"project_id", "lesson_id", "title", "duration_s", "credited_s",
     "covered_s", "complete", "segments",
     "recomputed_s" (sum of the windows and corrections: equals credited_s),
     "reasons": [{"reason", "label", "count", "seconds"}]   (all sessions),
     "sessions": [{"id", "status", "opened_at" (datetime), "closed_at",
                   "user_agent", "credited_s",
                   "reasons": [{"reason", "label", "count", "seconds"}],
                   "windows": [{"started_at", "ended_at" (datetimes),
                                "day" (date), "from_position_s",
                                "to_position_s", "credited_s"}]}]  newest first,
     "corrections": [{"id", "delta_s", "reason", "created_by", "created_at"}],
     "presence_checks": [{"id", "session_id", "due_at", "answered_at",
                          "is_late", "wrong_answers"}]}

REASON_LABELS: {reason: lazy translated label} for rules.REASONS;
reason_label(reason) -> str.

Use cases behind the JSON API: do_open_session, check_heartbeat,
check_presence_answer, do_end_session, do_correct_credit.
"""
from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime

from flask import current_app, has_request_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Connection, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.accounts.models import User
from app.common import clock
from app.common.db import write_transaction
from app.common.exceptions import Conflict, Forbidden, Gone, Invalid, NotFound
from app.courses import service as courses
from app.courses.models import Lesson, Project
from app.extensions import db
from app.tracking import rules
from app.tracking.models import (
    CreditCorrection,
    CreditWindow,
    DailyCredit,
    DocumentPageView,
    LessonProgress,
    PlaybackSession,
    PresenceCheck,
    ProjectDayCredit,
    TrackingUserState,
)

REASON_LABELS = {
    "not_playing": _l("Not playing (paused, or the position did not move)"),
    "hidden": _l("The page was hidden"),
    "rate_out_of_range": _l("Playback speed outside the allowed range"),
    "ahead_of_wall_time": _l("Position moved faster than time passed"),
    "backward_jump": _l("Position jumped back without a seek"),
    "gap": _l("No report from the player for longer than the gap allowance"),
    "presence_overdue": _l("Presence check not answered in time"),
    "lesson_cap": _l("Lesson already credited in full"),
    "daily_cap": _l("Daily limit reached"),
    "outside_window": _l("Outside the project's dates"),
    "superseded": _l("Playback continued in another window or device"),
    "replayed_seq": _l("Repeated or late report (ignored)"),
    "same_page": _l("The reader kept one page too long without turning it"),
    "not_enrolled": _l("No longer enrolled in the project"),
}

#: project settings and lesson durations are cached per worker for this long
SETTINGS_TTL_S = 30.0
_rng = random.SystemRandom()

S = PlaybackSession.__table__
P = LessonProgress.__table__
U = TrackingUserState.__table__
D = DailyCredit.__table__
DP = ProjectDayCredit.__table__
W = CreditWindow.__table__
C = PresenceCheck.__table__
V = DocumentPageView.__table__


def _s(ms: int | None) -> float:
    return round((ms or 0) / 1000, 3)


# ----------------------------------------------------------------- cached context


@dataclass(frozen=True)
class LessonContext:
    """What a heartbeat needs about a lesson in a project, cached per worker."""

    project_id: int
    lesson_id: int
    settings: rules.Settings
    duration_ms: int
    interval_s: int
    is_seek_ahead_forbidden: bool
    fetched_at: float
    #: "video", "audio" or "document"; a document session takes reader heartbeats (R14)
    kind: str = "video"
    #: pages of a document's PDF (the `page` field is checked against it)
    page_count: int | None = None

    @property
    def is_document(self) -> bool:
        return self.kind == "document"


@dataclass(frozen=True)
class SessionKey:
    """The parts of a playback session that never change."""

    user_id: int
    project_id: int
    lesson_id: int
    #: "own", "projector" or "attendee" (models.SESSION_KINDS)
    kind: str = "own"
    group_session_id: int | None = None


def settings_of(project: Project) -> rules.Settings:
    """Return the project's tracking settings for the rules."""
    return rules.Settings(
        interval_ms=project.effective_heartbeat_interval_s() * 1000,
        gap_factor=project.gap_factor,
        min_rate=project.min_rate,
        max_rate=project.max_rate,
        completion_ratio=project.completion_ratio,
        cap_factor=project.cap_factor,
        daily_cap_ms=project.daily_cap_s * 1000,
        is_presence_check_enabled=project.is_presence_check_enabled,
        presence_min_ms=project.presence_min_s * 1000,
        presence_max_ms=project.presence_max_s * 1000,
        presence_timeout_ms=project.presence_timeout_s * 1000,
        timezone=project.timezone or "Asia/Shanghai",
        starts_on=project.starts_on,
        ends_on=project.ends_on,
    )


def _cache() -> dict:
    """This app's per-worker cache: lesson contexts, session keys, presence checks."""
    return current_app.extensions.setdefault("xueshi_tracking_cache", {"contexts": {}, "sessions": {}, "checks": {}})


def _make_context(project: Project, lesson: Lesson) -> LessonContext:
    ctx = LessonContext(
        project_id=project.id,
        lesson_id=lesson.id,
        settings=settings_of(project),
        duration_ms=int(lesson.duration_s or 0) * 1000,
        interval_s=project.effective_heartbeat_interval_s(),
        is_seek_ahead_forbidden=project.is_seek_ahead_forbidden,
        fetched_at=time.monotonic(),
        kind=lesson.kind,
        page_count=lesson.page_count,
    )
    _cache()["contexts"][(project.id, lesson.id)] = ctx
    return ctx


def get_lesson_context(project_id: int, lesson_id: int) -> LessonContext:
    """Return the cached settings and duration of a lesson in a project (re-read every SETTINGS_TTL_S)."""
    ctx = _cache()["contexts"].get((project_id, lesson_id))
    if ctx is not None and time.monotonic() - ctx.fetched_at < SETTINGS_TTL_S:
        return ctx
    project = db.session.get(Project, project_id)
    lesson = db.session.get(Lesson, lesson_id)
    if project is None or lesson is None:
        raise NotFound(_("This lesson or project no longer exists."))
    return _make_context(project, lesson)


def clear_cache() -> None:
    """Forget cached settings (after an administrator changes a project or a lesson's duration)."""
    _cache()["contexts"].clear()


def _session_not_found() -> NotFound:
    # Another user's session is indistinguishable from a missing one.
    return NotFound(_("No such playback session."), code="session_not_found")


def _own_session(user_id: int, session_id: int) -> SessionKey:
    """Whose session it is and of what lesson (cached per worker: it never changes); NotFound unless the user's."""
    sessions = _cache()["sessions"]
    key = sessions.get(session_id)
    if key is None:
        row = db.session.execute(SESSION_KEY, {"session_id": session_id}).first()
        if row is not None:
            if len(sessions) > 200_000:
                sessions.clear()
            key = sessions[session_id] = SessionKey(row.user_id, row.project_id, row.lesson_id, row.kind,
                                                    row.group_session_id)
    if key is None or key.user_id != user_id:
        raise _session_not_found()
    return key


# ----------------------------------------------------------------- statements (built once)


def _insert_ignoring_duplicates(table) -> dict:
    """INSERT ... ON CONFLICT DO NOTHING, per dialect."""
    return {"sqlite": sqlite.insert(table).on_conflict_do_nothing(),
            "postgresql": postgresql.insert(table).on_conflict_do_nothing()}


def _add_to_day(dialect) -> object:
    stmt = dialect.insert(D)
    return stmt.on_conflict_do_update(index_elements=[D.c.user_id, D.c.day],
                                      set_={"credited_ms": D.c.credited_ms + stmt.excluded.credited_ms})


SESSION_KEY = select(S.c.user_id, S.c.project_id, S.c.lesson_id, S.c.kind, S.c.group_session_id).where(S.c.id == bindparam("session_id"))

#: the users' lock rows, taken in ascending user id (SQLite's BEGIN IMMEDIATE already holds the database)
LOCK_USERS = (select(U.c.user_id).where(U.c.user_id.in_(bindparam("user_ids", expanding=True)))
              .order_by(U.c.user_id).with_for_update())
INSERT_USER_STATES = _insert_ignoring_duplicates(U)
INSERT_PROGRESS = _insert_ignoring_duplicates(P)

_last_window = W.alias("last_w")
_last_window_id = select(func.max(_last_window.c.id)).where(_last_window.c.session_id == S.c.id).correlate(S)


def _day_ms(param: str):
    return (select(D.c.credited_ms).where(D.c.user_id == S.c.user_id, D.c.day == bindparam(param))
            .correlate(S).scalar_subquery())


#: a heartbeat's (or presence answer's) single read: the session, its lesson progress, the user's state,
#: the user's credit on the first and last local day it may credit, and the session's last credit window
READ_STATE = (
    select(
        S.c.user_id, S.c.project_id, S.c.lesson_id, S.c.status, S.c.last_seq, S.c.last_at_ms, S.c.last_position_ms,
        S.c.is_playing, S.c.is_visible, S.c.rate, S.c.credit_from_ms, S.c.coverage_lead_ms, S.c.credited_ms, S.c.held, S.c.reasons,
        S.c.page, S.c.page_turned_ms, S.c.kind,
        P.c.id.label("progress_id"), P.c.credited_ms.label("lesson_ms"), P.c.covered, P.c.covered_ms,
        P.c.is_complete, P.c.max_position_ms,
        U.c.credited_until_ms, U.c.playing_ms, U.c.next_check_after_ms, U.c.pending_check_id, U.c.pending_due_ms,
        _day_ms("day_a").label("day_a_ms"), _day_ms("day_b").label("day_b_ms"),
        W.c.id.label("window_id"), W.c.ended_ms.label("window_end_ms"), W.c.day.label("window_day"),
        W.c.to_position_ms.label("window_to_ms"),
    )
    .select_from(
        S.outerjoin(P, and_(P.c.user_id == S.c.user_id, P.c.project_id == S.c.project_id,
                            P.c.lesson_id == S.c.lesson_id))
        .outerjoin(U, U.c.user_id == S.c.user_id)
        .outerjoin(W, W.c.id == _last_window_id.scalar_subquery())
    )
    .where(S.c.id == bindparam("session_id"))
)
DAY_TOTALS = select(D.c.day, D.c.credited_ms).where(D.c.user_id == bindparam("uid"),
                                                     D.c.day.in_(bindparam("days", expanding=True)))

# Updates whose SET clause is the columns named in the parameters.
UPDATE_SESSION = update(S).where(S.c.id == bindparam("session_id"))
UPDATE_PROGRESS = update(P).where(P.c.id == bindparam("progress_id"))
UPDATE_USER_STATE = update(U).where(U.c.user_id == bindparam("uid"))
UPDATE_CHECK = update(C).where(C.c.id == bindparam("check_id"))

EXTEND_WINDOW = update(W).where(W.c.id == bindparam("window_id")).values(
    ended_ms=bindparam("end_ms"), to_position_ms=bindparam("to_ms"), credited_ms=W.c.credited_ms + bindparam("add_ms"))
INSERT_WINDOW = insert(W)
ADD_TO_DAY = {"sqlite": _add_to_day(sqlite), "postgresql": _add_to_day(postgresql)}


def _add_to_project_day(dialect) -> object:
    stmt = dialect.insert(DP)
    return stmt.on_conflict_do_update(index_elements=[DP.c.user_id, DP.c.project_id, DP.c.day],
                                      set_={"credited_ms": DP.c.credited_ms + stmt.excluded.credited_ms})


ADD_TO_PROJECT_DAY = {"sqlite": _add_to_project_day(sqlite), "postgresql": _add_to_project_day(postgresql)}
# SQLAlchemy does not cache the dialects' INSERT ... ON CONFLICT (each run compiles it again), so a
# heartbeat adds to a day row that exists with these plain UPDATEs and upserts only a new day's row.
GROW_DAY = update(D).where(D.c.user_id == bindparam("uid"), D.c.day == bindparam("d")).values(
    credited_ms=D.c.credited_ms + bindparam("add_ms"))
GROW_PROJECT_DAY = update(DP).where(DP.c.user_id == bindparam("uid"), DP.c.project_id == bindparam("pid"),
                                    DP.c.day == bindparam("d")).values(
    credited_ms=DP.c.credited_ms + bindparam("add_ms"))


def _see_page(dialect) -> object:
    stmt = dialect.insert(V)
    return stmt.on_conflict_do_update(index_elements=[V.c.session_id, V.c.page],
                                      set_={"last_seen_ms": stmt.excluded.last_seen_ms, "reports": V.c.reports + 1})


#: a document session's reader showed a page (R14)
SEE_PAGE = {"sqlite": _see_page(sqlite), "postgresql": _see_page(postgresql)}
SEE_PAGE_AGAIN = update(V).where(V.c.session_id == bindparam("sid"), V.c.page == bindparam("pg")).values(
    last_seen_ms=bindparam("seen_ms"), reports=V.c.reports + 1)
INSERT_CHECK = insert(C)


def _dialect() -> str:
    return db.engine.dialect.name


# ----------------------------------------------------------------- the write lock


@contextmanager
def user_write_lock(user_ids: Iterable[int]) -> Iterator[Connection]:
    """Run the block in one write transaction holding the tracking lock of each of these users; commit it.

    Every write to a user's tracking rows runs inside this lock, so writers of
    one user take turns and each reads what the previous one committed. The
    lock rows are taken in ascending user id, so writers crediting overlapping
    sets of users (two projectors' groups and a learner's own tab) never
    deadlock. On SQLite, BEGIN IMMEDIATE already holds the whole database.
    A user's lock row is created on first use.
    """
    ids = sorted(set(user_ids))
    with write_transaction() as session:
        conn = session.connection()
        locked = set(conn.execute(LOCK_USERS, {"user_ids": ids}).scalars())
        missing = [user_id for user_id in ids if user_id not in locked]
        if missing:
            _create_user_states(conn, missing)
            conn.execute(LOCK_USERS, {"user_ids": missing})
        yield conn


def _create_user_states(conn: Connection, user_ids: list[int]) -> None:
    """Create the lock rows these users lack.

    On PostgreSQL they are made and committed at once in a short transaction of
    their own: an uncommitted new row held by a writer that goes on to wait for
    another user's lock would make a writer inserting the same row wait for it,
    and overlapping groups could deadlock. Rows are never deleted, so once made
    they stay. On SQLite the writer already holds the whole database.
    """
    rows = [{"user_id": user_id} for user_id in user_ids]
    if _dialect() == "sqlite":
        conn.execute(INSERT_USER_STATES["sqlite"], rows)
        return
    with db.engine.begin() as own:
        own.execute(INSERT_USER_STATES["postgresql"], rows)


def _ensure_progress(conn: Connection, user_id: int, project_id: int, lesson_id: int) -> None:
    conn.execute(INSERT_PROGRESS[_dialect()], {
        "user_id": user_id, "project_id": project_id, "lesson_id": lesson_id, "covered": [],
        "updated_at": clock.now()})


def _read_state(conn: Connection, key: SessionKey, session_id: int, days: list[date]):
    """The single read of a session under its user's lock, with day totals {day: ms} for `days`."""
    params = {"session_id": session_id, "day_a": days[0], "day_b": days[-1]}
    row = conn.execute(READ_STATE, params).one()
    if row.progress_id is None:  # made when the session opened: recreate what an administrator's cleanup removed
        _ensure_progress(conn, key.user_id, key.project_id, key.lesson_id)
        row = conn.execute(READ_STATE, params).one()
    if len(days) <= 2:
        totals = {days[0]: row.day_a_ms or 0, days[-1]: row.day_b_ms or 0}
    else:
        totals = dict.fromkeys(days, 0)
        totals.update(conn.execute(DAY_TOTALS, {"uid": key.user_id, "days": days}).all())
    return row, totals


# ----------------------------------------------------------------- rows ↔ rule states


def _session_state(row) -> rules.SessionState:
    return rules.SessionState(
        seq=row.last_seq,
        at_ms=row.last_at_ms,
        position_ms=row.last_position_ms,
        playing=row.is_playing,
        visible=row.is_visible,
        rate=row.rate,
        credit_from_ms=row.credit_from_ms,
        lead_ms=row.coverage_lead_ms,
        held=_pieces(row.held),
    )


def _user_state(row) -> rules.UserState:
    return rules.UserState(
        credited_until_ms=row.credited_until_ms,
        playing_ms=row.playing_ms,
        next_check_after_ms=row.next_check_after_ms,
        pending_check_id=row.pending_check_id,
        pending_due_ms=row.pending_due_ms,
    )


def _pieces(held: list | None) -> tuple[rules.Piece, ...]:
    return tuple(rules.Piece(start, end, frm, to, date.fromisoformat(day)) for start, end, frm, to, day in held or ())


def _held_json(held: tuple[rules.Piece, ...]) -> list | None:
    if not held:
        return None
    return [[p.start_ms, p.end_ms, p.from_position_ms, p.to_position_ms, p.day.isoformat()] for p in held]


def _continues(end_ms: int, day: date, to_position_ms: int, piece: rules.Piece) -> bool:
    """Does the piece continue a credit window that ends there (same day, no gap, within 2 s of its position)?"""
    return piece.start_ms == end_ms and piece.day == day and abs(piece.from_position_ms - to_position_ms) <= 2000


def _window_runs(row, pieces: tuple[rules.Piece, ...]) -> list[tuple[bool, rules.Piece]]:
    """The credit windows a heartbeat writes: (extends the session's last window?, the stretch it covers).

    The first piece may continue the session's last window, and a piece that continues the one before it joins it.
    """
    runs: list[tuple[bool, rules.Piece]] = []
    for piece in pieces:
        if runs:
            extends, last = runs[-1]
            if _continues(last.end_ms, last.day, last.to_position_ms, piece):
                runs[-1] = (extends, replace(last, end_ms=piece.end_ms, to_position_ms=piece.to_position_ms))
                continue
        elif row.window_id is not None and _continues(row.window_end_ms, row.window_day, row.window_to_ms, piece):
            runs.append((True, piece))
            continue
        runs.append((False, piece))
    return runs


@dataclass
class _Computed:
    """A heartbeat or presence answer decided by the rules, ready to be written."""

    out: rules.Outcome
    lesson: dict
    progress: dict | None  # UPDATE_PROGRESS parameters, None when nothing changed


def _compute(ctx: LessonContext, row, out: rules.Outcome, now: datetime) -> _Computed:
    """Work out the lesson's new figures (pure: nothing is written here)."""
    lesson_ms = row.lesson_ms + out.credited_ms
    segments = row.covered or []
    covered = row.covered_ms
    complete = bool(row.is_complete)
    progress = None
    max_position = row.max_position_ms
    if out.coverage is not None or out.credited_ms:
        if out.coverage is not None:
            segments = rules.merge_segments(segments, out.coverage)
            covered = rules.covered_ms(segments)
            max_position = max(max_position, segments[-1][1])
        progress = {"progress_id": row.progress_id, "credited_ms": lesson_ms, "covered": segments,
                    "covered_ms": covered, "max_position_ms": max_position, "updated_at": now}
        if not complete and rules.is_complete(covered, ctx.duration_ms, ctx.settings):
            complete = True
            progress.update(is_complete=True, completed_at=now)
    lesson = {"credited_s": _s(lesson_ms), "covered_s": _s(covered), "complete": complete,
              "segments": _segments_s(segments), "max_position_s": _s(max_position)}
    return _Computed(out, lesson, progress)


def _write(conn: Connection, session_id: int, key: SessionKey, row, user_before: rules.UserState,
           done: _Computed, reading: dict | None = None) -> None:
    """Write what the rules decided for one session of a user whose lock is held.

    `reading`: a document session's new `page` and `page_turned_ms` (R14).
    """
    out = done.out
    state = out.session
    conn.execute(UPDATE_SESSION, {
        "session_id": session_id,
        "last_seq": state.seq,
        "last_at_ms": state.at_ms,
        "last_position_ms": state.position_ms,
        "is_playing": state.playing,
        "is_visible": state.visible,
        "rate": state.rate,
        "credit_from_ms": state.credit_from_ms,
        "coverage_lead_ms": state.lead_ms,
        "credited_ms": row.credited_ms + out.credited_ms,
        "held": _held_json(state.held),
        "reasons": out.reasons.merge_into(row.reasons) if out.reasons else row.reasons,
        **(reading or {}),
    })
    for extends, run in _window_runs(row, out.credited):
        if extends:
            conn.execute(EXTEND_WINDOW, {"window_id": row.window_id, "end_ms": run.end_ms,
                                         "to_ms": run.to_position_ms, "add_ms": run.ms})
        else:
            conn.execute(INSERT_WINDOW, {
                "session_id": session_id, "user_id": key.user_id, "project_id": key.project_id,
                "lesson_id": key.lesson_id, "day": run.day, "started_ms": run.start_ms, "ended_ms": run.end_ms,
                "from_position_ms": run.from_position_ms, "to_position_ms": run.to_position_ms,
                "credited_ms": run.ms})
    add_day_credits(conn, key.user_id, key.project_id, out.credited)
    if done.progress is not None:
        conn.execute(UPDATE_PROGRESS, done.progress)
    if out.user != user_before:
        user = out.user
        conn.execute(UPDATE_USER_STATE, {
            "uid": key.user_id, "credited_until_ms": user.credited_until_ms, "playing_ms": user.playing_ms,
            "next_check_after_ms": user.next_check_after_ms, "pending_check_id": user.pending_check_id,
            "pending_due_ms": user.pending_due_ms})


def add_day_credits(conn: Connection, user_id: int, project_id: int, pieces) -> None:
    """Add credited pieces to the user's day totals: across projects (R6's daily cap) and per project (reports)."""
    days: dict[date, int] = {}
    for piece in pieces:
        days[piece.day] = days.get(piece.day, 0) + piece.ms
    for day, ms in days.items():
        _update_or_upsert(conn, GROW_DAY, {"uid": user_id, "d": day, "add_ms": ms},
                          ADD_TO_DAY, {"user_id": user_id, "day": day, "credited_ms": ms})
        _update_or_upsert(conn, GROW_PROJECT_DAY, {"uid": user_id, "pid": project_id, "d": day, "add_ms": ms},
                          ADD_TO_PROJECT_DAY, {"user_id": user_id, "project_id": project_id, "day": day,
                                               "credited_ms": ms})


def _update_or_upsert(conn: Connection, update_stmt, update_params: dict, upserts: dict, row: dict) -> None:
    """The cached UPDATE of a row that exists; the (uncached) upsert only when it changed nothing."""
    if conn.execute(update_stmt, update_params).rowcount == 0:
        conn.execute(upserts[_dialect()], row)


def _count_reason(conn: Connection, session_id: int, stored: dict | None, reason: str) -> None:
    """Count a refused heartbeat in a closed session's reasons (under the user's lock)."""
    tally = rules.Tally()
    tally.add(reason)
    conn.execute(UPDATE_SESSION, {"session_id": session_id, "reasons": tally.merge_into(stored)})


def _closed_error(status: str) -> Exception:
    if status == "superseded":
        return Conflict(
            _("This playback continued in another window or device; this one no longer earns time. Reload to continue here."),
            code="superseded",
        )
    return Gone(_("This playback session has ended. Reload the page to start a new one."), code="ended")


def _attendee_error() -> Conflict:
    return Conflict(_("This is your share of a group viewing: the projector reports it, not your player."),
                    code="group_attendee")


def _close_session(conn: Connection, session_id: int, status: str, now: datetime, held_reason: str) -> None:
    """Supersede or end a session: its held credit is given up, its position becomes the resume point.

    Must run inside the user's lock.
    """
    row = conn.execute(select(S.c.user_id, S.c.project_id, S.c.lesson_id, S.c.held, S.c.reasons,
                              S.c.last_position_ms).where(S.c.id == session_id)).one()
    _, tally = rules.drop_held(rules.SessionState(held=_pieces(row.held)), held_reason)
    conn.execute(UPDATE_SESSION, {"session_id": session_id, "status": status, "closed_at": now, "held": None,
                                  "reasons": tally.merge_into(row.reasons) if tally else row.reasons})
    conn.execute(update(P).where(P.c.user_id == row.user_id, P.c.project_id == row.project_id,
                                 P.c.lesson_id == row.lesson_id).values(resume_position_ms=row.last_position_ms))


# ----------------------------------------------------------------- presence checks


def _presence_json(user: rules.UserState, ctx: LessonContext) -> dict | None:
    """The pending check as heartbeat answers carry it (cached: a check never changes)."""
    if not user.has_pending_check:
        return None
    checks = _cache()["checks"]
    answer = checks.get(user.pending_check_id)
    if answer is None:
        check = db.session.get(PresenceCheck, user.pending_check_id)
        if check is None:
            return None
        answer = _remember_check(check.id, check.prompt, check.options, check.due_at)
    return {**answer, "answer_by": rules.from_ms(user.pending_due_ms + ctx.settings.presence_timeout_ms).isoformat()}


def _remember_check(check_id: str, prompt: str, options: list, due_at: datetime) -> dict:
    checks = _cache()["checks"]
    if len(checks) > 50_000:
        checks.clear()
    answer = checks[check_id] = {"id": check_id, "prompt": prompt, "options": list(options),
                                 "due_at": due_at.isoformat()}
    return answer


def _issue_check(conn: Connection, user_id: int, session_id: int, due_ms: int) -> str:
    """Record a new presence check for the user; return its id."""
    made = rules.make_presence_check(_rng, due_ms)
    prompt = _("Are you still there? Select the number %(n)s.", n=made.number)
    conn.execute(INSERT_CHECK, {"id": made.id, "user_id": user_id, "session_id": session_id, "prompt": prompt,
                                "options": list(made.options), "answer": made.answer,
                                "due_at": rules.from_ms(due_ms), "is_late": False, "wrong_answers": 0})
    _remember_check(made.id, prompt, made.options, rules.from_ms(due_ms))
    return made.id


# ----------------------------------------------------------------- use cases


def _check_document(lesson: Lesson) -> None:
    """A document lesson opens only with a PDF the reader can show and its page count (R14)."""
    from app.media.delivery import get_document_page_count

    if not get_document_page_count(lesson):
        raise Conflict(_("This document cannot be read in the app yet (it is still being processed, or it can "
                         "only be downloaded). Reading it here is what earns learning hours."),
                       code="document_not_readable")


def do_open_session(user: User, project_id: int, lesson_id: int, user_agent: str = "", device_id: str = "") -> dict:
    """Open a playback session, superseding every other open session of the user (R5).

    Raises Forbidden/NotFound when the lesson is not open to the user in that project (R7),
    Conflict when the lesson has no duration yet (media still being processed) or is a document
    without a PDF to read. `device_id` is the random id the player or reader keeps in the
    browser: an open session of the same device is marked reopened (a reload), not taken over;
    crediting is the same either way.
    """
    project, lesson = courses.get_project_lesson(user, project_id, lesson_id)
    if not lesson.duration_s or lesson.duration_s <= 0:
        raise Conflict(_("This lesson is not ready to play yet. Try again later."), code="lesson_not_ready")
    if lesson.kind == "document":
        _check_document(lesson)
    ctx = _make_context(project, lesson)  # opening a session refreshes the cached settings
    user_id = user.id
    device_id = (device_id or "")[:64]
    with user_write_lock([user_id]) as conn:
        now = clock.now()
        for old in conn.execute(select(S.c.id, S.c.device_id, S.c.kind).where(S.c.user_id == user_id,
                                                                              S.c.status == "open")).all():
            _close_session(conn, old.id, "superseded", now, "superseded")
            if old.kind == "attendee":
                from app.tracking import group

                # opening a playback of their own checks an attendee out of their group viewing at once
                group.close_attendance_of_session(conn, old.id, now, "own_playback")
            if device_id and old.device_id == device_id:
                conn.execute(UPDATE_SESSION, {"session_id": old.id, "is_reopened": True})
        _ensure_progress(conn, user_id, project.id, lesson.id)
        # A reader's page and when it was turned carry over to the next session of the lesson (R14):
        # reopening does not restart the page allowance.
        before = conn.execute(select(S.c.page, S.c.page_turned_ms).where(
            S.c.user_id == user_id, S.c.project_id == project.id, S.c.lesson_id == lesson.id)
            .order_by(S.c.id.desc()).limit(1)).first() if ctx.is_document else None
        session_id = conn.execute(insert(S).values(
            user_id=user_id, project_id=project.id, lesson_id=lesson.id, status="open", opened_at=now,
            user_agent=(user_agent or "")[:255], device_id=device_id,
            page=before.page if before else None,
            page_turned_ms=before.page_turned_ms if before else None)).inserted_primary_key[0]
        progress = conn.execute(
            select(P.c.resume_position_ms, P.c.max_position_ms, P.c.credited_ms, P.c.covered_ms, P.c.is_complete,
                   P.c.covered)
            .where(P.c.user_id == user_id, P.c.project_id == project.id, P.c.lesson_id == lesson.id)).one()
        pending = conn.execute(select(U.c.pending_check_id, U.c.pending_due_ms).where(U.c.user_id == user_id)).one()
        presence = _presence_json(rules.UserState(pending_check_id=pending.pending_check_id,
                                                  pending_due_ms=pending.pending_due_ms), ctx)
    _cache()["sessions"][session_id] = SessionKey(user_id, project.id, lesson.id)
    resume = progress.resume_position_ms
    if resume >= ctx.duration_ms - 1000:
        resume = 0
    return {
        "session_id": session_id,
        "heartbeat_interval_s": ctx.interval_s,
        "duration_s": lesson.duration_s,
        "resume_position_s": _s(resume),
        "max_position_s": _s(progress.max_position_ms),
        "is_seek_ahead_forbidden": ctx.is_seek_ahead_forbidden,
        "kind": lesson.kind,
        "page_count": ctx.page_count if ctx.is_document else None,
        "page": before.page if ctx.is_document and before else None,
        "lesson": {"credited_s": _s(progress.credited_ms), "covered_s": _s(progress.covered_ms),
                   "complete": bool(progress.is_complete), "segments": _segments_s(progress.covered),
                   "max_position_s": _s(progress.max_position_ms)},
        "presence_check": presence,
    }


@dataclass(frozen=True)
class HeartbeatInput:
    """A heartbeat body whose types are already checked (seconds, as the client sent them)."""

    seq: int
    position_s: float
    playing: bool
    visible: bool
    rate: float
    event: str
    from_position_s: float | None = None
    #: the page a document reader shows (R14); refused in a video or audio session
    page: int | None = None


_FIELD_MESSAGES = {
    "seq": _l("seq must be a whole number of at least 1."),
    "position_s": _l("position_s must be between 0 and the lesson's duration."),
    "from_position_s": _l("from_position_s must be sent with a seek only, between 0 and the lesson's duration."),
    "rate": _l("rate must be between 0.0625 and 16."),
    "event": _l("event must be one of tick, play, pause, seek, ended, hidden, shown."),
    "page": _l("page must be a page number of the document, and only a document reader sends it."),
}


def _page_field_error(ctx: LessonContext, page: int | None) -> str | None:
    """R10 + R14: `page` only in a document session, within the document's page count."""
    if page is None:
        return None
    if not ctx.is_document or not ctx.page_count or not 1 <= page <= ctx.page_count:
        return "page"
    return None


def _reading(ctx: LessonContext, row, page: int | None, now_ms: int) -> tuple[int | None, dict | None]:
    """R14 for a document session: (credit stops after this server time, the session's new page fields)."""
    if not ctx.is_document:
        return None, None
    until = rules.reading_until_ms(row.page_turned_ms, ctx.duration_ms, ctx.page_count or 1)
    turned = row.page_turned_ms
    if turned is None or (page is not None and page != row.page):
        turned = now_ms  # the first page shown, or a page turned
    return until, {"page": row.page if page is None else page, "page_turned_ms": turned}


def check_heartbeat(user_id: int, session_id: int, body: HeartbeatInput) -> dict:
    """Validate and credit one heartbeat of the user's session (R1–R10); return the answer of TRACKING.md.

    One write transaction under the user's lock: read, decide, write, commit. The answer
    is only returned once its effects are committed (R11).
    """
    key = _own_session(user_id, session_id)
    ctx = get_lesson_context(key.project_id, key.lesson_id)
    hb = rules.Heartbeat(
        seq=body.seq,
        position_ms=rules.seconds_to_ms(body.position_s),
        playing=body.playing,
        visible=body.visible,
        rate=body.rate,
        event=body.event,
        from_position_ms=None if body.from_position_s is None else rules.seconds_to_ms(body.from_position_s),
    )
    field = rules.check_bounds(hb, ctx.duration_ms) or _page_field_error(ctx, body.page)
    if field is not None:
        raise Invalid(str(_FIELD_MESSAGES[field]), code=field)
    if key.kind != "own":
        from app.tracking import group

        if key.kind == "attendee":
            raise _attendee_error()
        return group.projector_heartbeat(key, session_id, ctx, hb)
    error: Exception | None = None
    with user_write_lock([user_id]) as conn:
        now = clock.now()  # the server's receipt time (R1), once the lock is held
        now_ms = rules.to_ms(now)
        row, totals = _read_state(conn, key, session_id, rules.days_to_read(now_ms, ctx.settings))
        if row.status != "open":
            error = _closed_error(row.status)
            if row.status == "superseded":
                _count_reason(conn, session_id, row.reasons, "superseded")
        else:
            user_state = _user_state(row)
            until, reading = _reading(ctx, row, body.page, now_ms)
            out = rules.process_heartbeat(_session_state(row), user_state, hb, now_ms, ctx.settings,
                                          ctx.duration_ms, row.lesson_ms, totals, _rng, reading_until=until)
            if out.is_check_due:
                out = replace(out, user=rules.issue_check(out.user, _issue_check(conn, user_id, session_id, now_ms),
                                                          now_ms))
            done = _compute(ctx, row, out, now)
            _write(conn, session_id, key, row, user_state, done, reading if out.accepted else None)
            if out.accepted and body.page is not None:
                _update_or_upsert(conn, SEE_PAGE_AGAIN, {"sid": session_id, "pg": body.page, "seen_ms": now_ms},
                                  SEE_PAGE, {"session_id": session_id, "page": body.page, "first_seen_ms": now_ms,
                                             "last_seen_ms": now_ms, "reports": 1})
            answer = {
                "accepted": out.accepted,
                "credited_s_session": _s(row.credited_ms + out.credited_ms),
                "lesson": done.lesson,
                "presence_check": _presence_json(out.user, ctx),
            }
    if error is not None:
        raise error
    return answer


def check_presence_answer(user_id: int, session_id: int, check_id: str, answer: str) -> dict:
    """Take the answer to the user's pending presence check (R8).

    A right answer in time credits the time held since the check was due; a late
    one only ends the block. A wrong answer or a check that is not the pending
    one changes nothing (Conflict).
    """
    key = _own_session(user_id, session_id)
    ctx = get_lesson_context(key.project_id, key.lesson_id)
    if key.kind != "own":
        from app.tracking import group

        if key.kind == "attendee":
            raise _attendee_error()
        return group.projector_presence(key, session_id, ctx, check_id, answer)
    error: Exception | None = None
    with user_write_lock([user_id]) as conn:
        now = clock.now()
        now_ms = rules.to_ms(now)
        row, totals = _read_state(conn, key, session_id, rules.days_to_read(now_ms, ctx.settings))
        user_state = _user_state(row)
        check = None
        if check_id == user_state.pending_check_id:
            check = conn.execute(select(C.c.user_id, C.c.answer, C.c.wrong_answers).where(C.c.id == check_id)).first()
        if row.status != "open":
            error = _closed_error(row.status)
        elif check is None or check.user_id != user_id:
            error = Conflict(_("This presence check is no longer open."), code="stale_check")
        elif str(answer).strip() != check.answer:
            conn.execute(UPDATE_CHECK, {"check_id": check_id, "wrong_answers": check.wrong_answers + 1})
            error = Conflict(_("That is not the right answer. Please try again."), code="wrong_answer")
        else:
            is_late = rules.is_overdue(user_state, now_ms, ctx.settings)
            out = rules.answer_check(_session_state(row), user_state, now_ms, ctx.settings, ctx.duration_ms,
                                     row.lesson_ms, totals, _rng)
            done = _compute(ctx, row, out, now)
            _write(conn, session_id, key, row, user_state, done)
            conn.execute(UPDATE_CHECK, {"check_id": check_id, "answered_at": now, "is_late": is_late})
            result = {
                "ok": True,
                "late": is_late,
                "credited_s_session": _s(row.credited_ms + out.credited_ms),
                "lesson": done.lesson,
            }
    if error is not None:
        raise error
    return result


def do_end_session(user_id: int, session_id: int) -> dict:
    """End the user's session; held credit of an unanswered check is given up.

    Ending a group session's projector ends the group session (everyone is checked out).
    """
    key = _own_session(user_id, session_id)
    if key.kind != "own":
        from app.tracking import group

        if key.kind == "attendee":
            raise _attendee_error()
        row = db.session.execute(select(S.c.status, S.c.credited_ms).where(S.c.id == session_id)).one()
        if row.status != "open":
            raise _closed_error(row.status)
        group.do_end_group(group.get_group(key.group_session_id))
        return {"credited_s_session": _s(row.credited_ms)}
    error: Exception | None = None
    with user_write_lock([user_id]) as conn:
        row = conn.execute(select(S.c.status, S.c.credited_ms).where(S.c.id == session_id)).one()
        if row.status != "open":
            error = _closed_error(row.status)
        else:
            _close_session(conn, session_id, "ended", clock.now(), "presence_overdue")
    if error is not None:
        raise error
    return {"credited_s_session": _s(row.credited_ms)}


def do_correct_credit(admin: User, learner: User, project: Project, lesson: Lesson, delta_s: float, reason: str) -> CreditCorrection:
    """Add (or remove) credited time of a learner's lesson, recorded with who, when and why (R13).

    The caller checks permissions.can_correct_credit.
    """
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("Say why the credit is corrected."), code="reason")
    delta_ms = rules.seconds_to_ms(delta_s)
    if delta_ms == 0:
        raise Invalid(_("The correction must add or remove some time."), code="delta_s")
    learner_id, project_id, lesson_id, admin_id = learner.id, project.id, lesson.id, admin.id
    with user_write_lock([learner_id]) as conn:
        _ensure_progress(conn, learner_id, project_id, lesson_id)
        where = (P.c.user_id == learner_id, P.c.project_id == project_id, P.c.lesson_id == lesson_id)
        current = conn.execute(select(P.c.credited_ms).where(*where)).scalar_one()
        if current + delta_ms < 0:
            raise Invalid(_("A correction cannot make the credited time negative."), code="delta_s")
        correction = CreditCorrection(
            user_id=learner_id, project_id=project_id, lesson_id=lesson_id, delta_ms=delta_ms, reason=reason[:2000],
            created_by_id=admin_id, created_at=clock.now(),
        )
        db.session.add(correction)
        conn.execute(update(P).where(*where).values(credited_ms=current + delta_ms, updated_at=clock.now()))
    return correction


# ----------------------------------------------------------------- reading progress and audit


def _segments_s(segments) -> list[list[float]]:
    return [[_s(a), _s(b)] for a, b in segments or ()]


def reason_label(reason: str) -> str:
    """Return the translated label of a reason (its English text outside a request: CLI, jobs)."""
    label = REASON_LABELS[reason]
    return str(label) if has_request_context() else label._args[0]


def _reason_list(counters: Mapping[str, list[int]]) -> list[dict]:
    return [
        {"reason": r, "label": reason_label(r), "count": counters[r][0], "seconds": _s(counters[r][1])}
        for r in rules.REASONS
        if r in counters
    ]


#: why a lesson the learner studied is no longer open to them, in words a teacher understands
CLOSED_REASONS = {
    "project_archived": _l("Project archived"),
    "course_archived": _l("Course archived"),
    "lesson_archived": _l("Lesson archived"),
    "course_unlinked": _l("Course removed from the project"),
    "elective_withdrawn": _l("Elective withdrawn"),
    "elective_unconfirmed": _l("Elective awaiting the school's confirmation"),
    "elective_refused": _l("Elective not approved by the school"),
    "made_elective": _l("Course made elective (not chosen)"),
}


def closed_reason_label(code: str) -> str:
    """Return the translated label of a closed-lesson reason."""
    return str(CLOSED_REASONS[code])


def _closed_reason(project: Project, user: User, lesson: Lesson) -> str:
    """Say why a lesson of the learner's records is not open to them in the project (see CLOSED_REASONS)."""
    course = lesson.module.course
    if project.is_archived:
        return "project_archived"
    if lesson.is_archived:
        return "lesson_archived"
    if course.is_archived:
        return "course_archived"
    if not any(link.course_id == course.id for link in project.course_links):
        return "course_unlinked"
    choice = courses.get_elective_choices(project, user).get(course.id)
    if choice is not None:
        return "elective_refused" if choice.is_refused else "elective_unconfirmed"
    if course.id in courses.get_elective_choices(project, user, is_withdrawn=True):
        return "elective_withdrawn"
    return "made_elective"


def _pages_viewed(user_id: int, project_id: int, lesson_ids: Iterable[int] | None = None) -> dict[int, list[int]]:
    """Return {lesson_id: the distinct pages the user's reader showed, sorted} in the project (R14)."""
    query = (select(S.c.lesson_id, V.c.page).distinct().select_from(V.join(S, S.c.id == V.c.session_id))
             .where(S.c.user_id == user_id, S.c.project_id == project_id).order_by(S.c.lesson_id, V.c.page))
    if lesson_ids is not None:
        query = query.where(S.c.lesson_id.in_(list(lesson_ids)))
    pages: dict[int, list[int]] = {}
    for lesson_id, page in db.session.execute(query):
        pages.setdefault(lesson_id, []).append(page)
    return pages


def _progress_item(lesson: Lesson, row: LessonProgress | None, resume_ms: int, pages: list[int] | None = None) -> dict:
    return {
        "lesson_id": lesson.id,
        "course_id": lesson.module.course_id,
        "title": lesson.title,
        "kind": lesson.kind,
        "duration_s": lesson.duration_s,
        "credited_s": _s(row.credited_ms if row else 0),
        "covered_s": _s(row.covered_ms if row else 0),
        "complete": bool(row and row.is_complete),
        "resume_position_s": _s(resume_ms),
        "max_position_s": _s(row.max_position_ms if row else 0),
        "segments": _segments_s(row.covered if row else []),
        "page_count": lesson.page_count if lesson.kind == "document" else None,
        "pages_viewed": len(pages or ()),
        "is_open": True,
        "closed_reason": None,
        "closed_reason_text": None,
    }


def get_project_progress(user: User, project: Project) -> dict:
    """Return the user's progress in the project: hours, and per lesson credit, coverage and completion.

    The total is every credited second recorded in the project (R13: nothing vanishes). Lessons
    that hold the learner's records but are no longer open to them follow the open ones, marked
    with `is_open` false and the reason.
    """
    lessons = courses.get_project_lessons(project, user)
    rows = {
        r.lesson_id: r
        for r in db.session.execute(
            select(LessonProgress).where(LessonProgress.user_id == user.id, LessonProgress.project_id == project.id)
        ).scalars()
    }
    # The open session's position is newer than the folded resume point.
    playing_now = db.session.execute(
        select(S.c.lesson_id, S.c.last_position_ms).where(
            S.c.user_id == user.id, S.c.status == "open", S.c.project_id == project.id, S.c.last_at_ms.is_not(None)
        )
    ).first()
    pages = _pages_viewed(user.id, project.id)
    items = []
    for lesson in lessons:
        row = rows.get(lesson.id)
        resume_ms = row.resume_position_ms if row else 0
        if playing_now is not None and playing_now.lesson_id == lesson.id:
            resume_ms = playing_now.last_position_ms
        items.append(_progress_item(lesson, row, resume_ms, pages.get(lesson.id)))
    open_count = len(items)
    closed_ids = sorted(set(rows) - {lesson.id for lesson in lessons})
    if closed_ids:
        closed = db.session.execute(
            select(Lesson).join(Lesson.module).where(Lesson.id.in_(closed_ids))
        ).scalars().all()
        for lesson in sorted(closed, key=lambda x: (x.module.course_id, x.module.position, x.position, x.id)):
            row = rows[lesson.id]
            item = _progress_item(lesson, row, row.resume_position_ms, pages.get(lesson.id))
            reason = _closed_reason(project, user, lesson)
            item.update(is_open=False, closed_reason=reason, closed_reason_text=closed_reason_label(reason))
            items.append(item)
    total_ms = sum(row.credited_ms for row in rows.values())
    required_ms = int(project.required_hours * project.minutes_per_hour * 60 * 1000)
    return {
        "project_id": project.id,
        "title": project.title,
        "credited_s": _s(total_ms),
        "learning_hours": rules.learning_hours(total_ms, project.minutes_per_hour),
        "required_hours": project.required_hours,
        "minutes_per_hour": project.minutes_per_hour,
        "missing_s": _s(max(0, required_ms - total_ms)),
        "lesson_count": open_count,
        "complete_count": sum(1 for i in items[:open_count] if i["complete"]),
        "closed_count": len(items) - open_count,
        "lessons": items,
        "group_sessions": _group_sessions(user.id, project.id),
    }


def _group_sessions(user_id: int, project_id: int) -> list[dict]:
    from app.tracking import group

    return group.get_user_group_sessions(user_id, project_id)


def get_recorded_lesson(user: User, project: Project, lesson_id: int) -> Lesson:
    """Return a lesson of the project's courses, or one holding the user's records there (even if no longer open).

    NotFound for an unknown lesson, Forbidden for a lesson that is neither.
    """
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None:
        raise NotFound(_("No such lesson."))
    if lesson.module.course_id in {link.course_id for link in project.course_links}:
        return lesson
    recorded = db.session.execute(
        select(LessonProgress.id).where(LessonProgress.user_id == user.id, LessonProgress.project_id == project.id,
                                        LessonProgress.lesson_id == lesson.id)
    ).first()
    if recorded is None:
        raise Forbidden(_("This lesson is not part of your courses in this project."), code="not_enrolled")
    return lesson


def get_lesson_audit(user: User, project: Project, lesson: Lesson) -> dict:
    """Return the audit trail of the user's lesson in the project (R13): sessions, windows, reasons, corrections."""
    progress = db.session.execute(
        select(LessonProgress).where(
            LessonProgress.user_id == user.id, LessonProgress.project_id == project.id, LessonProgress.lesson_id == lesson.id
        )
    ).scalar_one_or_none()
    sessions = list(
        db.session.execute(
            select(PlaybackSession)
            .where(
                PlaybackSession.user_id == user.id,
                PlaybackSession.project_id == project.id,
                PlaybackSession.lesson_id == lesson.id,
            )
            .order_by(PlaybackSession.id.desc())
        ).scalars()
    )
    windows: dict[int, list[CreditWindow]] = {}
    for window in db.session.execute(
        select(CreditWindow)
        .where(CreditWindow.user_id == user.id, CreditWindow.project_id == project.id, CreditWindow.lesson_id == lesson.id)
        .order_by(CreditWindow.started_ms)
    ).scalars():
        windows.setdefault(window.session_id, []).append(window)
    corrections = list(
        db.session.execute(
            select(CreditCorrection, User.real_name, User.username)
            .outerjoin(User, User.id == CreditCorrection.created_by_id)
            .where(
                CreditCorrection.user_id == user.id,
                CreditCorrection.project_id == project.id,
                CreditCorrection.lesson_id == lesson.id,
            )
            .order_by(CreditCorrection.created_at)
        )
    )
    page_views: dict[int, list[dict]] = {}
    if sessions and lesson.kind == "document":
        for view in db.session.execute(select(V).where(V.c.session_id.in_([s.id for s in sessions]))
                                       .order_by(V.c.session_id, V.c.page)):
            page_views.setdefault(view.session_id, []).append({
                "page": view.page, "first_seen_at": rules.from_ms(view.first_seen_ms),
                "last_seen_at": rules.from_ms(view.last_seen_ms), "reports": view.reports})
    checks = []
    if sessions:
        checks = list(
            db.session.execute(
                select(PresenceCheck)
                .where(PresenceCheck.session_id.in_([s.id for s in sessions]))
                .order_by(PresenceCheck.due_at)
            ).scalars()
        )

    from app.tracking import group

    groups = group.get_session_groups([s.id for s in sessions if s.kind != "own"])
    totals: dict[str, list[int]] = {}
    session_items = []
    recomputed_ms = 0
    for session in sessions:
        counters = session.reasons or {}
        for reason, (count, ms) in counters.items():
            entry = totals.setdefault(reason, [0, 0])
            entry[0] += count
            entry[1] += ms
        own = windows.get(session.id, [])
        recomputed_ms += sum(w.credited_ms for w in own)
        session_items.append(
            {
                "id": session.id,
                "status": session.status,
                "is_reopened": session.is_reopened,
                "opened_at": session.opened_at,
                "closed_at": session.closed_at,
                "user_agent": session.user_agent,
                "credited_s": _s(session.credited_ms),
                "reasons": _reason_list(counters),
                "windows": [
                    {
                        "started_at": w.started_at,
                        "ended_at": w.ended_at,
                        "day": w.day,
                        "from_position_s": _s(w.from_position_ms),
                        "to_position_s": _s(w.to_position_ms),
                        "credited_s": _s(w.credited_ms),
                    }
                    for w in own
                ],
                "pages": page_views.get(session.id, []),
                "kind": session.kind,
                "group": groups.get(session.id),
            }
        )
    recomputed_ms += sum(row.CreditCorrection.delta_ms for row in corrections)
    return {
        "project_id": project.id,
        "lesson_id": lesson.id,
        "title": lesson.title,
        "duration_s": lesson.duration_s,
        "credited_s": _s(progress.credited_ms if progress else 0),
        "covered_s": _s(progress.covered_ms if progress else 0),
        "complete": bool(progress and progress.is_complete),
        "segments": _segments_s(progress.covered if progress else []),
        "page_count": lesson.page_count if lesson.kind == "document" else None,
        "pages_viewed": sorted({view["page"] for views in page_views.values() for view in views}),
        "recomputed_s": _s(recomputed_ms),
        "reasons": _reason_list(totals),
        "sessions": session_items,
        "corrections": [
            {
                "id": row.CreditCorrection.id,
                "delta_s": _s(row.CreditCorrection.delta_ms),
                "reason": row.CreditCorrection.reason,
                "created_by": row.real_name or row.username,
                "created_at": row.CreditCorrection.created_at,
            }
            for row in corrections
        ],
        "presence_checks": [
            {
                "id": c.id,
                "session_id": c.session_id,
                "due_at": c.due_at,
                "answered_at": c.answered_at,
                "is_late": c.is_late,
                "wrong_answers": c.wrong_answers,
            }
            for c in checks
        ],
    }


def get_recomputed_ms(user_id: int, project_id: int, lesson_id: int) -> tuple[int, int]:
    """Return (stored credited ms, windows + corrections ms) of a learner's lesson: they must be equal (R13)."""
    from sqlalchemy import func

    stored = db.session.execute(
        select(P.c.credited_ms).where(P.c.user_id == user_id, P.c.project_id == project_id, P.c.lesson_id == lesson_id)
    ).scalar() or 0
    windows = db.session.execute(
        select(func.coalesce(func.sum(W.c.credited_ms), 0)).where(
            W.c.user_id == user_id, W.c.project_id == project_id, W.c.lesson_id == lesson_id
        )
    ).scalar_one()
    corrections = db.session.execute(
        select(func.coalesce(func.sum(CreditCorrection.delta_ms), 0)).where(
            CreditCorrection.user_id == user_id,
            CreditCorrection.project_id == project_id,
            CreditCorrection.lesson_id == lesson_id,
        )
    ).scalar_one()
    return int(stored), int(windows) + int(corrections)


def get_learner_in_project(staff: User, project_id: int, learner_id: int) -> tuple[Project, User]:
    """Return (project, learner) when staff may view the learner's progress there; NotFound otherwise
    (a learner the user may not see answers as if there were none: API.md)."""
    from app.tracking.permissions import can_view_progress

    project = db.session.get(Project, project_id)
    learner = db.session.get(User, learner_id)
    if project is None or learner is None:
        raise NotFound(_("No such learner or project."))
    if not can_view_progress(staff, learner, project):
        raise NotFound(_("No such learner in your classes or your part of the organisation."))
    return project, learner


def get_lesson_in_project(project: Project, lesson_id: int) -> Lesson:
    """Return a lesson of one of the project's courses (NotFound otherwise)."""
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None or lesson.module.course_id not in {link.course_id for link in project.course_links}:
        raise NotFound(_("No such lesson in this project."))
    return lesson
