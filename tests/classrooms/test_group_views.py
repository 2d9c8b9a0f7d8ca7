"""Group viewing pages: start from the class page, the projector and its QR code, the check-in page, attendance."""
import io
import re

import openpyxl
import pytest
from sqlalchemy import select

from app.extensions import db
from tests.classrooms.world import fast_hashing, signed_in  # noqa: F401


def _setup(org_tree, make_project, make_course, make_user, make_class, enroll):
    project = make_project("Views project", is_presence_check_enabled=False)
    course = make_course(project, "Course", durations=(600,))
    cls = make_class(project, org_tree["school_a1"], "Class V", learning_center=org_tree["center_a"])
    manager = make_user("vmanager", role="class_manager", cls=cls, school=org_tree["school_a1"])
    learner = make_user("vlearner", role="learner", cls=cls, org=org_tree["school_a1"], real_name="=HYPERLINK(1)")
    enroll(learner, project)
    return project, course.modules[0].lessons[0], cls, manager, learner


def test_manager_starts_from_the_class_page_and_a_learner_checks_in_on_the_code_page(
        app, clock, fast_hashing, org_tree, make_project, make_course, make_user, make_class, enroll):  # noqa: F811
    from app.tracking.models import GroupAttendance, GroupSession

    project, lesson, cls, manager, learner = _setup(org_tree, make_project, make_course, make_user, make_class, enroll)
    mclient, mcsrf = signed_in(app, manager)
    page = mclient.get(f"/classes/{cls.id}").get_data(as_text=True)
    assert 'data-testid="group-start"' in page and lesson.title in page
    response = mclient.post(f"/classes/{cls.id}/group-sessions/start", data={"csrf_token": mcsrf, "lesson_id": lesson.id})
    assert response.status_code == 302 and "/projector" in response.headers["Location"]
    projector = mclient.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="qr"' in projector and 'id="xs-projector"' in projector and "js/group.js" in projector
    gs = db.session.execute(select(GroupSession)).scalar_one()
    qr = mclient.get(f"/group-sessions/{gs.id}/qr.svg")
    assert qr.mimetype == "image/svg+xml" and b"<svg" in qr.get_data()
    code = mclient.get(f"/api/v1/group-sessions/{gs.id}").get_json()["checkin"]["code"]

    lclient, lcsrf = signed_in(app, learner)
    page = lclient.get(f"/g/{gs.id}?code={code}").get_data(as_text=True)
    assert f'value="{code}"' in page
    wrong = lclient.post(f"/g/{gs.id}/checkin", data={"csrf_token": lcsrf, "code": "12345"})
    assert wrong.status_code == 422
    response = lclient.post(f"/g/{gs.id}/checkin", data={"csrf_token": lcsrf, "code": code})
    assert response.status_code == 302
    assert 'data-testid="checked-in"' in lclient.get(f"/g/{gs.id}").get_data(as_text=True)
    assert db.session.execute(select(GroupAttendance.method)).scalar_one() == "self"
    response = lclient.post(f"/g/{gs.id}/checkin", data={"csrf_token": lcsrf, "action": "out"})
    assert response.status_code == 302

    page = mclient.get(f"/group-sessions/{gs.id}").get_data(as_text=True)
    assert page.count('data-testid="attendance-row"') == 1 and "Center A" in page
    export = mclient.get(f"/group-sessions/{gs.id}/attendance.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(export.get_data())).active
    cell = sheet.cell(row=2, column=1)
    assert cell.value == "=HYPERLINK(1)" and cell.data_type == "s" and cell.quotePrefix
    listing = mclient.get(f"/classes/{cls.id}/group-sessions").get_data(as_text=True)
    assert len(re.findall(r'data-testid="group-session"', listing)) == 1


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_the_start_time_column_is_headed_start_time(
        app, clock, fast_hashing, org_tree, make_project, make_course, make_user, make_class, enroll):  # noqa: F811
    project, lesson, cls, manager, learner = _setup(org_tree, make_project, make_course, make_user, make_class, enroll)
    mclient, mcsrf = signed_in(app, manager)
    mclient.post(f"/classes/{cls.id}/group-sessions/start", data={"csrf_token": mcsrf, "lesson_id": lesson.id})
    listing = mclient.get(f"/classes/{cls.id}/group-sessions").get_data(as_text=True)
    assert len(re.findall(r'data-testid="group-session"', listing)) == 1
    assert "<thead><tr><th>开始时间</th>" in listing and "已开始学习" not in listing
