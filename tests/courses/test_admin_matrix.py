"""Permission table of the projects and courses administration: projects, course links, enrolments, cards, courses.

Columns (PERSONAS): site admin, province admin, county A admin, county B admin, school A1 admin, tutor,
class manager, learner, anonymous. Side "a": project/course of county A; side "b": of county B.
A project or course run by a unit above the admin (county A's project for the school A1 admin) is
visible and usable for enrolments, but not editable: 403. Outside the admin's reach: 404.
"""
import itertools
from datetime import date

import pytest
from flask import url_for

from tests.classrooms.world import Row, check_table_covers, fast_hashing, run_rows, world  # noqa: F401

MATRIX_ENDPOINTS = {
    "courses_admin.projects", "courses_admin.project_new", "courses_admin.project_detail", "courses_admin.project_edit",
    "courses_admin.project_link_course", "courses_admin.project_course_update", "courses_admin.enrollments",
    "courses_admin.enroll", "courses_admin.unenroll", "courses_admin.cards", "courses_admin.cards_generate",
    "courses_admin.cards_revoke", "courses_admin.courses", "courses_admin.course_new", "courses_admin.course_detail",
    "courses_admin.module_new", "courses_admin.module_edit", "courses_admin.module_move", "courses_admin.module_delete",
    "courses_admin.lesson_new", "courses_admin.lesson_edit", "courses_admin.lesson_move",
    "courses_admin.project_archive", "courses_admin.project_restore", "courses_admin.project_delete",
    "courses_admin.course_archive", "courses_admin.course_restore", "courses_admin.course_delete",
    "courses_admin.lesson_archive", "courses_admin.lesson_restore", "courses_admin.lesson_delete",
}

_n = itertools.count(1)
ADMINS_ONLY = "200 200 200 200 200 403 403 403 L"
READ_A = "200 200 200 404 200 403 403 403 L"      # county A object: the school admin below may look
READ_B = "200 200 404 200 404 403 403 403 L"
EDIT_A = "302 302 302 404 403 403 403 403 L"      # ...but not change it
EDIT_B = "302 302 404 302 404 403 403 403 L"
USE_A = "302 302 302 404 302 403 403 403 L"       # enrol own teachers in a project from above
USE_B = EDIT_B


def _project_form(w, side, title):
    return {
        "title": title, "org_unit_id": w.obj("county", side), "starts_on": "2026-01-01", "ends_on": "2026-12-31",
        "timezone": "Asia/Shanghai", "required_hours": "60", "minutes_per_hour": "45", "gap_factor": "8",
        "min_rate": "0.5", "max_rate": "2", "completion_ratio": "0.9", "cap_factor": "1", "daily_cap_hours": "8",
        "is_presence_check_enabled": "y", "presence_min_min": "20", "presence_max_min": "30",
        "presence_timeout_s": "120", "weight_video": "60", "weight_forum": "10", "weight_homework": "20",
        "weight_exam": "10", "pass_score": "60", "good_score": "80", "excellent_score": "90",
    }


def _u(endpoint, **values):
    return url_for(endpoint, **values)


PROJECT_ROWS = [
    Row("courses_admin.projects", "GET", lambda w, s, p: (_u("courses_admin.projects"), None),
        "Y Y Y H Y 403 403 403 L", "Y Y H Y H 403 403 403 L", marker=lambda w, s: "ALPHA-PROJ" if s == "a" else "BETA-PROJ"),
    Row("courses_admin.project_new", "GET", lambda w, s, p: (_u("courses_admin.project_new"), None), ADMINS_ONLY, ADMINS_ONLY),
    Row("courses_admin.project_new", "POST",
        lambda w, s, p: (_u("courses_admin.project_new"), _project_form(w, s, f"made {next(_n)}")),
        "302 302 302 400 400 403 403 403 L", "302 302 400 302 400 403 403 403 L"),
    Row("courses_admin.project_detail", "GET",
        lambda w, s, p: (_u("courses_admin.project_detail", project_id=w.obj("project", s)), None), READ_A, READ_B),
    Row("courses_admin.project_edit", "GET",
        lambda w, s, p: (_u("courses_admin.project_edit", project_id=w.obj("project", s)), None),
        "200 200 200 404 403 403 403 403 L", READ_B),
    Row("courses_admin.project_edit", "POST",
        lambda w, s, p: (_u("courses_admin.project_edit", project_id=w.obj("project", s)),
                         _project_form(w, s, "ALPHA-PROJ" if s == "a" else "BETA-PROJ")), EDIT_A, EDIT_B),
    Row("courses_admin.project_link_course", "POST",
        lambda w, s, p: (_u("courses_admin.project_link_course", project_id=w.obj("project", s)),
                         {"course_id": w.obj("spare", s), "is_required": "0"}), EDIT_A, EDIT_B),
    Row("courses_admin.project_course_update", "POST",
        lambda w, s, p: (_u("courses_admin.project_course_update", project_id=w.obj("project", s), link_id=w.obj("link", s)),
                         {"action": "required"}), EDIT_A, EDIT_B),
]

