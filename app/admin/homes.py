"""Every person's home: `/` sends them to the home of their current role; the navigation switches roles.

The current role is kept in the session (a new sign-in starts without one: the first home of
permissions.HOMES the person may use). Each home is its feature's page and is reachable by its own URL.
"""
from flask import Blueprint, abort, redirect, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.admin import permissions as perms
from app.admin.forms import RoleForm

bp = Blueprint("homes", __name__)

SESSION_KEY = "home"
#: the page of each home
HOME_ENDPOINTS = {"site_admin": "admin.index", "org_admin": "admin.index", "class_staff": "classrooms.my_classes",
                  "expert": "courses_expert.home", "learner": "courses.home"}
#: what the switcher calls each role
ROLE_LABELS = {"site_admin": _l("Site administrator"), "org_admin": _l("Area administrator"),
               "class_staff": _l("Tutor or class manager"), "expert": _l("Expert"), "learner": _l("Learner")}
#: the navigation's link to each home
NAV_LABELS = {"site_admin": _l("Administration"), "org_admin": _l("Administration"), "class_staff": _l("My classes"),
              "expert": _l("My courses"), "learner": _l("My learning")}


def current_home(user) -> str | None:
    """The role the user works in now: the one chosen in this session, else the first they may use."""
    homes = perms.get_homes(user)
    chosen = session.get(SESSION_KEY)
    if chosen in homes:
        return chosen
    return homes[0] if homes else None


def nav_context() -> dict:
    """Template values of the navigation: the current role's home and the other roles to switch to."""
    if not current_user or not current_user.is_authenticated:
        return {"current_home": None, "nav_home": None, "other_homes": []}
    home = current_home(current_user)
    return {
        "current_home": home,
        "current_role_label": ROLE_LABELS.get(home),
        "nav_home": (url_for(HOME_ENDPOINTS[home]), NAV_LABELS[home]) if home else None,
        "other_homes": [(key, ROLE_LABELS[key]) for key in perms.get_homes(current_user) if key != home],
        "role_form": RoleForm(formdata=None),
    }


@bp.get("/")
@login_required
def index():
    """Send the person to the home of their current role."""
    home = current_home(current_user)
    return redirect(url_for(HOME_ENDPOINTS[home]))


@bp.post("/role")
@login_required
def switch_role():
    """Work in another of one's roles: remember it for this session and open its home."""
    form = RoleForm()
    if not form.validate_on_submit() or form.role.data not in perms.HOMES:
        abort(400)
    if not perms.can_use_home(current_user, form.role.data):
        abort(403)
    session[SESSION_KEY] = form.role.data
    return redirect(url_for(HOME_ENDPOINTS[form.role.data]))
