"""Use cases of classes: create, roster, capacity, and the figures of the staff's home."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import and_, func, select
from sqlalchemy.orm import selectinload

from app.accounts.models import RoleAssignment, User
from app.classrooms import rules
from app.classrooms.models import MAX_CLASS_SIZE, Class_
from app.classrooms.permissions import staff_class_ids_stmt
from app.common.exceptions import Conflict, Invalid
from app.courses.models import Project
from app.extensions import db


def do_create_class(project: Project, name: str, org_unit, *, learning_center=None, subject: str | None = None,
                    stage: str | None = None, is_workshop: bool = False, capacity: int = MAX_CLASS_SIZE) -> Class_:
    if not 1 <= capacity <= MAX_CLASS_SIZE:
        raise Invalid(_("A class has at most %(n)d learners.", n=MAX_CLASS_SIZE), code="capacity")
    cls = Class_(project_id=project.id, name=name, org_unit_id=org_unit.id,
                 learning_center_id=learning_center.id if learning_center else None,
                 subject=subject, stage=stage, is_workshop=is_workshop, capacity=capacity)
    db.session.add(cls)
    db.session.flush()
    return cls


def count_learners(cls: Class_) -> int:
    return db.session.execute(
        select(func.count()).select_from(RoleAssignment).where(RoleAssignment.class_id == cls.id, RoleAssignment.role == "learner")
    ).scalar_one()


def get_class_members(cls: Class_, role: str | None = None) -> list[tuple[User, str]]:
    stmt = select(User, RoleAssignment.role).join(RoleAssignment, RoleAssignment.user_id == User.id).where(
        RoleAssignment.class_id == cls.id
    )
    if role:
        stmt = stmt.where(RoleAssignment.role == role)
    return [(row.User, row.role) for row in db.session.execute(stmt.order_by(RoleAssignment.role, User.username_key))]


# ---------------------------------------------------------------- administration
STAFF_ROLES = ("tutor", "class_manager")


def get_class(class_id: int) -> Class_:
    from app.common.exceptions import NotFound

    cls = db.session.get(Class_, class_id)
    if cls is None:
        raise NotFound(_("No such class."))
    return cls


def do_update_class(cls: Class_, **fields) -> Class_:
    for name, value in fields.items():
        setattr(cls, name, value)
    return cls


def get_learner_classes(project_id: int, user_ids: list[int]) -> dict[int, Class_]:
    """Map user id -> the class of the project where that user is a learner."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(RoleAssignment.user_id, Class_)
        .join(Class_, Class_.id == RoleAssignment.class_id)
        .where(Class_.project_id == project_id, RoleAssignment.role == "learner", RoleAssignment.user_id.in_(user_ids))
    ).all()
    return {row[0]: row[1] for row in rows}


def check_add_learners(cls: Class_, users: list[User]) -> int:
    """Add learners to the class: all enrolled in its project, in no other class of it, and room for all.

    Adds nobody when one of them is refused; returns how many were added (members already in it are skipped).
    """
    from app.courses.models import Enrollment

    ids = [u.id for u in users]
    enrolled = set(db.session.execute(
        select(Enrollment.user_id).where(Enrollment.project_id == cls.project_id, Enrollment.user_id.in_(ids))
    ).scalars()) if ids else set()
    not_enrolled = [u for u in users if u.id not in enrolled]
    if not_enrolled:
        raise Invalid(_("Not enrolled in this training project: %(names)s. Enrol them first.",
                        names=", ".join(u.username for u in not_enrolled)), code="not_enrolled")
    current = get_learner_classes(cls.project_id, ids)
    elsewhere = [u for u in users if u.id in current and current[u.id].id != cls.id]
    if elsewhere:
        raise Conflict(_("Already in another class of this project: %(names)s.",
                         names=", ".join(f"{u.username} ({current[u.id].name})" for u in elsewhere)), code="other_class")
    new = [u for u in users if u.id not in current]
    room = cls.capacity - count_learners(cls)
    if len(new) > room:
        raise Conflict(_("The class %(name)s is full: it has room for %(room)d more learners, you chose %(n)d.",
                         name=cls.name, room=max(room, 0), n=len(new)), code="class_full")
    for user in new:
        db.session.add(RoleAssignment(user_id=user.id, role="learner", class_id=cls.id))
    db.session.flush()
    return len(new)


