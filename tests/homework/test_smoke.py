"""The homework pages render for the people who use them (a quick look before the matrices)."""


def test_pages_render(hw):
    assert hw.clients["learner"].get(f"/homework/{hw['assignment']}").status_code == 200
    assert hw.clients["tutor"].get(f"/homework/{hw['assignment']}").status_code == 200
    assert hw.clients["tutor"].get("/homework/queue").status_code == 200
    assert hw.clients["tutor"].get(f"/homework/submissions/{hw['sub']}").status_code == 200
    assert hw.clients["county_a"].get(f"/projects/{hw['project']}/homework/new").status_code == 200
    assert hw.clients["county_a"].get(f"/homework/{hw['assignment']}/edit").status_code == 200
    assert hw.clients["learner"].get(f"/projects/{hw['project']}/homework").status_code == 200


def test_a_tutor_sets_work_for_their_own_class_chosen_beforehand(hw):
    page = hw.clients["tutor"].get(f"/projects/{hw['project']}/homework/new?class_id={hw['class_a']}").get_data(as_text=True)
    assert f'value="class:{hw["class_a"]}" selected' in page or f'selected value="class:{hw["class_a"]}"' in page
    assert "course:" not in page  # a tutor sets no course-wide work


def test_numbers_in_homework_forms_take_only_ascii_digits(hw):
    from sqlalchemy import func, select

    from app.extensions import db
    from app.homework.models import Assignment, Submission
    from tests.classrooms.world import flashes

    admin = hw.clients["county_a"]
    form = {"csrf_token": hw.csrf["county_a"], "target": f"course:{hw['course']}", "title": "全角作业", "instructions": "说明",
            "due_at": "2026-04-01T18:00", "late_until": "", "is_required": "y", "accepts_text": "y",
            "accepts_files": "y", "kinds": "documents", "max_mb": "２０", "max_files": "٣", "is_returnable": "y"}
    before = db.session.execute(select(func.count(Assignment.id))).scalar_one()
    page = admin.post(f"/projects/{hw['project']}/homework/new", data=form).get_data(as_text=True)
    assert "Enter a whole number using the half-width digits 0–9." in page
    assert db.session.execute(select(func.count(Assignment.id))).scalar_one() == before

    score = db.session.get(Submission, hw["sub"]).score
    response = hw.clients["tutor"].post(f"/homework/submissions/{hw['sub']}/review",
                                        data={"csrf_token": hw.csrf["tutor"], "action": "grade", "score": "８０"})
    assert "Enter a whole number using the half-width digits 0–9." in flashes(hw.clients["tutor"].get(response.headers["Location"]))
    db.session.expire_all()
    assert db.session.get(Submission, hw["sub"]).score == score
