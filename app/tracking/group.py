"""Group viewing (集中学习): one projector's heartbeats credit every attendee for their presence.

The projector is a playback session of the class manager (kind "projector"). Each
attendee holds a session of their own (kind "attendee") while checked in: it
supersedes their other sessions (R5) and records their credit windows (R13).
A projector heartbeat is decided by the rules as usual (R1–R3, R8, R7's dates)
without the manager's caps; then every attendee present during the credited
pieces gets their share (rules.attendee_share) under their own lesson cap,
daily cap and enrolment (R4, R6, R7), all in one write transaction holding the
locks of the manager and of those attendees (service.user_write_lock).

Everything that changes a group's attendance holds the manager's lock, so
check-ins, check-outs, the end and the projector's heartbeats take turns.

Use cases (the caller checks permissions; classrooms decides who may call them):
do_open_group, do_check_in, do_check_out, do_end_group, get_group, get_attendees,
get_checkin; projector_heartbeat and projector_presence are called by service.
"""
from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime
from types import SimpleNamespace

from flask_babel import gettext as _
from sqlalchemy import Connection, insert, or_, select, update

from app.common import clock
from app.common.exceptions import Conflict, Gone, NotFound, Unprocessable
from app.courses import service as courses
from app.courses.models import Enrollment, Lesson, Project
from app.extensions import db
from app.tracking import rules
from app.tracking import service as tracking
from app.tracking.models import GroupAttendance, GroupSession

S = tracking.S
P = tracking.P
U = tracking.U
W = tracking.W
G = GroupSession.__table__
A = GroupAttendance.__table__

#: a projector interval wider than this never reaches further back (see rules.days_to_read)
_TRIES = 8


class _Retry(Exception):
    """Someone checked in between reading the attendees and taking their locks: take the locks again."""


def _no_caps(settings: rules.Settings) -> rules.Settings:
    """The projector's own credit is not capped: each attendee's share is, under their own totals."""
    return replace(settings, cap_factor=1e9, daily_cap_ms=10**15)


def _earliest_ms(now_ms: int, settings: rules.Settings) -> int:
    """The earliest server time a heartbeat or presence answer at now_ms may credit."""
    return now_ms - 2 * settings.gap_ms - settings.presence_timeout_ms - settings.interval_ms


def _attendee_ids(conn_or_session, group_id: int, since_ms: int) -> set[int]:
    """Users present in the group session at some time after since_ms."""
    return set(conn_or_session.execute(
        select(A.c.user_id).where(A.c.group_session_id == group_id,
                                  or_(A.c.checked_out_ms.is_(None), A.c.checked_out_ms > since_ms))).scalars())


def _with_group_lock(manager_id: int, group_id: int, since_ms: int | None, work):
    """Run work(conn) holding the locks of the manager and of the attendees present after since_ms (None: open ones)."""
    for _attempt in range(_TRIES):
        cutoff = since_ms if since_ms is not None else 2**62
        ids = _attendee_ids(db.session, group_id, cutoff)
        db.session.rollback()  # the read above ends here: the write transaction starts fresh
        try:
            with tracking.user_write_lock([manager_id, *ids]) as conn:
                if not _attendee_ids(conn, group_id, cutoff) <= ids:
                    raise _Retry
                return work(conn)
        except _Retry:
            continue
    raise Conflict(_("Too many people are checking in at once. Try again."), code="busy")


# ----------------------------------------------------------------- reading


def get_group(group_id: int) -> GroupSession:
    gs = db.session.get(GroupSession, group_id)
    if gs is None:
        raise NotFound(_("No such group session."), code="group_not_found")
    return gs


def get_checkin(gs: GroupSession, now: datetime | None = None) -> dict:
    """The check-in code the projector shows now: {code, expires_at}, or None once the session ended."""
    if gs.status != "open":
        return None
    code = rules.current_code(gs.code_secret, gs.id, gs.started_ms, rules.to_ms(now or clock.now()))
    return {"code": code.code, "expires_at": rules.from_ms(code.expires_ms), "appeared_at": rules.from_ms(code.appeared_ms)}


def get_projector_session_id(gs: GroupSession) -> int | None:
    return db.session.execute(select(S.c.id).where(S.c.group_session_id == gs.id, S.c.kind == "projector")
                              .order_by(S.c.id.desc()).limit(1)).scalar()


