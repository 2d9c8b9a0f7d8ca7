"""Administration of org units, users, roles and the teacher import (all within the admin's subtree).

Objects outside the admin's scope answer 404; objects the admin sees but may not change answer 403.
"""
import base64

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _, ngettext
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.accounts import auth, importer, permissions as perms, service
from app.accounts.admin_forms import (
    ActionForm, ImportForm, OrgUnitEditForm, OrgUnitForm, RoleGrantForm, SetActiveForm, UserCreateForm, UserEditForm,
    as_choices, kind_labels, role_labels,
)
from app.accounts.models import OrgUnit, RoleAssignment, User
from app.common.bodies import body_limit
from app.common.db import write_transaction
from app.common.exceptions import DomainError
from app.common import permissions as scope
from app.common.numbers import query_int
from app.common.permissions import admin_required
from app.extensions import db

bp = Blueprint("accounts_admin", __name__, url_prefix="/admin")

PER_PAGE = 25


@bp.context_processor
def _inject():
    return {"kind_labels": kind_labels()}


# ---------------------------------------------------------------- helpers
def _me():
    return current_user._get_current_object()


def _units_in_scope(kinds: tuple[str, ...] | None = None) -> list[OrgUnit]:
    stmt = select(OrgUnit).where(scope.unit_scope_clause(OrgUnit.path, _me()))
    if kinds:
        stmt = stmt.where(OrgUnit.kind.in_(kinds))
    return tree_order(list(db.session.execute(stmt).scalars()))


def tree_order(units: list[OrgUnit]) -> list[OrgUnit]:
    """Sort units depth-first, siblings by name."""
    by_path = {u.path: u for u in units}
    def key(unit: OrgUnit):
        parts = [p for p in unit.path.strip("/").split("/") if p]
        names = []
        prefix = "/"
        for part in parts:
            prefix += part + "/"
            node = by_path.get(prefix)
            names.append((node.name if node else "", int(part)))
        return names
    return sorted(units, key=key)


def unit_choices(units: list[OrgUnit], blank: str | None = None) -> list[tuple]:
    base = min((u.depth for u in units), default=0)
    choices = [("", blank)] if blank is not None else []
    return choices + [(u.id, "\u00a0\u00a0" * (u.depth - base) + u.name + (f" ({u.code})" if u.code else "")) for u in units]


def _get_unit_or_404(unit_id: int) -> OrgUnit:
    unit = db.session.get(OrgUnit, unit_id)
    if unit is None or not perms.can_view_org_unit(_me(), unit):
        abort(404)
    return unit


def _get_user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not perms.can_view_user(_me(), user):
        abort(404)
    return user


def _field_error(form, exc: DomainError) -> None:
    field = getattr(form, exc.code, None)
    if field is not None and hasattr(field, "errors") and isinstance(field.errors, list):
        field.errors.append(exc.message)
    else:
        flash(exc.message, "danger")


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- dashboard
@bp.get("/")
@admin_required
def index():
    from app.classrooms.models import Class_
    from app.courses import permissions as course_perms
    from app.courses.models import Course, Project

    me = _me()
    counts = {
        "units": db.session.execute(select(func.count(OrgUnit.id)).where(scope.unit_scope_clause(OrgUnit.path, me))).scalar_one(),
        "users": db.session.execute(select(func.count(User.id)).where(perms.users_in_scope_clause(me))).scalar_one(),
        "projects": db.session.execute(
            select(func.count(Project.id)).join(OrgUnit, OrgUnit.id == Project.org_unit_id)
            .where(course_perms.visible_projects_clause(me))).scalar_one(),
        "courses": db.session.execute(
            select(func.count(Course.id)).join(OrgUnit, OrgUnit.id == Course.org_unit_id)
            .where(course_perms.visible_projects_clause(me))).scalar_one(),
        "classes": db.session.execute(
            select(func.count(Class_.id)).join(OrgUnit, OrgUnit.id == Class_.org_unit_id)
            .where(scope.unit_scope_clause(OrgUnit.path, me))).scalar_one(),
    }
    roots = [u for u in _units_in_scope() if u.path in scope.scope_paths(me)] if "/" not in scope.scope_paths(me) else []
    return render_template("admin/index.html", counts=counts, roots=roots, is_site_admin=me.is_site_admin)


# ---------------------------------------------------------------- org units
@bp.get("/org-units")
@admin_required
def org_units():
    units = _units_in_scope()
    base = min((u.depth for u in units), default=0)
    return render_template("admin/org_units.html", units=units, base_depth=base, can_add_root=perms.can_create_org_unit(_me(), None))


