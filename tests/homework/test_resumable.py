"""Resumable (tus) uploads of homework files: in chunks, resumed after a drop, checked by content when complete and
attached to the learner's draft; only the learner who started one may see or continue it; bad input changes nothing.
"""
import hashlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from app.common.tus import encode_metadata
from app.extensions import db
from app.homework.models import HomeworkUpload, Submission, SubmissionFile
from tests.homework.conftest import PDF, PNG, make_assignment, make_zip
from tests.media.test_upload import _DroppingStream as MediaDroppingStream

TUS = {"Tus-Resumable": "1.0.0"}
BIG_PDF = PDF + b"%" + bytes(range(256)) * 2400  # about 600 KB: the assignment takes files up to 1 MB
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 50 + b"PE\x00\x00" + b"\x00" * 200


class DroppingStream(MediaDroppingStream):
    """A request body whose connection drops after `limit` bytes, also when read into a buffer (the test client)."""

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def create(hw, persona, size, filename="大作业.pdf", assignment_id=None, headers=None):
    sent = {**TUS, "X-CSRFToken": hw.csrf[persona], "Upload-Length": str(size),
            "Upload-Metadata": encode_metadata({"filename": filename, "filetype": "application/pdf"})}
    sent.update(headers or {})
    return hw.clients[persona].post(f"/api/v1/assignments/{assignment_id or hw['assignment']}/uploads",
                                    headers={k: v for k, v in sent.items() if v is not None})


def started(hw, persona="learner", data=BIG_PDF, filename="大作业.pdf", assignment_id=None) -> str:
    response = create(hw, persona, len(data), filename, assignment_id)
    assert response.status_code == 201, response.get_json()
    return urlsplit(response.headers["Location"]).path


def patch(hw, persona, url, offset, data, headers=None):
    sent = {**TUS, "X-CSRFToken": hw.csrf[persona], "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream", **(headers or {})}
    return hw.clients[persona].patch(url, data=data, headers={k: v for k, v in sent.items() if v is not None})


def head(hw, persona, url):
    return hw.clients[persona].head(url, headers=TUS)


def mine(hw, persona="learner"):
    return hw.clients[persona].get(f"/api/v1/assignments/{hw['assignment']}/submissions/me").get_json()


def counts():
    return tuple(db.session.execute(select(func.count(m.id))).scalar_one()
                 for m in (Submission, SubmissionFile, HomeworkUpload))


