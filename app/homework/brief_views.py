"""Class brief pages (学习简报): the tutor composes with the class's live figures, previews, publishes; printable."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.common.db import write_transaction
from app.common.exceptions import DomainError
from app.common.forms import form_status
from app.common.markdown import render_markdown
from app.common.permissions import admin_required
from app.courses.permissions import can_view_project
from app.homework import briefs, permissions as perms, service
from app.homework.forms import BriefForm

bp = Blueprint("briefs", __name__)


def _me():
    return current_user._get_current_object()


@bp.context_processor
def _inject():
    from app.homework.views import local_time

    return {"render_markdown": render_markdown, "local_time": local_time}


def _class_or_404(class_id: int):
    cls = service.get_class(class_id)
    if cls is None or not perms.can_view_briefs(_me(), cls):
        abort(404)
    return cls


def _brief_or_404(brief_id: int):
    brief = briefs.get_brief(brief_id)
    if brief is None or not perms.can_view_brief(_me(), brief):
        abort(404)
    return brief


@bp.get("/classes/<int:class_id>/briefs")
@login_required
def class_briefs(class_id: int):
    cls = _class_or_404(class_id)
    can_write = perms.can_write_brief(_me(), cls)
    return render_template("homework/briefs.html", cls=cls, briefs=briefs.get_class_briefs(cls, can_write),
                           can_write=can_write)


def _compose(cls, brief):
    form = BriefForm(obj=brief)
    stats = briefs.get_class_stats(cls)
    if request.method == "GET" and brief is None:
        form.title.data = _("%(name)s class brief", name=cls.name)
        form.body.data = briefs.stats_markdown(stats)
    preview = None
    if form.validate_on_submit():
        action = request.form.get("action")
        if action == "preview":
            preview = render_markdown(form.body.data)
        else:
            try:
                with write_transaction():
                    saved = briefs.do_save_brief(cls, _me(), briefs.get_brief(brief.id) if brief else None,
                                                 title=form.title.data, body=form.body.data,
                                                 publish=action == "publish")
                    brief_id = saved.id
            except DomainError as exc:
                flash(exc.message, "danger")
            else:
                flash(_("The brief was published to the class.") if action == "publish" else _("The brief was saved."),
                      "success")
                return redirect(url_for("briefs.brief", brief_id=brief_id))
    return (render_template("homework/brief_form.html", cls=cls, brief=brief, form=form, stats=stats, preview=preview),
            200 if preview is not None else form_status())


@bp.route("/classes/<int:class_id>/briefs/new", methods=["GET", "POST"])
@login_required
def brief_new(class_id: int):
    cls = _class_or_404(class_id)
    if not perms.can_write_brief(_me(), cls):
        abort(403)
    return _compose(cls, None)


@bp.route("/briefs/<int:brief_id>/edit", methods=["GET", "POST"])
@login_required
def brief_edit(brief_id: int):
    brief = _brief_or_404(brief_id)
    if not perms.can_write_brief(_me(), brief.class_):
        abort(403)
    return _compose(brief.class_, brief)


@bp.get("/briefs/<int:brief_id>")
@login_required
def brief(brief_id: int):
    brief = _brief_or_404(brief_id)
    return render_template("homework/brief.html", brief=brief, cls=brief.class_, stats=briefs.stats_of(brief),
                           can_write=perms.can_write_brief(_me(), brief.class_))


@bp.get("/projects/<int:project_id>/briefs")
@admin_required
def project_briefs(project_id: int):
    project = service.get_project(project_id)
    if project is None or not can_view_project(_me(), project):
        abort(404)
    return render_template("homework/project_briefs.html", project=project,
                           briefs=briefs.get_subtree_briefs(_me(), project.id))
