"""Homework pages: assignments of a project, the learner's answer, the tutor's queue and grading page."""
import difflib
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from app.accounts.admin_forms import as_choices
from app.common.bodies import body_limit
from app.common.db import write_transaction
from app.common.exceptions import DomainError
from app.common.forms import form_status
from app.common.markdown import render_markdown
from app.common.numbers import parse_ids, parse_int
from app.courses.permissions import can_view_project
from app.homework import files as filetypes, permissions as perms, service
from app.homework.forms import ActionForm, AssignmentForm, ReviewForm
from app.homework.models import Assignment, Submission

bp = Blueprint("homework", __name__)

QUEUE_STATES = ("submitted", "graded", "returned")
#: files larger than this go up resumably (tus) from the answer page when the browser can; smaller ones with the form
RESUMABLE_FROM_BYTES = 5 * 1024 * 1024
#: the bytes of one PATCH from the answer page
RESUMABLE_CHUNK_BYTES = 2 * 1024 * 1024


def _me():
    return current_user._get_current_object()


def _zone(project) -> ZoneInfo:
    return ZoneInfo(project.timezone or "Asia/Shanghai")


def local_time(moment: datetime | None, project) -> str:
    return moment.astimezone(_zone(project)).strftime("%Y-%m-%d %H:%M") if moment else ""


@bp.context_processor
def _inject():
    return {"state_labels": service.state_labels(), "action_labels": service.action_labels(),
            "kind_labels": service.kind_labels(), "render_markdown": render_markdown, "local_time": local_time,
            "fmt_size": service.fmt_size,
            "kinds_text": lambda a: "; ".join(service.kind_labels()[k] for k in a.kinds)}


def _project_or_404(project_id: int):
    project = service.get_project(project_id)
    if project is None:
        abort(404)
    return project


def _context(assignment: Assignment):
    me = _me()
    learner_class = service.get_learner_class(me, assignment.project_id)
    staff_classes = service.get_staff_classes(me, assignment.project_id)
    return learner_class, staff_classes


def _assignment_or_404(assignment_id: int):
    assignment = service.get_assignment(assignment_id)
    if assignment is None:
        abort(404)
    learner_class, staff_classes = _context(assignment)
    if not perms.can_view_assignment(_me(), assignment, learner_class, staff_classes):
        abort(404)
    return assignment, learner_class, staff_classes


def _submission_or_404(submission_id: int) -> Submission:
    submission = service.get_submission(submission_id)
    if submission is None or not perms.can_view_submission(_me(), submission):
        abort(404)
    return submission


# ---------------------------------------------------------------- the assignments of a project
def _targets(project):
    """(value, label) of what the signed-in user may set assignments for: the project's courses, classes."""
    me = _me()
    choices = []
    if perms.can_create_course_assignment(me, project):
        for link in project.course_links:
            choices.append((f"course:{link.course_id}", _("Course “%(title)s” (every class)", title=link.course.title)))
    from app.classrooms.models import Class_
    from app.extensions import db
    from sqlalchemy import select

    for cls in db.session.execute(select(Class_).where(Class_.project_id == project.id).order_by(Class_.name)).scalars():
        if perms.can_create_class_assignment(me, cls):
            choices.append((f"class:{cls.id}", _("Class “%(name)s” only", name=cls.name)))
    return choices


@bp.get("/projects/<int:project_id>/homework")
@login_required
def project_homework(project_id: int):
    me = _me()
    project = _project_or_404(project_id)
    learner_class = service.get_learner_class(me, project.id)
    staff_classes = service.get_staff_classes(me, project.id)
    targets = _targets(project)
    if learner_class is None and not staff_classes and not targets and not can_view_project(me, project):
        abort(404)
    assignments = [a for a in service.get_project_assignments(project, include_deleted=bool(targets))
                   if perms.can_view_assignment(me, a, learner_class, staff_classes)]
    mine = service.get_my_states(assignments, me.id) if learner_class else {}
    return render_template("homework/project.html", project=project, assignments=assignments, mine=mine,
                           learner_class=learner_class, staff_classes=staff_classes, can_create=bool(targets),
                           now=service.now())


def _fill(form: AssignmentForm, project):
    form.target.choices = as_choices(_targets(project))
    form.kinds.choices = as_choices(service.kind_labels().items())


def _fields(form: AssignmentForm, project) -> dict:
    zone = _zone(project)
    due = form.due_at.data.replace(tzinfo=zone)
    late = form.late_until.data.replace(tzinfo=zone) if form.late_until.data else None
    return {"title": form.title.data, "instructions": form.instructions.data, "due_at": due, "late_until": late,
            "is_required": form.is_required.data, "kinds": form.kinds.data or [], "max_mb": form.max_mb.data,
            "max_files": form.max_files.data, "accepts_text": form.accepts_text.data,
            "accepts_files": form.accepts_files.data, "is_returnable": form.is_returnable.data,
            "is_deleted": form.is_deleted.data}