@bp.route("/org-units/new", methods=["GET", "POST"])
@admin_required
def org_unit_new():
    me = _me()
    form = OrgUnitForm()
    parents = [u for u in _units_in_scope() if u.kind != "learning_center"]
    form.parent_id.choices = as_choices(unit_choices(parents, _("(top level)") if perms.can_create_org_unit(me, None) else None))
    kinds = kind_labels()
    form.kind.choices = as_choices(kinds.items())
    if request.method == "GET":
        form.parent_id.data = query_int("parent")
    status = 200
    if form.validate_on_submit():
        parent = db.session.get(OrgUnit, form.parent_id.data) if form.parent_id.data else None
        if form.parent_id.data and parent is None:
            abort(404)
        if not perms.can_create_org_unit(me, parent):
            if parent is not None and not perms.can_view_org_unit(me, parent):
                abort(404)
            form.parent_id.errors.append(_("You cannot add a unit there."))
        else:
            try:
                with write_transaction():
                    unit = service.check_create_org_unit(parent, form.name.data, form.kind.data, form.code.data)
                flash(_("The org unit %(name)s was created.", name=unit.name), "success")
                return redirect(url_for(".org_units"))
            except DomainError as exc:
                _field_error(form, exc)
        status = 400
    elif request.method == "POST":
        status = 400
    return render_template("admin/org_unit_form.html", form=form, unit=None), status


@bp.route("/org-units/<int:unit_id>/edit", methods=["GET", "POST"])
@admin_required
def org_unit_edit(unit_id: int):
    me = _me()
    unit = _get_unit_or_404(unit_id)
    if not perms.can_edit_org_unit(me, unit):
        abort(403)
    form = OrgUnitEditForm(obj=unit if request.method == "GET" else None)
    can_move = perms.can_move_org_unit(me, unit)
    parents = [u for u in _units_in_scope() if u.kind != "learning_center" and not u.path.startswith(unit.path)]
    form.parent_id.choices = as_choices(unit_choices(parents, None)) if can_move else []
    if request.method == "GET":
        form.parent_id.data = unit.parent_id
    status = 200
    if form.validate_on_submit():
        new_parent = None
        if not can_move and form.parent_id.data and form.parent_id.data != unit.parent_id:
            flash(_("This unit is the top of your area; only an administrator above you can move it."), "danger")
            return render_template("admin/org_unit_form.html", form=form, unit=unit, can_move=can_move), 400
        if can_move and form.parent_id.data and form.parent_id.data != unit.parent_id:
            new_parent = db.session.get(OrgUnit, form.parent_id.data)
            if new_parent is None or not perms.can_move_org_unit(me, unit, new_parent):
                form.parent_id.errors.append(_("You can only move a unit under another unit of your area."))
                return render_template("admin/org_unit_form.html", form=form, unit=unit, can_move=can_move), 400
        try:
            with write_transaction():
                service.do_update_org_unit(unit, name=form.name.data, code=form.code.data)
                if new_parent is not None:
                    service.do_move_org_unit(unit, new_parent)
            flash(_("The org unit %(name)s was saved.", name=unit.name), "success")
            return redirect(url_for(".org_units"))
        except DomainError as exc:
            _field_error(form, exc)
        status = 400
    elif request.method == "POST":
        status = 400
    return render_template("admin/org_unit_form.html", form=form, unit=unit, can_move=can_move), status


# ---------------------------------------------------------------- users
def _user_filters():
    q = (request.args.get("q") or "").strip()[:64]
    unit_id = query_int("unit")
    status = request.args.get("status", "all")
    stmt = select(User).where(perms.users_in_scope_clause(_me()))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(User.username.ilike(pattern, escape="\\"), User.real_name.ilike(pattern, escape="\\"),
                              User.teacher_no.ilike(pattern, escape="\\"), User.phone.ilike(pattern, escape="\\")))
    unit = None
    if unit_id:
        unit = _get_unit_or_404(unit_id)
        stmt = stmt.where(User.school_id.in_(select(OrgUnit.id).where(OrgUnit.path.like(unit.path + "%"))))
    if status == "active":
        stmt = stmt.where(User.is_active_flag.is_(True))
    elif status == "inactive":
        stmt = stmt.where(User.is_active_flag.is_(False))
    return stmt.order_by(User.username), {"q": q, "unit": unit_id or "", "status": status}


