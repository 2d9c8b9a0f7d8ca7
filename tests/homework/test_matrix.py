"""Permission matrix of every homework route (pages and API).

Columns (PERSONAS): site admin, province admin, county A admin, county B admin (another county), the tutor and
class manager of class A1, the tutor of class A2 (another class of the same project), a learner of A1, a learner
of A2, a teacher enrolled in the project but in no class, anonymous. The objects: a course-wide assignment of
county A's project, the A1 learner's submitted version and file, a recommended version of an A1 classmate.
Cells: a status code, or "L" (a page sends the visitor to sign in).
"""
import io
import itertools

import pytest

from app.extensions import db
from app.homework import service
from tests.conftest import DEFAULT_PASSWORD
from tests.homework.conftest import PDF, PERSONAS

MATRIX_ENDPOINTS = {
    "homework.project_homework", "homework.assignment_new", "homework.assignment_edit", "homework.assignment",
    "homework.save", "homework.queue", "homework.submission", "homework.review",
    "homework_api.project_assignments", "homework_api.submissions", "homework_api.my_submissions", "homework_api.grade", "homework_api.return_submission",
    "homework_api.recommend", "homework_api.class_zip", "homework_api.submission_file",
    "homework_api.tus_create", "homework_api.tus_upload", "homework_api.tus_patch", "homework_api.tus_delete",
}
_n = itertools.count(1)


def fresh(hw, state: str = "submitted") -> int:
    """A new learner of class A1 with one version in the given state; returns the version's id."""
    from app.accounts.models import User
    from app.accounts.service import do_assign_role, do_create_user
    from app.classrooms.models import Class_
    from app.courses.models import Project
    from app.courses.service import do_enroll

    cls = db.session.get(Class_, hw["class_a"])
    user = do_create_user(f"fresh{next(_n)}", DEFAULT_PASSWORD, real_name="新学员", check=False)
    do_enroll(user, db.session.get(Project, hw["project"]))
    do_assign_role(user, "learner", class_=cls)
    db.session.commit()
    sub = service.check_save(user, service.get_assignment(hw["assignment"]), cls, text="新答案",
                             uploads=[service.Upload("a.pdf", io.BytesIO(PDF))], submit=True)
    db.session.commit()
    if state == "graded":
        service.check_grade(db.session.get(User, hw["u_tutor"]), sub, 70, None)
        db.session.commit()
    return sub.id


def learner_upload(hw) -> str:
    """A new resumable upload (10 bytes, none sent yet) of the A1 learner; returns its id."""
    from app.accounts.models import User
    from app.classrooms.models import Class_

    upload = service.check_start_upload(db.session.get(User, hw["u_learner"]), service.get_assignment(hw["assignment"]),
                                        db.session.get(Class_, hw["class_a"]), "大作业.pdf", 10)
    db.session.commit()
    return upload.id


def _tus_create_headers(hw, persona):
    from app.common.tus import encode_metadata

    return {"Upload-Length": "10", "Upload-Metadata": encode_metadata({"filename": "大作业.pdf"})}


def _target(hw, persona):
    return {"tutor": f"class:{hw['class_a']}", "tutor2": f"class:{hw['class_a2']}"}.get(persona, f"course:{hw['course']}")


def _assignment_form(hw, persona):
    return {"target": _target(hw, persona), "title": f"新作业 {next(_n)}", "instructions": "说明",
            "due_at": "2026-04-01T18:00", "late_until": "", "is_required": "y", "accepts_text": "y",
            "accepts_files": "y", "kinds": "documents", "max_mb": "20", "max_files": "3", "is_returnable": "y"}