def stored_files(app) -> int:
    root = Path(app.config["MEDIA_ROOT"]) / "homework"
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def test_chunks_a_dropped_patch_resumed_then_the_file_joins_the_draft(app, hw):
    before = mine(hw)["latest"]
    assert before["state"] == "submitted" and [f["name"] for f in before["files"]] == ["反思.pdf"]
    response = create(hw, "learner", len(BIG_PDF))
    assert response.status_code == 201, response.get_json()
    assert response.headers["Upload-Offset"] == "0" and response.headers["Tus-Resumable"] == "1.0.0"
    assert "Upload-Expires" in response.headers
    url = urlsplit(response.headers["Location"]).path
    assert url.startswith("/api/v1/homework-uploads/")

    assert patch(hw, "learner", url, 0, BIG_PDF[:200_000]).headers["Upload-Offset"] == "200000"
    # the connection drops in the middle of the next PATCH: what arrived is kept, HEAD says where to go on
    dropped = hw.clients["learner"].patch(url, input_stream=DroppingStream(BIG_PDF[200_000:], 150_000),
                                          content_length=len(BIG_PDF) - 200_000,
                                          headers={**TUS, "X-CSRFToken": hw.csrf["learner"], "Upload-Offset": "200000",
                                                   "Content-Type": "application/offset+octet-stream"})
    assert dropped.status_code == 204
    offset = head(hw, "learner", url)
    assert offset.status_code == 200 and offset.headers["Upload-Offset"] == "350000"
    assert offset.headers["Upload-Length"] == str(len(BIG_PDF)) and offset.headers["Cache-Control"] == "no-store"
    stale = patch(hw, "learner", url, 200_000, BIG_PDF[200_000:300_000])  # the client's old idea of the offset
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "offset"
    assert mine(hw)["latest"]["version"] == before["version"]  # nothing joins the answer before the last byte

    done = patch(hw, "learner", url, 350_000, BIG_PDF[350_000:])
    assert done.status_code == 204, done.get_json()
    assert done.headers["Upload-Offset"] == str(len(BIG_PDF))
    file_id = int(done.headers["Xueshi-File-Id"])
    latest = mine(hw)["latest"]
    assert latest["id"] == int(done.headers["Xueshi-Submission-Id"])
    assert (latest["state"], latest["version"], latest["text"]) == ("draft", before["version"] + 1, "我的反思")
    assert [(f["name"], f["size_bytes"], f["type"]) for f in latest["files"]] == [
        ("反思.pdf", len(PDF), "pdf"), ("大作业.pdf", len(BIG_PDF), "pdf")]
    download = hw.clients["learner"].get(f"/api/v1/submission-files/{file_id}")
    assert download.status_code == 200 and download.data == BIG_PDF
    stored = db.session.get(SubmissionFile, file_id)
    assert stored.storage_key.startswith("homework/") and stored.storage_key.endswith("/file.pdf")
    assert stored.sha256 == hashlib.sha256(BIG_PDF).hexdigest()

    info = hw.clients["learner"].get(url).get_json()
    assert info["is_complete"] and info["offset"] == len(BIG_PDF) and info["file"]["id"] == file_id
    assert head(hw, "learner", url).headers["Upload-Offset"] == str(len(BIG_PDF))
    assert patch(hw, "learner", url, len(BIG_PDF), b"x").status_code in (409, 413)
    # then the learner hands the draft in with the form's API: the uploaded file goes with it
    handed = hw.clients["learner"].post(f"/api/v1/assignments/{hw['assignment']}/submissions",
                                        data={"text": "最终版", "submit": "true"}, content_type="multipart/form-data",
                                        headers={"X-CSRFToken": hw.csrf["learner"]})
    assert handed.status_code == 201 and handed.get_json()["version"] == latest["version"]
    final = mine(hw)["latest"]
    assert final["state"] == "submitted" and [f["name"] for f in final["files"]] == ["反思.pdf", "大作业.pdf"]


def test_the_last_bytes_arriving_without_their_answer_are_finished_by_head(app, hw):
    from app.homework import service

    url = started(hw)
    service.upload_path(url.rsplit("/", 1)[-1]).write_bytes(BIG_PDF)  # all on disk, the finishing step never ran
    first = head(hw, "learner", url)
    assert first.headers["Upload-Offset"] == str(len(BIG_PDF)) and "Xueshi-File-Id" in first.headers
    assert head(hw, "learner", url).status_code == 200  # and again: nothing more happens
    assert [f["name"] for f in mine(hw)["latest"]["files"]] == ["反思.pdf", "大作业.pdf"]


@pytest.mark.parametrize("name, content, words", [
    ("作业.pdf", EXE, "is a program"),
    ("照片.png", PDF + b"x" * 100, "does not hold what its name says"),
    ("资料.zip", make_zip([("../../etc/passwd", "root:x:0:0")]), "../../etc/passwd"),
    ("资料.zip", make_zip([("/etc/cron.d/job", "* * * * * sh")]), "path outside the archive"),
])
def test_a_disguised_or_hostile_file_is_refused_when_complete_and_changes_nothing(app, hw, name, content, words):
    before, files_before, answer = counts(), stored_files(app), mine(hw)
    url = started(hw, data=content, filename=name)
    half = len(content) // 2
    assert patch(hw, "learner", url, 0, content[:half]).status_code == 204
    refused = patch(hw, "learner", url, half, content[half:])
    assert refused.status_code == 415, refused.get_json()
    message = refused.get_json()["error"]["message"]
    assert name in message and words in message
    assert head(hw, "learner", url).status_code == 404  # the refused upload is gone; start again with another file
    assert counts() == before and stored_files(app) == files_before and mine(hw) == answer