def get_attendees(gs: GroupSession) -> list[dict]:
    """Every attendance of the group session, first check-in first."""
    from app.accounts.models import User

    rows = db.session.execute(
        select(GroupAttendance, User).join(User, User.id == GroupAttendance.user_id)
        .where(GroupAttendance.group_session_id == gs.id).order_by(GroupAttendance.checked_in_ms, GroupAttendance.id)
    ).all()
    return [_attendee_json(a, u) for a, u in rows]


def _attendee_json(a: GroupAttendance, user) -> dict:
    return {
        "user_id": a.user_id,
        "display_name": user.display_name,
        "username": user.username,
        "teacher_no": user.teacher_no,
        "method": a.method,
        "checked_in_at": a.checked_in_at,
        "checked_out_at": a.checked_out_at,
        "checkout_reason": a.checkout_reason,
        "credited_s": tracking._s(a.credited_ms),
    }


def get_user_group_sessions(user_id: int, project_id: int) -> list[dict]:
    """The learner's presences at group viewings of a project, newest first (for their progress)."""
    from app.accounts.models import OrgUnit
    from app.classrooms.models import Class_  # noqa: F401  (names the class in the answer)

    rows = db.session.execute(
        select(GroupAttendance, GroupSession, Lesson.title, OrgUnit.name)
        .join(GroupSession, GroupSession.id == GroupAttendance.group_session_id)
        .join(Lesson, Lesson.id == GroupSession.lesson_id)
        .outerjoin(OrgUnit, OrgUnit.id == GroupSession.learning_center_id)
        .where(GroupAttendance.user_id == user_id, GroupSession.project_id == project_id)
        .order_by(GroupAttendance.checked_in_ms.desc())
    ).all()
    return [{"group_session_id": gs.id, "lesson_id": gs.lesson_id, "lesson_title": title,
             "class_id": gs.class_id, "class_name": gs.cls.name, "learning_center": center,
             "session_id": a.session_id, "method": a.method, "checked_in_at": a.checked_in_at,
             "checked_out_at": a.checked_out_at, "credited_s": tracking._s(a.credited_ms)}
            for a, gs, title, center in rows]


def get_session_groups(session_ids: list[int]) -> dict[int, dict]:
    """{session id: its group viewing} for the audit: the group session, class and learning center."""
    from app.accounts.models import OrgUnit

    if not session_ids:
        return {}
    rows = db.session.execute(
        select(S.c.id, GroupSession, OrgUnit.name)
        .join(GroupSession, GroupSession.id == S.c.group_session_id)
        .outerjoin(OrgUnit, OrgUnit.id == GroupSession.learning_center_id)
        .where(S.c.id.in_(session_ids))
    ).all()
    return {sid: {"group_session_id": gs.id, "class_id": gs.class_id, "class_name": gs.cls.name,
                  "learning_center": center} for sid, gs, center in rows}


# ----------------------------------------------------------------- opening, checking in and out, the end


def do_open_group(manager_id: int, class_id: int, project: Project, lesson: Lesson,
                  learning_center_id: int | None) -> dict:
    """Open a group session and the manager's projector session (superseding the manager's other sessions)."""
    if not lesson.duration_s or lesson.duration_s <= 0:
        raise Conflict(_("This lesson is not ready to play yet. Try again later."), code="lesson_not_ready")
    if lesson.kind == "document":
        raise Conflict(_("Group viewing plays videos and audio; a document cannot be shown this way."),
                       code="document")
    ctx = tracking._make_context(project, lesson)
    project_id, lesson_id = project.id, lesson.id
    # Earlier group sessions the manager left open end now: one projector at a time (R5).
    for old in db.session.execute(select(G.c.id).where(G.c.manager_id == manager_id, G.c.status == "open")).scalars():
        do_end_group(get_group(old))
    db.session.rollback()
    with tracking.user_write_lock([manager_id]) as conn:
        now = clock.now()
        for old in conn.execute(select(S.c.id).where(S.c.user_id == manager_id, S.c.status == "open")).scalars():
            tracking._close_session(conn, old, "superseded", now, "superseded")
        group_id = conn.execute(insert(G).values(
            class_id=class_id, project_id=project_id, lesson_id=lesson_id, manager_id=manager_id,
            learning_center_id=learning_center_id, status="open", code_secret=secrets.token_hex(16),
            started_at=now, started_ms=rules.to_ms(now))).inserted_primary_key[0]
        session_id = conn.execute(insert(S).values(
            user_id=manager_id, project_id=project_id, lesson_id=lesson_id, status="open", opened_at=now,
            user_agent="projector", kind="projector", group_session_id=group_id)).inserted_primary_key[0]
        resume = conn.execute(select(S.c.last_position_ms).where(
            S.c.kind == "projector", S.c.user_id == manager_id, S.c.lesson_id == lesson_id, S.c.id != session_id)
            .order_by(S.c.id.desc()).limit(1)).scalar() or 0
    tracking._cache()["sessions"][session_id] = tracking.SessionKey(manager_id, project_id, lesson_id, "projector",
                                                                    group_id)
    if resume >= ctx.duration_ms - 1000:
        resume = 0
    return {"group_session_id": group_id, "session_id": session_id, "heartbeat_interval_s": ctx.interval_s,
            "duration_s": lesson.duration_s, "resume_position_s": tracking._s(resume)}


