"""Use cases of projects, courses and enrolments."""
from sqlalchemy import delete, func, select, update

from flask_babel import gettext as _

from app.accounts.models import User
from app.common import clock
from app.common.exceptions import Conflict, Forbidden, Gone, Invalid, NotFound
from app.courses.models import Course, ElectiveChoice, ElectiveDecision, Enrollment, Lesson, Module, Project, ProjectCourse
from app.extensions import db


def get_enrollment(user: User, project: Project) -> Enrollment | None:
    return db.session.execute(
        select(Enrollment).where(Enrollment.project_id == project.id, Enrollment.user_id == user.id)
    ).scalar_one_or_none()


def is_enrolled(user: User, project: Project) -> bool:
    return get_enrollment(user, project) is not None


def get_user_projects(user: User, *, is_archived: bool = False) -> list[Project]:
    """Return the projects the user is enrolled in, newest first: those offered for study, or the archived ones."""
    return list(
        db.session.execute(
            select(Project)
            .join(Enrollment, Enrollment.project_id == Project.id)
            .where(Enrollment.user_id == user.id, Project.is_archived.is_(is_archived))
            .order_by(Project.starts_on.desc(), Project.id)
        ).scalars()
    )


def get_project_courses(project: Project, user: User | None = None) -> list[tuple[ProjectCourse, bool]]:
    """Return the project's course links with whether each is open to the user.

    Required courses are open to every enrolled learner; an elective is open once the
    learner chose it (and the school confirmed it, when the project asks for that), and
    never while the school's refusal stands.
    Archived courses, and every course of an archived project, are offered to nobody.
    """
    links = list(
        db.session.execute(
            select(ProjectCourse).join(Course, Course.id == ProjectCourse.course_id)
            .where(ProjectCourse.project_id == project.id, Course.is_archived.is_(False))
            .order_by(ProjectCourse.position, ProjectCourse.id)
        ).scalars()
    )
    chosen: dict[int, bool] = {}
    if user is not None:
        for choice in get_elective_choices(project, user).values():
            chosen[choice.course_id] = not choice.is_refused and (
                choice.is_confirmed or not project.is_elective_confirmation_required)
    is_offered = not project.is_archived
    return [(link, is_offered and (link.is_required or chosen.get(link.course_id, False))) for link in links]


def get_open_course_ids(project: Project, user: User) -> set[int]:
    return {link.course_id for link, is_open in get_project_courses(project, user) if is_open}


def get_project_lessons(project: Project, user: User) -> list[Lesson]:
    """Return the lessons of the project open to the user, in course order."""
    course_ids = get_open_course_ids(project, user)
    if not course_ids:
        return []
    order = {link.course_id: i for i, (link, _open) in enumerate(get_project_courses(project, user))}
    rows = db.session.execute(
        select(Lesson, Module.course_id, Module.position)
        .join(Module, Module.id == Lesson.module_id)
        .where(Module.course_id.in_(course_ids), Lesson.is_archived.is_(False))
    ).all()
    rows.sort(key=lambda r: (order.get(r.course_id, 0), r.position, r.Lesson.position, r.Lesson.id))
    return [r.Lesson for r in rows]


def get_project_for_learner(user: User, project_id: int) -> Project:
    """Return a project the user is enrolled in; NotFound or Forbidden otherwise."""
    project = db.session.get(Project, project_id)
    if project is None:
        raise NotFound(_("No such training project."))
    if not is_enrolled(user, project):
        raise Forbidden(_("You are not enrolled in this training project."), code="not_enrolled")
    return project


def get_project_lesson(user: User, project_id: int, lesson_id: int) -> tuple[Project, Lesson]:
    """Return (project, lesson) when the user is enrolled and the lesson is open to them in that project."""
    project = get_project_for_learner(user, project_id)
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None:
        raise NotFound(_("No such lesson."))
    if project.is_archived or lesson.is_archived or lesson.module.course.is_archived:
        raise Gone(_("This lesson has been archived and is no longer offered for study. "
                     "The time already credited to you stays on your progress page."), code="archived")
    if lesson.module.course_id not in get_open_course_ids(project, user):
        raise Forbidden(_("This lesson is not part of your courses in this project."), code="not_enrolled")
    return project, lesson


