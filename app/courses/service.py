"""Use cases of projects, courses and enrolments."""
from sqlalchemy import select

from flask_babel import gettext as _

from app.accounts.models import User
from app.common.exceptions import Forbidden, NotFound
from app.courses.models import Course, ElectiveChoice, Enrollment, Lesson, Module, Project, ProjectCourse
from app.extensions import db


def get_enrollment(user: User, project: Project) -> Enrollment | None:
    return db.session.execute(
        select(Enrollment).where(Enrollment.project_id == project.id, Enrollment.user_id == user.id)
    ).scalar_one_or_none()


def is_enrolled(user: User, project: Project) -> bool:
    return get_enrollment(user, project) is not None


def get_user_projects(user: User) -> list[Project]:
    """Return the projects the user is enrolled in, newest first."""
    return list(
        db.session.execute(
            select(Project)
            .join(Enrollment, Enrollment.project_id == Project.id)
            .where(Enrollment.user_id == user.id)
            .order_by(Project.starts_on.desc(), Project.id)
        ).scalars()
    )


def get_project_courses(project: Project, user: User | None = None) -> list[tuple[ProjectCourse, bool]]:
    """Return the project's course links with whether each is open to the user.

    Required courses are open to every enrolled learner; an elective is open once the
    learner chose it (and the school confirmed it, when the project asks for that).
    """
    links = list(
        db.session.execute(
            select(ProjectCourse).where(ProjectCourse.project_id == project.id).order_by(ProjectCourse.position, ProjectCourse.id)
        ).scalars()
    )
    chosen: dict[int, bool] = {}
    if user is not None:
        for choice in db.session.execute(
            select(ElectiveChoice).where(ElectiveChoice.project_id == project.id, ElectiveChoice.user_id == user.id)
        ).scalars():
            chosen[choice.course_id] = choice.is_confirmed or not project.is_elective_confirmation_required
    return [(link, link.is_required or chosen.get(link.course_id, False)) for link in links]


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
        .where(Module.course_id.in_(course_ids))
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


def get_elective_choices(project: Project, user: User) -> dict[int, ElectiveChoice]:
    return {
        choice.course_id: choice
        for choice in db.session.execute(
            select(ElectiveChoice).where(ElectiveChoice.project_id == project.id, ElectiveChoice.user_id == user.id)
        ).scalars()
    }


def do_toggle_elective(project: Project, user: User, course_id: int) -> ElectiveChoice | None:
    """Choose the elective (returns the choice) or withdraw an existing choice (returns None)."""
    from app.common.exceptions import Invalid

    link = db.session.execute(
        select(ProjectCourse).where(ProjectCourse.project_id == project.id, ProjectCourse.course_id == course_id)
    ).scalar_one_or_none()
    if link is None:
        raise NotFound(_("This course is not offered in the project."))
    if link.is_required:
        raise Invalid(_("Required courses cannot be chosen or dropped."), code="course_id")
    existing = get_elective_choices(project, user).get(course_id)
    if existing is not None:
        db.session.delete(existing)
        return None
    choice = ElectiveChoice(project_id=project.id, user_id=user.id, course_id=course_id, is_confirmed=False)
    db.session.add(choice)
    db.session.flush()
    return choice


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