ENROLMENT_ROWS = [
    Row("courses_admin.enrollments", "GET",
        lambda w, s, p: (_u("courses_admin.enrollments", project_id=w.obj("project", s)), None),
        "Y Y Y 404 Y 403 403 403 L", "Y Y 404 Y 404 403 403 403 L", marker=lambda w, s: w.names[f"user_{s}"]),
    Row("courses_admin.enrollments", "GET",
        lambda w, s, p: (_u("courses_admin.enrollments", project_id=w.obj("project", s), cq="staff_"), None),
        "Y Y Y 404 Y 403 403 403 L", "Y Y 404 Y 404 403 403 403 L", marker=lambda w, s: w.names[f"staff_{s}"]),
    Row("courses_admin.enroll", "POST",
        lambda w, s, p: (_u("courses_admin.enroll", project_id=w.obj("project", s)), {"user_ids": w.fresh_teacher(s)}),
        USE_A, USE_B),
    Row("courses_admin.enroll", "POST",
        lambda w, s, p: (_u("courses_admin.enroll", project_id=w.obj("project", s)), {"school_id": w.obj("school", s)}),
        USE_A, USE_B),
    Row("courses_admin.unenroll", "POST",
        lambda w, s, p: (_u("courses_admin.unenroll", project_id=w.obj("project", s), enrollment_id=w.fresh_enrollment(s)), {}),
        USE_A, USE_B),
]

CARD_ROWS = [
    Row("courses_admin.cards", "GET", lambda w, s, p: (_u("courses_admin.cards", project_id=w.obj("project", s)), None),
        "200 200 200 404 403 403 403 403 L", READ_B),
    Row("courses_admin.cards_generate", "POST",
        lambda w, s, p: (_u("courses_admin.cards_generate", project_id=w.obj("project", s)), {"count": "1", "file_format": "csv"}),
        "200 200 200 404 403 403 403 403 L", READ_B),
    Row("courses_admin.cards_revoke", "POST",
        lambda w, s, p: (_u("courses_admin.cards_revoke", project_id=w.obj("project", s), batch=w.fresh_batch(s)), {}),
        EDIT_A, EDIT_B),
]

