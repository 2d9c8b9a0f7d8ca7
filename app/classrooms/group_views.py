"""Group viewing (集中学习) pages: start it from the class page, the projector, the check-in page, attendance.

The projector and its QR code are the class manager's; the check-in page is for the class's
learners (where the QR code leads); attendance is for whoever sees the class. The JSON API
behind the projector's script is app.classrooms.api.
"""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.accounts.admin_forms import ActionForm
from app.classrooms import permissions as perms, service
from app.classrooms.models import Class_
from app.common import clock
from app.common.exceptions import DomainError
from app.courses.models import Project
from app.extensions import db

bp = Blueprint("group_viewing", __name__)


def _me():
    return current_user._get_current_object()


def _class_or_404(class_id: int) -> Class_:
    cls = db.session.get(Class_, class_id)
    if cls is None or not perms.can_view_class(_me(), cls):
        abort(404)
    return cls


# ---------------------------------------------------------------- group viewing (集中学习)
def _local(moment, project: Project) -> str:
    """A server time as the project's local wall time, "2026-03-10 10:05:07"."""
    from zoneinfo import ZoneInfo

    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(project.timezone or "Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")


def _method_names() -> dict:
    return {"self": _("Scanned the code"), "manager": _("Ticked by the class manager")}


def _checkout_names() -> dict:
    return {"self": _("Checked out"), "manager": _("Checked out by the class manager"),
            "end": _("Group session ended"), "own_playback": _("Started watching on their own"),
            "other_group": _("Checked in to another group session")}


def _group_or_404(group_id: int, *, run: bool = False):
    """The group session and its class for a viewer of the class (404 otherwise); `run`: its class manager (403)."""
    from app.common.exceptions import NotFound

    try:
        gs, cls = service.get_group_class(group_id)
    except NotFound:
        abort(404)
    if not perms.can_view_group_sessions(_me(), cls):
        abort(404)
    if run and not perms.can_run_group_session(_me(), cls):
        abort(403)
    return gs, cls


@bp.post("/classes/<int:class_id>/group-sessions")
@login_required
def group_start(class_id: int):
    """The class manager opens a group viewing from the class page and goes to the projector."""
    cls = _class_or_404(class_id)
    if not perms.can_run_group_session(_me(), cls):
        abort(403)
    form = ActionForm()
    lesson_id = request.form.get("lesson_id", type=int)
    if not form.validate_on_submit() or not lesson_id:
        flash(_("Choose a lesson to show."), "warning")
        return redirect(url_for("classrooms.roster", class_id=cls.id))
    try:
        opened = service.do_start_group(_me(), cls, lesson_id)
    except DomainError as exc:
        flash(exc.message, "danger")
        return redirect(url_for("classrooms.roster", class_id=cls.id))
    return redirect(url_for("group_viewing.group_projector", group_id=opened["group_session_id"]))


@bp.get("/classes/<int:class_id>/group-sessions")
@login_required
def group_sessions(class_id: int):
    """The class's group viewings with their attendance."""
    cls = _class_or_404(class_id)
    return render_template("classrooms/group_sessions.html", cls=cls, items=service.get_class_group_sessions(cls),
                           local=_local, hours=service.learning_hours,
                           can_run=perms.can_run_group_session(_me(), cls), lessons=service.get_class_lessons(cls),
                           action=ActionForm(formdata=None))


@bp.get("/group-sessions/<int:group_id>/projector")
@login_required
def group_projector(group_id: int):
    """Full-screen projector of a group viewing: the video, the check-in QR code and who is in."""
    from app.tracking import group

    gs, cls = _group_or_404(group_id, run=True)
    if gs.status != "open":
        return redirect(url_for("group_viewing.group_attendance", group_id=gs.id))
    learners = [u for u, _role in service.get_class_members(cls, "learner")]
    return render_template("classrooms/group_projector.html", gs=gs, cls=cls, lesson=gs.lesson, project=gs.project,
                           learners=learners, session_id=group.get_projector_session_id(gs))


