"""Learner pages: home with projects, courses and lessons; choosing electives; registering or enrolling with a card."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from app.accounts import auth
from app.accounts.limits import TooManyFailures
from app.common.db import write_transaction
from app.common.exceptions import DomainError
from app.common.forms import form_status
from app.courses import cards, electives, service
from app.courses.forms import CardRedeemForm, CardRegisterForm

bp = Blueprint("courses", __name__)


@bp.get("/learn")
@login_required
def home():
    """The home of a learner: their projects, courses and lessons."""
    me = current_user._get_current_object()
    overview = []
    for project in service.get_user_projects(me):
        choices = service.get_elective_choices(project, me)
        courses = []
        for link, is_open in service.get_project_courses(project, me):
            choice = choices.get(link.course_id)
            status = electives.status_of(project, choice) if choice else None
            courses.append({"link": link, "course": link.course, "is_open": is_open, "choice": choice,
                            "status": status, "status_label": electives.status_label(status) if status else ""})
        overview.append({"project": project, "courses": courses})
    # Decisions on the teacher's electives since the last visit: shown once, then read.
    notices = electives.get_unseen_decisions(me)
    page = render_template("courses/home.html", overview=overview, form=FlaskForm(), notices=notices,
                           archived=service.get_user_projects(me, is_archived=True))
    if notices:
        with write_transaction():
            electives.do_mark_seen(notices)
    return page


@bp.post("/projects/<int:project_id>/electives/<int:course_id>")
@login_required
def choose_elective(project_id: int, course_id: int):
    """Choose an elective course, or withdraw the choice when it is already made."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    project = service.get_project_for_learner(current_user, project_id)
    action = request.form.get("action") or None
    if action not in (None, "choose", "withdraw"):
        abort(400)
    with write_transaction():
        chosen = service.do_toggle_elective(project, current_user._get_current_object(), course_id, action)
    if chosen is None:
        flash(_("You withdrew from the elective course."), "info")
    elif chosen.is_confirmed or not project.is_elective_confirmation_required:
        flash(_("Elective course chosen: its lessons are open to you now."), "success")
    else:
        flash(_("Elective course chosen: it opens once your school confirms it."), "info")
    return redirect(url_for("courses.home"))


# ---------------------------------------------------------------- learning cards
def _error_headers(exc: DomainError) -> dict[str, str]:
    return exc.headers if isinstance(exc, TooManyFailures) else {}


@bp.route("/register", methods=["GET", "POST"])
def register_with_card():
    """A teacher registers and enrols with a learning card."""
    if current_user.is_authenticated:
        return redirect(url_for("courses.redeem_card"))
    form = CardRegisterForm()
    if form.validate_on_submit():
        try:
            with cards.card_guess(request.remote_addr), write_transaction():
                user = cards.check_register_with_card(
                    number=form.card_number.data, pin=form.pin.data, username=form.username.data,
                    real_name=form.real_name.data, teacher_no=form.teacher_no.data or None,
                    phone=form.phone.data or None, password=form.password.data,
                )
                auth.do_login(user)
        except DomainError as exc:
            flash(exc.message, "danger")
            return render_template("courses/register.html", form=form), exc.status, _error_headers(exc)
        flash(_("Welcome! You are registered and enrolled in the training project."), "success")
        return redirect(url_for("courses.home"))
    return render_template("courses/register.html", form=form), form_status()


@bp.route("/cards/redeem", methods=["GET", "POST"])
@login_required
def redeem_card():
    """A signed-in teacher enrols in another project with a learning card."""
    form = CardRedeemForm()
    if form.validate_on_submit():
        try:
            with cards.card_guess(request.remote_addr), write_transaction():
                project = cards.check_redeem_card(current_user._get_current_object(), form.card_number.data, form.pin.data)
        except DomainError as exc:
            flash(exc.message, "danger")
            return render_template("courses/redeem.html", form=form), exc.status, _error_headers(exc)
        flash(_("You are now enrolled in %(title)s.", title=project.title), "success")
        return redirect(url_for("courses.home"))
    return render_template("courses/redeem.html", form=form), form_status()
