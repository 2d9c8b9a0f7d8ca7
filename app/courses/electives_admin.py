"""Elective confirmation pages of the admin area: the electives a project's teachers chose, confirmed or refused.

A project outside the admin's reach answers 404; the list shows only the teachers of the admin's
area. Every decision is all or nothing: one choice that cannot be decided changes nothing.
"""
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_login import current_user

from app.common.db import write_transaction
from app.common.exceptions import DomainError
from app.common.numbers import parse_ids, query_int
from app.common.permissions import admin_required
from app.courses import electives, permissions as perms
from app.courses.admin_forms import ElectiveDecisionForm
from app.courses.models import Project
from app.extensions import db

bp = Blueprint("electives_admin", __name__, url_prefix="/admin")

PER_PAGE = 50
OUTCOMES = {"confirm": "confirmed", "refuse": "refused"}


def _me():
    return current_user._get_current_object()


def _project_or_404(project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    if project is None or not perms.can_view_electives(_me(), project):
        abort(404)
    return project


def _status_filter() -> str:
    status = request.args.get("status", "")
    return status if status in electives.STATUSES else ""


def _page(project: Project, form: ElectiveDecisionForm | None = None, status_code: int = 200):
    me = _me()
    status = _status_filter()
    page = db.paginate(electives.get_choices_query(me, project, status or None), page=query_int("page", 1),
                       per_page=PER_PAGE, error_out=False)
    zone = ZoneInfo(project.timezone or "Asia/Shanghai")

    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""

    return render_template(
        "admin/electives.html", project=project, page=page, status=status, local=local,
        form=form or ElectiveDecisionForm(formdata=None), pending=electives.get_pending_count(me, project),
        status_of=electives.status_of, status_label=electives.status_label,
    ), status_code


@bp.get("/projects/<int:project_id>/electives")
@admin_required
def electives_page(project_id: int):
    return _page(_project_or_404(project_id))


@bp.post("/projects/<int:project_id>/electives/decide")
@admin_required
def decide(project_id: int):
    """Confirm or refuse one or several choices (the ticked ones, or the one whose button was pressed)."""
    project = _project_or_404(project_id)
    form = ElectiveDecisionForm()
    if not form.validate_on_submit():
        abort(400)
    ids = parse_ids(request.form.getlist("choice_ids")[:electives.MAX_AT_ONCE + 1])
    if ids is None:
        flash(electives.unknown_choices_message(), "danger")
        return _page(project, form, 400)
    try:
        with write_transaction():
            decided = electives.check_decide(_me(), project, ids, OUTCOMES[form.action.data], form.reason.data)
    except DomainError as exc:
        flash(exc.message, "danger")
        return _page(project, form, exc.status)
    if form.action.data == "confirm":
        flash(ngettext("%(num)d elective confirmed: its lessons are open to the teacher now.",
                       "%(num)d electives confirmed: their lessons are open to the teachers now.", len(decided)),
              "success")
    else:
        flash(ngettext("%(num)d elective refused: the teacher is told and may choose another.",
                       "%(num)d electives refused: the teachers are told and may choose others.", len(decided)),
              "success")
    return redirect(url_for(".electives_page", project_id=project.id, status=_status_filter() or None))
