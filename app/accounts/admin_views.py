"""Administration of org units, users and roles, and the teacher import template (all within the admin's subtree).

Objects outside the admin's scope answer 404; objects the admin sees but may not change answer 403.
"""
from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.accounts import auth, importer, permissions as perms, service
from app.accounts.admin_forms import (
    ActionForm, OrgUnitEditForm, OrgUnitForm, RoleGrantForm, SetActiveForm, UserCreateForm, UserEditForm,
    as_choices, kind_labels, role_labels,
)
from app.accounts.models import OrgUnit, RoleAssignment, User
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


def units_in_scope(admin: User, kinds: tuple[str, ...] | None = None) -> list[OrgUnit]:
    """Return the org units in the admin's scope (of the given kinds), in tree order."""
    stmt = select(OrgUnit).where(scope.unit_scope_clause(OrgUnit.path, admin))
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


def _user_for(user_id: int, may) -> User:
    """The user: 404 if I may not see them, 403 if `may(me, user)` says no."""
    user = _get_user_or_404(user_id)
    if not may(_me(), user):
        abort(403)
    return user


def _field_error(form, exc: DomainError) -> None:
    field = getattr(form, exc.code, None)
    if field is not None and hasattr(field, "errors") and isinstance(field.errors, list):
        field.errors.append(exc.message)
    else:
        flash(exc.message, "danger")


def no_store(response):
    """Keep the answer out of every cache (it shows passwords or personal data)."""
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- org units
@bp.get("/org-units")
@admin_required
def org_units():
    units = units_in_scope(_me())
    base = min((u.depth for u in units), default=0)
    return render_template("admin/org_units.html", units=units, base_depth=base, can_add_root=perms.can_create_org_unit(_me(), None))


@bp.route("/org-units/new", methods=["GET", "POST"])
@admin_required
def org_unit_new():
    me = _me()
    form = OrgUnitForm()
    parents = [u for u in units_in_scope(_me()) if u.kind != "learning_center"]
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
    parents = [u for u in units_in_scope(_me()) if u.kind != "learning_center" and not u.path.startswith(unit.path)]
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
    return stmt.order_by(User.username_key, User.id), {"q": q, "unit": unit_id or "", "status": status}


@bp.get("/users")
@admin_required
def users():
    stmt, filters = _user_filters()
    page = db.paginate(stmt.options(selectinload(User.school), selectinload(User.roles)),
                       page=query_int("page", 1), per_page=PER_PAGE, error_out=False)
    return render_template("admin/users.html", page=page, filters=filters,
                           unit_choices=unit_choices(units_in_scope(_me()), _("All units")))


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
    return no_store(response)


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
    form.school_id.choices = as_choices(unit_choices(units_in_scope(_me()), _("—")))
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
                    user.password_change_reason = "new"
                flash(_("The user %(name)s was created. They choose their own password at first sign-in.",
                        name=user.username), "success")
                if generated:
                    return no_store(make_response(render_template("admin/password_shown.html", user=user,
                                                                   password=password, created=True)))
                return redirect(url_for(".user_edit", user_id=user.id))
            except DomainError as exc:
                _field_error(form, exc)
        status = 400
    elif request.method == "POST":
        status = 400
    return render_template("admin/user_new.html", form=form), status


def _render_user(user: User, form: UserEditForm, status: int = 200):
    """The user's page; the features above accounts add the user's projects and classes through template helpers."""
    me = _me()
    grant = RoleGrantForm(formdata=None)
    grant.org_unit_id.choices = as_choices(unit_choices(units_in_scope(me)))
    return render_template("admin/user_edit.html", user=user, form=form, grant=grant, action=ActionForm(formdata=None),
                           can_edit=perms.can_edit_user(me, user)), status


def _user_page(user: User, status: int):
    """The user's page with its form filled from the database (after a refused action)."""
    form = UserEditForm(formdata=None, obj=user)
    form.school_id.choices = as_choices(unit_choices(units_in_scope(_me()), _("—")))
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
    form.school_id.choices = as_choices(unit_choices(units_in_scope(_me()), _("—")))
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
    user = _user_for(user_id, perms.can_set_user_active)
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
    user = _user_for(user_id, perms.can_reset_password)
    if not ActionForm().validate_on_submit():
        abort(400)
    with write_transaction():
        password = service.do_admin_reset_password(user)
    return no_store(make_response(render_template("admin/password_shown.html", user=user, password=password,
                                                   created=False)))


@bp.post("/users/<int:user_id>/roles")
@admin_required
def user_grant_role(user_id: int):
    me = _me()
    user = _user_for(user_id, perms.can_grant_role)
    form = RoleGrantForm()
    form.org_unit_id.choices = as_choices(unit_choices(units_in_scope(_me())))
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