@bp.route("/projects/<int:project_id>/homework/new", methods=["GET", "POST"])
@login_required
def assignment_new(project_id: int):
    project = _project_or_404(project_id)
    form = AssignmentForm()
    _fill(form, project)
    if not form.target.choices:
        abort(404 if not can_view_project(_me(), project) and not service.get_staff_classes(_me(), project.id) else 403)
    if request.method == "GET":
        form.kinds.data = form.kinds.data or ["documents"]
        wanted = request.args.get("class_id")
        if wanted and f"class:{wanted}" in {c.value for c in form.target.choices}:
            form.target.data = f"class:{wanted}"
    if form.validate_on_submit():
        kind, _sep, raw_id = form.target.data.partition(":")
        target_id = int(raw_id)
        try:
            with write_transaction():
                assignment = service.do_create_assignment(
                    project, _me(), course_id=target_id if kind == "course" else None,
                    class_id=target_id if kind == "class" else None, **_fields(form, project))
                assignment_id = assignment.id
        except DomainError as exc:
            flash(exc.message, "danger")
        else:
            flash(_("The assignment was created."), "success")
            return redirect(url_for("homework.assignment", assignment_id=assignment_id))
    return render_template("homework/assignment_form.html", form=form, project=project, assignment=None), form_status()


@bp.route("/homework/<int:assignment_id>/edit", methods=["GET", "POST"])
@login_required
def assignment_edit(assignment_id: int):
    assignment, _lc, _sc = _assignment_or_404(assignment_id)
    if not perms.can_edit_assignment(_me(), assignment):
        abort(403)
    project = assignment.project
    form = AssignmentForm(obj=None if request.method == "POST" else assignment)
    form.target.choices = as_choices([(_target_value(assignment), _target_label(assignment))])
    form.kinds.choices = as_choices(service.kind_labels().items())
    if request.method == "GET":
        zone = _zone(project)
        form.target.data = _target_value(assignment)
        form.due_at.data = assignment.due_at.astimezone(zone).replace(tzinfo=None)
        form.late_until.data = assignment.late_until.astimezone(zone).replace(tzinfo=None) if assignment.late_until else None
        form.kinds.data = list(assignment.kinds)
        form.max_mb.data = max(1, assignment.max_bytes // (1024 * 1024))
    if form.validate_on_submit():
        try:
            with write_transaction():
                service.do_update_assignment(service.get_assignment(assignment_id), **_fields(form, project))
        except DomainError as exc:
            flash(exc.message, "danger")
        else:
            flash(_("The assignment was saved."), "success")
            return redirect(url_for("homework.assignment", assignment_id=assignment_id))
    return (render_template("homework/assignment_form.html", form=form, project=project, assignment=assignment),
            form_status())


def _target_value(a: Assignment) -> str:
    return f"class:{a.class_id}" if a.class_id else f"course:{a.course_id}"


def _target_label(a: Assignment) -> str:
    if a.class_id:
        return _("Class “%(name)s” only", name=a.class_.name)
    return _("Course “%(title)s” (every class)", title=a.course.title)


# ---------------------------------------------------------------- one assignment
@bp.get("/homework/<int:assignment_id>")
@login_required
def assignment(assignment_id: int):
    me = _me()
    assignment, learner_class, staff_classes = _assignment_or_404(assignment_id)
    can_submit = perms.can_submit(me, assignment, learner_class)
    versions = service.get_versions(assignment, me.id) if can_submit else []
    latest = versions[0] if versions else None
    reason = None
    if can_submit:
        from app.homework import rules

        reason = rules.can_edit(rules.Latest(latest.state if latest else None), service.window_of(assignment),
                                service.now())
    excellent = service.get_excellent(assignment, learner_class.id) if learner_class else []
    # staff and admins above a class: the class's latest versions
    viewable = [c for c in service.get_project_classes(assignment.project_id)
                if perms.is_for_learner_class(assignment, c.id) and perms.can_view_class_submissions(me, c)]
    wanted = parse_int(request.args.get("class_id") or "", min_value=1)
    chosen = next((c for c in viewable if c.id == wanted), viewable[0] if viewable else None)
    class_rows = service.get_class_latest(assignment, chosen.id) if chosen else []
    return render_template(
        "homework/assignment.html", assignment=assignment, project=assignment.project, can_submit=can_submit,
        versions=versions, latest=latest, edit_refusal=reason, excellent=excellent, learner_class=learner_class,
        staff_classes=viewable, chosen=chosen, class_rows=class_rows,
        learner_count=service.class_learner_count(chosen.id) if chosen else 0,
        can_edit=perms.can_edit_assignment(me, assignment),
        can_zip=chosen is not None and perms.can_download_class_zip(me, chosen),
        events=service.get_events([v.id for v in versions]), form=ActionForm(),
        accept=filetypes.accept_attribute(assignment.kinds), now=service.now(),
        resumable_from=RESUMABLE_FROM_BYTES, chunk_bytes=RESUMABLE_CHUNK_BYTES)


@bp.post("/homework/<int:assignment_id>/submission")
@login_required
@body_limit("HOMEWORK_MAX_REQUEST_BYTES", extra_bytes=256 * 1024)
def save(assignment_id: int):
    me = _me()
    assignment, learner_class, _sc = _assignment_or_404(assignment_id)
    if not perms.can_submit(me, assignment, learner_class):
        abort(403)
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("The form has expired. Please try again."), "danger")
        return redirect(url_for("homework.assignment", assignment_id=assignment_id))
    uploads = [service.Upload(f.filename or "", f.stream) for f in request.files.getlist("files") if f and f.filename]
    remove = parse_ids(request.form.getlist("remove_file_ids")) or []
    submit = request.form.get("action") == "submit"
    try:
        with write_transaction():
            service.check_save(me, service.get_assignment(assignment_id), learner_class, text=request.form.get("text"),
                               uploads=uploads, remove_file_ids=remove, submit=submit)
    except DomainError as exc:
        flash(exc.message, "danger")
    else:
        flash(_("Your homework was submitted.") if submit else _("Your draft was saved."), "success")
    return redirect(url_for("homework.assignment", assignment_id=assignment_id))


