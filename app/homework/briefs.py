"""Class briefs (学习简报): the class's live figures, the tutor's text, drafts and publishing."""
import json

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.accounts.models import OrgUnit, User
from app.classrooms import rules as class_rules, service as classes
from app.classrooms.models import Class_
from app.common import clock
from app.common.exceptions import Invalid
from app.common.permissions import unit_scope_clause
from app.extensions import db
from app.homework import service
from app.homework.models import ClassBrief

TOP_LEARNERS = 5
BODY_MAX = 50_000


def get_class_stats(cls: Class_) -> dict:
    """The class's figures now: learners, started, mean and required hours, who completed, top learners, homework."""
    project = cls.project
    credits = classes.get_class_credits([cls])[cls.id]
    required = classes.required_ms(project)
    share = class_rules.elapsed_share(project.starts_on, project.ends_on, classes.project_today(project, clock.now()))
    figures = class_rules.class_figures(credits, required, share)
    people = {u.id: u for u in db.session.execute(select(User).where(User.id.in_(list(credits)))).scalars()} if credits else {}
    ranked = sorted(credits.items(), key=lambda item: (-item[1], people[item[0]].display_name))
    completed = [uid for uid, ms in ranked if required and ms >= required]
    homework = []
    for assignment in service.get_assignments_for_class(project, cls.id):
        rows = service.get_class_latest(assignment, cls.id)
        homework.append({"title": assignment.title, "handed_in": len(rows),
                         "graded": sum(1 for r in rows if r.state == "graded"),
                         "excellent": [r.user.display_name for r in rows if r.is_excellent]})
    return {
        "learners": figures.learners, "started": figures.started,
        "mean_hours": classes.learning_hours(figures.mean_ms, project),
        "required_hours": project.required_hours,
        "completed": len(completed), "completed_names": [people[u].display_name for u in completed][:50],
        "top": [{"name": people[u].display_name, "hours": classes.learning_hours(ms, project)}
                for u, ms in ranked[:TOP_LEARNERS] if ms > 0],
        "homework": homework,
    }


def stats_markdown(stats: dict) -> str:
    """The figures as a Markdown starting text the tutor edits."""
    lines = [_("## This week in our class"), "",
             _("- %(n)d learners, %(s)d have started; mean %(h).1f of %(r).1f learning hours.", n=stats["learners"],
               s=stats["started"], h=stats["mean_hours"], r=stats["required_hours"]),
             _("- %(n)d have completed the required hours.", n=stats["completed"])]
    if stats["top"]:
        lines += ["", _("**Most hours:** %(names)s", names="、".join(f"{t['name']}（{t['hours']}）" for t in stats["top"]))]
    for item in stats["homework"]:
        lines.append(_("- Homework “%(title)s”: %(n)d handed in, %(g)d graded.", title=item["title"], n=item["handed_in"],
                       g=item["graded"]))
        if item["excellent"]:
            lines.append(_("  Excellent work: %(names)s", names="、".join(item["excellent"])))
    return "\n".join(lines) + "\n"


def stats_of(brief: ClassBrief) -> dict:
    try:
        value = json.loads(brief.stats_json or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _clean(title: str | None, body: str | None) -> tuple[str, str]:
    title = (title or "").strip()
    if not title:
        raise Invalid(_("Give the brief a title."), code="title")
    return title[:120], (body or "")[:BODY_MAX]


def do_save_brief(cls: Class_, author: User, brief: ClassBrief | None, *, title: str, body: str,
                  publish: bool) -> ClassBrief:
    """Create or update a brief with the class's figures of now; publish it when asked."""
    title, body = _clean(title, body)
    now = clock.now()
    if brief is None:
        brief = ClassBrief(class_id=cls.id, project_id=cls.project_id, author_id=author.id, created_at=now)
        db.session.add(brief)
    brief.title, brief.body, brief.updated_at = title, body, now
    brief.stats_json = json.dumps(get_class_stats(cls), ensure_ascii=False)
    if publish and brief.published_at is None:
        brief.published_at = now
    db.session.flush()
    return brief


def get_brief(brief_id: int) -> ClassBrief | None:
    return db.session.get(ClassBrief, brief_id)


def get_class_briefs(cls: Class_, with_drafts: bool) -> list[ClassBrief]:
    stmt = select(ClassBrief).where(ClassBrief.class_id == cls.id)
    if not with_drafts:
        stmt = stmt.where(ClassBrief.published_at.is_not(None))
    return list(db.session.execute(stmt.options(selectinload(ClassBrief.author))
                                   .order_by(ClassBrief.updated_at.desc())).scalars())


def get_subtree_briefs(user, project_id: int) -> list[ClassBrief]:
    """The published briefs of the project's classes in the admin's subtree, newest first."""
    return list(db.session.execute(
        select(ClassBrief).join(Class_, Class_.id == ClassBrief.class_id).join(OrgUnit, OrgUnit.id == Class_.org_unit_id)
        .where(ClassBrief.project_id == project_id, ClassBrief.published_at.is_not(None),
               unit_scope_clause(OrgUnit.path, user))
        .options(selectinload(ClassBrief.class_), selectinload(ClassBrief.author))
        .order_by(ClassBrief.published_at.desc()).limit(500)
    ).scalars())