@pytest.mark.parametrize("headers, status, code", [
    ({"Tus-Resumable": None}, 412, "tus_version"),
    ({"Tus-Resumable": "0.2.2"}, 412, "tus_version"),
    ({"Upload-Length": None}, 400, "size"),
    ({"Upload-Length": "abc"}, 400, "size"),
    ({"Upload-Length": "-5"}, 400, "size"),
    ({"Upload-Length": "9" * 40}, 400, "size"),
    ({"Upload-Length": str(2 * 1024 * 1024)}, 413, "files"),
    ({"Upload-Length": "0"}, 415, "files"),
    ({"Upload-Defer-Length": "1"}, 400, "size"),
    ({"Upload-Metadata": "filename !!!not-base64"}, 400, "metadata"),
    ({"Upload-Metadata": encode_metadata({"filename": "setup.exe"})}, 415, "files"),
    ({"Upload-Metadata": encode_metadata({"filename": "page.html"})}, 415, "files"),
    ({"Upload-Metadata": encode_metadata({"filename": "no-ending"})}, 415, "files"),
    ({"Upload-Metadata": None}, 415, "files"),
])
def test_bad_creation_requests_are_refused_clearly(app, hw, headers, status, code):
    before = counts()
    response = create(hw, "learner", 1000, headers=headers)
    assert response.status_code == status, response.get_json()
    body = response.get_json()["error"]
    assert body["code"] == code and body["message"]
    assert counts() == before


def test_bad_patches_are_refused_clearly_and_change_nothing(app, hw):
    url = started(hw)
    assert patch(hw, "learner", url, 0, BIG_PDF[:1000]).status_code == 204
    cases = [
        ({"Tus-Resumable": None}, 1000, BIG_PDF[1000:2000], 412),
        ({"Content-Type": "application/json"}, 1000, BIG_PDF[1000:2000], 415),
        ({"Upload-Offset": None}, None, BIG_PDF[1000:2000], 400),
        ({"Upload-Offset": "abc"}, None, BIG_PDF[1000:2000], 400),
        ({"Upload-Offset": "-1"}, None, BIG_PDF[1000:2000], 400),
        ({"Upload-Offset": "9" * 40}, None, BIG_PDF[1000:2000], 400),
        ({}, 0, BIG_PDF[:1000], 409),          # sent twice
        ({}, 5000, BIG_PDF[5000:6000], 409),   # a gap
        ({}, 1000, BIG_PDF[1000:] + b"extra", 413),  # more than declared
    ]
    for headers, offset, data, status in cases:
        response = patch(hw, "learner", url, offset, data, headers)
        assert response.status_code == status, (headers, offset, response.get_json())
        assert response.get_json()["error"]["message"]
        assert head(hw, "learner", url).headers["Upload-Offset"] == "1000"
    for bad in ("x", "0" * 31 + "g", "a" * 64, "%2e%2e"):
        assert hw.clients["learner"].head(f"/api/v1/homework-uploads/{bad}", headers=TUS).status_code == 404
        assert patch(hw, "learner", f"/api/v1/homework-uploads/{bad}", 0, b"x").status_code == 404


def test_only_the_learner_who_started_it_may_see_continue_or_abandon_it(app, hw):
    url = started(hw)
    assert patch(hw, "learner", url, 0, BIG_PDF[:100]).status_code == 204
    for persona in ("learner2", "tutor", "manager", "site"):
        client = hw.clients[persona]
        assert client.head(url, headers=TUS).status_code == 404, persona
        assert client.get(url).status_code == 404, persona
        assert patch(hw, persona, url, 100, BIG_PDF[100:]).status_code == 404, persona
        assert client.delete(url, headers={**TUS, "X-CSRFToken": hw.csrf[persona]}).status_code == 404, persona
    anon = hw.clients["anon"]
    assert anon.head(url, headers=TUS).status_code == 401
    assert patch(hw, "anon", url, 100, BIG_PDF[100:]).status_code == 401
    assert head(hw, "learner", url).headers["Upload-Offset"] == "100"
    # staff and outsiders cannot start one either
    assert create(hw, "tutor", 1000).status_code == 403
    assert create(hw, "county_b", 1000).status_code == 404
    assert create(hw, "anon", 1000).status_code == 401