def do_remove_learner(cls: Class_, user: User) -> bool:
    from sqlalchemy import delete

    result = db.session.execute(
        delete(RoleAssignment).where(RoleAssignment.class_id == cls.id, RoleAssignment.user_id == user.id,
                                     RoleAssignment.role == "learner")
    )
    return bool(result.rowcount)


def do_set_staff(cls: Class_, role: str, user: User | None) -> None:
    """Make user the class's tutor or class manager (workshop leader), replacing the previous one."""
    from sqlalchemy import delete

    if role not in STAFF_ROLES:
        raise Invalid(_("Unknown class role."), code="role")
    if user is not None and not user.is_active:
        raise Invalid(_("%(name)s is deactivated.", name=user.username), code="username")
    db.session.execute(delete(RoleAssignment).where(RoleAssignment.class_id == cls.id, RoleAssignment.role == role))
    if user is not None:
        db.session.add(RoleAssignment(user_id=user.id, role=role, class_id=cls.id))
    db.session.flush()


def get_class_staff(cls: Class_) -> dict[str, list[User]]:
    staff: dict[str, list[User]] = {role: [] for role in STAFF_ROLES}
    for user, role in get_class_members(cls):
        if role in staff:
            staff[role].append(user)
    return staff


def get_free_seats(cls: Class_) -> int:
    """Return how many more learners the class can take (never below 0)."""
    return max(cls.capacity - count_learners(cls), 0)


def get_class_roles(user: User) -> list[tuple[str, Class_]]:
    """Return the user's roles in classes with the classes (for the admin's user page)."""
    return [(row[0], row[1]) for row in db.session.execute(
        select(RoleAssignment.role, Class_).join(Class_, Class_.id == RoleAssignment.class_id)
        .where(RoleAssignment.user_id == user.id)
    )]


def get_admin_counts(admin: User) -> dict[str, int]:
    """Count the classes in the admin's scope (for the admin dashboard)."""
    from app.accounts.models import OrgUnit
    from app.common.permissions import unit_scope_clause

    return {"classes": db.session.execute(
        select(func.count(Class_.id)).join(OrgUnit, OrgUnit.id == Class_.org_unit_id)
        .where(unit_scope_clause(OrgUnit.path, admin))).scalar_one()}


# ---------------------------------------------------------------- the home of a class's staff
def required_ms(project: Project) -> int:
    """The project's required learning hours in credited milliseconds."""
    return int(project.required_hours * project.minutes_per_hour * 60 * 1000)


def project_today(project: Project, now: datetime) -> date:
    """The calendar day of the project's time zone at the instant now."""
    return now.astimezone(ZoneInfo(project.timezone)).date()


def get_staff_classes(user: User) -> list[Class_]:
    """The classes where the user is tutor or class manager, by name."""
    return list(db.session.execute(
        select(Class_).where(Class_.id.in_(staff_class_ids_stmt(user)))
        .options(selectinload(Class_.project), selectinload(Class_.org_unit), selectinload(Class_.learning_center))
        .order_by(Class_.name)
    ).scalars())


def get_class_credits(classes: list[Class_]) -> dict[int, dict[int, int]]:
    """Map class id -> {learner id: credited ms in the class's project}, from the stored lesson totals."""
    from app.tracking.models import LessonProgress

    credits: dict[int, dict[int, int]] = {cls.id: {} for cls in classes}
    if not classes:
        return credits
    rows = db.session.execute(
        select(RoleAssignment.class_id, RoleAssignment.user_id, func.coalesce(func.sum(LessonProgress.credited_ms), 0))
        .join(Class_, Class_.id == RoleAssignment.class_id)
        .outerjoin(LessonProgress, and_(LessonProgress.user_id == RoleAssignment.user_id,
                                        LessonProgress.project_id == Class_.project_id))
        .where(RoleAssignment.class_id.in_(list(credits)), RoleAssignment.role == "learner")
        .group_by(RoleAssignment.class_id, RoleAssignment.user_id)
        .order_by(RoleAssignment.class_id, RoleAssignment.user_id)
    ).all()
    for class_id, user_id, ms in rows:
        credits[class_id][user_id] = int(ms)
    return credits


