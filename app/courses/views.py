"""Learner pages: home with projects, courses and lessons; choosing electives."""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from app.common.db import write_transaction
from app.courses import service

bp = Blueprint("courses", __name__)


@bp.get("/")
@login_required
def home():
    overview = []
    for project in service.get_user_projects(current_user):
        choices = service.get_elective_choices(project, current_user)
        courses = [
            {"link": link, "course": link.course, "is_open": is_open, "choice": choices.get(link.course_id)}
            for link, is_open in service.get_project_courses(project, current_user)
        ]
        overview.append({"project": project, "courses": courses})
    return render_template("courses/home.html", overview=overview, form=FlaskForm(),
                           archived=service.get_user_projects(current_user, is_archived=True))


@bp.post("/projects/<int:project_id>/electives/<int:course_id>")
@login_required
def choose_elective(project_id: int, course_id: int):
    """Choose an elective course, or withdraw the choice when it is already made."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    project = service.get_project_for_learner(current_user, project_id)
    with write_transaction():
        chosen = service.do_toggle_elective(project, current_user._get_current_object(), course_id)
    if chosen is None:
        flash(_("You withdrew from the elective course."), "info")
    elif chosen.is_confirmed or not project.is_elective_confirmation_required:
        flash(_("Elective course chosen: its lessons are open to you now."), "success")
    else:
        flash(_("Elective course chosen: it opens once your school confirms it."), "info")
    return redirect(url_for("courses.home"))
