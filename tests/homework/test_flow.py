"""The homework state machine through the API, under the injectable clock: drafts, deadlines, late window,
return and resubmission, grading again, recommendation and its withdrawal; every version and step kept."""
import io
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.homework import service
from app.homework.models import Submission, SubmissionEvent
from tests.homework.conftest import DUE, PDF


def post(hw, persona, text="答案", submit=True, files=()):
    data = {"text": text, "submit": "true" if submit else "false",
            "files": [(io.BytesIO(content), name) for name, content in files]}
    return hw.clients[persona].post(f"/api/v1/assignments/{hw['assignment']}/submissions", data=data,
                                    content_type="multipart/form-data", headers={"X-CSRFToken": hw.csrf[persona]})


def act(hw, persona, sid, verb, body):
    return hw.clients[persona].post(f"/api/v1/submissions/{sid}/{verb}", json=body,
                                    headers={"X-CSRFToken": hw.csrf[persona]})


def mine(hw, persona="learner2"):
    return hw.clients[persona].get(f"/api/v1/assignments/{hw['assignment']}/submissions/me").get_json()


def set_window(hw, **fields):
    assignment = service.get_assignment(hw["assignment"])
    for key, value in fields.items():
        setattr(assignment, key, value)
    db.session.commit()


def actions(sid):
    return [e.action for e in db.session.execute(select(SubmissionEvent).where(SubmissionEvent.submission_id == sid)
                                                 .order_by(SubmissionEvent.id)).scalars()]


def test_draft_then_submit_then_a_new_version_while_open(hw, clock):
    # learner2 has version 1 submitted; saving again makes version 2 as a draft, version 1 stays as it was
    draft = post(hw, "learner2", text="修改中", submit=False)
    assert draft.status_code == 201 and draft.get_json() == {"id": draft.get_json()["id"], "version": 2, "state": "draft"}
    again = post(hw, "learner2", text="修改中，再改", submit=False)
    assert again.get_json()["version"] == 2  # a draft is edited in place
    clock.advance(3600)
    done = post(hw, "learner2", text="定稿", submit=True)
    assert done.get_json() == {"id": draft.get_json()["id"], "version": 2, "state": "submitted"}
    answer = mine(hw)
    assert answer["latest"]["state"] == "submitted" and answer["latest"]["text"] == "定稿"
    assert [v["version"] for v in answer["history"]] == [2, 1]
    assert answer["history"][1]["state"] == "submitted" and answer["history"][1]["text"] == "二班的作业"
    assert actions(done.get_json()["id"]) == ["saved", "saved", "submitted"]
    assert answer["latest"]["is_late"] is False


def test_the_deadline_and_the_late_window(hw, clock):
    clock.set(DUE + timedelta(seconds=1))
    closed = post(hw, "learner2")
    assert closed.status_code == 409 and closed.get_json()["error"]["code"] == "due_at"
    set_window(hw, late_until=DUE + timedelta(days=2))
    late = post(hw, "learner2", text="迟交")
    assert late.status_code == 201
    assert mine(hw)["latest"]["is_late"] is True
    clock.set(DUE + timedelta(days=2, seconds=1))
    assert post(hw, "learner2").status_code == 409
    assert mine(hw)["latest"]["version"] == 2  # nothing changed by the refused call


def test_return_resubmit_after_the_deadline_grade_and_grade_again(hw, clock):
    sid = hw["other_sub"]
    assert act(hw, "tutor2", sid, "return", {"reason": "请补充课堂实录"}).get_json() == {"state": "returned"}
    answer = mine(hw)
    assert answer["latest"]["state"] == "returned" and answer["latest"]["return_reason"] == "请补充课堂实录"
    clock.set(DUE + timedelta(days=5))  # a returned version may be revised after the deadline
    resubmitted = post(hw, "learner2", text="补充了课堂实录")
    assert resubmitted.status_code == 201 and resubmitted.get_json()["version"] == 2
    new_id = resubmitted.get_json()["id"]
    assert act(hw, "tutor2", new_id, "grade", {"score": 80, "comment": "不错"}).get_json() == {"state": "graded", "score": 80}
    assert act(hw, "tutor2", new_id, "grade", {"score": 88, "comment": "修改后更好"}).get_json()["score"] == 88
    answer = mine(hw)
    assert answer["latest"]["score"] == 88 and answer["latest"]["comment"] == "修改后更好"
    assert [v["state"] for v in answer["history"]] == ["graded", "returned"]
    assert actions(sid) == ["submitted", "returned"]
    assert actions(new_id) == ["submitted", "graded", "graded"]
    graded = post(hw, "learner2", text="再改")
    assert graded.status_code == 409 and graded.get_json()["error"]["code"] == "state"