def test_limits_of_the_assignment_and_its_deadline(app, hw, clock):
    from app.accounts.models import User
    from app.courses.models import Project

    project = db.session.get(Project, hw["project"])
    county = db.session.get(User, hw["u_county_a"])
    text_only = make_assignment(project, county, course_id=hw["course"], title="只写文字", accepts_files=False,
                                kinds=[])
    refused = create(hw, "learner", 1000, assignment_id=text_only.id)
    assert refused.status_code == 415 and "text answer only" in refused.get_json()["error"]["message"]
    one_file = make_assignment(project, county, course_id=hw["course"], title="一个文件", max_files=1)
    url = started(hw, data=PDF, assignment_id=one_file.id)
    assert patch(hw, "learner", url, 0, PDF).status_code == 204
    second = create(hw, "learner", 1000, assignment_id=one_file.id)
    assert second.status_code == 413 and "At most 1 files" in second.get_json()["error"]["message"]
    images = make_assignment(project, county, course_id=hw["course"], title="只收图片", kinds=["images"])
    wrong_kind = create(hw, "learner", 1000, filename="报告.pdf", assignment_id=images.id)
    assert wrong_kind.status_code == 415 and "报告.pdf" in wrong_kind.get_json()["error"]["message"]
    assert create(hw, "learner", len(PNG), filename="图.png", assignment_id=images.id).status_code == 201
    # an upload started before the deadline cannot slip an answer in after it
    clock.advance(10 * 86400 + 13 * 3600)  # an hour before the deadline (03-20 16:00 UTC)
    url = started(hw, data=BIG_PDF)
    clock.advance(2 * 3600)
    late = patch(hw, "learner", url, 0, BIG_PDF)
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "due_at"
    assert create(hw, "learner", 1000).status_code == 409


def test_termination_expiry_and_sweeping(app, hw, clock):
    from app.homework import service

    url = started(hw)
    upload_id = url.rsplit("/", 1)[-1]
    assert service.upload_path(upload_id).exists()
    assert hw.clients["learner"].delete(url, headers={**TUS, "X-CSRFToken": hw.csrf["learner"]}).status_code == 204
    assert not service.upload_path(upload_id).exists() and head(hw, "learner", url).status_code == 404

    url = started(hw)
    upload_id = url.rsplit("/", 1)[-1]
    assert patch(hw, "learner", url, 0, BIG_PDF[:500]).status_code == 204
    clock.advance(service.UPLOAD_TTL_S + 1)
    assert head(hw, "learner", url).status_code == 410
    gone = patch(hw, "learner", url, 500, BIG_PDF[500:])
    assert gone.status_code == 410 and gone.get_json()["error"]["message"]
    assert service.do_sweep_uploads() == 1
    assert db.session.get(HomeworkUpload, upload_id) is None and not service.upload_path(upload_id).exists()


def test_files_removed_on_the_page_after_an_upload_started_a_new_version(app, hw):
    """The page listed version 1's files; an upload made version 2 meanwhile: removing still works."""
    first_file = hw["file"]
    url = started(hw, data=PDF, filename="新.pdf")
    assert patch(hw, "learner", url, 0, PDF).status_code == 204
    response = hw.clients["learner"].post(f"/homework/{hw['assignment']}/submission", data={
        "csrf_token": hw.csrf["learner"], "text": "改过的反思", "action": "submit", "remove_file_ids": str(first_file)})
    assert response.status_code == 302
    latest = mine(hw)["latest"]
    assert latest["state"] == "submitted" and [f["name"] for f in latest["files"]] == ["新.pdf"]


def test_the_answer_page_offers_resumable_upload_and_keeps_the_plain_form(app, hw):
    html = hw.clients["learner"].get(f"/homework/{hw['assignment']}").get_data(as_text=True)
    assert 'id="hw-upload"' in html and "js/resumable.js" in html and "js/homework-upload.js" in html
    assert f'data-endpoint="/api/v1/assignments/{hw["assignment"]}/uploads"' in html
    assert 'enctype="multipart/form-data"' in html and 'name="files"' in html  # works without JavaScript
    staff = hw.clients["tutor"].get(f"/homework/{hw['assignment']}").get_data(as_text=True)
    assert "homework-upload.js" not in staff