@bp.get("/group-sessions/<int:group_id>/qr.svg")
@login_required
def group_qr(group_id: int):
    """The QR code of the check-in code shown now, as SVG (rendered on the server with segno)."""
    import io

    import segno

    from app.tracking import group

    gs, _cls = _group_or_404(group_id, run=True)
    checkin = group.get_checkin(gs)
    if checkin is None:
        abort(410)
    url = url_for("group_viewing.checkin_page", group_id=gs.id, code=checkin["code"], _external=True)
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=8, border=2, xmldecl=False, svgns=True)
    response = current_app.response_class(out.getvalue(), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "no-store"
    return response


def _checkin_view(gs, cls, code: str, status: int = 200):
    from app.tracking.models import GroupAttendance

    me = _me()
    present = db.session.execute(select(GroupAttendance).where(
        GroupAttendance.group_session_id == gs.id, GroupAttendance.user_id == me.id,
        GroupAttendance.checked_out_ms.is_(None))).scalar_one_or_none()
    return render_template("classrooms/checkin.html", gs=gs, cls=cls, code=code, present=present,
                           is_learner=perms.can_check_in(me, cls), local=_local,
                           action=ActionForm(formdata=None)), status


@bp.get("/g/<int:group_id>")
@login_required
def checkin_page(group_id: int):
    """Where the QR code leads: a learner of the class checks in on their phone (one tap)."""
    from app.common.exceptions import NotFound

    try:
        gs, cls = service.get_group_class(group_id)
    except NotFound:
        abort(404)
    if not perms.can_check_in(_me(), cls):
        abort(403)
    code = "".join(ch for ch in (request.args.get("code") or "")[:12] if ch.isascii() and ch.isdigit())
    return _checkin_view(gs, cls, code)


@bp.post("/g/<int:group_id>")
@login_required
def checkin_submit(group_id: int):
    """Check in with the code (the form of the check-in page), or check out."""
    from app.common.exceptions import NotFound
    from app.tracking import group

    try:
        gs, cls = service.get_group_class(group_id)
    except NotFound:
        abort(404)
    if not perms.can_check_in(_me(), cls):
        abort(403)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    code = (request.form.get("code") or "").strip()[:12]
    try:
        if request.form.get("action") == "out":
            group.do_check_out(gs, _me().id, "self")
            flash(_("You are checked out."), "success")
        else:
            group.do_check_in(gs, _me(), method="self", by_id=_me().id, code=code)
            flash(_("You are checked in. Your learning time is counted while you are here."), "success")
    except DomainError as exc:
        flash(exc.message, "danger")
        db.session.rollback()
        return _checkin_view(service.get_group_class(group_id)[0], cls, code, exc.status)
    return redirect(url_for("group_viewing.checkin_page", group_id=group_id))


def _attendance_rows(gs) -> list[dict]:
    from app.tracking import group

    return group.get_attendees(gs)


@bp.get("/group-sessions/<int:group_id>")
@login_required
def group_attendance(group_id: int):
    """Attendance of one group viewing: who, from, to, how, credited."""
    gs, cls = _group_or_404(group_id)
    return render_template("classrooms/group_attendance.html", gs=gs, cls=cls, rows=_attendance_rows(gs),
                           local=_local, methods=_method_names(), checkouts=_checkout_names(),
                           can_run=perms.can_run_group_session(_me(), cls))


@bp.get("/group-sessions/<int:group_id>/attendance.xlsx")
@login_required
def group_attendance_export(group_id: int):
    """The attendance as XLSX; text a spreadsheet would run as a formula stays text."""
    import io

    import xlsxwriter

    from app.reports.rules import is_formula_like

    gs, cls = _group_or_404(group_id)
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False, "in_memory": True})
    workbook.set_properties({"created": clock.now().replace(tzinfo=None), "title": cls.name})
    sheet = workbook.add_worksheet()
    bold = workbook.add_format({"bold": True})
    quoted = workbook.add_format({"quote_prefix": True})
    headers = [_("Real name"), _("Username"), _("Teacher number"), _("How"), _("Checked in"), _("Checked out"),
               _("Checked out how"), _("Credited minutes")]
    sheet.write_row(0, 0, headers, bold)
    sheet.set_column(0, 7, 18)
    methods, checkouts = _method_names(), _checkout_names()
    for r, row in enumerate(_attendance_rows(gs), 1):
        values = [row["display_name"], row["username"], row["teacher_no"] or "", methods.get(row["method"], ""),
                  _local(row["checked_in_at"], gs.project), _local(row["checked_out_at"], gs.project),
                  checkouts.get(row["checkout_reason"], "")]
        for c, value in enumerate(values):
            sheet.write_string(r, c, value, quoted if is_formula_like(value) else None)
        sheet.write_number(r, 7, round(row["credited_s"] / 60, 1))
    workbook.close()
    name = f"attendance-{gs.id}.xlsx"
    response = current_app.response_class(out.getvalue(), mimetype=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
