"""Administration of training projects, their courses, enrolments and learning cards, and of courses.

Objects outside the admin's scope answer 404; objects the admin sees but may not change answer 403.
"""
from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _, ngettext
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.routing import BuildError

from app.accounts import importer
from app.accounts import permissions as account_perms
from app.accounts.admin_forms import ActionForm, as_choices, kind_labels
from app.accounts.admin_views import tree_order, unit_choices, units_in_scope
from app.accounts.models import OrgUnit, User
from app.common import clock
from app.common import permissions as scope
from app.common.db import write_transaction
from app.common.exceptions import DomainError
from app.common.numbers import parse_ids, query_int
from app.common.permissions import admin_required
from app.courses import cards as card_service
from app.courses import electives, permissions as perms, service
from app.courses.admin_forms import (
    CardsForm, CourseForm, CourseLinkForm, CourseLinkUpdateForm, EnrollForm, LessonForm, ModuleForm, MoveForm,
    ProjectForm, lesson_kind_choices,
)
from app.courses.models import Course, Enrollment, Lesson, Module, Project, ProjectCourse
from app.extensions import db

bp = Blueprint("courses_admin", __name__, url_prefix="/admin")

PER_PAGE = 25
MAX_ENROL_AT_ONCE = 5000


@bp.context_processor
def _inject():
    return {"kind_labels": kind_labels()}


