"""HTML pages of this feature (stub: filled in by its owner)."""
from flask import Blueprint

bp = Blueprint(__name__.split(".")[1], __name__)