def test_grading_input_is_checked(hw):
    sid = hw["other_sub"]
    for body in ({"score": 101}, {"score": -1}, {"score": "90"}, {"score": True}, {"score": 9.5}, {},
                 {"score": 90, "extra": 1}, {"score": 10**30}):
        response = act(hw, "tutor2", sid, "grade", body)
        assert response.status_code == 400, body
    assert db.session.get(Submission, sid).state == "submitted"
    assert act(hw, "tutor2", sid, "return", {"reason": ""}).status_code == 400
    assert act(hw, "tutor2", sid, "recommend", {"value": True}).status_code == 409  # not graded yet
    assert act(hw, "tutor2", sid, "grade", {"score": 0}).get_json()["score"] == 0


def test_an_assignment_that_cannot_be_returned(hw):
    set_window(hw, is_returnable=False)
    response = act(hw, "tutor2", hw["other_sub"], "return", {"reason": "再改改"})
    assert response.status_code == 409


def test_recommend_and_withdraw_without_a_trace(hw):
    star, star_file = hw["star_sub"], hw["star_file"]
    learner = hw.clients["learner"]
    page = learner.get(f"/homework/{hw['assignment']}").get_data(as_text=True)
    assert "王老师" in page and 'data-testid="excellent"' in page
    assert learner.get(f"/homework/submissions/{star}").status_code == 200
    assert learner.get(f"/api/v1/submission-files/{star_file}").status_code == 200
    # the class of A2 never sees A1's excellent work
    assert hw.clients["learner2"].get(f"/homework/submissions/{star}").status_code == 404
    assert act(hw, "tutor", star, "recommend", {"value": False}).get_json() == {"is_excellent": False}
    page = learner.get(f"/homework/{hw['assignment']}").get_data(as_text=True)
    assert "王老师" not in page and 'data-testid="excellent"' not in page
    assert learner.get(f"/homework/submissions/{star}").status_code == 404
    assert learner.get(f"/api/v1/submission-files/{star_file}").status_code == 404
    # the author still sees their grade
    assert db.session.get(Submission, star).score == 95


def test_homework_by_learner_counts_handed_in_and_graded(hw):
    counts = service.homework_by_learner(hw["project"], [hw["u_learner"], hw["u_star"], hw["u_teacher"]])
    assert counts == {hw["u_learner"]: {"submitted": 1, "graded": 0}, hw["u_star"]: {"submitted": 1, "graded": 1},
                      hw["u_teacher"]: {"submitted": 0, "graded": 0}}
    assert service.homework_by_learner(hw["project_b"], [hw["u_star"]]) == {hw["u_star"]: {"submitted": 0, "graded": 0}}


def test_the_learners_list_shows_my_state(hw):
    rows = hw.clients["learner"].get(f"/api/v1/projects/{hw['project']}/assignments").get_json()
    assert [(r["title"], r["my_state"], r["allowed_types"]) for r in rows] == [
        ("第一次作业", "submitted", ["documents", "images", "archives"])]
    assert hw.clients["teacher"].get(f"/api/v1/projects/{hw['project']}/assignments").status_code == 404


def test_the_learner_is_notified_of_grade_return_and_recommendation(hw):
    sid = hw["other_sub"]
    act(hw, "tutor2", sid, "return", {"reason": "请补充"})
    new_id = post(hw, "learner2", text="补充").get_json()["id"]
    act(hw, "tutor2", new_id, "grade", {"score": 90})
    act(hw, "tutor2", new_id, "recommend", {"value": True})
    items = hw.clients["learner2"].get("/api/v1/me/notifications").get_json()["items"]
    kinds = sorted(i["kind"] for i in items)
    assert kinds == ["homework_graded", "homework_recommended", "homework_returned"]
    assert all(i["url"] == f"/homework/{hw['assignment']}" for i in items)
    assert any("90" in i["text"] for i in items if i["kind"] == "homework_graded")


def test_the_same_submission_twice_makes_no_new_version(hw):
    first = post(hw, "learner2", text="二班的作业")  # what version 1 already holds, submitted again
    assert first.status_code == 201 and first.get_json()["version"] == 1
    assert [v["version"] for v in mine(hw)["history"]] == [1]


def test_the_grading_page_escapes_what_learners_wrote(hw):
    act(hw, "tutor2", hw["other_sub"], "return", {"reason": "改"})
    new_id = post(hw, "learner2", text="<script>alert(1)</script>\n<img src=x onerror=alert(2)>").get_json()["id"]
    page = hw.clients["tutor2"].get(f"/homework/submissions/{new_id}").get_data(as_text=True)
    assert 'data-testid="diff"' in page
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
