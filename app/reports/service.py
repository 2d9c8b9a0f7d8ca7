"""Use cases of the reports: figures of a unit's subtree or a class in a project, its learners, the export rows.

Every figure comes from stored totals: a learner's credit in a project is the
sum of their lesson_progress rows there (one row per lesson), the day series
the learners' project_day_credits. No heartbeat, session or credit window is read.
The learners of a unit are those enrolled in the project whose school lies in
the unit's subtree; the learners of a class are its learners enrolled in the
class's project.

The day series reads project_day_credits: a learner's credit in this project on
each local day (study of other projects on the same day is not counted).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, literal, select

from app.accounts.models import OrgUnit, RoleAssignment, User
from app.classrooms.models import Class_
from app.common import clock
from app.common.permissions import path_in_scope, scope_paths, staff_class_ids
from app.courses.models import Enrollment, Project
from app.courses.permissions import visible_projects_clause
from app.extensions import db
from app.reports import rules
from app.reports.rules import Figures
from app.tracking.models import LessonProgress, ProjectDayCredit
from app.tracking.rules import local_day, to_ms, zone

E = Enrollment.__table__
U = User.__table__
P = LessonProgress.__table__
D = ProjectDayCredit.__table__
O = OrgUnit.__table__
RA = RoleAssignment.__table__

PAGE_SIZE = 50


@dataclass(frozen=True)
class Scope:
    """What a report covers: a project, and the subtree of a unit or one class."""

    project: Project
    unit: OrgUnit | None = None
    cls: Class_ | None = None

    @property
    def name(self) -> str:
        return self.cls.name if self.cls is not None else self.unit.name

    @property
    def required_ms(self) -> int:
        return rules.required_ms(self.project.required_hours, self.project.minutes_per_hour)


@dataclass(frozen=True)
class ChildRow:
    """A line of a dashboard's table: a child unit (None: learners whose school is the unit itself)."""

    unit: OrgUnit | None
    figures: Figures


@dataclass(frozen=True)
class Dashboard:
    scope: Scope
    total: Figures
    children: list[ChildRow]
    days: list[tuple[date, int]]
    today: date


@dataclass(frozen=True)
class LearnerRow:
    user_id: int
    name: str
    teacher_no: str | None
    phone: str | None
    school: str
    county: str
    credited_ms: int
    last_day: date | None


@dataclass
class LearnerPage:
    rows: list[LearnerRow]
    total: int
    page: int
    pages: int
    status: str


# ----------------------------------------------------------------- the learners of a scope

def _population_clause(scope: Scope):
    """Enrolments of the scope's learners (a WHERE clause on E joined with U)."""
    if scope.cls is not None:
        members = select(RA.c.user_id).where(RA.c.class_id == scope.cls.id, RA.c.role == "learner")
        return and_(E.c.project_id == scope.project.id, E.c.user_id.in_(members))
    subtree = select(O.c.id).where(O.c.path.like(scope.unit.path + "%"))
    return and_(E.c.project_id == scope.project.id, U.c.school_id.in_(subtree))


def learner_totals(scope: Scope):
    """One row per learner of the scope: user_id, school_id, ms (credit in the project), last_at (last credited update)."""
    last = func.max(case((P.c.credited_ms > 0, P.c.updated_at)))
    return (
        select(E.c.user_id, U.c.school_id, func.coalesce(func.sum(P.c.credited_ms), 0).label("ms"),
               last.label("last_at"))
        .select_from(E.join(U, U.c.id == E.c.user_id)
                     .outerjoin(P, and_(P.c.user_id == E.c.user_id, P.c.project_id == E.c.project_id)))
        .where(_population_clause(scope))
        .group_by(E.c.user_id, U.c.school_id)
    )


def _figures_by_school(scope: Scope) -> dict[int | None, Figures]:
    x = learner_totals(scope).subquery("x")
    req = scope.required_ms
    stmt = select(
        x.c.school_id, func.count(), func.sum(case((x.c.ms > 0, 1), else_=0)), func.sum(x.c.ms),
        func.sum(case((x.c.ms >= req, 1), else_=0)),
    ).group_by(x.c.school_id)
    return {row[0]: Figures(int(row[1]), int(row[2] or 0), int(row[3] or 0), int(row[4] or 0))
            for row in db.session.execute(stmt)}


def project_today(project: Project) -> date:
    return local_day(to_ms(clock.now()), project.timezone)


def _day_totals(scope: Scope, today: date) -> list[tuple[date, int]]:
    since = today - timedelta(days=rules.DAYS - 1)
    stmt = (
        select(D.c.day, func.sum(D.c.credited_ms))
        .select_from(D.join(E, and_(E.c.user_id == D.c.user_id, E.c.project_id == D.c.project_id))
                     .join(U, U.c.id == D.c.user_id))
        .where(_population_clause(scope), D.c.project_id == scope.project.id, D.c.day >= since, D.c.day <= today)
        .group_by(D.c.day)
    )
    return rules.day_series(db.session.execute(stmt).all(), today)


def _subtree_units(unit: OrgUnit) -> list:
    """(id, parent_id, path, kind) of every unit in the subtree: plain rows, read once per dashboard."""
    return db.session.execute(select(O.c.id, O.c.parent_id, O.c.path, O.c.kind)
                              .where(O.c.path.like(unit.path + "%"))).all()


