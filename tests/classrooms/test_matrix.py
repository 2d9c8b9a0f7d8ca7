"""Permission table of classes: lists, create/edit, roster, learners, staff, and the staff's own classes.

Columns (PERSONAS): site admin, province admin, county A admin, county B admin, school A1 admin, the tutor
and class manager of class A, a learner of class A, anonymous. Side "a": class A (school A1, county A's
project); side "b": class B (school B1, county B's project). Class staff read their own roster only
(any other class: 404, like an object outside an admin's scope); the admin pages are for admins (403).
"""
import itertools

import pytest
from flask import url_for

from tests.classrooms.world import Row, check_table_covers, fast_hashing, run_rows, world  # noqa: F401

MATRIX_ENDPOINTS = {
    "classrooms.classes", "classrooms.class_new", "classrooms.class_edit", "classrooms.roster",
    "classrooms.add_learners", "classrooms.remove_learner", "classrooms.set_staff", "classrooms.my_classes",
}

_n = itertools.count(1)
READ_A = "200 200 200 404 200 403 403 403 L"
READ_B = "200 200 404 200 404 403 403 403 L"
WRITE_A = "302 302 302 404 302 403 403 403 L"
WRITE_B = "302 302 404 302 404 403 403 403 L"


def _class_marker(w, side):
    return "ALPHA-CLASS" if side == "a" else "BETA-CLASS"


def _class_form(w, side, name):
    return {"name": name, "org_unit_id": w.obj("school", side), "subject": "Maths", "stage": "primary"}


ROWS = [
    Row("classrooms.classes", "GET", lambda w, s, p: (url_for("classrooms.classes", project_id=w.obj("project", s)), None),
        "Y Y Y 404 Y 403 403 403 L", "Y Y 404 Y 404 403 403 403 L", marker=_class_marker),
    Row("classrooms.class_new", "GET", lambda w, s, p: (url_for("classrooms.class_new", project_id=w.obj("project", s)), None),
        READ_A, READ_B),
    Row("classrooms.class_new", "POST",
        lambda w, s, p: (url_for("classrooms.class_new", project_id=w.obj("project", s)), _class_form(w, s, f"New {next(_n)}")),
        WRITE_A, WRITE_B),
    Row("classrooms.class_edit", "GET", lambda w, s, p: (url_for("classrooms.class_edit", class_id=w.obj("class", s)), None),
        READ_A, READ_B),
    Row("classrooms.class_edit", "POST",
        lambda w, s, p: (url_for("classrooms.class_edit", class_id=w.obj("class", s)), _class_form(w, s, _class_marker(w, s))),
        WRITE_A, WRITE_B),
    # The roster: admins of the class's subtree and the class's own tutor and manager; learners see none.
    Row("classrooms.roster", "GET", lambda w, s, p: (url_for("classrooms.roster", class_id=w.obj("class", s)), None),
        "200 200 200 404 200 200 200 404 L", "200 200 404 200 404 404 404 404 L"),
    Row("classrooms.add_learners", "POST",
        lambda w, s, p: (url_for("classrooms.add_learners", class_id=w.obj("class", s)), {"user_ids": w.fresh_teacher(s, enrolled=True)}),
        WRITE_A, WRITE_B),
    Row("classrooms.add_learners", "POST",
        lambda w, s, p: (url_for("classrooms.add_learners", class_id=w.obj("class", s)), {"names": w.names[f"user_{s}"]}),
        WRITE_A, WRITE_B),
    Row("classrooms.remove_learner", "POST",
        lambda w, s, p: (url_for("classrooms.remove_learner", class_id=w.obj("class", s), user_id=w.fresh_teacher(s, seated=True)), {}),
        WRITE_A, WRITE_B),
    Row("classrooms.set_staff", "POST",
        lambda w, s, p: (url_for("classrooms.set_staff", class_id=w.obj("class", s)), {"role": "tutor", "username": "p_tutor"}
                         if s == "a" else {"role": "tutor", "username": w.names["staff_b"]}),
        WRITE_A, WRITE_B),
    Row("classrooms.my_classes", "GET", lambda w, s, p: (url_for("classrooms.my_classes"), None),
        "H H H H H Y Y H L", "H H H H H H H H L", marker=_class_marker),
]


@pytest.mark.parametrize("side", ["a", "b"])
def test_permission_table(world, side):
    run_rows(world, ROWS, side)


def test_table_covers_every_endpoint(app):
    check_table_covers(ROWS, MATRIX_ENDPOINTS, ("classrooms",), app)