def _me():
    return current_user._get_current_object()


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _project_or_404(project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    if project is None or not perms.can_view_project(_me(), project):
        abort(404)
    return project


def _course_or_404(course_id: int) -> Course:
    course = db.session.get(Course, course_id)
    if course is None or not perms.can_view_course(_me(), course):
        abort(404)
    return course


def _editable_course(course: Course) -> Course:
    if not perms.can_edit_course(_me(), course):
        abort(403)
    return course


def _field_error(form, exc: DomainError) -> None:
    field = getattr(form, exc.code, None)
    if field is not None and isinstance(getattr(field, "errors", None), list):
        field.errors.append(exc.message)
    else:
        flash(exc.message, "danger")


def _unit_from(form) -> OrgUnit | None | bool:
    """The org unit chosen in a form, which must lie in the admin's scope (False: error added)."""
    unit = db.session.get(OrgUnit, form.org_unit_id.data) if form.org_unit_id.data else None
    if unit is None or not scope.in_scope(_me(), unit):
        form.org_unit_id.errors.append(_("Choose an org unit of the area you administer."))
        return False
    return unit


# ---------------------------------------------------------------- projects
@bp.get("/projects")
@admin_required
def projects():
    q = (request.args.get("q") or "").strip()[:100]
    stmt = (select(Project).join(OrgUnit, OrgUnit.id == Project.org_unit_id)
            .where(perms.visible_projects_clause(_me())).options(selectinload(Project.org_unit)))
    show_archived = request.args.get("archived") == "1"
    stmt = stmt.where(Project.is_archived.is_(show_archived))
    if q:
        stmt = stmt.where(Project.title.ilike(_like(q), escape="\\"))
    page = db.paginate(stmt.order_by(Project.starts_on.desc(), Project.id.desc()),
                       page=query_int("page", 1), per_page=PER_PAGE, error_out=False)
    counts = dict(db.session.execute(
        select(Enrollment.project_id, func.count(Enrollment.id))
        .where(Enrollment.project_id.in_([p.id for p in page.items])).group_by(Enrollment.project_id)
    ).all()) if page.items else {}
    return render_template("admin/projects.html", page=page, q=q, counts=counts, show_archived=show_archived,
                           can_create=perms.can_create_project(_me()))


@bp.route("/projects/new", methods=["GET", "POST"])
@admin_required
def project_new():
    form = ProjectForm()
    form.org_unit_id.choices = as_choices(unit_choices(units_in_scope(_me())))
    status = 200
    if form.validate_on_submit():
        unit = _unit_from(form)
        if unit is not False:
            try:
                with write_transaction():
                    fields = form.project_fields()
                    project = service.do_create_project(fields.pop("title"), unit, fields.pop("starts_on"),
                                                        fields.pop("ends_on"), **fields)
                flash(_("The training project %(title)s was created.", title=project.title), "success")
                return redirect(url_for(".project_detail", project_id=project.id))
            except DomainError as exc:
                _field_error(form, exc)
        status = 400
    elif request.method == "POST":
        status = 400
    return render_template("admin/project_form.html", form=form, project=None), status


@bp.route("/projects/<int:project_id>/edit", methods=["GET", "POST"])
@admin_required
def project_edit(project_id: int):
    project = _project_or_404(project_id)
    if not perms.can_edit_project(_me(), project):
        abort(403)
    form = ProjectForm()
    form.org_unit_id.choices = as_choices(unit_choices(units_in_scope(_me())))
    if request.method == "GET":
        form.fill_from(project)
        return render_template("admin/project_form.html", form=form, project=project)
    if form.validate_on_submit():
        unit = _unit_from(form)
        if unit is not False:
            try:
                with write_transaction():
                    service.do_update_project(project, org_unit_id=unit.id, **form.project_fields())
                flash(_("The training project %(title)s was saved.", title=project.title), "success")
                return redirect(url_for(".project_detail", project_id=project.id))
            except DomainError as exc:
                _field_error(form, exc)
    return render_template("admin/project_form.html", form=form, project=project), 400


@bp.get("/projects/<int:project_id>")
@admin_required
def project_detail(project_id: int):
    return _project_page(_project_or_404(project_id))


def _project_page(project: Project, status: int = 200):
    me = _me()
    links = list(project.course_links)
    linked = {link.course_id for link in links}
    link_form = CourseLinkForm(formdata=None)
    candidates = db.session.execute(
        select(Course).join(OrgUnit, OrgUnit.id == Course.org_unit_id)
        .where(perms.visible_projects_clause(me), Course.is_archived.is_(False)).order_by(Course.title)
    ).scalars().all()
    link_form.course_id.choices = as_choices((c.id, c.title) for c in candidates if c.id not in linked)
    enrolled = db.session.execute(
        select(func.count(Enrollment.id)).join(User, User.id == Enrollment.user_id)
        .where(Enrollment.project_id == project.id, account_perms.users_in_scope_clause(me))
    ).scalar_one()
    return render_template("admin/project.html", project=project, links=links, link_form=link_form,
                           update_form=CourseLinkUpdateForm(formdata=None), enrolled=enrolled,
                           elective_pending=electives.get_pending_count(me, project)), status


@bp.post("/projects/<int:project_id>/courses")
@admin_required
def project_link_course(project_id: int):
    project = _project_or_404(project_id)
    if not perms.can_link_course(_me(), project):
        abort(403)
    form = CourseLinkForm()
    form.course_id.choices = []
    course = db.session.get(Course, form.course_id.data) if form.course_id.data else None
    if not form.validate_on_submit() or course is None or not perms.can_view_course(_me(), course):
        flash(_("Choose a course of your area to add."), "danger")
        return _project_page(project, 400)
    with write_transaction():
        service.do_link_course(project, course, is_required=form.is_required.data == "1")
    flash(_("%(course)s is now part of %(project)s.", course=course.title, project=project.title), "success")
    return redirect(url_for(".project_detail", project_id=project.id))


@bp.post("/projects/<int:project_id>/courses/<int:link_id>")
@admin_required
def project_course_update(project_id: int, link_id: int):
    project = _project_or_404(project_id)
    link = db.session.get(ProjectCourse, link_id)
    if link is None or link.project_id != project.id:
        abort(404)
    if not perms.can_link_course(_me(), project):
        abort(403)
    form = CourseLinkUpdateForm()
    if not form.validate_on_submit():
        flash(_("Nothing changed: the request was incomplete."), "danger")
        return _project_page(project, 400)
    action = form.action.data
    title = link.course.title
    with write_transaction():
        if action in ("up", "down"):
            service.do_move_course_link(link, action)
        elif action in ("required", "elective"):
            link.is_required = action == "required"
        else:
            service.do_unlink_course(link)
    messages = {
        "up": _("%(course)s moved up.", course=title), "down": _("%(course)s moved down.", course=title),
        "required": _("%(course)s is now required.", course=title),
        "elective": _("%(course)s is now elective.", course=title),
        "remove": _("%(course)s was removed from the project (learners' records are kept).", course=title),
    }
    flash(messages[action], "success")
    return redirect(url_for(".project_detail", project_id=project.id))


# ---------------------------------------------------------------- enrolments
def _project_area_schools(project: Project) -> list[OrgUnit]:
    return tree_order(list(db.session.execute(
        select(OrgUnit).where(scope.unit_scope_clause(OrgUnit.path, _me()),
                              OrgUnit.path.like(project.org_unit.path + "%"),
                              OrgUnit.kind.in_(("school", "learning_center")))
    ).scalars()))


@bp.get("/projects/<int:project_id>/enrollments")
@admin_required
def enrollments(project_id: int):
    project = _project_or_404(project_id)
    if not perms.can_manage_enrollments(_me(), project):
        abort(403)
    return _enrollments_page(project)


def _enrollments_page(project: Project, status: int = 200):
    me = _me()
    q = (request.args.get("q") or "").strip()[:64]
    stmt = (select(Enrollment).join(User, User.id == Enrollment.user_id)
            .where(Enrollment.project_id == project.id, account_perms.users_in_scope_clause(me))
            .options(selectinload(Enrollment.user).selectinload(User.school)))
    if q:
        pattern = _like(q)
        stmt = stmt.where(or_(User.username.ilike(pattern, escape="\\"), User.real_name.ilike(pattern, escape="\\"),
                              User.teacher_no.ilike(pattern, escape="\\")))
    page = db.paginate(stmt.order_by(User.username_key, User.id), page=query_int("page", 1),
                       per_page=PER_PAGE, error_out=False)
    cq = (request.args.get("cq") or "").strip()[:64]
    candidates = []
    if cq:
        enrolled_ids = select(Enrollment.user_id).where(Enrollment.project_id == project.id)
        area = select(OrgUnit.id).where(OrgUnit.path.like(project.org_unit.path + "%"))
        pattern = _like(cq)
        candidates = db.session.execute(
            select(User).where(account_perms.users_in_scope_clause(me), User.school_id.in_(area),
                               User.id.not_in(enrolled_ids), User.is_active_flag.is_(True),
                               or_(User.username.ilike(pattern, escape="\\"), User.real_name.ilike(pattern, escape="\\"),
                                   User.teacher_no.ilike(pattern, escape="\\"), User.phone.ilike(pattern, escape="\\")))
            .options(selectinload(User.school)).order_by(User.username_key).limit(50)
        ).scalars().all()
    form = EnrollForm(formdata=None)
    form.school_id.choices = as_choices(unit_choices(_project_area_schools(project), _("—")))
    return render_template("admin/enrollments.html", project=project, page=page, q=q, cq=cq, candidates=candidates,
                           form=form, action=ActionForm(formdata=None)), status


@bp.post("/projects/<int:project_id>/enrollments")
@admin_required
def enroll(project_id: int):
    me = _me()
    project = _project_or_404(project_id)
    if not perms.can_manage_enrollments(me, project):
        abort(403)
    form = EnrollForm()
    form.school_id.choices = []
    back = redirect(url_for(".enrollments", project_id=project.id))

    def refused(status: int):
        return _enrollments_page(project, status)

    if not form.validate_on_submit():
        flash(_("Nothing changed: the request was incomplete."), "danger")
        return refused(400)
    if project.ends_on < clock.now().date():
        flash(_("The training project has ended; nobody can be enrolled any more."), "danger")
        return refused(409)
    user_ids = parse_ids(request.form.getlist("user_ids")[:MAX_ENROL_AT_ONCE + 1])
    if user_ids is None:  # not an id: of no user
        flash(_("Some of the chosen users do not exist any more. Nothing changed."), "danger")
        return refused(400)
    if form.school_id.data:
        school = db.session.get(OrgUnit, form.school_id.data)
        if school is None or not scope.in_scope(me, school) or not school.path.startswith(project.org_unit.path):
            flash(_("Choose a school of your area inside the project's area."), "danger")
            return refused(400)
        users = db.session.execute(
            select(User).where(User.school_id == school.id, User.is_active_flag.is_(True)).limit(MAX_ENROL_AT_ONCE + 1)
        ).scalars().all()
    elif user_ids:
        users = db.session.execute(select(User).where(User.id.in_(user_ids))).scalars().all()
        if len(users) != len(set(user_ids)):
            flash(_("Some of the chosen users do not exist any more. Nothing changed."), "danger")
            return refused(400)
    else:
        flash(_("Tick the teachers to enrol, or choose a school."), "warning")
        return refused(400)
    if len(users) > MAX_ENROL_AT_ONCE:
        flash(_("Enrol at most %(n)d teachers at once.", n=MAX_ENROL_AT_ONCE), "danger")
        return refused(400)
    hidden = [u for u in users if not account_perms.can_view_user(me, u)]
    if hidden:  # never name users the admin may not see
        flash(_("Nothing changed: %(n)d of the chosen users are outside your area.", n=len(hidden)), "danger")
        return refused(403)
    outside = [u for u in users if not perms.can_enroll_user(me, project, u)]
    if outside:
        flash(_("Nothing changed: these users are outside the project's area: %(names)s.",
                names=", ".join(u.username for u in outside[:20])), "danger")
        return refused(403)
    already = set(db.session.execute(
        select(Enrollment.user_id).where(Enrollment.project_id == project.id,
                                         Enrollment.user_id.in_([u.id for u in users]))).scalars())
    try:
        with write_transaction():
            db.session.add_all([Enrollment(project_id=project.id, user_id=u.id, source="admin")
                                for u in users if u.id not in already])
    except IntegrityError:
        db.session.rollback()
        flash(_("Someone enrolled some of these teachers at the same moment. Nothing changed; please try again."), "danger")
        return refused(409)
    added = len([u for u in users if u.id not in already])
    flash(ngettext("%(num)d teacher was enrolled in %(title)s (%(m)d were already enrolled).",
                   "%(num)d teachers were enrolled in %(title)s (%(m)d were already enrolled).", added,
                   title=project.title, m=len(users) - added), "success")
    return back


@bp.post("/projects/<int:project_id>/enrollments/<int:enrollment_id>/remove")
@admin_required
def unenroll(project_id: int, enrollment_id: int):
    me = _me()
    project = _project_or_404(project_id)
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None or enrollment.project_id != project.id or not account_perms.can_view_user(me, enrollment.user):
        abort(404)
    if not perms.can_unenroll(me, enrollment):
        abort(403)
    if not ActionForm().validate_on_submit():
        abort(400)
    name = enrollment.user.username
    with write_transaction():
        service.do_unenroll(enrollment)
    flash(_("%(name)s is no longer enrolled in %(title)s; their learning records are kept.", name=name,
            title=project.title), "success")
    return redirect(url_for(".enrollments", project_id=project.id))


# ---------------------------------------------------------------- learning cards
@bp.get("/projects/<int:project_id>/cards")
@admin_required
def cards(project_id: int):
    project = _project_or_404(project_id)
    if not perms.can_manage_cards(_me(), project):
        abort(403)
    return render_template("admin/cards.html", project=project, form=CardsForm(), action=ActionForm(),
                           batches=card_service.get_card_batches(project))


@bp.post("/projects/<int:project_id>/cards")
@admin_required
def cards_generate(project_id: int):
    me = _me()
    project = _project_or_404(project_id)
    if not perms.can_manage_cards(me, project):
        abort(403)
    form = CardsForm()
    if not form.validate_on_submit():
        return render_template("admin/cards.html", project=project, form=form, action=ActionForm(),
                               batches=card_service.get_card_batches(project)), 400
    if project.ends_on < clock.now().date():
        flash(_("The training project has ended; its cards could not be used."), "danger")
        return render_template("admin/cards.html", project=project, form=form, action=ActionForm(),
                               batches=card_service.get_card_batches(project)), 409
    try:
        prepared = card_service.prepare_cards(project, form.count.data)
        with write_transaction():
            batch, issued = card_service.do_store_cards(project, prepared, me)
    except DomainError as exc:
        flash(exc.message, "danger")
        return render_template("admin/cards.html", project=project, form=form, action=ActionForm(),
                               batches=card_service.get_card_batches(project)), exc.status
    header = [_("Card number"), _("PIN"), _("Training project"), _("Valid until")]
    rows = [[c.number, c.pin, project.title, project.ends_on.isoformat()] for c in issued]
    if form.file_format.data == "csv":
        body, mimetype = importer.csv_bytes(header, rows), "text/csv; charset=utf-8"
    else:
        body = importer.xlsx_bytes([(batch, header, rows)])
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = make_response(body)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f"attachment; filename=cards-{project.id}-{batch}.{form.file_format.data}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/projects/<int:project_id>/cards/<batch>/revoke")
@admin_required
def cards_revoke(project_id: int, batch: str):
    project = _project_or_404(project_id)
    if not perms.can_manage_cards(_me(), project):
        abort(403)
    if not ActionForm().validate_on_submit():
        abort(400)
    with write_transaction():
        count = card_service.do_revoke_batch(project, batch[:32])
    flash(ngettext("%(num)d unused card of batch %(batch)s was withdrawn.",
                   "%(num)d unused cards of batch %(batch)s were withdrawn.", count, batch=batch), "success")
    return redirect(url_for(".cards", project_id=project.id))