def get_class_homes(user: User, now: datetime) -> list[dict]:
    """Each class the user staffs with its figures at a glance (rules.class_figures) and the learners they name."""
    classes = get_staff_classes(user)
    credits = get_class_credits(classes)
    figures = {}
    for cls in classes:
        share = rules.elapsed_share(cls.project.starts_on, cls.project.ends_on, project_today(cls.project, now))
        figures[cls.id] = (rules.class_figures(credits[cls.id], required_ms(cls.project), share), share)
    named = {lag.user_id for f, _s in figures.values() for lag in f.laggards}
    named |= {uid for f, _s in figures.values() for uid in f.not_started}
    people = {u.id: u for u in db.session.execute(select(User).where(User.id.in_(named))).scalars()} if named else {}
    roles = {r.class_id: r.role for r in user.roles if r.class_id and r.role in STAFF_ROLES}
    return [{"cls": cls, "figures": figures[cls.id][0], "share": figures[cls.id][1], "people": people,
             "role": roles.get(cls.id)} for cls in classes]


def learning_hours(ms: int, project: Project) -> float:
    """Credited milliseconds as the project's learning hours (R12, rounded down to 0.1)."""
    from app.tracking.rules import learning_hours as hours

    return hours(ms, project.minutes_per_hour)


# ---------------------------------------------------------------- group viewing (集中学习)
def get_group_class(group_id: int):
    """Return (group session, its class); NotFound for an unknown id."""
    from app.tracking import group

    gs = group.get_group(group_id)
    return gs, db.session.get(Class_, gs.class_id)


def get_class_lessons(cls: Class_) -> list:
    """The lessons a class's group viewing may show: videos and audio of its project's courses with a duration."""
    from app.courses.models import Lesson, Module, ProjectCourse

    return list(db.session.execute(
        select(Lesson).join(Module, Module.id == Lesson.module_id)
        .join(ProjectCourse, ProjectCourse.course_id == Module.course_id)
        .where(ProjectCourse.project_id == cls.project_id, Lesson.is_archived.is_(False),
               Lesson.kind != "document", Lesson.duration_s > 0)
        .order_by(ProjectCourse.position, Module.position, Lesson.position, Lesson.id)
    ).scalars())


def do_start_group(manager: User, cls: Class_, lesson_id: int) -> dict:
    """Open a group viewing of one of the class's project lessons at the class's learning center."""
    from app.common.exceptions import NotFound
    from app.courses.models import Lesson
    from app.tracking import group

    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None or lesson.id not in {lesson.id for lesson in get_class_lessons(cls)}:
        raise NotFound(_("No such lesson in this class's project."), code="lesson_not_found")
    return group.do_open_group(manager.id, cls.id, cls.project, lesson, cls.learning_center_id)


def check_in_with_code(gs, user: User, code: str) -> dict:
    """A learner checks in with the code on the screen; wrong codes count against CHECKIN_FAILURES_PER_ACCOUNT.

    Raises accounts.limits.TooManyFailures (429) once the learner guessed wrong too often.
    """
    from app.accounts import limits
    from app.common.exceptions import Unprocessable
    from app.tracking import group

    error: Exception | None = None
    user_id = user.id
    with limits.attempt(("checkin", str(user_id))) as guess:
        try:
            result = group.do_check_in(gs, user, method="self", by_id=user_id, code=code)
        except Unprocessable as exc:
            guess.fail()
            error = exc
    if error is not None:
        raise error
    return result


def get_class_group_sessions(cls: Class_) -> list[dict]:
    """The class's group viewings, newest first, with how many attended and the credit they earned."""
    from app.courses.models import Lesson
    from app.tracking.models import GroupAttendance, GroupSession

    rows = db.session.execute(
        select(GroupSession, Lesson.title, func.count(func.distinct(GroupAttendance.user_id)),
               func.coalesce(func.sum(GroupAttendance.credited_ms), 0))
        .join(Lesson, Lesson.id == GroupSession.lesson_id)
        .outerjoin(GroupAttendance, GroupAttendance.group_session_id == GroupSession.id)
        .where(GroupSession.class_id == cls.id).group_by(GroupSession.id, Lesson.title)
        .order_by(GroupSession.started_at.desc(), GroupSession.id.desc())
    ).all()
    return [{"gs": gs, "lesson_title": title, "attendees": n, "credited_ms": int(ms)} for gs, title, n, ms in rows]