@bp.get("/users")
@admin_required
def users():
    stmt, filters = _user_filters()
    page = db.paginate(stmt.options(selectinload(User.school), selectinload(User.roles)),
                       page=query_int("page", 1), per_page=PER_PAGE, error_out=False)
    return render_template("admin/users.html", page=page, filters=filters,
                           unit_choices=unit_choices(_units_in_scope(), _("All units")))


@bp.get("/users/export.<any(csv, xlsx):fmt>")
@admin_required
def users_export(fmt: str):
    if not perms.can_export_users(_me()):
        abort(403)
    stmt, _filters = _user_filters()
    users_ = db.session.execute(stmt.options(selectinload(User.school))).scalars().all()
    rows = importer.export_rows(users_)
    header = list(importer.EXPORT_COLUMNS)
    if fmt == "csv":
        body, mimetype = importer.csv_bytes(header, rows), "text/csv; charset=utf-8"
    else:
        body = importer.xlsx_bytes([("users", header, rows)])
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = make_response(body)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f"attachment; filename=users.{fmt}"
    return _no_store(response)


def _school_for(form, me):
    """The school chosen in a user form, checked against the admin's scope (None when left empty)."""
    if not form.school_id.data:
        if not me.is_site_admin:
            form.school_id.errors.append(_("Choose the school or org unit the user belongs to."))
            return False
        return None
    school = db.session.get(OrgUnit, form.school_id.data)
    if school is None or not scope.in_scope(me, school):
        form.school_id.errors.append(_("Choose a unit of the area you administer."))
        return False
    return school


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def user_new():
    me = _me()
    form = UserCreateForm()
    form.school_id.choices = as_choices(unit_choices(_units_in_scope(), _("—")))
    status = 200
    if form.validate_on_submit():
        school = _school_for(form, me)
        password = form.password.data or ""
        if password and (problem := auth.password_problem(password)) is not None:
            form.password.errors.append(problem)
        if school is not False and not form.password.errors:
            generated = not password
            password = password or service.generate_password(12)
            try:
                with write_transaction():
                    user = service.do_create_user(
                        form.username.data.strip(), password, real_name=form.real_name.data.strip(),
                        teacher_no=(form.teacher_no.data or "").strip() or None, phone=form.phone.data or None,
                        school=school, subject=(form.subject.data or "").strip() or None, stage=form.stage.data or None)
                    user.is_password_expired = True
                flash(_("The user %(name)s was created. They choose their own password at first sign-in.",
                        name=user.username), "success")
                if generated:
                    return _no_store(make_response(render_template("admin/password_shown.html", user=user,
                                                                   password=password, created=True)))
                return redirect(url_for(".user_edit", user_id=user.id))
            except DomainError as exc:
                _field_error(form, exc)
        status = 400
    elif request.method == "POST":
        status = 400
    return render_template("admin/user_new.html", form=form), status


def _render_user(user: User, form: UserEditForm, status: int = 200):
    from app.classrooms.models import Class_
    from app.courses.models import Enrollment, Project

    me = _me()
    grant = RoleGrantForm(formdata=None)
    grant.org_unit_id.choices = as_choices(unit_choices(_units_in_scope()))
    enrollments = db.session.execute(
        select(Project).join(Enrollment, Enrollment.project_id == Project.id).where(Enrollment.user_id == user.id)
        .order_by(Project.starts_on.desc())
    ).scalars().all()
    class_roles = db.session.execute(
        select(RoleAssignment.role, Class_).join(Class_, Class_.id == RoleAssignment.class_id)
        .where(RoleAssignment.user_id == user.id)
    ).all()
    return render_template("admin/user_edit.html", user=user, form=form, grant=grant, action=ActionForm(formdata=None),
                           can_edit=perms.can_edit_user(me, user), enrollments=enrollments,
                           class_roles=class_roles), status


