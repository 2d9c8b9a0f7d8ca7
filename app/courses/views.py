"""Learner pages: home with projects, courses and lessons."""
from flask import Blueprint, render_template
from flask_login import current_user, login_required

from app.courses import service

bp = Blueprint("courses", __name__)


@bp.get("/")
@login_required
def home():
    projects = service.get_user_projects(current_user)
    overview = []
    for project in projects:
        courses = []
        for link, is_open in service.get_project_courses(project, current_user):
            courses.append({"link": link, "course": link.course, "is_open": is_open})
        overview.append({"project": project, "courses": courses})
    return render_template("courses/home.html", overview=overview)