# (endpoint, method, kind, url builder, body builder, expected per persona in PERSONAS order)
#            site prov  ca   cb   tut  man  tut2 lrn  lrn2 tch  anon
ROWS = [
    ("homework.project_homework", "GET", "page", lambda w, p: f"/projects/{w['project']}/homework", None,
     "200 200 200 404 200 200 200 200 200 404 L"),
    ("homework.assignment_new", "GET", "page", lambda w, p: f"/projects/{w['project']}/homework/new", None,
     "200 200 200 404 200 403 200 404 404 404 L"),
    ("homework.assignment_new", "POST", "page", lambda w, p: f"/projects/{w['project']}/homework/new", _assignment_form,
     "302 302 302 404 302 403 302 404 404 404 L"),
    ("homework.assignment_edit", "GET", "page", lambda w, p: f"/homework/{w['assignment']}/edit", None,
     "200 200 200 404 403 403 403 403 403 404 L"),
    ("homework.assignment_edit", "POST", "page", lambda w, p: f"/homework/{w['assignment']}/edit",
     lambda w, p: {**_assignment_form(w, "site"), "title": "第一次作业"},
     "302 302 302 404 403 403 403 403 403 404 L"),
    ("homework.assignment", "GET", "page", lambda w, p: f"/homework/{w['assignment']}", None,
     "200 200 200 404 200 200 200 200 200 404 L"),
    ("homework.save", "POST", "page", lambda w, p: f"/homework/{w['assignment']}/submission",
     lambda w, p: {"text": "草稿", "action": "draft"},
     "403 403 403 404 403 403 403 302 302 404 L"),
    ("homework.queue", "GET", "page", lambda w, p: "/homework/queue", None,
     "403 403 403 403 200 200 200 403 403 403 L"),
    ("homework.submission", "GET", "page", lambda w, p: f"/homework/submissions/{w['sub']}", None,
     "200 200 200 404 200 200 404 200 404 404 L"),
    ("homework.submission", "GET", "page", lambda w, p: f"/homework/submissions/{w['star_sub']}", None,
     "200 200 200 404 200 200 404 200 404 404 L"),
    ("homework.review", "POST", "page", lambda w, p: f"/homework/submissions/{fresh(w)}/review",
     lambda w, p: {"action": "grade", "score": "77", "comment": "好"},
     "403 403 403 404 302 403 404 404 404 404 L"),
    ("homework_api.project_assignments", "GET", "api", lambda w, p: f"/api/v1/projects/{w['project']}/assignments", None,
     "200 200 200 404 200 200 200 200 200 404 401"),
    ("homework_api.submissions", "POST", "multipart",
     lambda w, p: f"/api/v1/assignments/{w['assignment']}/submissions", lambda w, p: {"text": "草稿"},
     "403 403 403 404 403 403 403 201 201 404 401"),
    ("homework_api.my_submissions", "GET", "api", lambda w, p: f"/api/v1/assignments/{w['assignment']}/submissions/me",
     None, "200 200 200 404 200 200 200 200 200 404 401"),
    ("homework_api.submissions", "GET", "api",
     lambda w, p: f"/api/v1/assignments/{w['assignment']}/submissions?class_id={w['class_a']}", None,
     "200 200 200 404 200 200 404 403 404 404 401"),
    ("homework_api.grade", "POST", "api", lambda w, p: f"/api/v1/submissions/{fresh(w)}/grade",
     lambda w, p: {"score": 90, "comment": "好"}, "403 403 403 404 200 403 404 404 404 404 401"),
    ("homework_api.grade", "POST", "api", lambda w, p: f"/api/v1/submissions/{w['sub']}/grade",
     lambda w, p: {"score": 200}, "400 400 400 400 400 400 400 400 400 400 401"),
    ("homework_api.return_submission", "POST", "api", lambda w, p: f"/api/v1/submissions/{fresh(w)}/return",
     lambda w, p: {"reason": "请修改"}, "403 403 403 404 200 403 404 404 404 404 401"),
    ("homework_api.recommend", "POST", "api", lambda w, p: f"/api/v1/submissions/{fresh(w, 'graded')}/recommend",
     lambda w, p: {"value": True}, "403 403 403 404 200 403 404 404 404 404 401"),
    ("homework_api.class_zip", "GET", "api",
     lambda w, p: f"/api/v1/assignments/{w['assignment']}/submissions.zip?class_id={w['class_a']}", None,
     "403 403 403 404 200 200 404 404 404 404 401"),
    ("homework_api.submission_file", "GET", "api", lambda w, p: f"/api/v1/submission-files/{w['file']}", None,
     "200 200 200 404 200 200 404 200 404 404 401"),
    ("homework_api.submission_file", "GET", "api", lambda w, p: f"/api/v1/submission-files/{w['star_file']}", None,
     "200 200 200 404 200 200 404 200 404 404 401"),
    ("homework_api.submission_file", "GET", "api", lambda w, p: f"/api/v1/submission-files/{w['other_file']}", None,
     "200 200 200 404 404 404 200 404 200 404 401"),
    ("homework_api.tus_create", "POST", "tus", lambda w, p: f"/api/v1/assignments/{w['assignment']}/uploads",
     _tus_create_headers, "403 403 403 404 403 403 403 201 201 404 401"),
    ("homework_api.tus_upload", "HEAD", "tus", lambda w, p: f"/api/v1/homework-uploads/{learner_upload(w)}", None,
     "404 404 404 404 404 404 404 200 404 404 401"),
    ("homework_api.tus_upload", "GET", "api", lambda w, p: f"/api/v1/homework-uploads/{learner_upload(w)}", None,
     "404 404 404 404 404 404 404 200 404 404 401"),
    ("homework_api.tus_patch", "PATCH", "tus", lambda w, p: f"/api/v1/homework-uploads/{learner_upload(w)}",
     lambda w, p: {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
     "404 404 404 404 404 404 404 204 404 404 401"),
    ("homework_api.tus_delete", "DELETE", "tus", lambda w, p: f"/api/v1/homework-uploads/{learner_upload(w)}", None,
     "404 404 404 404 404 404 404 204 404 404 401"),
]


def _outcome(response) -> str:
    if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
        return "L"
    return str(response.status_code)


def test_permission_matrix(hw):
    problems = []
    for endpoint, method, kind, url_of, body_of, expected in ROWS:
        for persona, want in zip(PERSONAS, expected.split(), strict=True):
            client = hw.clients[persona]
            url = url_of(hw, persona)
            body = body_of(hw, persona) if body_of else None
            if kind == "tus":
                headers = {"Tus-Resumable": "1.0.0", "X-CSRFToken": hw.csrf[persona], **(body or {})}
                response = client.open(url, method=method, headers=headers,
                                       data=b"%PDF-" if method == "PATCH" else None)
            elif method == "GET":
                response = client.get(url)
            elif kind == "page":
                response = client.post(url, data={"csrf_token": hw.csrf[persona], **body})
            elif kind == "multipart":
                response = client.post(url, data={**body, "files": [(io.BytesIO(PDF), "a.pdf")]},
                                       content_type="multipart/form-data", headers={"X-CSRFToken": hw.csrf[persona]})
            else:
                response = client.post(url, json=body, headers={"X-CSRFToken": hw.csrf[persona]})
            got = _outcome(response)
            if got != want:
                problems.append(f"{endpoint} {method} {url} {persona}: expected {want}, got {got}")
    assert not problems, "permission table mismatches:\n" + "\n".join(problems)


def test_the_queue_shows_only_the_tutors_own_classes(hw):
    assert "张老师" in hw.clients["tutor"].get("/homework/queue").get_data(as_text=True)
    other = hw.clients["tutor2"].get("/homework/queue").get_data(as_text=True)
    assert "张老师" not in other and "李老师" in other


def test_a_tutor_cannot_set_work_for_another_class(hw):
    from sqlalchemy import func, select

    from app.homework.models import Assignment

    before = db.session.execute(select(func.count(Assignment.id))).scalar_one()
    form = {**_assignment_form(hw, "tutor2"), "target": f"class:{hw['class_a']}", "csrf_token": hw.csrf["tutor2"]}
    response = hw.clients["tutor2"].post(f"/projects/{hw['project']}/homework/new", data=form)
    assert response.status_code == 400  # the form again, the choice refused
    assert db.session.execute(select(func.count(Assignment.id))).scalar_one() == before


def test_every_endpoint_has_a_row(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.split(".")[0] in ("homework", "homework_api")}
    assert endpoints == MATRIX_ENDPOINTS == {row[0] for row in ROWS}