def _open_attendance(conn: Connection, group_id: int, user_id: int):
    return conn.execute(select(A).where(A.c.group_session_id == group_id, A.c.user_id == user_id,
                                        A.c.checked_out_ms.is_(None))).first()


def _check_out_row(conn: Connection, attendance, now: datetime, reason: str) -> int:
    """Check an attendance out at now and end the attendee's session; return the checked-out time (ms)."""
    out_ms = max(rules.to_ms(now), attendance.checked_in_ms)
    conn.execute(update(A).where(A.c.id == attendance.id).values(checked_out_ms=out_ms, checkout_reason=reason))
    status = conn.execute(select(S.c.status).where(S.c.id == attendance.session_id)).scalar()
    if status == "open":
        tracking._close_session(conn, attendance.session_id, "ended", now, "presence_overdue")
    return out_ms


def close_attendance_of_session(conn: Connection, session_id: int, now: datetime, reason: str) -> None:
    """An attendee's session was superseded by a playback of their own: check them out at that moment."""
    row = conn.execute(select(A).where(A.c.session_id == session_id, A.c.checked_out_ms.is_(None))).first()
    if row is not None:
        conn.execute(update(A).where(A.c.id == row.id).values(
            checked_out_ms=max(rules.to_ms(now), row.checked_in_ms), checkout_reason=reason))


def do_check_in(gs: GroupSession, user, *, method: str, by_id: int, code: str | None = None) -> dict:
    """Check a learner in: by their own code ("self") or the manager's roster tick ("manager").

    Gone once the session ended, Invalid (code) for a wrong or stale code, Conflict while
    already checked in, Forbidden when the lesson is not open to the learner in the project.
    """
    courses.get_project_lesson(user, gs.project_id, gs.lesson_id)
    group_id, manager_id, user_id = gs.id, gs.manager_id, user.id
    project_id, lesson_id = gs.project_id, gs.lesson_id
    secret, started_ms = gs.code_secret, gs.started_ms
    error: Exception | None = None
    result = None
    db.session.rollback()
    with tracking.user_write_lock([manager_id, user_id]) as conn:
        now = clock.now()
        now_ms = rules.to_ms(now)
        status = conn.execute(select(G.c.status).where(G.c.id == group_id)).scalar()
        if status != "open":
            error = Gone(_("This group session has ended."), code="ended")
        elif method == "self" and not rules.is_code_accepted(code or "", secret, group_id, started_ms, now_ms):
            error = Unprocessable(_("This check-in code is wrong or too old. Scan the code on the screen again."),
                            code="code")
        elif _open_attendance(conn, group_id, user_id) is not None:
            error = Conflict(_("You are already checked in."), code="checked_in")
        else:
            for old in conn.execute(select(S.c.id, S.c.kind).where(S.c.user_id == user_id,
                                                                   S.c.status == "open")).all():
                if old.kind == "attendee":
                    other = conn.execute(select(A).where(A.c.session_id == old.id,
                                                         A.c.checked_out_ms.is_(None))).first()
                    if other is not None:
                        _check_out_row(conn, other, now, "other_group")
                        continue
                tracking._close_session(conn, old.id, "superseded", now, "superseded")
            tracking._ensure_progress(conn, user_id, project_id, lesson_id)
            session_id = conn.execute(insert(S).values(
                user_id=user_id, project_id=project_id, lesson_id=lesson_id, status="open", opened_at=now,
                user_agent="group viewing", kind="attendee", group_session_id=group_id)).inserted_primary_key[0]
            conn.execute(insert(A).values(group_session_id=group_id, user_id=user_id, session_id=session_id,
                                          method=method, checked_in_by_id=by_id, checked_in_ms=now_ms,
                                          credited_ms=0))
            result = {"checked_in_at": rules.from_ms(now_ms)}
    if error is not None:
        raise error
    return result


