"""The demo's homework: a required assignment with files, an optional text-only reflection, learners in every state;
loading the demo again changes nothing."""
import re

from sqlalchemy import func, select

from app.accounts.models import User
from app.demo import HOMEWORK_TITLE, REFLECTION_TITLE, load_demo
from app.extensions import db
from app.homework.models import Assignment, ClassBrief, Submission, SubmissionFile


def _count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_demo_homework_in_every_state(app, demo_media, clock):
    load_demo(demo_media)
    db.session.commit()
    counts = (_count(Assignment), _count(Submission), _count(SubmissionFile), _count(ClassBrief))
    load_demo(demo_media)
    db.session.commit()
    assert (_count(Assignment), _count(Submission), _count(SubmissionFile), _count(ClassBrief)) == counts
    assert counts[3] == 1  # a published brief
    main = db.session.execute(select(Assignment).where(Assignment.title == HOMEWORK_TITLE)).scalar_one()
    reflection = db.session.execute(select(Assignment).where(Assignment.title == REFLECTION_TITLE)).scalar_one()
    assert main.is_required and main.accepts_files and main.max_bytes == 20 * 1024 * 1024 and "documents" in main.kinds
    assert not reflection.is_required and reflection.accepts_text and not reflection.accepts_files
    states = {}
    for sub in db.session.execute(select(Submission).where(Submission.assignment_id == main.id)).scalars():
        states[db.session.get(User, sub.user_id).username] = "recommended" if sub.is_excellent else sub.state
    assert states == {"learner2": "draft", "learner3": "submitted", "learner4": "returned", "learner5": "graded",
                      "learner6": "recommended", "learner7": "submitted"}
    assert "learner1" not in states  # not started


def test_the_learner_home_links_homework_only_where_the_learner_has_a_class(app, demo_media, clock):
    """learner1 is in a class of the long project only: its homework is linked, the short project's is not."""
    from tests.conftest import Auth

    load_demo(demo_media)
    client = app.test_client()
    Auth(client).login("learner1", "demo-learner")
    home = client.get("/learn").get_data(as_text=True)
    links = re.findall(r'href="(/projects/\d+/homework)" data-testid="homework-link"', home)
    assert len(links) == 1
    assert client.get(links[0]).status_code == 200