# ---------------------------------------------------------------- courses
@bp.get("/courses")
@admin_required
def courses():
    q = (request.args.get("q") or "").strip()[:100]
    stmt = (select(Course).join(OrgUnit, OrgUnit.id == Course.org_unit_id)
            .where(perms.visible_projects_clause(_me())).options(selectinload(Course.org_unit)))
    show_archived = request.args.get("archived") == "1"
    stmt = stmt.where(Course.is_archived.is_(show_archived))
    if q:
        stmt = stmt.where(Course.title.ilike(_like(q), escape="\\"))
    page = db.paginate(stmt.order_by(Course.title, Course.id), page=query_int("page", 1),
                       per_page=PER_PAGE, error_out=False)
    return render_template("admin/courses.html", page=page, q=q, show_archived=show_archived,
                           can_create=perms.can_create_course(_me()))


@bp.route("/courses/new", methods=["GET", "POST"])
@admin_required
def course_new():
    form = CourseForm()
    form.org_unit_id.choices = as_choices(unit_choices(units_in_scope(_me())))
    status = 200
    if form.validate_on_submit():
        unit = _unit_from(form)
        if unit is not False:
            with write_transaction():
                course = service.do_create_course(form.title.data.strip(), unit,
                                                  description=(form.description.data or "").strip(),
                                                  subject=(form.subject.data or "").strip() or None,
                                                  stage=form.stage.data or None)
            flash(_("The course %(title)s was created. Add its modules and lessons now.", title=course.title), "success")
            return redirect(url_for(".course_detail", course_id=course.id))
        status = 400
    elif request.method == "POST":
        status = 400
    return render_template("admin/course_form.html", form=form, course=None), status