def do_check_out(gs: GroupSession, user_id: int, reason: str) -> dict:
    """Check a learner out now ("self" or "manager"); Conflict when they are not checked in."""
    group_id, manager_id = gs.id, gs.manager_id
    error: Exception | None = None
    db.session.rollback()
    with tracking.user_write_lock([manager_id, user_id]) as conn:
        row = _open_attendance(conn, group_id, user_id)
        if row is None:
            error = Conflict(_("This learner is not checked in."), code="not_checked_in")
        else:
            out_ms = _check_out_row(conn, row, clock.now(), reason)
            result = {"checked_out_at": rules.from_ms(out_ms), "credited_s": tracking._s(row.credited_ms)}
    if error is not None:
        raise error
    return result


def do_end_group(gs: GroupSession) -> list[dict]:
    """End the group session: its projector session ends and everyone is checked out; Gone if it had ended."""
    group_id, manager_id = gs.id, gs.manager_id

    def work(conn: Connection):
        if conn.execute(select(G.c.status).where(G.c.id == group_id)).scalar() != "open":
            return False
        now = clock.now()
        for row in conn.execute(select(A).where(A.c.group_session_id == group_id,
                                                A.c.checked_out_ms.is_(None))).all():
            _check_out_row(conn, row, now, "end")
        for sid in conn.execute(select(S.c.id).where(S.c.group_session_id == group_id, S.c.kind == "projector",
                                                     S.c.status == "open")).scalars():
            tracking._close_session(conn, sid, "ended", now, "presence_overdue")
        conn.execute(update(G).where(G.c.id == group_id).values(status="ended", ended_at=now))
        return True

    if not _with_group_lock(manager_id, group_id, None, work):
        raise Gone(_("This group session has ended."), code="ended")
    db.session.expire_all()
    return get_attendees(get_group(group_id))


# ----------------------------------------------------------------- crediting


def _attendee_state(conn: Connection, user_id: int, session_id: int, project_id: int, lesson_id: int, days):
    """What one attendee's share needs: their lesson progress, credit floor, day totals, session's last window."""
    tracking._ensure_progress(conn, user_id, project_id, lesson_id)
    progress = conn.execute(select(P.c.id, P.c.credited_ms, P.c.covered, P.c.covered_ms, P.c.is_complete,
                                   P.c.max_position_ms)
                            .where(P.c.user_id == user_id, P.c.project_id == project_id,
                                   P.c.lesson_id == lesson_id)).one()
    until = conn.execute(select(U.c.credited_until_ms).where(U.c.user_id == user_id)).scalar() or 0
    totals = dict.fromkeys(days, 0)
    totals.update(conn.execute(tracking.DAY_TOTALS, {"uid": user_id, "days": days}).all())
    session = conn.execute(select(S.c.credited_ms, S.c.reasons).where(S.c.id == session_id)).one()
    window = conn.execute(select(W.c.id, W.c.ended_ms, W.c.day, W.c.to_position_ms).where(W.c.session_id == session_id)
                          .order_by(W.c.id.desc()).limit(1)).first()
    last = SimpleNamespace(window_id=window.id if window else None, window_end_ms=window.ended_ms if window else None,
                           window_day=window.day if window else None,
                           window_to_ms=window.to_position_ms if window else None)
    return progress, until, totals, session, last