# ---------------------------------------------------------------- the roster (API.md "Classes, rosters, reminders")
def _lag_grace_ms(project: Project) -> int:
    """The grace of the lagging rule: lag_grace_days' worth of the project's daily pace."""
    days = (project.ends_on - project.starts_on).days + 1
    return int(required_ms(project) * max(0, project.lag_grace_days or 0) / max(1, days))


def get_lagging_threshold_ms(project: Project, now: datetime) -> int:
    """Credit below which a learner lags (督促): required × elapsed share of the project's days − grace."""
    share = rules.elapsed_share(project.starts_on, project.ends_on, project_today(project, now))
    return rules.lag_threshold_ms(required_ms(project), share, _lag_grace_ms(project))


#: the key under app.extensions of the roster's figure providers (register_roster_figures)
ROSTER_FIGURES = "xueshi_roster_figures"


def register_roster_figures(app, provider) -> None:
    """Let a feature built on classes add figures to every roster row (forum points, homework).

    `provider(project_id, user_ids) -> {user_id: {key: value}}` is called once per roster with all its
    learners; the keys it gives replace the row's defaults. Registered from create_app, so classrooms
    never imports the features built on it.
    """
    app.extensions.setdefault(ROSTER_FIGURES, []).append(provider)


def roster(class_id: int, now: datetime | None = None) -> list[dict]:
    """The class's learners with their figures, by name: the one place the roster is assembled.

    forum_points, homework_submitted and homework_graded come from the providers the forums and
    homework features register (register_roster_figures); 0 without them.
    """
    from flask import current_app

    from app.common import clock
    from app.tracking.models import LessonProgress

    cls = get_class(class_id)
    project = cls.project
    now = now or clock.now()
    threshold = get_lagging_threshold_ms(project, now)
    learners = [u for u, _role in get_class_members(cls, "learner")]
    ids = [u.id for u in learners]
    figures = {}
    if ids:
        for user_id, ms, complete, last in db.session.execute(
            select(LessonProgress.user_id, func.coalesce(func.sum(LessonProgress.credited_ms), 0),
                   func.count().filter(LessonProgress.is_complete.is_(True)), func.max(LessonProgress.updated_at))
            .where(LessonProgress.project_id == project.id, LessonProgress.user_id.in_(ids))
            .group_by(LessonProgress.user_id)
        ).all():
            figures[user_id] = (int(ms), int(complete), last)
    items = []
    for user in learners:
        ms, complete, last = figures.get(user.id, (0, 0, None))
        items.append({
            "user_id": user.id,
            "display_name": user.display_name,
            "username": user.username,
            "teacher_no": user.teacher_no,
            "school": user.school.name if user.school else None,
            "credited_s": round(ms / 1000, 3),
            "learning_hours": learning_hours(ms, project),
            "complete_lessons": complete,
            "forum_points": 0,
            "homework_submitted": 0,
            "homework_graded": 0,
            "last_active_at": last if ms else None,
            "is_lagging": ms < threshold,
        })
    for provider in current_app.extensions.get(ROSTER_FIGURES, ()):
        extra = provider(project.id, ids) if ids else {}
        for item in items:
            item.update(extra.get(item["user_id"], {}))
    return items


# ---------------------------------------------------------------- reminders (督促)
def reminders_per_day() -> int:
    """How many reminders a learner may get a day (the REMINDERS_PER_DAY setting, rules.REMINDERS_PER_DAY by default)."""
    from flask import current_app

    return int(current_app.config.get("REMINDERS_PER_DAY", rules.REMINDERS_PER_DAY))