#: the media feature's upload page, under the names it has had; linked only when the app has one
MEDIA_UPLOAD_ENDPOINTS = ("media.upload", "media_upload.course_media")


def _media_upload_endpoint() -> str | None:
    return next((e for e in MEDIA_UPLOAD_ENDPOINTS if e in current_app.view_functions), None)


def _media_upload_url(course: Course, lesson=None) -> str | None:
    """The media upload page for this course (and lesson), when that page exists."""
    endpoint = _media_upload_endpoint()
    if endpoint is None:
        return None
    values = {"course_id": course.id}
    if lesson is not None:
        values["lesson_id"] = lesson.id
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _render_course(course: Course, form: CourseForm | None = None, status: int = 200):
    if form is None:
        form = CourseForm(formdata=None, obj=course)
        form.org_unit_id.choices = as_choices(unit_choices(units_in_scope(_me())))
        form.stage.data = course.stage or ""
    return render_template(
        "admin/course.html", course=course, form=form, module_form=ModuleForm(formdata=None),
        lesson_form=LessonForm(formdata=None), move_form=MoveForm(formdata=None), action=ActionForm(formdata=None),
        can_edit=perms.can_edit_course(_me(), course), show_archived=request.args.get("archived") == "1",
        archived_count=sum(1 for module in course.modules for lesson in module.lessons if lesson.is_archived),
        has_media_upload=_media_upload_endpoint() is not None, media_upload_url=_media_upload_url,
        kind_names=dict(lesson_kind_choices()),
    ), status


