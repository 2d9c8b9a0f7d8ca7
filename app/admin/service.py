"""The figures of an admin's home: each running project of the admin's area, counted over the admin's own teachers.

Every figure comes from the stored totals (lesson_progress), never from heartbeats or credit windows; a
project owned above the admin's area (a province project seen by a county admin) is counted over the
learners the admin may see only, so no figure of another area leaks.
"""
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select

from app.accounts.models import OrgUnit, User
from app.accounts.permissions import users_in_scope_clause
from app.courses.models import Enrollment, Project
from app.courses.permissions import visible_projects_clause
from app.extensions import db
from app.tracking.models import LessonProgress
from app.tracking.rules import learning_hours

#: the most projects an admin's home lists (the newest first)
HOME_PROJECTS = 20


@dataclass(frozen=True)
class ProjectFigures:
    project: Project
    enrolled: int
    started: int
    credited_ms: int
    #: learners whose credit reached the project's required hours
    complete: int

    @property
    def credited_hours(self) -> float:
        return learning_hours(self.credited_ms, self.project.minutes_per_hour)

    @property
    def mean_hours(self) -> float:
        return learning_hours(self.credited_ms // self.enrolled, self.project.minutes_per_hour) if self.enrolled else 0.0

    @property
    def complete_share(self) -> float:
        return self.complete / self.enrolled if self.enrolled else 0.0


def get_home_projects(admin: User, limit: int = HOME_PROJECTS) -> list[Project]:
    """The running (not archived) projects the admin sees, newest first."""
    return list(db.session.execute(
        select(Project).join(OrgUnit, OrgUnit.id == Project.org_unit_id)
        .where(visible_projects_clause(admin), Project.is_archived.is_(False))
        .order_by(Project.starts_on.desc(), Project.id.desc()).limit(limit)
    ).scalars())


def get_project_figures(admin: User, projects: list[Project]) -> list[ProjectFigures]:
    """Enrolled, started, credited and complete learners of each project, among the users the admin may see."""
    if not projects:
        return []
    ids = [p.id for p in projects]
    per_learner = (
        select(LessonProgress.project_id, LessonProgress.user_id, func.sum(LessonProgress.credited_ms).label("ms"))
        .where(LessonProgress.project_id.in_(ids))
        .group_by(LessonProgress.project_id, LessonProgress.user_id)
        .subquery()
    )
    ms = func.coalesce(per_learner.c.ms, 0)
    required = Project.required_hours * Project.minutes_per_hour * 60000
    rows = db.session.execute(
        select(Enrollment.project_id, func.count(Enrollment.id),
               func.sum(case((ms > 0, 1), else_=0)), func.sum(ms),
               func.sum(case((ms >= required, 1), else_=0)))
        .join(Project, Project.id == Enrollment.project_id)
        .join(User, User.id == Enrollment.user_id)
        .outerjoin(per_learner, and_(per_learner.c.project_id == Enrollment.project_id,
                                     per_learner.c.user_id == Enrollment.user_id))
        .where(Enrollment.project_id.in_(ids), users_in_scope_clause(admin))
        .group_by(Enrollment.project_id)
    ).all()
    counts = {row[0]: row[1:] for row in rows}
    figures = []
    for project in projects:
        enrolled, started, credited, complete = counts.get(project.id, (0, 0, 0, 0))
        figures.append(ProjectFigures(project, int(enrolled or 0), int(started or 0), int(credited or 0),
                                      int(complete or 0)))
    return figures
