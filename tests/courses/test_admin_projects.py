"""Project administration: settings and their validation, course links, enrolments."""
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from app.accounts.models import RoleAssignment
from app.courses.models import Enrollment, Project, ProjectCourse
from app.extensions import db
from tests.classrooms.world import fast_hashing, flashes, signed_in  # noqa: F401


@pytest.fixture
def county_admin(app, fast_hashing, org_tree, make_user):
    return signed_in(app, make_user("county_admin", role="org_admin", org=org_tree["county_a"]))


def settings(org_unit_id, **changes) -> dict:
    data = {
        "title": "暑期全员培训", "description": "60 学时", "org_unit_id": org_unit_id, "starts_on": "2026-07-01",
        "ends_on": "2026-08-31", "timezone": "Asia/Urumqi", "required_hours": "50", "minutes_per_hour": "40",
        "heartbeat_interval_s": "", "gap_factor": "6", "min_rate": "0.75", "max_rate": "1.5", "completion_ratio": "0.8",
        "cap_factor": "1.2", "daily_cap_hours": "6.5", "presence_min_min": "10", "presence_max_min": "25",
        "presence_timeout_s": "90", "is_seek_ahead_forbidden": "y", "weight_video": "50", "weight_forum": "20",
        "weight_homework": "20", "weight_exam": "10", "pass_score": "60", "good_score": "75", "excellent_score": "85",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_create_project_with_every_setting(county_admin, org_tree):
    client, token = county_admin
    response = client.post("/admin/projects/new", data={"csrf_token": token, **settings(org_tree["county_a"].id)})
    assert response.status_code == 302
    project = db.session.execute(select(Project)).scalar_one()
    assert (project.title, project.timezone, project.required_hours, project.minutes_per_hour) == ("暑期全员培训", "Asia/Urumqi", 50.0, 40)
    assert project.heartbeat_interval_s is None and project.effective_heartbeat_interval_s() == 15
    assert (project.gap_factor, project.min_rate, project.max_rate, project.completion_ratio, project.cap_factor) == (6, 0.75, 1.5, 0.8, 1.2)
    assert project.daily_cap_s == 6.5 * 3600
    assert not project.is_presence_check_enabled  # the box was left unticked
    assert (project.presence_min_s, project.presence_max_s, project.presence_timeout_s) == (600, 1500, 90)
    assert project.is_seek_ahead_forbidden
    assert (project.weight_video, project.weight_forum, project.weight_homework, project.weight_exam) == (50, 20, 20, 10)
    assert (project.pass_score, project.good_score, project.excellent_score) == (60, 75, 85)
    # The edit form shows the values back, and saving it unchanged changes nothing.
    edit = client.get(f"/admin/projects/{project.id}/edit").get_data(as_text=True)
    assert 'value="Asia/Urumqi"' in edit and 'value="6.5"' in edit and 'value="25"' in edit
    again = settings(org_tree["county_a"].id, heartbeat_interval_s="20", is_presence_check_enabled="y")
    assert client.post(f"/admin/projects/{project.id}/edit", data={"csrf_token": token, **again}).status_code == 302
    project = db.session.get(Project, project.id)
    assert project.heartbeat_interval_s == 20 and project.is_presence_check_enabled and project.daily_cap_s == 23400


@pytest.mark.parametrize("changes, field", [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"weight_exam": "20"}, "weight_exam"),
    ({"good_score": "90", "excellent_score": "90"}, "excellent_score"),
    ({"pass_score": "80", "good_score": "70"}, "excellent_score"),
    ({"ends_on": "2026-06-01"}, "ends_on"),
    ({"min_rate": "1", "max_rate": "0.9"}, "max_rate"),
    ({"max_rate": "40"}, "max_rate"),
    ({"presence_min_min": "30", "presence_max_min": "20"}, "presence_max_min"),
    ({"completion_ratio": "1.5"}, "completion_ratio"),
    ({"heartbeat_interval_s": "1"}, "heartbeat_interval_s"),
    ({"required_hours": "abc"}, "required_hours"),
    ({"starts_on": "next monday"}, "starts_on"),
    ({"title": ""}, "title"),
])
def test_bad_settings_are_refused_and_nothing_changes(county_admin, org_tree, changes, field):
    client, token = county_admin
    response = client.post("/admin/projects/new", data={"csrf_token": token, **settings(org_tree["county_a"].id, **changes)})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'class="[^"]*is-invalid[^"]*"[^>]*name="{field}"', html), field
    assert db.session.execute(select(Project)).first() is None


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
@pytest.mark.parametrize("changes, field, message", [
    ({"minutes_per_hour": "４５"}, "minutes_per_hour", "请输入整数，只能使用半角数字 0–9。"),
    ({"weight_video": "٥٠"}, "weight_video", "请输入整数，只能使用半角数字 0–9。"),
    ({"presence_timeout_s": "1_20"}, "presence_timeout_s", "不是有效的整数。"),
    ({"heartbeat_interval_s": "١٢"}, "heartbeat_interval_s", "请输入整数，只能使用半角数字 0–9。"),
    ({"required_hours": "５０"}, "required_hours", "请输入数字，只能使用半角数字 0–9 和最多一个小数点。"),
    ({"daily_cap_hours": "٦.٥"}, "daily_cap_hours", "请输入数字，只能使用半角数字 0–9 和最多一个小数点。"),
])
def test_numbers_take_only_ascii_digits(county_admin, org_tree, changes, field, message):
    client, token = county_admin
    response = client.post("/admin/projects/new", data={"csrf_token": token, **settings(org_tree["county_a"].id, **changes)})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'class="[^"]*is-invalid[^"]*"[^>]*name="{field}"', html), field
    assert message in html
    assert db.session.execute(select(Project)).first() is None