@bp.route("/courses/<int:course_id>", methods=["GET", "POST"])
@admin_required
def course_detail(course_id: int):
    course = _course_or_404(course_id)
    form = CourseForm(obj=course if request.method == "GET" else None)
    form.org_unit_id.choices = as_choices(unit_choices(units_in_scope(_me())))
    if request.method == "GET":
        return _render_course(course)
    _editable_course(course)
    if form.validate_on_submit():
        unit = _unit_from(form)
        if unit is not False:
            with write_transaction():
                service.do_update_course(course, title=form.title.data.strip(), org_unit_id=unit.id,
                                         description=(form.description.data or "").strip(),
                                         subject=(form.subject.data or "").strip() or None, stage=form.stage.data or None)
            flash(_("The course %(title)s was saved.", title=course.title), "success")
            return redirect(url_for(".course_detail", course_id=course.id))
    return _render_course(course, form, 400)


@bp.post("/courses/<int:course_id>/modules")
@admin_required
def module_new(course_id: int):
    course = _editable_course(_course_or_404(course_id))
    form = ModuleForm()
    if not form.validate_on_submit():
        flash(_("Give the module a title (at most 200 characters)."), "danger")
        return _render_course(course, status=400)
    with write_transaction():
        service.do_add_module(course, form.title.data.strip())
    flash(_("The module %(title)s was added.", title=form.title.data.strip()), "success")
    return redirect(url_for(".course_detail", course_id=course.id))