def get_projects_with_lesson(lesson: Lesson) -> list[Project]:
    return list(
        db.session.execute(
            select(Project)
            .join(ProjectCourse, ProjectCourse.project_id == Project.id)
            .where(ProjectCourse.course_id == lesson.module.course_id)
        ).scalars()
    )


def get_course(course_id: int) -> Course:
    course = db.session.get(Course, course_id)
    if course is None:
        raise NotFound(_("No such course."))
    return course


def do_create_project(title: str, org_unit, starts_on, ends_on, **settings) -> Project:
    """Create a training project; settings are Project columns (tracking, assessment)."""
    if ends_on < starts_on:
        from app.common.exceptions import Invalid

        raise Invalid(_("The project cannot end before it starts."), code="ends_on")
    project = Project(title=title, org_unit_id=org_unit.id, starts_on=starts_on, ends_on=ends_on, **settings)
    db.session.add(project)
    db.session.flush()
    return project


def do_create_course(title: str, org_unit, **fields) -> Course:
    course = Course(title=title, org_unit_id=org_unit.id, **fields)
    db.session.add(course)
    db.session.flush()
    return course


def do_add_module(course: Course, title: str) -> Module:
    module = Module(course_id=course.id, title=title, position=len(course.modules))
    db.session.add(module)
    db.session.flush()
    return module


def do_add_lesson(module: Module, title: str, *, kind: str = "video", duration_s: int = 0,
                  media_key: str | None = None) -> Lesson:
    lesson = Lesson(module_id=module.id, title=title, kind=kind, duration_s=duration_s, media_key=media_key,
                    position=len(module.lessons))
    db.session.add(lesson)
    db.session.flush()
    return lesson


def do_link_course(project: Project, course: Course, *, is_required: bool = True) -> ProjectCourse:
    existing = db.session.execute(
        select(ProjectCourse).where(ProjectCourse.project_id == project.id, ProjectCourse.course_id == course.id)
    ).scalar_one_or_none()
    if existing:
        existing.is_required = is_required
        return existing
    link = ProjectCourse(project_id=project.id, course_id=course.id, is_required=is_required,
                         position=len(project.course_links))
    db.session.add(link)
    db.session.flush()
    return link


def do_enroll(user: User, project: Project, source: str = "admin") -> Enrollment:
    """Enrol the user in the project (idempotent)."""
    existing = get_enrollment(user, project)
    if existing:
        return existing
    enrollment = Enrollment(project_id=project.id, user_id=user.id, source=source)
    db.session.add(enrollment)
    db.session.flush()
    return enrollment


def get_elective_choices(project: Project, user: User, *, is_withdrawn: bool = False) -> dict[int, ElectiveChoice]:
    """Return the learner's elective choices in the project by course id (or the withdrawn ones)."""
    withdrawn = ElectiveChoice.withdrawn_at.is_not(None) if is_withdrawn else ElectiveChoice.withdrawn_at.is_(None)
    return {
        choice.course_id: choice
        for choice in db.session.execute(
            select(ElectiveChoice).where(ElectiveChoice.project_id == project.id, ElectiveChoice.user_id == user.id,
                                         withdrawn)
        ).scalars()
    }


