"""The admin dashboard and the teacher import: accounts creates the users, courses enrols them, classrooms seats them.

These pages sit above the features they combine, so that accounts never imports courses or classrooms.
"""
import base64

from flask import Blueprint, abort, current_app, flash, make_response, render_template, request
from flask_babel import gettext as _, ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.accounts import importer, permissions as account_perms, service as account_service
from app.accounts.admin_forms import as_choices
from app.accounts.admin_views import no_store, units_in_scope
from app.accounts.models import OrgUnit
from app.admin import service
from app.admin.forms import ImportForm
from app.classrooms import permissions as class_perms, service as class_service
from app.classrooms.models import Class_
from app.common import permissions as scope
from app.common.bodies import body_limit
from app.common.db import write_transaction
from app.common.exceptions import DomainError
from app.common.permissions import admin_required
from app.courses import permissions as course_perms, service as course_service
from app.courses.models import Project
from app.extensions import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _me():
    return current_user._get_current_object()


# ---------------------------------------------------------------- dashboard: the home of org and site admins
@bp.get("/")
@admin_required
def index():
    me = _me()
    counts = {**account_service.get_admin_counts(me), **course_service.get_admin_counts(me),
              **class_service.get_admin_counts(me)}
    paths = scope.scope_paths(me)
    roots = [u for u in units_in_scope(me) if u.path in paths] if "/" not in paths else []
    figures = service.get_project_figures(me, service.get_home_projects(me))
    return render_template("admin/index.html", counts=counts, roots=roots, is_site_admin=me.is_site_admin,
                           figures=figures)


# ---------------------------------------------------------------- import
def _import_choices(form: ImportForm) -> None:
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
    me = _me()
    if not account_perms.can_import_users(me):
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
    rows, errors = importer.check_rows(table, me, area=project.org_unit if project is not None else None)
    if cls is not None and len(table.rows) > (room := class_service.get_free_seats(cls)):
        errors.insert(0, importer.RowError(0, "", _("The class %(name)s has room for %(room)d more learners; the file has %(n)d.",
                                                    name=cls.name, room=room, n=len(table.rows))))
    if errors:
        return refuse(ngettext("Nothing was imported: %(num)d problem was found. Correct the file and upload it again.",
                               "Nothing was imported: %(num)d problems were found. Correct the file and upload it again.",
                               len(errors)), errors=errors, table=table)
    hashes = importer.prepare_passwords(rows)
    try:
        with write_transaction():
            users = importer.do_import(rows, hashes)
            if project is not None:
                course_service.do_enroll_all(users, project, source="import")
            if cls is not None:
                class_service.check_add_learners(cls, users)
    except IntegrityError:
        db.session.rollback()
        return refuse(_("Nothing was imported: some of these teachers were registered meanwhile. "
                        "Upload the file again to see which."), 409)
    except DomainError as exc:  # the class filled up meanwhile
        return refuse(_("Nothing was imported: %(reason)s", reason=exc.message), exc.status)
    generated = [(r.username, r.real_name, r.password) for r in rows if r.is_generated]
    csv_data = importer.csv_bytes(["username", "real_name", "password"], generated) if generated else b""
    flash(ngettext("%(num)d teacher was imported.", "%(num)d teachers were imported.", len(rows)), "success")
    if project is not None:
        flash(_("They are enrolled in %(title)s.", title=project.title), "success")
    if cls is not None:
        flash(_("They are learners of the class %(name)s.", name=cls.name), "success")
    return no_store(make_response(render_template(
        "admin/import_done.html", count=len(rows), generated=generated, ignored=table.ignored_headers,
        csv_href="data:text/csv;charset=utf-8;base64," + base64.b64encode(csv_data).decode() if generated else None,
    )))
