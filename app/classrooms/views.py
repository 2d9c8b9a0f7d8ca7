"""Class pages: rosters for staff."""
from flask import Blueprint

bp = Blueprint("classrooms", __name__)
