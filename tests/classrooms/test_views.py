"""Classes: create and edit, rosters of at most 50 enrolled learners, tutors and class managers, staff views."""
import re

import pytest
from sqlalchemy import func, select

from app.accounts.models import RoleAssignment
from app.classrooms.models import Class_
from app.extensions import db
from tests.classrooms.world import fast_hashing, flashes, signed_in  # noqa: F401


@pytest.fixture
def setting(app, fast_hashing, org_tree, make_user, make_project):
    project = make_project("Province wide")
    admin = signed_in(app, make_user("school_admin", role="org_admin", org=org_tree["school_a1"]))
    return project, admin


def learners_of(class_id: int) -> set[str]:
    from app.accounts.models import User

    return set(db.session.execute(
        select(User.username).join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.class_id == class_id, RoleAssignment.role == "learner")).scalars())


def test_create_and_edit_a_workshop(setting, org_tree, make_org):
    project, (client, token) = setting
    hall = make_org("Hall", "learning_center", org_tree["school_a1"])
    response = client.post(f"/admin/projects/{project.id}/classes/new", data={
        "csrf_token": token, "name": "数学工作坊", "org_unit_id": org_tree["school_a1"].id,
        "learning_center_id": org_tree["center_a"].id, "subject": "数学", "stage": "primary", "is_workshop": "y"})
    assert response.status_code == 302
    cls = db.session.execute(select(Class_)).scalar_one()
    assert (cls.name, cls.is_workshop, cls.learning_center_id, cls.capacity) == ("数学工作坊", True, org_tree["center_a"].id, 50)
    edit = f"/admin/classes/{cls.id}/edit"
    assert client.post(edit, data={"csrf_token": token, "name": "数学一班", "org_unit_id": org_tree["school_a1"].id,
                                   "learning_center_id": hall.id}).status_code == 302
    cls = db.session.get(Class_, cls.id)
    assert (cls.name, cls.is_workshop, cls.learning_center_id) == ("数学一班", False, hall.id)
    for bad in ({"org_unit_id": org_tree["school_a2"].id}, {"learning_center_id": org_tree["school_b1"].id}, {"name": ""}):
        data = {"csrf_token": token, "name": "x", "org_unit_id": org_tree["school_a1"].id, **bad}
        assert client.post(edit, data=data).status_code == 400, bad
    assert db.session.get(Class_, cls.id).name == "数学一班"


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_class_list_shows_the_stage_in_words(setting, org_tree, make_class):
    project, (client, _token) = setting
    make_class(project, org_tree["school_a1"], "东湖县一班", subject="数学", stage="primary")
    html = client.get(f"/admin/projects/{project.id}/classes").get_data(as_text=True)
    assert re.search(r'<div class="small text-muted">数学 小学</div>', html)
    assert "primary</div>" not in html  # not the code (btn-primary and the like are CSS classes)


def test_roster_needs_enrolment_and_stops_at_fifty(setting, org_tree, make_user, make_class, enroll):
    project, (client, token) = setting
    cls = make_class(project, org_tree["school_a1"], "Full house")
    other = make_class(project, org_tree["school_a1"], "Next door")
    url = f"/admin/classes/{cls.id}/learners"
    stranger = make_user("stranger", org=org_tree["school_a1"])
    response = client.post(url, data={"csrf_token": token, "user_ids": [stranger.id]})
    assert response.status_code == 400 and "Enrol them first" in flashes(response)

    seated = []
    for i in range(49):
        user = make_user(f"l{i:02d}", org=org_tree["school_a1"])
        enroll(user, project)
        seated.append(user)
    response = client.post(url, data={"csrf_token": token, "names": "\n".join(u.username for u in seated[:40])})
    assert response.status_code == 302
    client.post(url, data={"csrf_token": token, "user_ids": [u.id for u in seated[40:]]})
    assert len(learners_of(cls.id)) == 49

    late1, late2 = make_user("late1", org=org_tree["school_a1"]), make_user("late2", org=org_tree["school_a1"])
    enroll(late1, project)
    enroll(late2, project)
    response = client.post(url, data={"csrf_token": token, "user_ids": [late1.id, late2.id]})
    assert response.status_code == 409
    assert "room for 1 more learners, you chose 2" in flashes(response)
    assert len(learners_of(cls.id)) == 49
    assert client.post(url, data={"csrf_token": token, "names": "late1"}).status_code == 302
    full = client.post(url, data={"csrf_token": token, "names": "late2"})
    assert full.status_code == 409 and "is full" in flashes(full)
    page = client.get(f"/classes/{cls.id}").get_data(as_text=True)
    assert "Learners (50 of 50)" in page and len(re.findall(r'data-testid="learner"', page)) == 50

    # A learner sits in one class of a project.
    elsewhere = client.post(f"/admin/classes/{other.id}/learners", data={"csrf_token": token, "names": "l00"})
    assert elsewhere.status_code == 409 and "Already in another class" in flashes(elsewhere)
    unknown = client.post(f"/admin/classes/{other.id}/learners", data={"csrf_token": token, "names": "nobody"})
    assert unknown.status_code == 400 and "nobody" in flashes(unknown)

    response = client.post(f"/admin/classes/{cls.id}/learners/{seated[0].id}/remove", data={"csrf_token": token},
                           follow_redirects=True)
    assert "left the class" in flashes(response) and len(learners_of(cls.id)) == 49