def _module_or_404(module_id: int) -> Module:
    module = db.session.get(Module, module_id)
    if module is None:
        abort(404)
    _editable_course(_course_or_404(module.course_id))
    return module


@bp.post("/modules/<int:module_id>")
@admin_required
def module_edit(module_id: int):
    module = _module_or_404(module_id)
    form = ModuleForm()
    if not form.validate_on_submit():
        flash(_("Give the module a title (at most 200 characters)."), "danger")
        return _render_course(module.course, status=400)
    with write_transaction():
        module.title = form.title.data.strip()
    flash(_("The module was renamed to %(title)s.", title=module.title), "success")
    return redirect(url_for(".course_detail", course_id=module.course_id))


@bp.post("/modules/<int:module_id>/move")
@admin_required
def module_move(module_id: int):
    module = _module_or_404(module_id)
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400)
    with write_transaction():
        service.do_move_module(module, form.direction.data)
    flash(_("The module %(title)s was moved.", title=module.title), "success")
    return redirect(url_for(".course_detail", course_id=module.course_id))


@bp.post("/modules/<int:module_id>/delete")
@admin_required
def module_delete(module_id: int):
    module = _module_or_404(module_id)
    course_id = module.course_id
    if not ActionForm().validate_on_submit():
        abort(400)
    title = module.title
    try:
        with write_transaction():
            service.do_delete_module(module)
    except DomainError as exc:
        flash(exc.message, "danger")
        return _render_course(module.course, status=exc.status)
    flash(_("The module %(title)s was deleted.", title=title), "success")
    return redirect(url_for(".course_detail", course_id=course_id))


@bp.post("/modules/<int:module_id>/lessons")
@admin_required
def lesson_new(module_id: int):
    module = _module_or_404(module_id)
    form = LessonForm()
    if not form.validate_on_submit():
        problems = "; ".join(e for f in form if f.errors for e in f.errors)
        flash(_("The lesson was not added: %(problems)s", problems=problems), "danger")
        return _render_course(module.course, status=400)
    with write_transaction():
        lesson = service.do_add_lesson(module, form.title.data.strip(), kind=form.kind.data,
                                       duration_s=form.duration_s() or 0)
    flash(_("The lesson %(title)s was added.", title=lesson.title), "success")
    return redirect(url_for(".course_detail", course_id=module.course_id))


@bp.route("/lessons/<int:lesson_id>", methods=["GET", "POST"])
@admin_required
def lesson_edit(lesson_id: int):
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None:
        abort(404)
    course = _course_or_404(lesson.module.course_id)
    if request.method == "POST":
        _editable_course(course)
    form = LessonForm(obj=lesson if request.method == "GET" else None)
    if request.method == "GET":
        form.duration_min.data = round(lesson.duration_s / 60, 1)
    status = 200
    if form.validate_on_submit():
        try:
            with write_transaction():
                service.do_update_lesson(lesson, title=form.title.data, kind=form.kind.data, duration_s=form.duration_s())
            flash(_("The lesson %(title)s was saved.", title=lesson.title), "success")
            return redirect(url_for(".course_detail", course_id=course.id))
        except DomainError as exc:
            _field_error(form, exc)
        status = 400
    elif request.method == "POST":
        status = 400
    return render_template("admin/lesson_form.html", form=form, lesson=lesson, course=course,
                           can_edit=perms.can_edit_course(_me(), course),
                           media_upload_url=_media_upload_url(course, lesson)), status


