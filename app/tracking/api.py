"""JSON API of this feature (stub: filled in by its owner)."""
from flask import Blueprint

bp = Blueprint(__name__.split(".")[1] + "_api", __name__, url_prefix="/api/v1")
