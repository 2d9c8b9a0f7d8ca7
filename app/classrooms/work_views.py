"""Class work pages: group viewing (集中学习), the roster with figures, reminders (督促), the class dashboard.

The projector and its QR code are the class manager's; the check-in page is for the class's
learners (where the QR code leads); attendance, the roster, reminders and the dashboard are for
whoever sees the class (its staff and the admins above it); the lagging list of an org subtree is
for the admins of the reports. The JSON API behind the projector's script is app.classrooms.api.
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

bp = Blueprint("classwork", __name__)


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


@bp.post("/classes/<int:class_id>/group-sessions/start")
@login_required
def group_start(class_id: int):
    """The class manager opens a group viewing from the class page and goes to the projector."""
    cls = _class_or_404(class_id)
    if not perms.can_run_group_session(_me(), cls):
        abort(403)
    form = ActionForm()
    from app.common.numbers import parse_int

    lesson_id = parse_int(request.form.get("lesson_id") or "", min_value=1)
    if not form.validate_on_submit() or not lesson_id:
        flash(_("Choose a lesson to show."), "warning")
        return redirect(url_for("classrooms.roster", class_id=cls.id))
    try:
        opened = service.do_start_group(_me(), cls, lesson_id)
    except DomainError as exc:
        flash(exc.message, "danger")
        return redirect(url_for("classrooms.roster", class_id=cls.id))
    return redirect(url_for("classwork.group_projector", group_id=opened["group_session_id"]))


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
        return redirect(url_for("classwork.group_attendance", group_id=gs.id))
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
    url = url_for("classwork.checkin_page", group_id=gs.id, code=checkin["code"], _external=True)
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


def _checkin_group_or_abort(group_id: int):
    """The group session and its class for a learner checking in: 404 when there is none, 403 outside the class."""
    from app.common.exceptions import NotFound

    try:
        gs, cls = service.get_group_class(group_id)
    except NotFound:
        abort(404)
    if not perms.can_check_in(_me(), cls):
        abort(403)
    return gs, cls


@bp.get("/g/<int:group_id>")
@login_required
def checkin_page(group_id: int):
    """Where the QR code leads: a learner of the class checks in on their phone (one tap)."""
    gs, cls = _checkin_group_or_abort(group_id)
    code = "".join(ch for ch in (request.args.get("code") or "")[:12] if ch.isascii() and ch.isdigit())
    return _checkin_view(gs, cls, code)


@bp.post("/g/<int:group_id>/checkin")
@login_required
def checkin_submit(group_id: int):
    """Check in with the code (the form of the check-in page), or check out."""
    from app.tracking import group

    gs, cls = _checkin_group_or_abort(group_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    code = (request.form.get("code") or "").strip()[:12]
    try:
        if request.form.get("action") == "out":
            group.do_check_out(gs, _me().id, "self")
            flash(_("You are checked out."), "success")
        else:
            service.check_in_with_code(gs, _me(), code)
            flash(_("You are checked in. Your learning time is counted while you are here."), "success")
    except DomainError as exc:
        flash(exc.message, "danger")
        db.session.rollback()
        return _checkin_view(service.get_group_class(group_id)[0], cls, code, exc.status)
    return redirect(url_for("classwork.checkin_page", group_id=group_id))


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


# ---------------------------------------------------------------- the roster with figures, reminders
ROSTER_SORTS = ("name", "hours", "lessons", "last", "forum", "homework")


def _roster_rows(cls: Class_, q: str, only_lagging: bool, sort: str, desc: bool) -> list[dict]:
    rows = service.roster(cls.id)
    if q:
        needle = q.casefold()
        rows = [r for r in rows if any(needle in (r[k] or "").casefold()
                                       for k in ("display_name", "username", "teacher_no", "school"))]
    if only_lagging:
        rows = [r for r in rows if r["is_lagging"]]
    keys = {"name": lambda r: (r["display_name"] or "", r["user_id"]),
            "hours": lambda r: (r["credited_s"], r["user_id"]),
            "lessons": lambda r: (r["complete_lessons"], r["user_id"]),
            "last": lambda r: (r["last_active_at"].timestamp() if r["last_active_at"] else 0, r["user_id"]),
            "forum": lambda r: (r["forum_points"], r["user_id"]),
            "homework": lambda r: (r["homework_submitted"], r["user_id"])}
    return sorted(rows, key=keys.get(sort, keys["name"]), reverse=desc)


def _roster_args() -> tuple[str, bool, str, bool]:
    q = (request.args.get("q") or "").strip()[:64]
    sort = request.args.get("sort") if request.args.get("sort") in ROSTER_SORTS else "name"
    return q, request.args.get("lagging") == "1", sort, request.args.get("dir") == "desc"


@bp.get("/classes/<int:class_id>/learners")
@login_required
def class_roster(class_id: int):
    """The roster with each learner's hours, lessons, last activity and lagging flag; reminders from here."""
    cls = _class_or_404(class_id)
    q, only_lagging, sort, desc = _roster_args()
    rows = _roster_rows(cls, q, only_lagging, sort, desc)
    return render_template("classrooms/class_roster.html", cls=cls, rows=rows, q=q, only_lagging=only_lagging,
                           sort=sort, desc=desc, local=_local, can_remind=perms.can_remind(_me(), cls),
                           threshold_h=service.learning_hours(service.get_lagging_threshold_ms(cls.project,
                                                                                               clock.now()),
                                                              cls.project),
                           action=ActionForm(formdata=None))