@bp.post("/lessons/<int:lesson_id>/move")
@admin_required
def lesson_move(lesson_id: int):
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None:
        abort(404)
    _module_or_404(lesson.module_id)
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400)
    with write_transaction():
        service.do_move_lesson(lesson, form.direction.data)
    flash(_("The lesson %(title)s was moved.", title=lesson.title), "success")
    return redirect(url_for(".course_detail", course_id=lesson.module.course_id))


# ---------------------------------------------------------------- archive, restore, delete
def _lesson_or_404(lesson_id: int) -> Lesson:
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None:
        abort(404)
    _course_or_404(lesson.module.course_id)
    return lesson


def _change_state(obj, action: str, title: str, done, back, refused):
    """Archive, restore or delete obj; refused(status) renders the page again with the reason."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        with write_transaction():
            if action == "delete":
                service.check_delete(obj)
            else:
                service.do_set_archived(obj, action == "archive")
    except DomainError as exc:
        flash(exc.message, "danger")
        return refused(exc.status)
    messages = {
        "archive": _("%(title)s was archived: it is no longer offered for study; every credited second is kept.",
                     title=title),
        "restore": _("%(title)s was restored and is offered for study again.", title=title),
        "delete": _("%(title)s was deleted.", title=title),
    }
    flash(messages[action], "success")
    return redirect(done if action == "delete" else back)


def _project_state(project_id: int, action: str):
    project = _project_or_404(project_id)
    if not perms.can_archive_project(_me(), project):
        abort(403)
    return _change_state(project, action, project.title, url_for(".projects"),
                         url_for(".project_detail", project_id=project.id), lambda status: _project_page(project, status))


@bp.post("/projects/<int:project_id>/archive")
@admin_required
def project_archive(project_id: int):
    return _project_state(project_id, "archive")


@bp.post("/projects/<int:project_id>/restore")
@admin_required
def project_restore(project_id: int):
    return _project_state(project_id, "restore")


@bp.post("/projects/<int:project_id>/delete")
@admin_required
def project_delete(project_id: int):
    return _project_state(project_id, "delete")


def _course_state(course_id: int, action: str):
    course = _course_or_404(course_id)
    if not perms.can_archive_course(_me(), course):
        abort(403)
    return _change_state(course, action, course.title, url_for(".courses"),
                         url_for(".course_detail", course_id=course.id), lambda status: _render_course(course, status=status))


@bp.post("/courses/<int:course_id>/archive")
@admin_required
def course_archive(course_id: int):
    return _course_state(course_id, "archive")


@bp.post("/courses/<int:course_id>/restore")
@admin_required
def course_restore(course_id: int):
    return _course_state(course_id, "restore")


@bp.post("/courses/<int:course_id>/delete")
@admin_required
def course_delete(course_id: int):
    return _course_state(course_id, "delete")


def _lesson_state(lesson_id: int, action: str):
    lesson = _lesson_or_404(lesson_id)
    course = lesson.module.course
    if not perms.can_archive_course(_me(), course):
        abort(403)
    back = url_for(".course_detail", course_id=course.id, archived="1" if action == "archive" else None)
    return _change_state(lesson, action, lesson.title, url_for(".course_detail", course_id=course.id), back,
                         lambda status: _render_course(course, status=status))


@bp.post("/lessons/<int:lesson_id>/archive")
@admin_required
def lesson_archive(lesson_id: int):
    return _lesson_state(lesson_id, "archive")


@bp.post("/lessons/<int:lesson_id>/restore")
@admin_required
def lesson_restore(lesson_id: int):
    return _lesson_state(lesson_id, "restore")


@bp.post("/lessons/<int:lesson_id>/delete")
@admin_required
def lesson_delete(lesson_id: int):
    return _lesson_state(lesson_id, "delete")
