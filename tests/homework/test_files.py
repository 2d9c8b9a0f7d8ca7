"""Files are judged by their content: disguised, hostile, oversized and too many files are refused, naming the file."""
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.homework.models import Submission, SubmissionFile
from tests.conftest import bearer
from tests.homework.conftest import PDF, PNG, docx_bytes, make_zip

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 50 + b"PE\x00\x00" + b"\x00" * 200
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 100
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def _post(hw, persona, files, text="答案", submit="true"):
    data = {"text": text, "submit": submit, "files": [(io.BytesIO(content), name) for name, content in files]}
    return hw.clients[persona].post(f"/api/v1/assignments/{hw['assignment']}/submissions", data=data,
                                    content_type="multipart/form-data",
                                    headers={"X-CSRFToken": hw.csrf[persona]})


def _counts():
    return (db.session.execute(select(func.count(Submission.id))).scalar_one(),
            db.session.execute(select(func.count(SubmissionFile.id))).scalar_one())


def _stored_files(app) -> int:
    root = Path(app.config["MEDIA_ROOT"]) / "homework"
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


@pytest.mark.parametrize("name, content, status, words", [
    ("教案.docx", HTML, 415, "web page"),
    ("图.docx", SVG, 415, "web page"),
    ("报告.pdf", EXE, 415, "program"),
    ("报告.pdf", ELF, 415, "program"),
    ("资料.zip", make_zip([("../../etc/passwd", "x")]), 415, "../../etc/passwd"),
    ("资料.zip", make_zip([("/abs/evil.txt", "x")]), 415, "/abs/evil.txt"),
    ("资料.zip", make_zip([("..\\..\\win.ini", "x")]), 415, "win.ini"),
    ("改名.docx", PDF, 415, "PDF"),
    ("改名.pdf", docx_bytes(), 415, "DOCX"),
    ("空.pdf", b"", 415, "empty"),
    ("随便.pdf", b"just some words, no known type", 415, "accepts"),
    ("大.pdf", PDF + b"0" * (1024 * 1024), 413, "1.0 MB"),
])
def test_hostile_files_are_refused_naming_the_file(app, hw, name, content, status, words):
    before, stored = _counts(), _stored_files(app)
    response = _post(hw, "learner2", [("好.pdf", PDF), (name, content)])
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "files"
    assert name in error["message"] and words in error["message"]
    assert _counts() == before and _stored_files(app) == stored  # nothing changed, nothing kept


def test_a_kind_the_assignment_does_not_allow_is_refused(hw):
    response = _post(hw, "learner2", [("录音.mp3", b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90" + b"\x00" * 50)])
    assert response.status_code == 415
    assert "录音.mp3" in response.get_json()["error"]["message"]


def test_an_image_is_accepted_where_images_are_allowed(hw):
    assert _post(hw, "learner2", [("照片.png", PNG)]).status_code == 201


def test_too_many_files_are_refused(hw):
    response = _post(hw, "learner2", [(f"{i}.pdf", PDF) for i in range(4)])
    assert response.status_code == 413
    assert "3" in response.get_json()["error"]["message"]


def test_good_files_are_kept_under_generated_names(app, hw):
    # learner2's first version holds one file; a new version keeps it, so two more reach the limit of 3
    response = _post(hw, "learner2", [("教学设计.docx", docx_bytes()), ("资料.zip", make_zip([("课件/第一课.txt", "内容")]))])
    assert response.status_code == 201, response.get_data(as_text=True)
    mine = hw.clients["learner2"].get(f"/api/v1/assignments/{hw['assignment']}/submissions/me").get_json()
    files = mine["latest"]["files"]
    assert [f["name"] for f in files] == ["二班.pdf", "教学设计.docx", "资料.zip"]
    assert mine["latest"]["version"] == 2 and mine["history"][1]["files"][0]["name"] == "二班.pdf"
    keys = db.session.execute(select(SubmissionFile.storage_key)).scalars().all()
    assert all(k.startswith("homework/") and k.isascii() and "教学" not in k for k in keys)


def test_files_are_served_as_sandboxed_attachments_with_the_chinese_name(hw):
    response = hw.clients["learner"].get(f"/api/v1/submission-files/{hw['file']}")
    assert response.status_code == 200
    assert response.get_data() == PDF
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E5%8F%8D%E6%80%9D.pdf" in disposition  # 反思.pdf
    assert disposition.encode("latin-1")  # the header itself stays ASCII


def test_the_page_form_refuses_a_disguised_file_with_a_message(hw):
    client = hw.clients["learner2"]
    response = client.post(f"/homework/{hw['assignment']}/submission", data={
        "csrf_token": hw.csrf["learner2"], "text": "x", "action": "submit",
        "files": [(io.BytesIO(HTML), "伪装.docx")]}, content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200
    assert "伪装.docx" in response.get_data(as_text=True)


def test_bearer_upload_works_without_csrf(hw, api_token):
    from app.accounts.models import User

    token = api_token(db.session.get(User, hw["u_learner2"]))
    response = hw.clients["anon"].post(f"/api/v1/assignments/{hw['assignment']}/submissions",
                                       data={"text": "草稿"}, content_type="multipart/form-data", headers=bearer(token))
    assert response.status_code == 201
    assert response.get_json()["state"] == "draft"
