"""Site-wide files browsers ask for at fixed addresses (the favicon)."""
from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("site", __name__)


@bp.get("/favicon.ico")
def favicon():
    """Serve the icon browsers fetch from /favicon.ico on every site (pages also link the SVG)."""
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=7 * 24 * 3600)