# ---------------------------------------------------------------- in a real browser
@pytest.mark.browser
@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_browser_big_file_survives_a_dropped_connection_then_is_submitted(app, hw, live_server, page, tmp_path):
    from playwright.sync_api import expect

    from app.accounts.models import User
    from app.courses.models import Project
    from tests.browser.conftest import sign_in

    assignment = make_assignment(db.session.get(Project, hw["project"]), db.session.get(User, hw["u_county_a"]),
                                 course_id=hw["course"], title="大文件作业", max_mb=20)
    big = tmp_path / "课堂实录.pdf"
    big.write_bytes(PDF + b"%" + bytes(range(256)) * (8 * 4096 - 1) + b"\n%%EOF\n")  # about 8 MB
    small = tmp_path / "板书.png"
    small.write_bytes(PNG)
    sign_in(page, live_server, "p_learner")
    page.goto(f"{live_server.url}/homework/{assignment.id}")
    patches = []

    def drop_second_patch(route, request):
        if request.method == "PATCH":
            patches.append(int(request.headers.get("upload-offset", "-1")))
            if len(patches) == 2:
                route.abort("connectionreset")
                return
        route.continue_()

    page.route("**/api/v1/homework-uploads/**", drop_second_patch)
    page.evaluate("""() => {
      const line = document.getElementById('hw-upload-status');
      new MutationObserver(() => {
        const seen = JSON.parse(sessionStorage.getItem('xsSeen') || '[]');
        seen.push(line.textContent);
        sessionStorage.setItem('xsSeen', JSON.stringify(seen));
      }).observe(line, {childList: true, characterData: true, subtree: true});
    }""")
    page.fill("#answer-text", "我的课堂实录")
    page.set_input_files("#answer-files", [str(big), str(small)])
    with page.expect_navigation(timeout=90_000):
        page.click("[data-testid=submit]")
    expect(page.locator("[data-testid=versions]")).to_contain_text("课堂实录.pdf")
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('xsSeen') || '[]')")
    assert any(text.startswith("正在上传“课堂实录.pdf”") for text in seen), seen
    assert "网络已中断，正在重试…" in seen, seen
    chunk = 2 * 1024 * 1024
    assert patches[:3] == [0, chunk, chunk], patches  # went on from where the drop left it, not from the start
    db.session.rollback()  # see what the server's threads committed
    latest = db.session.execute(select(Submission).where(Submission.assignment_id == assignment.id)
                                .order_by(Submission.version.desc())).scalars().first()
    assert latest.state == "submitted" and latest.text == "我的课堂实录"
    by_name = {f.name: f for f in latest.files}
    assert set(by_name) == {"课堂实录.pdf", "板书.png"}
    assert by_name["课堂实录.pdf"].sha256 == hashlib.sha256(big.read_bytes()).hexdigest()
    assert by_name["课堂实录.pdf"].size_bytes == big.stat().st_size


def test_unfinished_uploads_are_swept_by_the_command_and_by_the_media_workers_periodic_sweep(app, hw, clock):
    from app.homework import service
    from app.media.jobs import get_huey

    lapsed = []
    for _ in range(2):
        url = started(hw)
        assert patch(hw, "learner", url, 0, BIG_PDF[:500]).status_code == 204
        lapsed.append(url.rsplit("/", 1)[-1])
    clock.advance(app.config["HOMEWORK_UPLOAD_TTL_S"] - 60)
    kept_url = started(hw)  # started a minute before the others lapse: it stays
    clock.advance(120)

    result = app.test_cli_runner().invoke(args=["homework", "sweep"])
    assert result.exit_code == 0 and result.output.startswith("2 unfinished homework uploads removed")
    assert all(db.session.get(HomeworkUpload, upload_id) is None and not service.upload_path(upload_id).exists()
               for upload_id in lapsed)
    assert head(hw, "learner", kept_url).status_code == 200

    clock.advance(app.config["HOMEWORK_UPLOAD_TTL_S"])
    get_huey(app).xueshi_tasks["sweep"].call_local()
    assert head(hw, "learner", kept_url).status_code == 404
