"""Classes: administration (create, edit, roster, staff) and the roster pages of a class's own staff.

Admin pages live under /admin; the roster at /classes/<id> is shared by the class's admins and its
tutor and class manager. A class outside the viewer's reach answers 404.
"""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, ngettext
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from app.accounts import permissions as account_perms
from app.accounts.admin_forms import ActionForm, as_choices, kind_labels
from app.accounts.admin_views import tree_order, unit_choices
from app.accounts.models import OrgUnit, RoleAssignment, User
from app.classrooms import permissions as perms, service
from app.classrooms.forms import AddLearnersForm, ClassForm, StaffForm
from app.classrooms.models import Class_
from app.common import clock, permissions as scope
from app.common.db import write_transaction
from app.common.exceptions import DomainError
from app.common.numbers import parse_ids
from app.common.permissions import admin_required
from app.courses import permissions as course_perms
from app.courses.models import Enrollment, Project
from app.extensions import db

bp = Blueprint("classrooms", __name__)

MAX_NAMES = 200


@bp.context_processor
def _inject():
    return {"kind_labels": kind_labels()}


def _me():
    return current_user._get_current_object()


def _project_or_404(project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    if project is None or not course_perms.can_view_project(_me(), project):
        abort(404)
    return project


def _class_or_404(class_id: int) -> Class_:
    cls = db.session.get(Class_, class_id)
    if cls is None or not perms.can_view_class(_me(), cls):
        abort(404)
    return cls


def _managed_class(class_id: int) -> Class_:
    """A class the admin runs: 404 when out of reach, 403 for its staff (who only read the roster)."""
    cls = _class_or_404(class_id)
    if not perms.can_manage_roster(_me(), cls):
        abort(403)
    return cls


def _class_units(project: Project) -> list[OrgUnit]:
    return tree_order(list(db.session.execute(
        select(OrgUnit).where(scope.unit_scope_clause(OrgUnit.path, _me()),
                              OrgUnit.path.like(project.org_unit.path + "%"))
    ).scalars()))


def _learning_centers(project: Project) -> list[OrgUnit]:
    me = _me()
    centers = db.session.execute(
        select(OrgUnit).where(OrgUnit.kind == "learning_center", OrgUnit.path.like(project.org_unit.path + "%"))
    ).scalars().all()
    return tree_order([c for c in centers if scope.in_scope(me, c) or scope.covers_scope(me, c.parent)])


def _fill_class_form(form: ClassForm, project: Project) -> None:
    form.org_unit_id.choices = as_choices(unit_choices(_class_units(project)))
    form.learning_center_id.choices = as_choices([("", _("— none —"))] + [(c.id, c.name) for c in _learning_centers(project)])


def _class_fields(form: ClassForm, project: Project) -> dict | None:
    """The class columns from the form, with the units checked; None when a choice is refused."""
    me = _me()
    unit = db.session.get(OrgUnit, form.org_unit_id.data) if form.org_unit_id.data else None
    if unit is None or not perms.can_create_class(me, project, unit):
        form.org_unit_id.errors.append(_("Choose a unit of your area inside the project's area."))
        return None
    center = None
    if form.learning_center_id.data:
        center = db.session.get(OrgUnit, form.learning_center_id.data)
        if center is None or center.id not in {c.id for c in _learning_centers(project)}:
            form.learning_center_id.errors.append(_("Choose a learning center of the project's area."))
            return None
    return {"name": form.name.data.strip(), "org_unit_id": unit.id, "learning_center_id": center.id if center else None,
            "subject": (form.subject.data or "").strip() or None, "stage": form.stage.data or None,
            "is_workshop": bool(form.is_workshop.data)}


# ---------------------------------------------------------------- administration
@bp.get("/admin/projects/<int:project_id>/classes")
@admin_required
def classes(project_id: int):
    me = _me()
    project = _project_or_404(project_id)
    if not perms.can_list_classes(me, project):
        abort(403)
    rows = db.session.execute(
        select(Class_).join(OrgUnit, OrgUnit.id == Class_.org_unit_id)
        .where(Class_.project_id == project.id, perms.classes_in_scope_clause(me))
        .options(selectinload(Class_.org_unit), selectinload(Class_.learning_center))
        .order_by(OrgUnit.path, Class_.name)
    ).scalars().all()
    counts = dict(db.session.execute(
        select(RoleAssignment.class_id, func.count(RoleAssignment.id))
        .where(RoleAssignment.class_id.in_([c.id for c in rows]), RoleAssignment.role == "learner")
        .group_by(RoleAssignment.class_id)
    ).all()) if rows else {}
    staff = {c.id: service.get_class_staff(c) for c in rows}
    return render_template("classrooms/classes.html", project=project, classes=rows, counts=counts, staff=staff)


@bp.route("/admin/projects/<int:project_id>/classes/new", methods=["GET", "POST"])
@admin_required
def class_new(project_id: int):
    project = _project_or_404(project_id)
    if not perms.can_create_class(_me(), project):
        abort(403)
    form = ClassForm()
    _fill_class_form(form, project)
    status = 200
    if form.validate_on_submit():
        fields = _class_fields(form, project)
        if fields is not None:
            with write_transaction():
                cls = service.do_create_class(
                    project, fields["name"], db.session.get(OrgUnit, fields["org_unit_id"]),
                    learning_center=db.session.get(OrgUnit, fields["learning_center_id"]) if fields["learning_center_id"] else None,
                    subject=fields["subject"], stage=fields["stage"], is_workshop=fields["is_workshop"])
            flash(_("The class %(name)s was created. Add its learners and staff now.", name=cls.name), "success")
            return redirect(url_for(".roster", class_id=cls.id))
        status = 400
    elif request.method == "POST":
        status = 400
    return render_template("classrooms/class_form.html", form=form, project=project, cls=None), status


@bp.route("/admin/classes/<int:class_id>/edit", methods=["GET", "POST"])
@admin_required
def class_edit(class_id: int):
    cls = _class_or_404(class_id)
    if not perms.can_edit_class(_me(), cls):
        abort(403)
    project = cls.project
    form = ClassForm(obj=cls if request.method == "GET" else None)
    _fill_class_form(form, project)
    if request.method == "GET":
        form.stage.data = cls.stage or ""
        return render_template("classrooms/class_form.html", form=form, project=project, cls=cls)
    if form.validate_on_submit():
        fields = _class_fields(form, project)
        if fields is not None:
            with write_transaction():
                service.do_update_class(cls, **fields)
            flash(_("The class %(name)s was saved.", name=cls.name), "success")
            return redirect(url_for(".roster", class_id=cls.id))
    return render_template("classrooms/class_form.html", form=form, project=project, cls=cls), 400


def _resolve_names(text: str) -> tuple[list[User], list[str]]:
    """Find users of the admin's area by username or teacher number, one a line; return (found, unknown names)."""
    names = [n.strip() for n in (text or "").replace(",", "\n").replace("，", "\n").splitlines() if n.strip()]
    found: dict[int, User] = {}
    unknown = []
    for name in names[:MAX_NAMES]:
        user = db.session.execute(
            select(User).where(or_(func.lower(User.username) == name.lower(), User.teacher_no == name))
        ).scalars().first()
        if user is None or not account_perms.can_view_user(_me(), user):
            unknown.append(name)
        else:
            found[user.id] = user
    return list(found.values()), unknown


@bp.post("/admin/classes/<int:class_id>/learners")
@admin_required
def add_learners(class_id: int):
    me = _me()
    cls = _managed_class(class_id)
    back = redirect(url_for(".roster", class_id=cls.id))

    def refused(status: int):
        return _roster_page(cls, status)

    form = AddLearnersForm()
    if not form.validate_on_submit():
        flash(_("Nothing changed: the request was incomplete."), "danger")
        return refused(400)
    ids = parse_ids(request.form.getlist("user_ids")[:MAX_NAMES])
    if ids is None:
        flash(_("Nothing changed: the request was incomplete."), "danger")
        return refused(400)
    users = db.session.execute(select(User).where(User.id.in_(ids))).scalars().all() if ids else []
    by_name, unknown = _resolve_names(form.names.data)
    if any(not account_perms.can_view_user(me, u) for u in users):  # never name users the admin may not see
        flash(_("Nothing changed: some of the chosen users are outside your area."), "danger")
        return refused(400)
    users = list({u.id: u for u in [*users, *by_name]}.values())
    if unknown:
        flash(_("Nothing changed: nobody of your area is called %(names)s.", names=", ".join(unknown)), "danger")
        return refused(400)
    if not users:
        flash(_("Tick learners or type their usernames to add them."), "warning")
        return refused(400)
    try:
        with write_transaction():
            added = service.check_add_learners(cls, users)
    except DomainError as exc:
        flash(exc.message, "danger")
        return refused(exc.status)
    flash(ngettext("%(num)d learner was added to %(name)s.", "%(num)d learners were added to %(name)s.", added,
                   name=cls.name), "success")
    return back


@bp.post("/admin/classes/<int:class_id>/learners/<int:user_id>/remove")
@admin_required
def remove_learner(class_id: int, user_id: int):
    cls = _managed_class(class_id)
    user = db.session.get(User, user_id)
    if user is None or not account_perms.can_view_user(_me(), user):
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    with write_transaction():
        removed = service.do_remove_learner(cls, user)
    if removed:
        flash(_("%(name)s left the class %(cls)s (still enrolled in the project).", name=user.username, cls=cls.name), "success")
    else:
        flash(_("%(name)s was not a learner of this class.", name=user.username), "warning")
    return redirect(url_for(".roster", class_id=cls.id))


@bp.post("/admin/classes/<int:class_id>/staff")
@admin_required
def set_staff(class_id: int):
    me = _me()
    cls = _managed_class(class_id)
    back = redirect(url_for(".roster", class_id=cls.id))

    def refused(status: int):
        return _roster_page(cls, status)

    form = StaffForm()
    if not form.validate_on_submit():
        flash(_("Nothing changed: the request was incomplete."), "danger")
        return refused(400)
    user = None
    name = (form.username.data or "").strip()
    if name:
        user = db.session.execute(select(User).where(func.lower(User.username) == name.lower())).scalar_one_or_none()
        if user is None or not account_perms.can_view_user(me, user):
            flash(_("No user %(name)s in your area.", name=name), "danger")
            return refused(400)
    try:
        with write_transaction():
            service.do_set_staff(cls, form.role.data, user)
    except DomainError as exc:
        flash(exc.message, "danger")
        return refused(exc.status)
    role = _role_names(cls)[form.role.data]
    if user is None:
        flash(_("The class %(cls)s has no %(role)s now.", cls=cls.name, role=role), "success")
    else:
        flash(_("%(name)s is now the %(role)s of %(cls)s.", name=user.display_name, role=role, cls=cls.name), "success")
    return back


def _role_names(cls: Class_) -> dict[str, str]:
    return {"tutor": _("tutor"), "class_manager": _("workshop leader") if cls.is_workshop else _("class manager")}


# ---------------------------------------------------------------- rosters (admins and the class's staff)
@bp.get("/classes/<int:class_id>")
@login_required
def roster(class_id: int):
    return _roster_page(_class_or_404(class_id))


def _roster_page(cls: Class_, status: int = 200):
    me = _me()
    learners = [u for u, _role in service.get_class_members(cls, "learner")]
    can_manage = perms.can_manage_roster(me, cls)
    candidates = []
    cq = (request.args.get("cq") or "").strip()[:64]
    if can_manage:
        seated = select(RoleAssignment.user_id).join(Class_, Class_.id == RoleAssignment.class_id).where(
            Class_.project_id == cls.project_id, RoleAssignment.role == "learner")
        stmt = (select(User).join(Enrollment, Enrollment.user_id == User.id)
                .where(Enrollment.project_id == cls.project_id, account_perms.users_in_scope_clause(me),
                       User.id.not_in(seated)))
        if cq:
            pattern = "%" + cq.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(or_(User.username.ilike(pattern, escape="\\"), User.real_name.ilike(pattern, escape="\\"),
                                  User.teacher_no.ilike(pattern, escape="\\")))
        candidates = db.session.execute(stmt.options(selectinload(User.school)).order_by(User.username_key).limit(50)).scalars().all()
    return render_template("classrooms/roster.html", cls=cls, learners=learners, staff=service.get_class_staff(cls),
                           role_names=_role_names(cls), can_manage=can_manage, candidates=candidates, cq=cq,
                           add_form=AddLearnersForm(formdata=None), staff_form=StaffForm(formdata=None),
                           action=ActionForm(formdata=None), can_run=perms.can_run_group_session(me, cls),
                           lessons=service.get_class_lessons(cls) if perms.can_run_group_session(me, cls) else []), status


@bp.get("/classes")
@login_required
def my_classes():
    """The home of a tutor or class manager: their classes with figures at a glance, who lags, what waits."""
    homes = service.get_class_homes(_me(), clock.now())
    return render_template("classrooms/mine.html", homes=homes, hours=service.learning_hours,
                           role_names={h["cls"].id: _role_names(h["cls"]) for h in homes})