def get_dashboard(scope: Scope) -> Dashboard:
    """The scope's figures, per child unit (units only) and per day over the last 30 days."""
    by_school = _figures_by_school(scope)
    today = project_today(scope.project)
    days = _day_totals(scope, today)
    if scope.unit is None:
        total = sum(by_school.values(), Figures())
        return Dashboard(scope, total, [], days, today)
    units = _subtree_units(scope.unit)
    total, children = rules.roll_up({k: v for k, v in by_school.items() if k is not None},
                                    {u.id: u.path for u in units}, scope.unit.path)
    child_ids = [u.id for u in units if u.parent_id == scope.unit.id and
                 (u.kind != "learning_center" or u.id in children)]
    child_units = sorted(db.session.execute(select(OrgUnit).where(OrgUnit.id.in_(child_ids))).scalars(),
                         key=lambda u: (u.name, u.id)) if child_ids else []
    rows = [ChildRow(u, children.get(u.id, Figures())) for u in child_units]
    if None in children:
        rows.append(ChildRow(None, children[None]))
    return Dashboard(scope, total, rows, days, today)


# ----------------------------------------------------------------- learner lists (the people behind a figure)

def _status_clause(x, status: str, req: int):
    return {
        "enrolled": literal(True),
        "started": x.c.ms > 0,
        "not_started": x.c.ms <= 0,
        "completed": x.c.ms >= req,
        "not_completed": x.c.ms < req,
    }[status]


class _Places:
    """School and county names of units, read once per list or export."""

    def __init__(self):
        self.units = {row.id: row for row in db.session.execute(select(O.c.id, O.c.name, O.c.kind, O.c.path))}
        self.found: dict[int | None, tuple[str, str]] = {}

    def school_and_county(self, school_id: int | None) -> tuple[str, str]:
        found = self.found.get(school_id)
        if found is None:
            found = self.found[school_id] = self._school_and_county(school_id)
        return found

    def _school_and_county(self, school_id: int | None) -> tuple[str, str]:
        unit = self.units.get(school_id)
        if unit is None:
            return "", ""
        county = ""
        for part in unit.path.strip("/").split("/"):
            above = self.units.get(int(part))
            if above is not None and above.kind == "county":
                county = above.name
        return unit.name, county


def _rows_stmt(scope: Scope, status: str):
    x = learner_totals(scope).subquery("x")
    stmt = (
        select(x.c.user_id, U.c.real_name, U.c.username, U.c.teacher_no, U.c.phone, x.c.school_id, x.c.ms,
               x.c.last_at)
        .select_from(x.join(U, U.c.id == x.c.user_id))
        .where(_status_clause(x, status, scope.required_ms))
    )
    return x, stmt


def _learner_row(row, places: _Places, tz: str) -> LearnerRow:
    school, county = places.school_and_county(row.school_id)
    last_day = row.last_at.astimezone(zone(tz)).date() if isinstance(row.last_at, datetime) else None
    return LearnerRow(row.user_id, row.real_name or row.username, row.teacher_no, row.phone, school, county,
                      int(row.ms or 0), last_day)


def get_learners(scope: Scope, status: str, page: int = 1) -> LearnerPage:
    """A page of the scope's learners in a status (rules.STATUSES), fewest credited hours first."""
    x, stmt = _rows_stmt(scope, status)
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = db.session.execute(stmt.order_by(x.c.ms, U.c.real_name, x.c.user_id)
                              .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    places = _Places()
    return LearnerPage([_learner_row(r, places, scope.project.timezone) for r in rows], total, page, pages, status)


# ----------------------------------------------------------------- export rows

def count_learners(scope: Scope) -> int:
    return db.session.execute(select(func.count()).select_from(learner_totals(scope).subquery())).scalar_one()


def iter_export_rows(scope: Scope, batch: int = 2000) -> Iterator[LearnerRow]:
    """Every learner of the scope, by school then name, read in batches (a server-side cursor where there is one)."""
    x, stmt = _rows_stmt(scope, "enrolled")
    places = _Places()
    stmt = stmt.order_by(x.c.school_id, U.c.real_name, x.c.user_id)
    result = db.session.execute(stmt, execution_options={"stream_results": True, "yield_per": batch})
    tz = scope.project.timezone
    for row in result:
        yield _learner_row(row, places, tz)



# ----------------------------------------------------------------- where a viewer starts

def get_entry_units(user, project: Project) -> list[OrgUnit]:
    """The highest units of a project's area whose figures the admin may see (none for non-admins)."""
    paths = scope_paths(user)
    if not paths:
        return []
    if path_in_scope(user, project.org_unit.path):
        return [project.org_unit]
    anchors = [p for p in paths if p.startswith(project.org_unit.path)]
    if not anchors:
        return []
    return list(db.session.execute(select(OrgUnit).where(OrgUnit.path.in_(anchors)).order_by(OrgUnit.path)).scalars())


def get_report_projects(user) -> list[tuple[Project, list[OrgUnit]]]:
    """The projects an admin may see that are not archived, each with the units to start from."""
    if not scope_paths(user):
        return []
    projects = db.session.execute(
        select(Project).join(OrgUnit, OrgUnit.id == Project.org_unit_id)
        .where(visible_projects_clause(user), Project.is_archived.is_(False))
        .order_by(Project.starts_on.desc(), Project.id.desc())
    ).scalars()
    return [(p, units) for p in projects if (units := get_entry_units(user, p))]


def get_staff_classes(user) -> list[Class_]:
    """The classes the user teaches or manages, newest first."""
    ids = staff_class_ids(user)
    if not ids:
        return []
    return list(db.session.execute(select(Class_).where(Class_.id.in_(ids)).order_by(Class_.id.desc())).scalars())


def get_trail(user, unit: OrgUnit) -> list[OrgUnit]:
    """The units from the highest one the user may see down to the unit's parent (for a breadcrumb)."""
    ids = [int(part) for part in unit.path.strip("/").split("/")[:-1] if part]
    if not ids:
        return []
    units = {u.id: u for u in db.session.execute(select(OrgUnit).where(OrgUnit.id.in_(ids))).scalars()}
    return [units[i] for i in ids if i in units and path_in_scope(user, units[i].path)]