def test_project_numbers_accept_signs_and_spaces_in_ascii(county_admin, org_tree):
    client, token = county_admin
    data = settings(org_tree["county_a"].id, minutes_per_hour=" 45 ", required_hours="+50.5", min_rate=".75")
    assert client.post("/admin/projects/new", data={"csrf_token": token, **data}).status_code == 302
    project = db.session.execute(select(Project)).scalar_one()
    assert (project.minutes_per_hour, project.required_hours, project.min_rate) == (45, 50.5, 0.75)


def test_project_outside_scope_unit_is_refused(county_admin, org_tree):
    client, token = county_admin
    response = client.post("/admin/projects/new", data={"csrf_token": token, **settings(org_tree["province"].id)})
    assert response.status_code == 400 and db.session.execute(select(Project)).first() is None


def test_course_links_required_elective_and_order(county_admin, make_project, make_course, org_tree):
    client, token = county_admin
    project = make_project("P", org=org_tree["county_a"])
    first = make_course(project, "First", org=org_tree["county_a"])
    second = make_course(None, "Second", org=org_tree["province"])  # from above: usable, not editable
    other = make_course(None, "Other county", org=org_tree["county_b"])
    url = f"/admin/projects/{project.id}/courses"
    assert client.post(url, data={"csrf_token": token, "course_id": second.id, "is_required": "0"}).status_code == 302
    assert client.post(url, data={"csrf_token": token, "course_id": other.id, "is_required": "1"}).status_code == 400

    def links():
        rows = db.session.execute(select(ProjectCourse).where(ProjectCourse.project_id == project.id)
                                  .order_by(ProjectCourse.position)).scalars()
        return [(r.course_id, r.is_required) for r in rows]

    assert links() == [(first.id, True), (second.id, False)]
    second_link = db.session.execute(select(ProjectCourse.id).where(ProjectCourse.course_id == second.id)).scalar_one()
    update = f"/admin/projects/{project.id}/courses/{second_link}"
    client.post(update, data={"csrf_token": token, "action": "up"})
    client.post(update, data={"csrf_token": token, "action": "required"})
    assert links() == [(second.id, True), (first.id, True)]
    assert client.post(update, data={"csrf_token": token, "action": "explode"}).status_code == 400
    response = client.post(update, data={"csrf_token": token, "action": "remove"}, follow_redirects=True)
    assert "was removed from the project" in flashes(response)
    assert links() == [(first.id, True)]


def test_enrol_by_search_and_by_school_then_unenrol(county_admin, make_project, make_user, make_class, org_tree, clock):
    client, token = county_admin
    project = make_project("Province wide")  # run by the province: county A enrols its own teachers
    picked = make_user("picked", org=org_tree["school_a1"], real_name="张三")
    make_user("schoolmate", org=org_tree["school_a2"])
    sleeper = make_user("sleeper", org=org_tree["school_a2"])
    sleeper.is_active_flag = False
    db.session.commit()
    far = make_user("far", org=org_tree["school_b1"])
    page = client.get(f"/admin/projects/{project.id}/enrollments?cq=张").get_data(as_text=True)
    assert f'value="{picked.id}"' in page
    assert f'name="user_ids" value="{far.id}"' not in client.get(f"/admin/projects/{project.id}/enrollments?cq=far").get_data(as_text=True)
    url = f"/admin/projects/{project.id}/enrollments"
    response = client.post(url, data={"csrf_token": token, "user_ids": [picked.id]}, follow_redirects=True)
    assert "1 teacher was enrolled" in flashes(response)
    response = client.post(url, data={"csrf_token": token, "school_id": org_tree["school_a2"].id}, follow_redirects=True)
    assert "1 teacher was enrolled" in flashes(response)  # the deactivated one is left out
    assert client.post(url, data={"csrf_token": token, "user_ids": [far.id]}).status_code == 403
    assert client.post(url, data={"csrf_token": token, "school_id": org_tree["school_b1"].id}).status_code == 400
    assert client.post(url, data={"csrf_token": token}).status_code == 400
    enrolled = set(db.session.execute(select(Enrollment.user_id).where(Enrollment.project_id == project.id)).scalars())
    assert enrolled == {picked.id, db.session.execute(select(Enrollment.user_id).where(Enrollment.user_id != picked.id)).scalar_one()}

    cls = make_class(project, org_tree["school_a1"], "Seats")
    from app.accounts.service import do_assign_role

    do_assign_role(db.session.get(type(picked), picked.id), "learner", class_=cls)
    db.session.commit()
    enrollment_id = db.session.execute(select(Enrollment.id).where(Enrollment.user_id == picked.id)).scalar_one()
    response = client.post(f"{url}/{enrollment_id}/remove", data={"csrf_token": token}, follow_redirects=True)
    assert "no longer enrolled" in flashes(response)
    assert db.session.execute(select(func.count()).select_from(RoleAssignment).where(RoleAssignment.class_id == cls.id)).scalar_one() == 0

    clock.set(datetime(2027, 1, 5, tzinfo=timezone.utc))
    late = client.post(url, data={"csrf_token": token, "user_ids": [picked.id]})
    assert late.status_code == 409


def test_enrolment_list_shows_only_the_admins_subtree(county_admin, make_project, make_user, enroll, org_tree):
    client, _token = county_admin
    project = make_project("Province wide")
    enroll(make_user("mine", org=org_tree["school_a1"]), project)
    enroll(make_user("theirs", org=org_tree["school_b1"]), project)
    html = client.get(f"/admin/projects/{project.id}/enrollments").get_data(as_text=True)
    assert "mine" in html and "theirs" not in html and "1 enrolled in your area" in html