def _user_page(user: User, status: int):
    """The user's page with its form filled from the database (after a refused action)."""
    form = UserEditForm(formdata=None, obj=user)
    form.school_id.choices = as_choices(unit_choices(_units_in_scope(), _("—")))
    form.is_active.data = user.is_active
    form.stage.data = user.stage or ""
    return _render_user(user, form, status)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def user_edit(user_id: int):
    me = _me()
    user = _get_user_or_404(user_id)
    if request.method == "POST" and not perms.can_edit_user(me, user):
        abort(403)
    form = UserEditForm(obj=user if request.method == "GET" else None)
    form.school_id.choices = as_choices(unit_choices(_units_in_scope(), _("—")))
    if request.method == "GET":
        return _user_page(user, 200)
    if form.validate_on_submit():
        school = _school_for(form, me)
        wants_active = bool(form.is_active.data)
        if wants_active != user.is_active and not perms.can_set_user_active(me, user):
            form.is_active.errors.append(_("You cannot deactivate your own account."))
        if school is not False and not form.is_active.errors:
            try:
                with write_transaction():
                    service.do_update_user(user, real_name=form.real_name.data, teacher_no=form.teacher_no.data,
                                           phone=form.phone.data, school=school, subject=form.subject.data,
                                           stage=form.stage.data or None)
                    if wants_active != user.is_active:
                        service.do_set_user_active(user, wants_active)
                flash(_("The user %(name)s was saved.", name=user.username), "success")
                return redirect(url_for(".user_edit", user_id=user.id))
            except DomainError as exc:
                _field_error(form, exc)
    return _render_user(user, form, 400)


