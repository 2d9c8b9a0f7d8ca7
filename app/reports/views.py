"""Report pages: dashboards of a unit's subtree or a class in a project, the learners behind a figure, exports.

Thin: find the scope (404 when out of reach), check the permission, call the
service, render. An export of up to REPORTS_ASYNC_ROWS learners is written
at once and streamed back; a bigger one becomes a background job whose page
shows its progress and, when done, the download.
"""
import tempfile

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.accounts.models import OrgUnit
from app.classrooms.models import Class_
from app.common.numbers import query_int
from app.courses.models import Project
from app.extensions import db
from app.reports import exports, rules, service
from app.reports import permissions as perms
from app.reports.service import Scope

bp = Blueprint("reports", __name__, url_prefix="/reports")


def _me():
    return current_user._get_current_object()


@bp.before_request
@login_required
def _only_staff():
    if not perms.can_view_reports(_me()):
        abort(403)


def _unit_scope(project_id: int, unit_id: int) -> Scope:
    project, unit = db.session.get(Project, project_id), db.session.get(OrgUnit, unit_id)
    if project is None or unit is None or not perms.can_view_report(_me(), Scope(project, unit=unit)):
        abort(404)
    return Scope(project, unit=unit)


def _class_scope(class_id: int) -> Scope:
    cls = db.session.get(Class_, class_id)
    if cls is None:
        abort(404)
    scope = Scope(cls.project, cls=cls)
    if not perms.can_view_report(_me(), scope):
        abort(404)
    return scope


def _status() -> str:
    status = request.args.get("status", "enrolled")
    return status if status in rules.STATUSES else "enrolled"


def _page() -> int:
    return query_int("page", 1, max_value=10**6)


@bp.get("/")
def index():
    """The projects and classes whose figures the viewer may see."""
    me = _me()
    return render_template("reports/index.html", projects=service.get_report_projects(me),
                           classes=service.get_staff_classes(me))


@bp.get("/projects/<int:project_id>")
def project(project_id: int):
    """A project's figures from the highest unit the viewer may see (the link on the project's admin page)."""
    found = db.session.get(Project, project_id)
    units = service.get_entry_units(_me(), found) if found is not None else []
    if not units or not perms.can_view_report(_me(), Scope(found, unit=units[0])):
        abort(404)
    return redirect(url_for("reports.unit_dashboard", project_id=project_id, unit_id=units[0].id))


@bp.get("/projects/<int:project_id>/units/<int:unit_id>")
def unit_dashboard(project_id: int, unit_id: int):
    scope = _unit_scope(project_id, unit_id)
    return _render_dashboard(scope, trail=service.get_trail(_me(), scope.unit))


@bp.get("/classes/<int:class_id>")
def class_dashboard(class_id: int):
    scope = _class_scope(class_id)
    return _render_dashboard(scope, trail=[], learners=service.get_learners(scope, "enrolled"))


def _render_dashboard(scope: Scope, trail, learners=None):
    dashboard = service.get_dashboard(scope)
    mph = scope.project.minutes_per_hour
    day_bars = rules.bar_chart([(d.strftime("%m-%d"), rules.hours(ms, mph)) for d, ms in dashboard.days])
    child_bars = rules.bar_chart([(row.unit.name if row.unit else "", row.figures.completed_share * 100)
                                  for row in dashboard.children])
    return render_template("reports/dashboard.html", scope=scope, dashboard=dashboard, trail=trail,
                           learners=learners, day_bars=day_bars, child_bars=child_bars, mph=mph,
                           hours=rules.hours, async_rows=current_app.config["REPORTS_ASYNC_ROWS"])


@bp.get("/projects/<int:project_id>/units/<int:unit_id>/learners")
def unit_learners(project_id: int, unit_id: int):
    scope = _unit_scope(project_id, unit_id)
    return _render_learners(scope, trail=service.get_trail(_me(), scope.unit))


@bp.get("/classes/<int:class_id>/learners")
def class_learners(class_id: int):
    return _render_learners(_class_scope(class_id), trail=[])


def _render_learners(scope: Scope, trail):
    page = service.get_learners(scope, _status(), _page())
    return render_template("reports/learners.html", scope=scope, page=page, trail=trail, hours=rules.hours,
                           statuses=rules.STATUSES)


@bp.post("/projects/<int:project_id>/units/<int:unit_id>/export")
def unit_export(project_id: int, unit_id: int):
    return _export(_unit_scope(project_id, unit_id))


@bp.post("/classes/<int:class_id>/export")
def class_export(class_id: int):
    return _export(_class_scope(class_id))


def _export(scope: Scope):
    fmt = request.form.get("format", "xlsx")
    if fmt not in exports.MEDIA_TYPES:
        abort(400)
    count = service.count_learners(scope)
    if exports.is_background(count):
        job = exports.do_queue_export(_me(), scope, fmt, count, str(get_locale()))
        return redirect(url_for("reports.export_status", export_id=job.id))
    out = tempfile.TemporaryFile()  # streamed back by send_file, gone when closed
    exports.write(fmt, out, scope, service.iter_export_rows(scope), yes=_("Yes"), no=_("No"))
    out.seek(0)
    return send_file(out, mimetype=exports.MEDIA_TYPES[fmt], as_attachment=True,
                     download_name=exports.file_name(scope, fmt), max_age=0)


def _own_export(export_id: int):
    export = exports.get_export(export_id)
    if export is None:
        abort(404)
    scope = exports.export_scope(export)
    if not perms.can_view_export(_me(), export, scope):
        abort(404)
    return export, scope


@bp.get("/exports/<int:export_id>")
def export_status(export_id: int):
    """A background export's progress (the page reloads itself until it is done) and its download."""
    export, scope = _own_export(export_id)
    return render_template("reports/export.html", export=export, scope=scope)


@bp.get("/exports/<int:export_id>/download")
def export_download(export_id: int):
    export, scope = _own_export(export_id)
    path = exports.export_path(export)
    if export.status != "done" or path is None or not path.exists():
        abort(404)
    return send_file(path, mimetype=exports.MEDIA_TYPES[export.format], as_attachment=True,
                     download_name=exports.file_name(scope, export.format), max_age=0)