def do_toggle_elective(project: Project, user: User, course_id: int, action: str | None = None) -> ElectiveChoice | None:
    """Choose the elective (returns the choice) or withdraw an existing choice (returns None).

    `action` "choose" or "withdraw" says which (a repeated request then changes nothing); None
    toggles. Choosing a refused elective again asks the school anew.
    """
    link = db.session.execute(
        select(ProjectCourse).where(ProjectCourse.project_id == project.id, ProjectCourse.course_id == course_id)
    ).scalar_one_or_none()
    if link is None:
        raise NotFound(_("This course is not offered in the project."))
    if link.is_required:
        raise Invalid(_("Required courses cannot be chosen or dropped."), code="course_id")
    if link.course.is_archived or project.is_archived:
        raise Gone(_("This course has been archived and can no longer be chosen."), code="archived")
    existing = get_elective_choices(project, user).get(course_id)
    if existing is not None and (action == "withdraw" or (action is None and not existing.is_refused)):
        existing.withdrawn_at = clock.now()
        return None
    if existing is not None:
        if existing.is_refused:
            _ask_again(existing)
        return existing
    if action == "withdraw":
        return None
    withdrawn = get_elective_choices(project, user, is_withdrawn=True).get(course_id)
    if withdrawn is not None:
        withdrawn.withdrawn_at = None
        _ask_again(withdrawn)
        return withdrawn
    choice = ElectiveChoice(project_id=project.id, user_id=user.id, course_id=course_id, is_confirmed=False)
    db.session.add(choice)
    db.session.flush()
    return choice


def _ask_again(choice: ElectiveChoice) -> None:
    """Make a withdrawn or refused choice wait for the school again (earlier decisions stay in their log)."""
    choice.is_confirmed = False
    choice.is_refused = False
    choice.decided_at = choice.decided_by_id = choice.refusal_reason = None
    db.session.execute(
        update(ElectiveDecision).where(ElectiveDecision.choice_id == choice.id, ElectiveDecision.seen_at.is_(None))
        .values(seen_at=clock.now()).execution_options(synchronize_session=False))