def _credit_attendees(conn: Connection, ctx: tracking.LessonContext, group_id: int, pieces, now: datetime,
                      days) -> int:
    """Give every attendee present during the projector's credited pieces their share; return how many got some."""
    if not pieces:
        return 0
    start = min(p.start_ms for p in pieces)
    rows = conn.execute(select(A).where(A.c.group_session_id == group_id,
                                        or_(A.c.checked_out_ms.is_(None), A.c.checked_out_ms > start))).all()
    if not rows:
        return 0
    enrolled = set(conn.execute(select(Enrollment.user_id).where(
        Enrollment.project_id == ctx.project_id, Enrollment.user_id.in_([r.user_id for r in rows]))).scalars())
    settings = ctx.settings
    credited_count = 0
    for row in rows:
        reasons = rules.Tally()
        progress, until, totals, session, last = _attendee_state(conn, row.user_id, row.session_id, ctx.project_id,
                                                                 ctx.lesson_id, days)
        share = rules.attendee_share(pieces, row.checked_in_ms, row.checked_out_ms, until, reasons)
        credited: list[rules.Piece] = []
        if share and row.user_id not in enrolled:
            reasons.add("not_enrolled", sum(p.ms for p in share))
            share = []
        if share:
            credited = rules.apply_caps(share, progress.credited_ms, settings.lesson_cap_ms(ctx.duration_ms), totals,
                                        settings.daily_cap_ms, reasons)
        if share:
            segments = progress.covered or []
            for span in rules.pieces_coverage(share, ctx.duration_ms):
                segments = rules.merge_segments(segments, span)
            covered = rules.covered_ms(segments)
            credited_ms = sum(p.ms for p in credited)
            values = {"credited_ms": progress.credited_ms + credited_ms, "covered": segments, "covered_ms": covered,
                      "max_position_ms": max(progress.max_position_ms, segments[-1][1] if segments else 0),
                      "updated_at": now}
            if not progress.is_complete and rules.is_complete(covered, ctx.duration_ms, settings):
                values.update(is_complete=True, completed_at=now)
            conn.execute(update(P).where(P.c.id == progress.id).values(**values))
            conn.execute(update(U).where(U.c.user_id == row.user_id).values(
                credited_until_ms=max(until, max(p.end_ms for p in share))))
            for extends, run in tracking._window_runs(last, tuple(credited)):
                if extends:
                    conn.execute(tracking.EXTEND_WINDOW, {"window_id": last.window_id, "end_ms": run.end_ms,
                                                          "to_ms": run.to_position_ms, "add_ms": run.ms})
                else:
                    conn.execute(tracking.INSERT_WINDOW, {
                        "session_id": row.session_id, "user_id": row.user_id, "project_id": ctx.project_id,
                        "lesson_id": ctx.lesson_id, "day": run.day, "started_ms": run.start_ms,
                        "ended_ms": run.end_ms, "from_position_ms": run.from_position_ms,
                        "to_position_ms": run.to_position_ms, "credited_ms": run.ms})
            tracking.add_day_credits(conn, row.user_id, ctx.project_id, credited)
            if credited_ms:
                conn.execute(update(A).where(A.c.id == row.id).values(credited_ms=row.credited_ms + credited_ms))
                credited_count += 1
        else:
            credited_ms = 0
        if credited_ms or reasons:
            conn.execute(tracking.UPDATE_SESSION, {
                "session_id": row.session_id, "credited_ms": session.credited_ms + credited_ms,
                "reasons": reasons.merge_into(session.reasons) if reasons else session.reasons})
    return credited_count


def _write_projector(conn: Connection, session_id: int, manager_id: int, row, user_before: rules.UserState,
                     out: rules.Outcome) -> None:
    """Store the projector session's new state: its figures and the manager's presence checks, no credit of theirs."""
    state = out.session
    conn.execute(tracking.UPDATE_SESSION, {
        "session_id": session_id, "last_seq": state.seq, "last_at_ms": state.at_ms,
        "last_position_ms": state.position_ms, "is_playing": state.playing, "is_visible": state.visible,
        "rate": state.rate, "credit_from_ms": state.credit_from_ms, "coverage_lead_ms": state.lead_ms,
        "credited_ms": row.credited_ms + out.credited_ms, "held": tracking._held_json(state.held),
        "reasons": out.reasons.merge_into(row.reasons) if out.reasons else row.reasons})
    if out.user != user_before:
        user = out.user
        conn.execute(tracking.UPDATE_USER_STATE, {
            "uid": manager_id, "credited_until_ms": user.credited_until_ms, "playing_ms": user.playing_ms,
            "next_check_after_ms": user.next_check_after_ms, "pending_check_id": user.pending_check_id,
            "pending_due_ms": user.pending_due_ms})