@bp.get("/classes/<int:class_id>/learners.xlsx")
@login_required
def class_roster_export(class_id: int):
    """The roster as shown (search, filter, order) as XLSX; text a spreadsheet would run as a formula stays text."""
    cls = _class_or_404(class_id)
    rows = _roster_rows(cls, *_roster_args())
    headers = [_("Real name"), _("Username"), _("Teacher number"), _("School"), _("Learning hours"),
               _("Complete lessons"), _("Forum points"), _("Homework submitted"), _("Homework graded"),
               _("Last active"), _("Lagging")]
    table = [[r["display_name"], r["username"], r["teacher_no"] or "", r["school"] or "", r["learning_hours"],
              r["complete_lessons"], r["forum_points"], r["homework_submitted"], r["homework_graded"],
              _local(r["last_active_at"], cls.project), _("yes") if r["is_lagging"] else _("no")] for r in rows]
    return _xlsx(cls.name, headers, table, f"roster-{cls.id}.xlsx")


def _xlsx(title: str, headers: list[str], rows: list[list], name: str):
    import io

    import xlsxwriter

    from app.reports.rules import is_formula_like

    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False, "in_memory": True})
    workbook.set_properties({"created": clock.now().replace(tzinfo=None), "title": title})
    sheet = workbook.add_worksheet()
    bold = workbook.add_format({"bold": True})
    quoted = workbook.add_format({"quote_prefix": True})
    sheet.write_row(0, 0, [str(h) for h in headers], bold)
    sheet.set_column(0, len(headers) - 1, 16)
    for r, values in enumerate(rows, 1):
        for c, value in enumerate(values):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                sheet.write_number(r, c, value)
            else:
                value = "" if value is None else str(value)
                sheet.write_string(r, c, value, quoted if is_formula_like(value) else None)
    workbook.close()
    response = current_app.response_class(out.getvalue(), mimetype=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


#: learners one reminder form may name (the longest lagging list; the roster holds at most 50)
REMINDER_FORM_MAX = service.LAGGING_LIMIT


def _reminder_message() -> str:
    return (request.form.get("message") or "").strip()[:500] or _(
        "Your learning hours are behind the project's pace. Please keep studying.")


def _reminder_form() -> tuple[list[int] | None, str]:
    """The learners and message of a reminder form; None (with a flash saying why) when nobody is to be reminded.

    The button of a row sends `one` (that learner alone, whatever is ticked); the bulk button sends the ticked
    `user_ids`. Anything that is not a learner id refuses the whole form.
    """
    from app.common.numbers import parse_ids

    message = _reminder_message()
    raw = [request.form["one"]] if request.form.get("one") is not None else request.form.getlist("user_ids")
    user_ids = parse_ids(raw)
    if user_ids is None:
        flash(_("Nobody was reminded: the chosen learners could not be read. Choose them from the list again."),
              "danger")
        return None, message
    if len(set(user_ids)) > REMINDER_FORM_MAX:
        flash(_("Nobody was reminded: choose at most %(n)d learners at a time.", n=REMINDER_FORM_MAX), "danger")
        return None, message
    if not user_ids:
        flash(_("Choose the learners to remind."), "warning")
        return None, message
    return user_ids, message


def _skip_reasons() -> dict[str, str]:
    from app.classrooms import rules

    return {rules.SKIP_LIMIT: _("already reminded today"), rules.SKIP_NOT_IN_CLASS: _("not a learner of this class"),
            rules.SKIP_NOT_IN_SCOPE: _("not a learner of this project in your area")}


def _flash_reminded(result: dict) -> None:
    """Say how many learners were reminded, how many were not and why (in words, not reason codes)."""
    if result["sent"]:
        flash(_("Reminder sent to %(n)d learners.", n=len(result["sent"])), "success")
    if result["skipped"]:
        words = _skip_reasons()
        counts: dict[str, int] = {}
        for item in result["skipped"]:
            counts[item["reason"]] = counts.get(item["reason"], 0) + 1
        reasons = _("; ").join(_("%(reason)s (%(n)d)", reason=words.get(reason, reason), n=n)
                               for reason, n in counts.items())
        flash(_("%(n)d learners were not reminded: %(reasons)s.", n=len(result["skipped"]), reasons=reasons),
              "warning")


@bp.post("/classes/<int:class_id>/reminders")
@login_required
def class_reminders(class_id: int):
    """One-click or bulk reminders from the roster page (at most one a learner a day)."""
    cls = _class_or_404(class_id)
    if not perms.can_remind(_me(), cls):
        abort(403)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    user_ids, message = _reminder_form()
    if user_ids:
        result = service.do_send_reminders(_me(), cls, user_ids, message)
        db.session.commit()
        _flash_reminded(result)
    return redirect(url_for("classwork.class_roster", class_id=cls.id, **{k: v for k, v in request.args.items()
                                                                          if k in ("q", "lagging", "sort", "dir")}))


# ---------------------------------------------------------------- the class dashboard
#: learning-hour bins of the distribution chart (the last one open-ended)
HOUR_BINS = 8


@bp.get("/classes/<int:class_id>/dashboard")
@login_required
def class_dashboard(class_id: int):
    """Distribution of hours, credited time per day (app.reports' figures and charts), who has not started."""
    from app.reports import rules as report_rules
    from app.reports.service import Scope, get_dashboard

    cls = _class_or_404(class_id)
    if not perms.can_view_dashboard(_me(), cls):
        abort(404)
    project = cls.project
    rows = service.roster(cls.id)
    required = max(project.required_hours, 1)
    step = required / HOUR_BINS
    counts = [0] * (HOUR_BINS + 1)
    for r in rows:
        counts[min(HOUR_BINS, int(r["learning_hours"] // step))] += 1
    labels = [f"{i * step:g}–{(i + 1) * step:g}" for i in range(HOUR_BINS)] + [f"≥{required:g}"]
    distribution = list(zip(labels, counts))
    dashboard = get_dashboard(Scope(project, cls=cls))
    day_bars = report_rules.bar_chart([(day.strftime("%m-%d"), report_rules.hours(ms, project.minutes_per_hour))
                                       for day, ms in dashboard.days], height=160)
    return render_template("classrooms/class_dashboard.html", cls=cls, project=project, rows=rows,
                           distribution=distribution, hour_bars=report_rules.bar_chart(distribution, height=160),
                           day_bars=day_bars, dashboard=dashboard, hours=report_rules.hours,
                           not_started=[r for r in rows if r["credited_s"] <= 0],
                           lagging=[r for r in rows if r["is_lagging"]])


# ---------------------------------------------------------------- lagging learners of an org subtree
def _lagging_scope(project_id: int):
    """(project, the admin's entry units, the unit shown, its report scope): 404 / 403 like the reports."""
    from app.accounts.models import OrgUnit
    from app.common.numbers import query_int
    from app.reports.permissions import can_view_report
    from app.reports.service import Scope, get_entry_units

    project = db.session.get(Project, project_id)
    if project is None:
        abort(404)
    units = get_entry_units(_me(), project)
    if not units:
        abort(403)
    unit_id = query_int("unit")
    unit = db.session.get(OrgUnit, unit_id) if unit_id else units[0]
    scope = Scope(project, unit=unit) if unit is not None else None
    if scope is None or not can_view_report(_me(), scope):
        abort(404)
    return project, units, unit, scope


@bp.get("/projects/<int:project_id>/lagging")
@login_required
def lagging(project_id: int):
    """Learners of an org subtree behind the project's pace (督促), fewest hours first; reminders from here."""
    project, units, unit, scope = _lagging_scope(project_id)
    rows = service.get_lagging(scope, clock.now())
    return render_template("classrooms/lagging.html", project=project, unit=unit, units=units, rows=rows,
                           hours=service.learning_hours, local=_local,
                           can_remind=perms.can_remind_subtree(_me(), project, unit),
                           action=ActionForm(formdata=None))


@bp.post("/projects/<int:project_id>/lagging/reminders")
@login_required
def lagging_reminders(project_id: int):
    """One-click, chosen or all (`all`) reminders from an org subtree's lagging list (at most one a learner a day)."""
    project, _units, unit, scope = _lagging_scope(project_id)
    if not perms.can_remind_subtree(_me(), project, unit):
        abort(403)
    if not ActionForm().validate_on_submit():
        abort(400)
    if request.form.get("all") and request.form.get("one") is None:
        user_ids, message = [row["user"].id for row in service.get_lagging(scope, clock.now())], _reminder_message()
        if not user_ids:
            flash(_("Nobody is behind the pace."), "info")
    else:
        user_ids, message = _reminder_form()
    if user_ids:
        result = service.do_send_subtree_reminders(_me(), scope, user_ids, message)
        db.session.commit()
        _flash_reminded(result)
    return redirect(url_for("classwork.lagging", project_id=project.id,
                            unit=unit.id if request.args.get("unit") else None))
