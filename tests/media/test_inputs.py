"""No input to the media endpoints answers 500 (issue 16, defects 4, 5 and 9), through the HTTP client."""
import io

import pytest

from app.extensions import db
from app.media import signing
from app.media.models import MediaAsset, UploadSession
from app.media.probe import REASONS
from app.media.storage import get_storage
from app.media.upload import encode_metadata
from tests.conftest import bearer

pytestmark = pytest.mark.config(MEDIA_X264_PRESET="ultrafast")

TWENTY_DIGITS = "9" * 20
TUS = {"Tus-Resumable": "1.0.0"}


# ---------------------------------------------------------------- defect 4: ids in the upload form
@pytest.mark.parametrize("field", ["course_id", "lesson_id"])
@pytest.mark.parametrize("value", [TWENTY_DIGITS, "²", "0"])
def test_upload_form_ids_out_of_range_answer_400(client, staff_token, media_course, field, value):
    data = {"course_id": str(media_course.id), "file": (io.BytesIO(b"x" * 100), "a.mp4"), field: value}
    response = client.post("/api/v1/media", data=data, headers=bearer(staff_token),
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == field
    assert db.session.query(MediaAsset).count() == 0


@pytest.mark.parametrize("value", [TWENTY_DIGITS, "²"])
def test_tus_metadata_ids_out_of_range_answer_400(client, staff_token, media_course, value):
    meta = encode_metadata({"filename": "a.mp4", "course_id": value})
    response = client.post("/api/v1/uploads", headers={**bearer(staff_token), **TUS, "Upload-Length": "10",
                                                       "Upload-Metadata": meta})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "course_id"
    assert db.session.query(UploadSession).count() == 0


# ---------------------------------------------------------------- defect 5: other digits in headers and URLs
def test_tus_headers_with_other_digits_answer_400(client, staff_token, media_course):
    meta = encode_metadata({"filename": "a.mp4", "course_id": str(media_course.id)})
    headers = {**bearer(staff_token), **TUS, "Upload-Metadata": meta}
    for length in ("²", "١٠", TWENTY_DIGITS):
        response = client.post("/api/v1/uploads", headers={**headers, "Upload-Length": length})
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "size", length
    assert db.session.query(UploadSession).count() == 0
    created = client.post("/api/v1/uploads", headers={**headers, "Upload-Length": "10"})
    assert created.status_code == 201
    url = "/api/v1/uploads/" + created.headers["Location"].rsplit("/", 1)[-1]
    for offset in ("²", "٠", TWENTY_DIGITS, "-1"):
        response = client.patch(url, data=b"0123456789", headers={
            **bearer(staff_token), **TUS, "Upload-Offset": offset, "Content-Type": "application/offset+octet-stream"})
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "offset", offset
    head = client.head(url, headers={**bearer(staff_token), **TUS})
    assert head.headers["Upload-Offset"] == "0"


@pytest.fixture
def signed(app, clock):
    """A stored file and a fresh signed URL of it: (path, md5, expires)."""
    key = "assets/ab/abcdef/240p.mp4"
    path = get_storage().path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"0123456789" * 100)
    expires = int(clock().timestamp()) + 600
    url = signing.sign_key(key, expires, app.config["MEDIA_SIGNING_KEY"]).url
    return signing.stream_path(key), url.split("md5=")[1].split("&")[0], expires


@pytest.mark.parametrize("fast_path", [True, False])
def test_signed_url_with_other_digits_in_expires_is_403(app, client, signed, fast_path):
    app.config["MEDIA_STREAM_FAST_PATH"] = fast_path
    path, md5, expires = signed
    assert client.get(f"{path}?md5={md5}&expires={expires}").status_code == 200
    for value in ("%C2%B2", "%D9%A1%D9%A2", TWENTY_DIGITS, "-5", ""):
        response = client.get(f"{path}?md5={md5}&expires={value}")
        assert response.status_code == 403, value


@pytest.mark.parametrize("fast_path", [True, False])
def test_range_with_other_digits_never_answers_500(app, client, signed, fast_path):
    app.config["MEDIA_STREAM_FAST_PATH"] = fast_path
    path, md5, expires = signed
    url = f"{path}?md5={md5}&expires={expires}"
    for value in ("bytes=-²", "bytes=²-", "bytes=٠-", "bytes=0-²", "bytes=-" + "9" * 30, "bytes=" + "9" * 30 + "-"):
        response = client.get(url, headers={"Range": value})
        assert response.status_code in (200, 206, 416), (value, response.status_code)
    assert client.get(url, headers={"Range": "bytes=10-19"}).data == b"0123456789"


# ---------------------------------------------------------------- defect 9: a damaged PDF
def _status(client, token, media_id):
    return client.get(f"/api/v1/media/{media_id}", headers=bearer(token)).get_json()


@pytest.mark.parametrize("name", ["damaged_pdf", "pageless_pdf"])
def test_a_pdf_that_does_not_open_is_not_published(app, client, zoo, staff_token, upload_media, media_course, name):
    lesson = media_course.modules[0].lessons[0]
    data = zoo.path(name).read_bytes()
    if name == "damaged_pdf":
        assert len(data) == 19 and data.startswith(b"%PDF-")
    response = upload_media(staff_token, zoo.path(name), filename="handout.pdf", lesson=lesson)
    assert response.status_code == 202
    status = _status(client, staff_token, response.get_json()["media_id"])
    assert status["state"] == "failed" and status["error_code"] == "bad_document"
    with app.test_request_context():
        assert status["error"] == str(REASONS["bad_document"])
    assert not status["is_playable"] and status["renditions"] == []
    db.session.expire_all()
    lesson = db.session.get(type(lesson), lesson.id)
    assert lesson.kind == "video" and lesson.media_key is None  # the lesson still waits for its media


@pytest.mark.config(BABEL_DEFAULT_LOCALE="zh_CN")
def test_the_bad_document_reason_is_translated(client, zoo, staff_token, upload_media):
    response = upload_media(staff_token, zoo.path("damaged_pdf"), filename="handout.pdf")
    status = _status(client, staff_token, response.get_json()["media_id"])
    assert status["error"] == "无法打开该文档：文档可能已损坏或设有密码保护。"


def test_a_good_pdf_is_published(client, zoo, staff_token, upload_media, media_course):
    lesson = media_course.modules[0].lessons[1]
    response = upload_media(staff_token, zoo.path("pdf_handout"), filename="handout.pdf", lesson=lesson)
    status = _status(client, staff_token, response.get_json()["media_id"])
    assert status["state"] == "done" and status["kind"] == "document" and status["is_playable"]
