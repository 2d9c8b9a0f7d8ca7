"""Elective confirmation: a school's admins confirm or refuse the electives their teachers chose; the teacher is told.

Every decision is kept twice: on the choice (its current state, which opens the course or not)
and as an ElectiveDecision row (who, when, why, and whether the teacher has seen it), which
a refusal never deletes and choosing again never overwrites.
"""
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import selectinload

from app.accounts.models import User
from app.accounts.permissions import users_in_scope_clause
from app.common import clock
from app.common.exceptions import Conflict, Gone, Invalid
from app.courses.models import REFUSAL_REASON_MAX, Course, ElectiveChoice, ElectiveDecision, Project
from app.courses.permissions import can_decide_elective
from app.extensions import db

#: the most choices decided in one request
MAX_AT_ONCE = 1000
#: what a teacher and an admin read for each state of a choice
STATUS_LABELS = {
    "pending": _l("Awaiting confirmation"),
    "confirmed": _l("Confirmed"),
    "refused": _l("Not approved"),
    "open": _l("Chosen"),
}
STATUSES = ("pending", "confirmed", "refused")


def status_of(project: Project, choice: ElectiveChoice) -> str:
    """pending, confirmed or refused; "open" when the project asks for no confirmation and none was given."""
    if choice.status == "pending" and not project.is_elective_confirmation_required:
        return "open"
    return choice.status


def status_label(status: str) -> str:
    return str(STATUS_LABELS[status])


# ---------------------------------------------------------------- the admin's list
def _choices_in_scope(admin: User, project: Project):
    return (select(ElectiveChoice).join(User, User.id == ElectiveChoice.user_id)
            .where(ElectiveChoice.project_id == project.id, ElectiveChoice.withdrawn_at.is_(None),
                   users_in_scope_clause(admin)))


def _pending():
    return ElectiveChoice.is_confirmed.is_(False) & ElectiveChoice.is_refused.is_(False)


def get_choices_query(admin: User, project: Project, status: str | None = None):
    """The choices of the project's teachers in the admin's area, pending first, then the newest decisions."""
    stmt = _choices_in_scope(admin, project).join(Course, Course.id == ElectiveChoice.course_id).options(
        selectinload(ElectiveChoice.user).selectinload(User.school), selectinload(ElectiveChoice.course),
        selectinload(ElectiveChoice.decided_by))
    if status == "pending":
        stmt = stmt.where(_pending())
    elif status in ("confirmed", "refused"):
        stmt = stmt.where((ElectiveChoice.is_confirmed if status == "confirmed" else ElectiveChoice.is_refused).is_(True))
    return stmt.order_by(case((_pending(), 0), else_=1), ElectiveChoice.decided_at.desc(),
                         ElectiveChoice.created_at, User.username, Course.title, ElectiveChoice.id)


def get_pending_count(admin: User, project: Project) -> int:
    """How many choices of the admin's teachers wait for a decision in the project."""
    if not project.is_elective_confirmation_required:
        return 0  # the choices are open already
    stmt = _choices_in_scope(admin, project).where(_pending()).with_only_columns(func.count(ElectiveChoice.id))
    return db.session.execute(stmt).scalar_one()