@bp.post("/users/<int:user_id>/active")
@admin_required
def user_set_active(user_id: int):
    me = _me()
    user = _get_user_or_404(user_id)
    if not perms.can_set_user_active(me, user):
        abort(403)
    form = SetActiveForm()
    if not form.validate_on_submit() or form.active.data not in ("0", "1"):
        flash(_("Nothing changed: the request was incomplete."), "danger")
        return _user_page(user, 400)
    active = form.active.data == "1"
    with write_transaction():
        service.do_set_user_active(user, active)
    if active:
        flash(_("%(name)s can sign in again.", name=user.username), "success")
    else:
        flash(_("%(name)s was deactivated and signed out everywhere.", name=user.username), "success")
    return redirect(url_for(".user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/reset-password")
@admin_required
def user_reset_password(user_id: int):
    me = _me()
    user = _get_user_or_404(user_id)
    if not perms.can_reset_password(me, user):
        abort(403)
    if not ActionForm().validate_on_submit():
        abort(400)
    with write_transaction():
        password = service.do_admin_reset_password(user)
    return _no_store(make_response(render_template("admin/password_shown.html", user=user, password=password,
                                                   created=False)))


@bp.post("/users/<int:user_id>/roles")
@admin_required
def user_grant_role(user_id: int):
    me = _me()
    user = _get_user_or_404(user_id)
    if not perms.can_grant_role(me, user):
        abort(403)
    form = RoleGrantForm()
    form.org_unit_id.choices = as_choices(unit_choices(_units_in_scope()))
    unit = db.session.get(OrgUnit, form.org_unit_id.data) if form.org_unit_id.data else None
    if not form.validate_on_submit() or unit is None:
        flash(_("Choose a role and an org unit."), "danger")
        return _user_page(user, 400)
    if not perms.can_grant_role(me, user, unit):
        flash(_("You can only grant roles on units of your area."), "danger")
        return _user_page(user, 403)
    try:
        with write_transaction():
            service.check_grant_org_role(user, form.role.data, unit)
    except DomainError as exc:
        flash(exc.message, "danger")
        return _user_page(user, exc.status)
    flash(_("%(name)s is now %(role)s of %(unit)s.", name=user.username,
            role=role_labels()[form.role.data], unit=unit.name), "success")
    return redirect(url_for(".user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/roles/<int:role_id>/revoke")
@admin_required
def user_revoke_role(user_id: int, role_id: int):
    me = _me()
    user = _get_user_or_404(user_id)
    assignment = db.session.get(RoleAssignment, role_id)
    if assignment is None or assignment.user_id != user.id:
        abort(404)
    if not perms.can_revoke_role(me, assignment):
        abort(403)
    if not ActionForm().validate_on_submit():
        abort(400)
    with write_transaction():
        service.do_revoke_role(assignment)
    flash(_("The role was removed from %(name)s.", name=user.username), "success")
    return redirect(url_for(".user_edit", user_id=user.id))


# ---------------------------------------------------------------- import
def _import_choices(form: ImportForm):
    from app.classrooms.models import Class_
    from app.courses import permissions as course_perms
    from app.courses.models import Project

    me = _me()
    projects = db.session.execute(
        select(Project).join(OrgUnit, OrgUnit.id == Project.org_unit_id)
        .where(course_perms.visible_projects_clause(me)).order_by(Project.starts_on.desc(), Project.title)
    ).scalars().all()
    form.project_id.choices = as_choices([("", _("— none —"))] + [(p.id, p.title) for p in projects])
    classes = db.session.execute(
        select(Class_).join(OrgUnit, OrgUnit.id == Class_.org_unit_id)
        .where(scope.unit_scope_clause(OrgUnit.path, me), Class_.project_id.in_([p.id for p in projects]))
        .order_by(Class_.project_id, Class_.name)
    ).scalars().all()
    titles = {p.id: p.title for p in projects}
    form.class_id.choices = as_choices([("", _("— none —"))] + [(c.id, f"{titles[c.project_id]} · {c.name}") for c in classes])


@bp.route("/import", methods=["GET", "POST"])
@admin_required
@body_limit("MAX_IMPORT_BYTES", extra_bytes=64 * 1024)  # the file and the form around it
def import_users():
    from app.classrooms import permissions as class_perms
    from app.classrooms.models import Class_
    from app.courses import permissions as course_perms
    from app.courses.models import Project

    me = _me()
    if not perms.can_import_users(me):
        abort(403)
    form = ImportForm()
    _import_choices(form)
    if request.method == "GET":
        return render_template("admin/import.html", form=form, report=None, labels=importer.column_labels())
    if not form.validate_on_submit():
        return render_template("admin/import.html", form=form, report=None, labels=importer.column_labels()), 400

    def refuse(message: str, status: int = 400, errors=None, table=None):
        flash(message, "danger")
        return render_template("admin/import.html", form=form, report=errors, table=table,
                               labels=importer.column_labels()), status

    project = cls = None
    if form.class_id.data:
        cls = db.session.get(Class_, form.class_id.data)
        if cls is None or not class_perms.can_manage_roster(me, cls):
            return refuse(_("Choose a class of your area."))
        project = cls.project
        if form.project_id.data and form.project_id.data != cls.project_id:
            return refuse(_("The class belongs to another training project than the one chosen."))
    if form.project_id.data and project is None:
        project = db.session.get(Project, form.project_id.data)
        if project is None or not course_perms.can_manage_enrollments(me, project):
            return refuse(_("Choose a training project of your area."))

    config = current_app.config
    max_bytes = config["MAX_IMPORT_BYTES"]
    upload = form.file.data
    data = upload.stream.read(max_bytes + 1)
    try:
        table = importer.read_table(upload.filename or "", data, max_bytes=max_bytes,
                                    max_unpacked=config["MAX_IMPORT_UNPACKED_BYTES"],
                                    max_rows=config.get("MAX_IMPORT_ROWS", importer.MAX_ROWS))
    except importer.ImportRefused as exc:
        return refuse(_("Nothing was imported: %(reason)s", reason=exc.message), 413 if len(data) > max_bytes else 400)
    rows, errors = importer.check_rows(table, me, project=project, cls=cls)
    if errors:
        return refuse(ngettext("Nothing was imported: %(num)d problem was found. Correct the file and upload it again.",
                               "Nothing was imported: %(num)d problems were found. Correct the file and upload it again.",
                               len(errors)), errors=errors, table=table)
    hashes = importer.prepare_passwords(rows)
    try:
        with write_transaction():
            importer.do_import(rows, hashes, project=project, cls=cls)
    except IntegrityError:
        db.session.rollback()
        return refuse(_("Nothing was imported: some of these teachers were registered meanwhile. "
                        "Upload the file again to see which."), 409)
    generated = [(r.username, r.real_name, r.password) for r in rows if r.is_generated]
    csv_data = importer.csv_bytes(["username", "real_name", "password"], generated) if generated else b""
    flash(ngettext("%(num)d teacher was imported.", "%(num)d teachers were imported.", len(rows)), "success")
    if project is not None:
        flash(_("They are enrolled in %(title)s.", title=project.title), "success")
    if cls is not None:
        flash(_("They are learners of the class %(name)s.", name=cls.name), "success")
    return _no_store(make_response(render_template(
        "admin/import_done.html", count=len(rows), generated=generated, ignored=table.ignored_headers,
        csv_href="data:text/csv;charset=utf-8;base64," + base64.b64encode(csv_data).decode() if generated else None,
    )))


@bp.get("/import/template.<any(csv, xlsx):fmt>")
@admin_required
def import_template(fmt: str):
    lang = request.args.get("lang") or str(get_locale() or "")
    chinese = lang.startswith("zh")
    header = importer.template_headers(chinese)
    if fmt == "csv":
        body, mimetype = importer.csv_bytes(header, []), "text/csv; charset=utf-8"
    else:
        body = importer.xlsx_bytes([
            (_("Teachers"), header, []),
            (_("Help"), ["column", "列", _("Column"), _("Required field"), _("Notes")], importer.template_help_rows()),
        ])
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = make_response(body)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f"attachment; filename=teachers-template.{fmt}"
    return response
