"""A studied project: learners in two counties who watched a lesson through the tracking API (honest players)."""
from dataclasses import dataclass

import pytest

from app.extensions import db
from tests.conftest import bearer
from tests.tracking.conftest import Player

#: (real name, school, seconds played, days before the clock's day)
LEARNERS = [("dan", "school_a2", 120, 1), ("ann", "school_a1", 300, 0), ("bob", "school_a1", 60, 0),
            ("=cal", "school_a1", 0, 0), ("eve", "school_b1", 400, 0), ("fay", "school_b1", 0, 0)]


@dataclass
class Studied:
    project: object
    lessons: list
    learners: dict
    cls: object
    tree: dict


@pytest.fixture
def studied(app, clock, client, org_tree, make_project, make_course, make_user, make_class, enroll, api_token):
    """Province project, required 0.1 h of 45 min (270 s): ann and eve complete it, bob and dan started,
    =cal and fay did not start. Class A (school A1) holds ann, bob and =cal; dan studied the day before."""
    from app.accounts.service import do_assign_role

    t = org_tree
    project = make_project("Reading project", org=t["province"], required_hours=0.1, minutes_per_hour=45,
                           is_presence_check_enabled=False)
    course = make_course(project, "Reading", durations=(600, 600))
    lessons = list(course.modules[0].lessons)
    cls = make_class(project, t["school_a1"], "Class A")
    learners = {}
    clock.advance(-86400)
    for name, school, seconds, days_ago in LEARNERS:
        key = name.strip("=")
        user = make_user(f"u_{key}", org=t[school], real_name=name, teacher_no=f"T-{key}", phone="13800000000")
        enroll(user, project)
        if school == "school_a1":
            do_assign_role(user, "learner", class_=cls)
            db.session.commit()
        learners[key] = user
        if seconds:
            player = Player(client, clock, bearer(api_token(user)), project.id, lessons[0].id)
            player.open()
            player.play(seconds)
            player.end()
        if days_ago == 1:
            clock.advance(86400)
    return Studied(project, lessons, learners, cls, t)