# ---------------------------------------------------------------- administration
def get_project(project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    if project is None:
        raise NotFound(_("No such training project."))
    return project


def do_update_project(project: Project, **fields) -> Project:
    """Change a project's columns (already validated by the form)."""
    from app.common.exceptions import Invalid

    starts_on = fields.get("starts_on", project.starts_on)
    ends_on = fields.get("ends_on", project.ends_on)
    if ends_on < starts_on:
        raise Invalid(_("The project cannot end before it starts."), code="ends_on")
    for name, value in fields.items():
        setattr(project, name, value)
    return project


def do_update_course(course: Course, **fields) -> Course:
    for name, value in fields.items():
        setattr(course, name, value)
    return course


def get_module(module_id: int) -> Module:
    module = db.session.get(Module, module_id)
    if module is None:
        raise NotFound(_("No such module."))
    return module


def get_lesson(lesson_id: int) -> Lesson:
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None:
        raise NotFound(_("No such lesson."))
    return lesson


def _move(items: list, item, direction: str) -> None:
    """Move item one place up or down in items (which carry .position), renumbering 0..n-1."""
    ordered = sorted(items, key=lambda x: (x.position, x.id))
    index = ordered.index(item)
    target = index - 1 if direction == "up" else index + 1
    if 0 <= target < len(ordered):
        ordered[index], ordered[target] = ordered[target], ordered[index]
    for position, each in enumerate(ordered):
        each.position = position


def do_move_module(module: Module, direction: str) -> None:
    _move(list(module.course.modules), module, direction)


def do_move_lesson(lesson: Lesson, direction: str) -> None:
    _move(list(lesson.module.lessons), lesson, direction)


def do_move_course_link(link: ProjectCourse, direction: str) -> None:
    _move(list(link.project.course_links), link, direction)


def do_delete_module(module: Module) -> None:
    """Delete a module that has no lessons (lessons carry learners' records and stay)."""
    from app.common.exceptions import Conflict

    if module.lessons:
        raise Conflict(_("Move or keep the lessons first: only an empty module can be deleted."), code="not_empty")
    course = module.course
    db.session.delete(module)
    db.session.flush()
    db.session.expire(course, ["modules"])
    for position, each in enumerate(sorted(course.modules, key=lambda m: (m.position, m.id))):
        each.position = position


def do_update_lesson(lesson: Lesson, *, title: str, kind: str, duration_s: int | None) -> Lesson:
    """Rename a lesson; its kind changes only while it has no media, its duration only for documents."""
    from app.common.exceptions import Invalid

    from app.courses.models import LESSON_KINDS

    if kind not in LESSON_KINDS:
        raise Invalid(_("Unknown kind of lesson."), code="kind")
    if kind != lesson.kind and lesson.media_key:
        raise Invalid(_("The kind of a lesson with uploaded media comes from the file; it cannot be changed here."),
                      code="kind")
    lesson.title = title.strip()
    lesson.kind = kind
    if kind == "document" and duration_s is not None:
        lesson.duration_s = duration_s
    return lesson


def do_unlink_course(link: ProjectCourse) -> None:
    project = link.project
    db.session.delete(link)
    db.session.flush()
    db.session.expire(project, ["course_links"])
    for position, each in enumerate(sorted(project.course_links, key=lambda x: (x.position, x.id))):
        each.position = position


def do_unenroll(enrollment: Enrollment) -> None:
    """Remove an enrolment and the learner's seats in the project's classes (their records stay)."""
    from sqlalchemy import delete

    from app.accounts.models import RoleAssignment
    from app.classrooms.models import Class_

    class_ids = select(Class_.id).where(Class_.project_id == enrollment.project_id)
    db.session.execute(
        delete(RoleAssignment)
        .where(RoleAssignment.user_id == enrollment.user_id, RoleAssignment.role == "learner",
               RoleAssignment.class_id.in_(class_ids))
        .execution_options(synchronize_session=False)
    )
    db.session.delete(enrollment)


# ---------------------------------------------------------------- archive, restore, delete
def _credit_count(*, project_id: int | None = None, lesson_ids=None) -> int:
    """Count the credit records (credited progress, credit windows, corrections) of a project or of lessons."""
    # Credit belongs to tracking, which builds on courses; its models are read here, never its services.
    from app.tracking.models import CreditCorrection, CreditWindow, LessonProgress

    total = 0
    for model, extra in ((LessonProgress, LessonProgress.credited_ms > 0), (CreditWindow, None), (CreditCorrection, None)):
        stmt = select(func.count()).select_from(model)
        stmt = stmt.where(model.project_id == project_id) if project_id is not None else stmt.where(model.lesson_id.in_(lesson_ids))
        if extra is not None:
            stmt = stmt.where(extra)
        total += db.session.execute(stmt).scalar_one()
    return total


def _course_lesson_ids(course: Course):
    return select(Lesson.id).join(Module, Module.id == Lesson.module_id).where(Module.course_id == course.id)


def get_credit_count(obj: Project | Course | Lesson) -> int:
    """Return how many credit records refer to a project, a course (its lessons) or a lesson."""
    if isinstance(obj, Project):
        return _credit_count(project_id=obj.id)
    if isinstance(obj, Course):
        return _credit_count(lesson_ids=_course_lesson_ids(obj))
    return _credit_count(lesson_ids=[obj.id])


def do_set_archived(obj: Project | Course | Lesson, is_archived: bool) -> None:
    """Archive (no longer offered for study, every credit kept) or restore a project, course or lesson."""
    obj.is_archived = is_archived


def _drop_records_without_credit(*, project_id: int | None = None, lesson_ids=None) -> None:
    """Delete the playback records that earned nothing, so that deleting their content never meets them."""
    from app.tracking.models import LessonProgress, PlaybackSession, PresenceCheck

    def where(model):
        return model.project_id == project_id if project_id is not None else model.lesson_id.in_(lesson_ids)

    sessions = select(PlaybackSession.id).where(where(PlaybackSession))
    db.session.execute(delete(PresenceCheck).where(PresenceCheck.session_id.in_(sessions))
                       .execution_options(synchronize_session=False))
    db.session.execute(delete(PlaybackSession).where(where(PlaybackSession)).execution_options(synchronize_session=False))
    db.session.execute(delete(LessonProgress).where(where(LessonProgress)).execution_options(synchronize_session=False))


def check_delete(obj: Project | Course | Lesson) -> None:
    """Delete a project, course or lesson that holds no credit; Conflict (nothing changes) when it does."""
    count = get_credit_count(obj)
    if count:
        messages = {
            Project: _("This training project cannot be deleted: learners have credited learning time in it, "
                       "which must be kept. Archive it instead: it is then no longer offered, and every credited "
                       "second stays on the learners' records."),
            Course: _("This course cannot be deleted: learners have credited learning time on its lessons, "
                      "which must be kept. Archive it instead: it is then no longer offered, and every credited "
                      "second stays on the learners' records."),
            Lesson: _("This lesson cannot be deleted: learners have credited learning time on it, which must be "
                      "kept. Archive it instead: it is then no longer offered, and every credited second stays on "
                      "the learners' records."),
        }
        raise Conflict(messages[type(obj)], code="has_credit")
    if isinstance(obj, Project):
        _drop_records_without_credit(project_id=obj.id)
        db.session.delete(obj)
    elif isinstance(obj, Course):
        _drop_records_without_credit(lesson_ids=_course_lesson_ids(obj))
        db.session.delete(obj)
    else:
        module = obj.module
        _drop_records_without_credit(lesson_ids=[obj.id])
        db.session.delete(obj)
        db.session.flush()
        db.session.expire(module, ["lessons"])
        for position, each in enumerate(sorted(module.lessons, key=lambda x: (x.position, x.id))):
            each.position = position
    db.session.flush()


def get_admin_counts(admin: User) -> dict[str, int]:
    """Count the projects and courses the admin sees (for the admin dashboard)."""
    from app.accounts.models import OrgUnit
    from app.courses.permissions import visible_projects_clause

    return {
        "projects": db.session.execute(
            select(func.count(Project.id)).join(OrgUnit, OrgUnit.id == Project.org_unit_id)
            .where(visible_projects_clause(admin))).scalar_one(),
        "courses": db.session.execute(
            select(func.count(Course.id)).join(OrgUnit, OrgUnit.id == Course.org_unit_id)
            .where(visible_projects_clause(admin))).scalar_one(),
    }


def get_enrolled_projects(user: User) -> list[Project]:
    """Return every project the user is enrolled in, archived ones too, newest first (for the admin's user page)."""
    return list(db.session.execute(
        select(Project).join(Enrollment, Enrollment.project_id == Project.id).where(Enrollment.user_id == user.id)
        .order_by(Project.starts_on.desc())
    ).scalars())


def do_enroll_all(users: list[User], project: Project, source: str) -> None:
    """Enrol every user in the project (those already enrolled stay as they are)."""
    ids = [u.id for u in users]
    enrolled: set[int] = set()
    for start in range(0, len(ids), 500):
        enrolled.update(db.session.execute(
            select(Enrollment.user_id).where(Enrollment.project_id == project.id,
                                             Enrollment.user_id.in_(ids[start:start + 500]))).scalars())
    db.session.add_all([Enrollment(project_id=project.id, user_id=i, source=source) for i in ids if i not in enrolled])
    db.session.flush()


def get_expert_catalogue(expert: User) -> tuple[list[Project], list[Course]]:
    """The running projects and the courses of the expert's area (experts are not linked to single courses yet)."""
    from sqlalchemy.orm import selectinload

    from app.accounts.models import OrgUnit
    from app.courses.permissions import expert_scope_clause

    projects = db.session.execute(
        select(Project).join(OrgUnit, OrgUnit.id == Project.org_unit_id)
        .where(expert_scope_clause(expert), Project.is_archived.is_(False))
        .options(selectinload(Project.course_links).selectinload(ProjectCourse.course), selectinload(Project.org_unit))
        .order_by(Project.starts_on.desc(), Project.id.desc())
    ).scalars().all()
    courses = db.session.execute(
        select(Course).join(OrgUnit, OrgUnit.id == Course.org_unit_id)
        .where(expert_scope_clause(expert), Course.is_archived.is_(False))
        .options(selectinload(Course.modules).selectinload(Module.lessons), selectinload(Course.org_unit))
        .order_by(Course.title, Course.id)
    ).scalars().all()
    return list(projects), list(courses)