COURSE_ROWS = [
    Row("courses_admin.courses", "GET", lambda w, s, p: (_u("courses_admin.courses"), None),
        "Y Y Y H Y 403 403 403 L", "Y Y H Y H 403 403 403 L", marker=lambda w, s: "ALPHA-COURSE" if s == "a" else "BETA-COURSE"),
    Row("courses_admin.course_new", "GET", lambda w, s, p: (_u("courses_admin.course_new"), None), ADMINS_ONLY, ADMINS_ONLY),
    Row("courses_admin.course_new", "POST",
        lambda w, s, p: (_u("courses_admin.course_new"), {"title": f"made {next(_n)}", "org_unit_id": w.obj("county", s)}),
        "302 302 302 400 400 403 403 403 L", "302 302 400 302 400 403 403 403 L"),
    Row("courses_admin.course_detail", "GET",
        lambda w, s, p: (_u("courses_admin.course_detail", course_id=w.obj("course", s)), None), READ_A, READ_B),
    Row("courses_admin.course_detail", "POST",
        lambda w, s, p: (_u("courses_admin.course_detail", course_id=w.obj("course", s)),
                         {"title": "ALPHA-COURSE" if s == "a" else "BETA-COURSE", "org_unit_id": w.obj("county", s)}),
        EDIT_A, EDIT_B),
    Row("courses_admin.module_new", "POST",
        lambda w, s, p: (_u("courses_admin.module_new", course_id=w.obj("course", s)), {"title": f"Module {next(_n)}"}),
        EDIT_A, EDIT_B),
    Row("courses_admin.module_edit", "POST",
        lambda w, s, p: (_u("courses_admin.module_edit", module_id=w.obj("module", s)), {"title": "Module 1"}), EDIT_A, EDIT_B),
    Row("courses_admin.module_move", "POST",
        lambda w, s, p: (_u("courses_admin.module_move", module_id=w.obj("module", s)), {"direction": "down"}), EDIT_A, EDIT_B),
    Row("courses_admin.module_delete", "POST",
        lambda w, s, p: (_u("courses_admin.module_delete", module_id=w.fresh_module(s)), {}), EDIT_A, EDIT_B),
    Row("courses_admin.lesson_new", "POST",
        lambda w, s, p: (_u("courses_admin.lesson_new", module_id=w.obj("module", s)),
                         {"title": f"Reading {next(_n)}", "kind": "document", "duration_min": "5"}), EDIT_A, EDIT_B),
    Row("courses_admin.lesson_edit", "GET",
        lambda w, s, p: (_u("courses_admin.lesson_edit", lesson_id=w.obj("lesson", s)), None), READ_A, READ_B),
    Row("courses_admin.lesson_edit", "POST",
        lambda w, s, p: (_u("courses_admin.lesson_edit", lesson_id=w.obj("lesson", s)), {"title": "Lesson", "kind": "video"}),
        EDIT_A, EDIT_B),
    Row("courses_admin.lesson_move", "POST",
        lambda w, s, p: (_u("courses_admin.lesson_move", lesson_id=w.obj("lesson", s)), {"direction": "down"}), EDIT_A, EDIT_B),
]



def _fresh(kind):
    """A fresh project, course or lesson of the side's county for a row that archives or deletes it."""

    def build(w, side):
        from app.accounts.models import OrgUnit
        from app.courses import service
        from app.extensions import db

        county = db.session.get(OrgUnit, w.obj("county", side))
        if kind == "project":
            made = service.do_create_project(f"Fresh {next(_n)}", county, date(2026, 1, 1), date(2026, 12, 31))
        else:
            made = service.do_create_course(f"Fresh {next(_n)}", county)
            if kind == "lesson":
                made = service.do_add_lesson(service.do_add_module(made, "Module"), "Lesson", duration_s=60)
        db.session.commit()
        return made.id

    return build


def _state_row(kind, action):
    endpoint = f"courses_admin.{kind}_{action}"
    fresh = _fresh(kind)
    return Row(endpoint, "POST", lambda w, s, p: (_u(endpoint, **{f"{kind}_id": fresh(w, s)}), {}), EDIT_A, EDIT_B)


ARCHIVE_ROWS = [_state_row(kind, action) for kind in ("project", "course", "lesson")
                for action in ("archive", "restore", "delete")]

GROUPS = {"projects": PROJECT_ROWS, "enrolments": ENROLMENT_ROWS, "cards": CARD_ROWS, "courses": COURSE_ROWS,
          "archive": ARCHIVE_ROWS}


@pytest.mark.parametrize("side", ["a", "b"])
@pytest.mark.parametrize("group", sorted(GROUPS))
def test_permission_table(world, group, side):
    run_rows(world, GROUPS[group], side)


def test_table_covers_every_endpoint(app):
    check_table_covers([r for rows in GROUPS.values() for r in rows], MATRIX_ENDPOINTS, ("courses_admin",), app)


def test_county_admin_cannot_enrol_the_other_countys_teacher_into_a_shared_project(world, make_project):
    """Even in a province project both counties use, an admin enrols only teachers of their own subtree."""
    from sqlalchemy import select

    from app.courses.models import Enrollment
    from app.extensions import db

    shared = make_project("SHARED", org=None)
    client = world.clients["county_a"]
    response = client.post(f"/admin/projects/{shared.id}/enrollments",
                           data={"csrf_token": world.csrf["county_a"], "user_ids": [world["user_a"], world["user_b"]]})
    assert response.status_code == 403
    assert db.session.execute(select(Enrollment).where(Enrollment.project_id == shared.id)).first() is None
    page = client.get(f"/admin/projects/{shared.id}/enrollments").get_data(as_text=True)
    assert response.status_code == 403 and "teacher_beta" not in page
