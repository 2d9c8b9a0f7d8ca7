"""The class ZIP: each learner's latest handed-in version, a folder per learner named by name and teacher number,
streamed in pieces."""
import io
import zipfile

from app.homework import service
from tests.homework.conftest import PDF, docx_bytes


def _zip(hw, persona="tutor", class_key="class_a"):
    return hw.clients[persona].get(f"/api/v1/assignments/{hw['assignment']}/submissions.zip?class_id={hw[class_key]}")


def test_the_zip_holds_every_learners_latest_version(hw):
    learner = hw.clients["learner"]
    # the learner hands in a second version: only it goes into the ZIP; a draft after it does not
    learner.post(f"/api/v1/assignments/{hw['assignment']}/submissions", content_type="multipart/form-data",
                 headers={"X-CSRFToken": hw.csrf["learner"]},
                 data={"text": "第二版", "submit": "true", "files": [(io.BytesIO(docx_bytes()), "教学设计.docx")]})
    response = _zip(hw)
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    names = sorted(archive.namelist())
    assert names == sorted([
        "张老师_T-001/answer_v2.txt", "张老师_T-001/反思.pdf", "张老师_T-001/教学设计.docx",
        "王老师_T-003/answer_v1.txt", "王老师_T-003/优秀.pdf",
    ])
    assert archive.read("张老师_T-001/answer_v2.txt").decode("utf-8") == "第二版"
    assert archive.read("王老师_T-003/优秀.pdf") == PDF
    assert archive.testzip() is None
    assert not any("李老师" in n for n in names)  # class A2's learner is not in class A's ZIP


def test_the_zip_is_for_the_class_staff_only(hw):
    assert _zip(hw, "manager").status_code == 200
    assert _zip(hw, "tutor2").status_code == 404
    assert _zip(hw, "tutor2", "class_a2").status_code == 200
    assert _zip(hw, "learner").status_code == 404
    assert _zip(hw, "county_a").status_code == 403
    assert _zip(hw, "county_b").status_code == 404
    assert _zip(hw, "anon").status_code == 401


def test_the_zip_streams_in_pieces_and_names_folders_safely(app, hw):
    from app.accounts.models import User
    from app.extensions import db

    user = db.session.get(User, hw["u_learner"])
    user.real_name = "../张/老师:*"
    db.session.commit()
    subs = service.get_class_latest(service.get_assignment(hw["assignment"]), hw["class_a"])
    pieces = list(service.stream_zip(service.zip_entries(subs)))
    assert len(pieces) > 1
    names = zipfile.ZipFile(io.BytesIO(b"".join(pieces))).namelist()
    assert all(not n.startswith(("/", "..")) and "/../" not in n and ":" not in n for n in names)