def _projector_answer(ctx: tracking.LessonContext, row, out: rules.Outcome, credited_count: int) -> dict:
    credited_s = tracking._s(row.credited_ms + out.credited_ms)
    position = out.session.position_ms if out.accepted else row.last_position_ms
    return {
        "accepted": out.accepted,
        "credited_s_session": credited_s,
        # the projector's own figures: the attendees' lessons are theirs
        "lesson": {"credited_s": credited_s, "covered_s": 0.0, "complete": False, "segments": [],
                   "max_position_s": tracking._s(position)},
        "presence_check": tracking._presence_json(out.user, ctx),
        "attendees_credited": credited_count,
    }


def projector_heartbeat(key: tracking.SessionKey, session_id: int, ctx: tracking.LessonContext,
                        hb: rules.Heartbeat) -> dict:
    """A heartbeat of a group session's projector: decide it, then credit the attendees present (one transaction)."""
    settings = _no_caps(ctx.settings)

    def work(conn: Connection):
        now = clock.now()
        now_ms = rules.to_ms(now)
        days = rules.days_to_read(now_ms, ctx.settings)
        row = conn.execute(tracking.READ_STATE, {"session_id": session_id, "day_a": days[0], "day_b": days[-1]}).one()
        if row.status != "open":
            if row.status == "superseded":
                tracking._count_reason(conn, session_id, row.reasons, "superseded")
            return tracking._closed_error(row.status)
        user_state = tracking._user_state(row)
        out = rules.process_heartbeat(tracking._session_state(row), user_state, hb, now_ms, settings,
                                      ctx.duration_ms, 0, dict.fromkeys(days, 0), tracking._rng)
        if out.is_check_due:
            check_id = tracking._issue_check(conn, key.user_id, session_id, now_ms)
            out = replace(out, user=rules.issue_check(out.user, check_id, now_ms))
        _write_projector(conn, session_id, key.user_id, row, user_state, out)
        count = _credit_attendees(conn, ctx, key.group_session_id, out.credited, now, days)
        return _projector_answer(ctx, row, out, count)

    answer = _with_group_lock(key.user_id, key.group_session_id, _earliest_ms(rules.to_ms(clock.now()), settings), work)
    if isinstance(answer, Exception):
        raise answer
    return answer


def projector_presence(key: tracking.SessionKey, session_id: int, ctx: tracking.LessonContext, check_id: str,
                       answer: str) -> dict:
    """The manager answered the projector's presence check: held credit goes to the attendees present (R8)."""
    settings = _no_caps(ctx.settings)

    def work(conn: Connection):
        now = clock.now()
        now_ms = rules.to_ms(now)
        days = rules.days_to_read(now_ms, ctx.settings)
        row = conn.execute(tracking.READ_STATE, {"session_id": session_id, "day_a": days[0], "day_b": days[-1]}).one()
        user_state = tracking._user_state(row)
        check = None
        if check_id == user_state.pending_check_id:
            check = conn.execute(select(tracking.C.c.user_id, tracking.C.c.answer, tracking.C.c.wrong_answers)
                                 .where(tracking.C.c.id == check_id)).first()
        if row.status != "open":
            return tracking._closed_error(row.status)
        if check is None or check.user_id != key.user_id:
            return Conflict(_("This presence check is no longer open."), code="stale_check")
        if str(answer).strip() != check.answer:
            conn.execute(tracking.UPDATE_CHECK, {"check_id": check_id, "wrong_answers": check.wrong_answers + 1})
            return Conflict(_("That is not the right answer. Please try again."), code="wrong_answer")
        is_late = rules.is_overdue(user_state, now_ms, settings)
        out = rules.answer_check(tracking._session_state(row), user_state, now_ms, settings, ctx.duration_ms, 0,
                                 dict.fromkeys(days, 0), tracking._rng)
        _write_projector(conn, session_id, key.user_id, row, user_state, out)
        conn.execute(tracking.UPDATE_CHECK, {"check_id": check_id, "answered_at": now, "is_late": is_late})
        count = _credit_attendees(conn, ctx, key.group_session_id, out.credited, now, days)
        result = _projector_answer(ctx, row, out, count)
        return {"ok": True, "late": is_late, "credited_s_session": result["credited_s_session"],
                "lesson": result["lesson"]}

    result = _with_group_lock(key.user_id, key.group_session_id, _earliest_ms(rules.to_ms(clock.now()), settings),
                              work)
    if isinstance(result, Exception):
        # a wrong answer is counted: that write commits with the transaction above
        raise result
    return result
