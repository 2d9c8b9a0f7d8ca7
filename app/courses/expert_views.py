"""The home of an expert: the projects and courses of their area."""
from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from app.courses import permissions as perms, service

bp = Blueprint("courses_expert", __name__)


@bp.get("/expert")
@login_required
def home():
    me = current_user._get_current_object()
    if not perms.can_view_expert_home(me):
        abort(403)
    projects, courses = service.get_expert_catalogue(me)
    return render_template("courses/expert_home.html", projects=projects, courses=courses)
