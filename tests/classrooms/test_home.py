"""The home of a class's staff: figures at a glance from the stored totals, who lags, who has not started."""
from datetime import date, datetime, timezone

import pytest

from app.extensions import db
from app.tracking.models import LessonProgress
from tests.classrooms.world import fast_hashing, signed_in  # noqa: F401

HOUR_MS = 45 * 60 * 1000


@pytest.fixture
def class_world(clock, org_tree, make_user, make_project, make_course, make_class, enroll):
    """A 10-day, 10-hour project on its 5th day; class A with four learners holding 0, 1, 4 and 6 hours; class B."""
    clock.set(datetime(2026, 1, 5, 4, 0, tzinfo=timezone.utc))  # noon in Asia/Shanghai
    project = make_project("Ten hours", org=org_tree["county_a"], starts_on=date(2026, 1, 1), ends_on=date(2026, 1, 10),
                           required_hours=10)
    course = make_course(project, durations=(3600, 3600))
    lessons = course.modules[0].lessons
    class_a = make_class(project, org_tree["school_a1"], "Class Alpha")
    class_b = make_class(project, org_tree["school_a2"], "Class Beta")
    tutor = make_user("tutor_a", role="tutor", cls=class_a, school=org_tree["school_a1"])
    make_user("tutor_b", role="tutor", cls=class_b, school=org_tree["school_a2"])
    for name, hours, cls in [("zero", 0, class_a), ("one", 1, class_a), ("four", 4, class_a), ("six", 6, class_a),
                             ("other", 0, class_b)]:
        learner = make_user(name, role="learner", org=org_tree["school_a1"], cls=cls, real_name=f"Learner {name}")
        enroll(learner, project)
        if hours:  # the stored totals, split over two lessons
            half = hours * HOUR_MS // 2
            for lesson in lessons:
                db.session.add(LessonProgress(user_id=learner.id, project_id=project.id, lesson_id=lesson.id,
                                              credited_ms=half))
    db.session.commit()
    return {"tutor": tutor, "class_a": class_a}


def _text(html: str, testid: str) -> str:
    import re

    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</', html, re.S)
    assert match, testid
    return match.group(1).strip()


def test_tutor_home_shows_the_figures_of_their_class(app, class_world):
    client, _csrf = signed_in(app, "tutor_a")
    html = client.get("/classes").get_data(as_text=True)
    assert "Class Alpha" in html and "Class Beta" not in html and "Learner other" not in html
    assert _text(html, "figure-learners") == "4"
    assert _text(html, "figure-started") == "3"
    assert _text(html, "figure-mean") == "2.7"   # (0 + 1 + 4 + 6) / 4 = 2.75, rounded down
    assert _text(html, "figure-pace") == "5.0"   # 10 hours × 5 of 10 days
    laggards = html[html.index('data-testid="laggards"'):html.index('data-testid="waiting"')]
    assert laggards.index("Learner zero") < laggards.index("Learner one") < laggards.index("Learner four")
    assert "Learner six" not in laggards
    waiting = html[html.index('data-testid="waiting"'):]
    assert "Learner zero" in waiting and "Learner one" not in waiting


def test_tutor_lands_on_their_classes_after_sign_in(app, class_world):
    client, _csrf = signed_in(app, "tutor_a")
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/classes")
