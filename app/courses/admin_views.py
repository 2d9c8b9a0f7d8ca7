"""Administration of projects, courses, enrolments and classes."""
from flask import Blueprint

bp = Blueprint("courses_admin", __name__, url_prefix="/admin")