def do_send_reminders(sender: User, cls: Class_, user_ids: list[int], message: str,
                      now: datetime | None = None) -> dict:
    """Remind the class's learners: {sent: [user_id], skipped: [{user_id, reason}]}; the caller commits.

    Reasons: not_in_class (not a learner of this class), limit (already reminded today, from anywhere).
    """
    learners = {u.id for u, _role in get_class_members(cls, "learner")}
    text = _("%(name)s (class %(cls)s) reminds you: %(message)s", name=sender.display_name, cls=cls.name,
             message=message)
    return _remind(sender, cls.project, user_ids, learners, rules.SKIP_NOT_IN_CLASS, message, text, now,
                   class_id=cls.id)


def do_send_subtree_reminders(sender: User, scope, user_ids: list[int], message: str,
                              now: datetime | None = None) -> dict:
    """Remind learners of an org subtree's project (a reports Scope with a unit); answer as do_send_reminders.

    Reasons: not_in_scope (not a learner of the project in the subtree), limit (already reminded today).
    """
    text = _("%(name)s, administrator of %(unit)s, reminds you: %(message)s", name=sender.display_name,
             unit=scope.unit.name, message=message)
    return _remind(sender, scope.project, user_ids, get_scope_learner_ids(scope, user_ids), rules.SKIP_NOT_IN_SCOPE,
                   message, text, now, org_unit_id=scope.unit.id)


def _remind(sender: User, project: Project, user_ids: list[int], in_reach: set[int], outside: str, message: str,
            text: str, now: datetime | None, *, class_id: int | None = None, org_unit_id: int | None = None) -> dict:
    """The one path of every reminder: the daily limit (rules.reminder_skip_reason), the record, the notification."""
    from app.classrooms.models import ClassReminder
    from app.common import clock
    from app.notifications.service import notify

    now = now or clock.now()
    today = project_today(project, now)
    wanted = list(dict.fromkeys(user_ids))
    reminded = dict(db.session.execute(
        select(ClassReminder.user_id, func.count()).where(ClassReminder.day == today,
                                                          ClassReminder.user_id.in_(wanted or [0]))
        .group_by(ClassReminder.user_id)).all())
    per_day = reminders_per_day()
    sent, skipped = [], []
    for user_id in wanted:
        reason = rules.reminder_skip_reason(user_id in in_reach, reminded.get(user_id, 0), per_day, outside)
        if reason:
            skipped.append({"user_id": user_id, "reason": reason})
            continue
        db.session.add(ClassReminder(class_id=class_id, org_unit_id=org_unit_id, project_id=project.id,
                                     user_id=user_id, sent_by_id=sender.id, day=today, message=message, sent_at=now))
        sent.append(user_id)
    if sent:
        # the learner's page of the project: their progress, from where each lesson is one click away
        notify(sent, "reminder", text[:500], f"/projects/{project.id}/progress")
    return {"sent": sent, "skipped": skipped}


def get_scope_learner_ids(scope, user_ids: list[int]) -> set[int]:
    """Those of user_ids who are learners of the scope (enrolled in its project, in its subtree or class)."""
    from app.reports.service import learner_totals

    if not user_ids:
        return set()
    x = learner_totals(scope).subquery("x")
    return set(db.session.execute(select(x.c.user_id).where(x.c.user_id.in_(list(set(user_ids))))).scalars())


#: the most learners a lagging list shows (and "remind all" reaches)
LAGGING_LIMIT = 2000


def get_lagging(scope, now: datetime) -> list[dict]:
    """Learners of a report scope (an org subtree or a class) behind the project's pace, fewest hours first."""
    from app.reports.service import learner_totals

    project = scope.project
    threshold = get_lagging_threshold_ms(project, now)
    x = learner_totals(scope).subquery("x")
    rows = db.session.execute(
        select(x.c.user_id, x.c.ms, x.c.last_at, User).join(User, User.id == x.c.user_id)
        .where(x.c.ms < threshold).order_by(x.c.ms, User.username_key).limit(LAGGING_LIMIT)
    ).all()
    classes = get_learner_classes(project.id, [r.user_id for r in rows])
    return [{"user": r.User, "credited_ms": int(r.ms), "last_at": r.last_at, "behind_ms": threshold - int(r.ms),
             "cls": classes.get(r.user_id)} for r in rows]