def test_learners_outside_the_admins_area_cannot_be_added(setting, org_tree, make_user, make_class, enroll):
    project, (client, token) = setting
    cls = make_class(project, org_tree["school_a1"], "Mine")
    neighbour = make_user("neighbour", org=org_tree["school_a2"], teacher_no="N-2")
    enroll(neighbour, project)
    by_id = client.post(f"/admin/classes/{cls.id}/learners", data={"csrf_token": token, "user_ids": [neighbour.id]})
    assert by_id.status_code == 400 and "neighbour" not in flashes(by_id)
    by_number = client.post(f"/admin/classes/{cls.id}/learners", data={"csrf_token": token, "names": "N-2"})
    assert by_number.status_code == 400
    assert learners_of(cls.id) == set()


def test_staff_see_their_own_class(app, setting, org_tree, make_user, make_class, enroll):
    project, (client, token) = setting
    cls = make_class(project, org_tree["school_a1"], "Workshop", is_workshop=True)
    theirs = make_class(project, org_tree["school_a1"], "Other")
    tutor = make_user("tutor1", org=org_tree["school_a1"])
    leader = make_user("leader1", org=org_tree["school_a1"], real_name="王坊主")
    far = make_user("far_away", org=org_tree["school_b1"])
    url = f"/admin/classes/{cls.id}/staff"
    response = client.post(url, data={"csrf_token": token, "role": "class_manager", "username": "leader1"}, follow_redirects=True)
    assert "王坊主 is now the workshop leader of Workshop" in flashes(response)
    client.post(url, data={"csrf_token": token, "role": "tutor", "username": "tutor1"})
    refused = client.post(url, data={"csrf_token": token, "role": "tutor", "username": "far_away"})
    assert refused.status_code == 400 and "No user far_away in your area" in flashes(refused)
    roles = db.session.execute(select(RoleAssignment.role, RoleAssignment.user_id).where(RoleAssignment.class_id == cls.id)).all()
    assert sorted(roles) == sorted([("class_manager", leader.id), ("tutor", tutor.id)])
    assert far.id not in {r.user_id for r in roles}

    learner = make_user("learner1", org=org_tree["school_a1"])
    enroll(learner, project)
    client.post(f"/admin/classes/{cls.id}/learners", data={"csrf_token": token, "names": "learner1"})

    tutor_client, _ = signed_in(app, tutor)
    mine = tutor_client.get("/classes").get_data(as_text=True)
    assert "Workshop" in mine and "Other" not in mine
    roster = tutor_client.get(f"/classes/{cls.id}")
    assert roster.status_code == 200 and "learner1" in roster.get_data(as_text=True)
    assert "Add learners" not in roster.get_data(as_text=True)
    assert tutor_client.get(f"/classes/{theirs.id}").status_code == 404
    assert tutor_client.get(f"/admin/classes/{cls.id}/edit").status_code == 403

    # Replacing the tutor takes the class away from the old one.
    client.post(url, data={"csrf_token": token, "role": "tutor", "username": ""})
    assert tutor_client.get(f"/classes/{cls.id}").status_code == 404
    assert db.session.execute(select(func.count()).select_from(RoleAssignment).where(
        RoleAssignment.class_id == cls.id, RoleAssignment.role == "tutor")).scalar_one() == 0