# ---------------------------------------------------------------- the tutor's queue and grading page
@bp.get("/homework/queue")
@login_required
def queue():
    me = _me()
    if not perms.can_view_grading_queue(me):
        abort(403)
    classes = service.get_staff_classes(me)
    class_id = parse_int(request.args.get("class_id") or "", min_value=1)
    state = request.args.get("state", "submitted")
    if state not in QUEUE_STATES:
        state = ""
    ids = [c.id for c in classes if class_id in (None, c.id)]
    rows = service.get_queue(ids, state or None)
    return render_template("homework/queue.html", classes=classes, class_id=class_id, state=state, rows=rows,
                           states=QUEUE_STATES)


def _diff(previous: Submission | None, current: Submission) -> Markup | None:
    if previous is None:
        return None
    before, after = (previous.text or "").splitlines(), (current.text or "").splitlines()
    before += [_("File: %(name)s", name=f.name) for f in previous.files]
    after += [_("File: %(name)s", name=f.name) for f in current.files]
    table = difflib.HtmlDiff(wrapcolumn=48).make_table(before, after, _("Version %(n)d", n=previous.version),
                                                       _("Version %(n)d", n=current.version), context=True, numlines=2)
    return Markup(table)


@bp.get("/homework/submissions/<int:submission_id>")
@login_required
def submission(submission_id: int):
    me = _me()
    sub = _submission_or_404(submission_id)
    versions = service.get_versions(sub.assignment, sub.user_id)
    if not (perms.can_grade(me, sub) or perms.is_staff_of(me, sub.class_id) or sub.user_id == me.id
            or perms.can_view_class_submissions(me, sub.class_)):
        versions = [sub]  # a classmate reading recommended work sees that version only
    else:
        versions = [v for v in versions if v.state != "draft" or v.user_id == me.id]
    earlier = [v for v in versions if v.version < sub.version]
    previous = earlier[0] if earlier else None
    neighbours = {}
    if perms.is_staff_of(me, sub.class_id):
        queue_rows = service.get_queue([sub.class_id], None)
        ids = [r.id for r in queue_rows]
        if sub.id in ids:
            at = ids.index(sub.id)
            neighbours = {"prev": ids[at - 1] if at > 0 else None, "next": ids[at + 1] if at + 1 < len(ids) else None}
    return render_template("homework/submission.html", sub=sub, assignment=sub.assignment,
                           project=sub.assignment.project, versions=versions,
                           diff=_diff(previous, sub) if versions != [sub] else None, previous=previous,
                           can_grade=perms.can_grade(me, sub), form=ReviewForm(score=sub.score, comment=sub.comment),
                           events=service.get_events([v.id for v in versions]) if len(versions) > 1 or
                           sub.user_id == me.id or perms.can_grade(me, sub) else [], neighbours=neighbours)


@bp.post("/homework/submissions/<int:submission_id>/review")
@login_required
def review(submission_id: int):
    me = _me()
    sub = _submission_or_404(submission_id)
    if not perms.can_grade(me, sub):
        abort(403)
    form = ReviewForm()
    action = request.form.get("action")
    back = redirect(url_for("homework.submission", submission_id=submission_id))
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "danger")
        return back
    try:
        with write_transaction():
            current = service.get_submission(submission_id)
            if action == "grade":
                if form.score.data is None:
                    flash(_("Enter a score from 0 to 100."), "danger")
                    return back
                service.check_grade(me, current, form.score.data, form.comment.data)
                message = _("Graded.")
            elif action == "return":
                service.check_return(me, current, form.reason.data)
                message = _("Returned for revision.")
            elif action in ("recommend", "withdraw"):
                service.check_recommend(me, current, action == "recommend")
                message = _("Recommended as excellent work.") if action == "recommend" else _("Recommendation withdrawn.")
            else:
                flash(_("Choose what to do."), "danger")
                return back
    except DomainError as exc:
        flash(exc.message, "danger")
        return back
    flash(message, "success")
    return back
