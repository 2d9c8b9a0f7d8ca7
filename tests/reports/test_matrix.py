"""Permission table of the reports: dashboards, learner lists, exports and background export files.

Columns (PERSONAS): site admin, province admin, county A admin, county B admin, school A1 admin, tutor and
class manager of class A, a learner of class A, anonymous. Side "a": county A's project, class, units;
side "b": county B's. Out of reach answers 404; a learner gets 403 everywhere; anonymous is sent to sign in.
"""
import pytest
from flask import url_for

from app.extensions import db
from tests.classrooms.world import Row, check_table_covers, fast_hashing, run_rows, world  # noqa: F401

MATRIX_ENDPOINTS = {
    "reports.index", "reports.project", "reports.unit_dashboard", "reports.class_dashboard",
    "reports.unit_learners", "reports.class_learners", "reports.unit_export", "reports.class_export",
    "reports.export_status", "reports.export_download",
}

COUNTY = "200 200 200 404 404 404 404 403 L"
COUNTY_B = "200 200 404 200 404 404 404 403 L"
SCHOOL = "200 200 200 404 200 404 404 403 L"
CLASS = "200 200 200 404 200 200 200 403 L"
CROSS = "200 200 404 404 404 404 404 403 L"  # the other county's project seen from a county
OWNER_A = "404 404 200 404 404 404 404 403 L"
OWNER_B = "404 404 404 200 404 404 404 403 L"


def _other(side):
    return "b" if side == "a" else "a"


def _unit(endpoint, side, unit_kind, project_side=None, **extra):
    return lambda w, s, p: (url_for(endpoint, project_id=w.obj("project", project_side(s) if project_side else s),
                                    unit_id=w.obj(unit_kind, s), **extra), None)


ROWS = [
    Row("reports.index", "GET", lambda w, s, p: (url_for("reports.index"), None),
        "Y Y Y H Y Y Y 403 L", "Y Y H Y H H H 403 L", marker=lambda w, s: "ALPHA-PROJ" if s == "a" else "BETA-PROJ"),
    Row("reports.index", "GET", lambda w, s, p: (url_for("reports.index"), None),
        "H H H H H Y Y 403 L", "H H H H H H H 403 L", marker=lambda w, s: "ALPHA-CLASS" if s == "a" else "BETA-CLASS"),
    Row("reports.project", "GET", lambda w, s, p: (url_for("reports.project", project_id=w.obj("project", s)), None),
        "302 302 302 404 302 404 404 403 L", "302 302 404 302 404 404 404 403 L"),
    Row("reports.unit_dashboard", "GET", _unit("reports.unit_dashboard", "x", "county"), COUNTY, COUNTY_B),
    Row("reports.unit_dashboard", "GET", _unit("reports.unit_dashboard", "x", "school"), SCHOOL, COUNTY_B),
    Row("reports.unit_dashboard", "GET", _unit("reports.unit_dashboard", "x", "county", _other), CROSS, CROSS),
    Row("reports.class_dashboard", "GET", lambda w, s, p: (url_for("reports.class_dashboard", class_id=w.obj("class", s)), None),
        CLASS, COUNTY_B),
    Row("reports.unit_learners", "GET", _unit("reports.unit_learners", "x", "county", status="enrolled"), COUNTY, COUNTY_B),
    Row("reports.unit_learners", "GET", _unit("reports.unit_learners", "x", "school", _other), CROSS, CROSS),
    Row("reports.unit_learners", "GET", _unit("reports.unit_learners", "x", "school"),
        "Y Y Y 404 Y 404 404 403 L", "Y Y 404 Y 404 404 404 403 L", marker=lambda w, s: w.names[f"user_{s}"].title()),
    Row("reports.class_learners", "GET", lambda w, s, p: (url_for("reports.class_learners", class_id=w.obj("class", s)), None),
        CLASS, COUNTY_B),
    Row("reports.unit_export", "POST", lambda w, s, p: (url_for("reports.unit_export", project_id=w.obj("project", s),
                                                                unit_id=w.obj("county", s)), {"format": "csv"}), COUNTY, COUNTY_B),
    Row("reports.unit_export", "POST", lambda w, s, p: (url_for("reports.unit_export", project_id=w.obj("project", _other(s)),
                                                                unit_id=w.obj("county", s)), {"format": "xlsx"}), CROSS, CROSS),
    Row("reports.class_export", "POST", lambda w, s, p: (url_for("reports.class_export", class_id=w.obj("class", s)),
                                                         {"format": "xlsx"}), CLASS, COUNTY_B),
    Row("reports.export_status", "GET", lambda w, s, p: (url_for("reports.export_status", export_id=w.obj("export", s)), None),
        OWNER_A, OWNER_B),
    Row("reports.export_download", "GET",
        lambda w, s, p: (url_for("reports.export_download", export_id=w.obj("export", s)), None), OWNER_A, OWNER_B),
]


@pytest.fixture
def report_world(app, world):
    """The world, with a background export of each county's project asked by that county's admin."""
    from app.accounts.models import OrgUnit, User
    from app.courses.models import Project
    from app.reports import exports
    from app.reports.service import Scope

    for side in ("a", "b"):
        scope = Scope(db.session.get(Project, world.obj("project", side)), unit=db.session.get(OrgUnit, world.obj("county", side)))
        export = exports.do_queue_export(db.session.get(User, world[f"p_county_{side}"]), scope, "csv", 1, "en")
        world.ids[f"export_{side}"] = export.id
    return world


def test_reports_table_covers_every_route(app):
    check_table_covers(ROWS, MATRIX_ENDPOINTS, ("reports",), app)


@pytest.mark.parametrize("side", ["a", "b"])
def test_reports_permissions(report_world, side):
    run_rows(report_world, ROWS, side)


def test_a_county_admin_reads_no_figure_of_the_other_county(app, report_world):
    """County A's admin: county B's unit and project answer 404 and its learners' names appear nowhere."""
    client = report_world.clients["county_a"]
    with app.test_request_context():
        urls = [url_for("reports.unit_dashboard", project_id=report_world["project_b"], unit_id=report_world["county_b"]),
                url_for("reports.unit_learners", project_id=report_world["project_a"], unit_id=report_world["school_b"]),
                url_for("reports.export_download", export_id=report_world["export_b"])]
    for url in urls:
        assert client.get(url).status_code == 404, url
    own = client.get(f"/reports/projects/{report_world['project_a']}/units/{report_world['county_a']}/learners")
    assert "Teacher_Alpha" in own.get_data(as_text=True) and "Teacher_Beta" not in own.get_data(as_text=True)
