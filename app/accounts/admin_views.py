"""Administration of org units, users, imports and learning cards."""
from flask import Blueprint, render_template

from app.common.permissions import admin_required

bp = Blueprint("accounts_admin", __name__, url_prefix="/admin")


@bp.get("/")
@admin_required
def index():
    return render_template("admin/index.html")