# ---------------------------------------------------------------- deciding
def check_decide(admin: User, project: Project, choice_ids: list[int], outcome: str,
                 reason: str | None = None) -> list[ElectiveChoice]:
    """Confirm or refuse every chosen elective at once, or none: a message saying why when one cannot be decided.

    Must run inside a write transaction: the choices are locked (FOR UPDATE on PostgreSQL,
    the write lock on SQLite), so two admins never decide the same choice twice.
    """
    if outcome not in ("confirmed", "refused"):
        raise Invalid(_("Choose whether to confirm or to refuse."), code="action")
    if project.is_archived:
        raise Gone(_("This training project is archived: its electives can no longer be decided."), code="archived")
    if not project.is_elective_confirmation_required:
        raise Conflict(_("This project does not ask for the school's confirmation of electives: the teachers' "
                         "choices open at once. Switch it on in the project's settings first."), code="not_required")
    reason = (reason or "").strip() if outcome == "refused" else ""
    if len(reason) > REFUSAL_REASON_MAX:
        raise Invalid(_("Keep the reason short: at most %(n)d characters.", n=REFUSAL_REASON_MAX), code="reason")
    ids = list(dict.fromkeys(choice_ids))
    if not ids:
        raise Invalid(_("Tick the electives to decide first."), code="choice_ids")
    if len(ids) > MAX_AT_ONCE:
        raise Invalid(_("Decide at most %(n)d electives at once.", n=MAX_AT_ONCE), code="choice_ids")
    choices = list(db.session.execute(
        select(ElectiveChoice).where(ElectiveChoice.id.in_(ids)).order_by(ElectiveChoice.id).with_for_update()
    ).scalars())
    if len(choices) != len(ids) or any(c.project_id != project.id or not can_decide_elective(admin, c) for c in choices):
        raise Invalid(unknown_choices_message(), code="choice_ids")
    withdrawn = [c for c in choices if c.withdrawn_at is not None]
    if withdrawn:
        raise Conflict(_("Nothing changed: %(names)s withdrew the choice meanwhile.", names=_names(withdrawn)),
                       code="withdrawn")
    decided = [c for c in choices if c.decided_at is not None]
    if decided:
        raise Conflict(_("Nothing changed: the elective of %(names)s is already decided (%(status)s). "
                         "A decision is final until the teacher chooses again.",
                         names=_names(decided), status=status_label(decided[0].status)), code="decided")
    now = clock.now()
    for choice in choices:
        choice.is_confirmed = outcome == "confirmed"
        choice.is_refused = outcome == "refused"
        choice.decided_at = now
        choice.decided_by_id = admin.id
        choice.refusal_reason = reason or None
        db.session.add(ElectiveDecision(choice_id=choice.id, user_id=choice.user_id, outcome=outcome,
                                        refusal_reason=reason or None, decided_at=now, decided_by_id=admin.id))
    db.session.flush()
    return choices


def unknown_choices_message() -> str:
    return _("Some of the ticked electives are not among the choices of this project's teachers in your area. "
             "Nothing changed: reload the page and try again.")


def _names(choices: list[ElectiveChoice]) -> str:
    names = [f"{c.user.display_name} ({c.course.title})" for c in choices[:10]]
    return ", ".join(names) + (" …" if len(choices) > 10 else "")


# ---------------------------------------------------------------- the teacher's side
def get_my_electives(project: Project, user: User) -> list[dict]:
    """The learner's current elective choices in the project with their state, in the project's course order."""
    order = {link.course_id: (link.position, link.id) for link in project.course_links}
    choices = db.session.execute(
        select(ElectiveChoice).where(ElectiveChoice.project_id == project.id, ElectiveChoice.user_id == user.id,
                                     ElectiveChoice.withdrawn_at.is_(None)).options(selectinload(ElectiveChoice.course))
    ).scalars().all()
    items = []
    for choice in sorted(choices, key=lambda c: order.get(c.course_id, (1 << 30, c.id))):
        status = status_of(project, choice)
        items.append({"choice": choice, "course": choice.course, "status": status,
                      "status_label": status_label(status)})
    return items


def get_unseen_decisions(user: User) -> list[ElectiveDecision]:
    """The decisions on the learner's electives they have not been shown yet, oldest first."""
    return list(db.session.execute(
        select(ElectiveDecision).where(ElectiveDecision.user_id == user.id, ElectiveDecision.seen_at.is_(None))
        .options(selectinload(ElectiveDecision.choice).selectinload(ElectiveChoice.course),
                 selectinload(ElectiveDecision.choice).selectinload(ElectiveChoice.project))
        .order_by(ElectiveDecision.decided_at, ElectiveDecision.id)
    ).scalars())


def do_mark_seen(decisions: list[ElectiveDecision]) -> None:
    """Record that the learner was shown these decisions (they stop being new)."""
    if decisions:
        db.session.execute(
            update(ElectiveDecision).where(ElectiveDecision.id.in_([d.id for d in decisions]),
                                           ElectiveDecision.seen_at.is_(None))
            .values(seen_at=clock.now()).execution_options(synchronize_session=False))
