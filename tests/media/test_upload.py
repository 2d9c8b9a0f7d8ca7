"""Resumable uploads (tus 1.0): create, HEAD for the offset, PATCH at the offset, resume after a drop."""
import io
from urllib.parse import urlsplit

import pytest

from app.extensions import db
from app.media.models import MediaAsset, UploadSession
from app.media.upload import encode_metadata, parse_metadata
from tests.conftest import bearer

pytestmark = pytest.mark.config(MEDIA_X264_PRESET="ultrafast")

TUS = {"Tus-Resumable": "1.0.0"}


def _create(client, token, course, size, filename="lecture.mp4", lesson=None, extra=None):
    meta = {"filename": filename, "course_id": str(course.id)}
    if lesson is not None:
        meta["lesson_id"] = str(lesson.id)
    headers = {**bearer(token), **TUS, "Upload-Length": str(size), "Upload-Metadata": encode_metadata(meta),
               **(extra or {})}
    return client.post("/api/v1/uploads", headers=headers)


def _path(location: str) -> str:
    return urlsplit(location).path


def _patch(client, token, url, offset, data):
    return client.patch(url, data=data, headers={**bearer(token), **TUS, "Upload-Offset": str(offset),
                                                 "Content-Type": "application/offset+octet-stream"})


def _head(client, token, url):
    return client.head(url, headers={**bearer(token), **TUS})


def test_metadata_round_trip():
    meta = {"filename": "第1讲 导论.mp4", "course_id": "7", "empty": ""}
    assert parse_metadata(encode_metadata(meta)) == meta
    assert parse_metadata("flag") == {"flag": ""}
    with pytest.raises(ValueError):
        parse_metadata("filename not-base64!")


def test_options_lists_the_protocol(client):
    response = client.options("/api/v1/uploads")
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    assert "creation" in response.headers["Tus-Extension"] and "termination" in response.headers["Tus-Extension"]
    assert int(response.headers["Tus-Max-Size"]) > 0


def test_upload_in_chunks_then_transcoded(app, client, zoo, staff_token, media_course):
    data = zoo.path("hd_720p").read_bytes()
    lesson = media_course.modules[0].lessons[1]
    created = _create(client, staff_token, media_course, len(data), lesson=lesson)
    assert created.status_code == 201, created.get_json()
    assert created.headers["Tus-Resumable"] == "1.0.0" and "Upload-Expires" in created.headers
    url = _path(created.headers["Location"])
    offset, step = 0, 100_000
    while offset < len(data):
        response = _patch(client, staff_token, url, offset, data[offset:offset + step])
        assert response.status_code == 204, response.get_json()
        offset = int(response.headers["Upload-Offset"])
    assert offset == len(data)
    media_id = int(response.headers["Xueshi-Media-Id"])
    status = client.get(f"/api/v1/media/{media_id}", headers=bearer(staff_token)).get_json()
    assert status["state"] == "done" and [r["label"] for r in status["renditions"]] == ["240p", "360p", "720p"]
    assert status["lesson_id"] == lesson.id
    info = client.get(url, headers=bearer(staff_token)).get_json()
    assert info["is_complete"] and info["media_id"] == media_id and info["offset"] == len(data)
    assert db.session.get(MediaAsset, media_id).source_checksum is not None


def test_wrong_offset_is_409_and_head_tells_where_to_go_on(client, zoo, staff_token, media_course):
    data = zoo.path("pdf_handout").read_bytes()
    url = _path(_create(client, staff_token, media_course, len(data), filename="h.pdf").headers["Location"])
    assert _patch(client, staff_token, url, 0, data[:50]).status_code == 204
    conflict = _patch(client, staff_token, url, 0, data[:50])  # sent twice
    assert conflict.status_code == 409 and conflict.get_json()["error"]["code"] == "offset"
    head = _head(client, staff_token, url)
    assert head.status_code == 200
    assert (head.headers["Upload-Offset"], head.headers["Upload-Length"]) == ("50", str(len(data)))
    assert head.headers["Cache-Control"] == "no-store"
    done = _patch(client, staff_token, url, 50, data[50:])
    assert done.status_code == 204 and "Xueshi-Media-Id" in done.headers


class _DroppingStream(io.BytesIO):
    """A request body whose connection drops after `limit` bytes."""

    def __init__(self, data, limit):
        super().__init__(data)
        self.limit = limit

    def read(self, size=-1):
        if self.tell() >= self.limit:
            from werkzeug.exceptions import ClientDisconnected

            raise ClientDisconnected()
        size = self.limit - self.tell() if size is None or size < 0 else min(size, self.limit - self.tell())
        return super().read(size)


def test_resume_after_a_dropped_connection(app, client, zoo, staff_token, media_course, course_staff):
    from app.media import service

    data = zoo.path("mp3_plain").read_bytes()
    url = _path(_create(client, staff_token, media_course, len(data), filename="voice.mp3").headers["Location"])
    upload_id = url.rsplit("/", 1)[-1]
    upload = db.session.get(UploadSession, upload_id)
    offset = service.do_append_upload(upload, 0, _DroppingStream(data, 7000), len(data))
    assert offset == 7000  # what arrived before the drop is kept
    head = _head(client, staff_token, url)
    assert head.headers["Upload-Offset"] == "7000"
    response = _patch(client, staff_token, url, 7000, data[7000:])
    assert response.status_code == 204
    asset = db.session.get(MediaAsset, int(response.headers["Xueshi-Media-Id"]))
    from app.media.storage import sha256_file

    assert asset.state == "done" and asset.kind == "audio"
    assert asset.source_checksum == sha256_file(zoo.path("mp3_plain"))  # byte for byte the same file


def test_head_finishes_an_upload_whose_last_patch_died(app, client, zoo, staff_token, media_course):
    """All bytes on disk but the finishing step never ran (the server died): HEAD completes it."""
    from app.media.storage import get_storage

    data = zoo.path("pdf_handout").read_bytes()
    url = _path(_create(client, staff_token, media_course, len(data), filename="h.pdf").headers["Location"])
    upload_id = url.rsplit("/", 1)[-1]
    get_storage().upload_path(upload_id).write_bytes(data)
    head = _head(client, staff_token, url)
    assert head.headers["Upload-Offset"] == str(len(data))
    assert "Xueshi-Media-Id" in head.headers
    assert _head(client, staff_token, url).status_code == 200  # and again: idempotent
    assert db.session.query(MediaAsset).count() == 1


def test_limits_and_protocol_errors(app, client, staff_token, media_course):
    limit = app.config["MAX_UPLOAD_BYTES"]
    too_big = _create(client, staff_token, media_course, limit + 1)
    assert too_big.status_code == 413 and "largest upload" in too_big.get_json()["error"]["message"]
    assert _create(client, staff_token, media_course, 0).status_code == 400
    assert _create(client, staff_token, media_course, 10, filename="virus.exe").status_code == 415
    assert _create(client, staff_token, media_course, 10, filename="index.m3u8").status_code == 415
    no_version = client.post("/api/v1/uploads", headers={**bearer(staff_token), "Upload-Length": "10"})
    assert no_version.status_code == 412 and no_version.headers["Tus-Version"] == "1.0.0"
    url = _path(_create(client, staff_token, media_course, 10, filename="a.mp4").headers["Location"])
    wrong_type = client.patch(url, data=b"x", headers={**bearer(staff_token), **TUS, "Upload-Offset": "0",
                                                        "Content-Type": "application/json"})
    assert wrong_type.status_code == 415
    too_much = _patch(client, staff_token, url, 0, b"y" * 11)
    assert too_much.status_code == 413
    assert _head(client, staff_token, url).headers["Upload-Offset"] == "0"


def test_another_users_upload_is_404(client, staff_token, media_course, make_user, org_tree, api_token):
    url = _path(_create(client, staff_token, media_course, 100, filename="a.mp4").headers["Location"])
    other = api_token(make_user("other_admin", role="org_admin", org=org_tree["county_a"]))
    assert _head(client, other, url).status_code == 404
    assert _patch(client, other, url, 0, b"x").status_code == 404


def test_only_course_staff_may_start_an_upload(client, media_course, make_user, org_tree, api_token):
    outsider = api_token(make_user("outsider", role="org_admin", org=org_tree["county_b"]))
    assert _create(client, outsider, media_course, 100).status_code == 403


def test_termination_and_expiry(app, client, clock, staff_token, media_course):
    from app.media import service
    from app.media.storage import get_storage

    url = _path(_create(client, staff_token, media_course, 100, filename="a.mp4").headers["Location"])
    upload_id = url.rsplit("/", 1)[-1]
    assert get_storage().upload_path(upload_id).exists()
    assert client.delete(url, headers={**bearer(staff_token), **TUS}).status_code == 204
    assert not get_storage().upload_path(upload_id).exists()
    assert _head(client, staff_token, url).status_code == 404

    url = _path(_create(client, staff_token, media_course, 100, filename="b.mp4").headers["Location"])
    upload_id = url.rsplit("/", 1)[-1]
    assert _patch(client, staff_token, url, 0, b"z" * 40).status_code == 204
    clock.advance(app.config.get("MEDIA_UPLOAD_TTL_S", 86400) + 1)
    assert _head(client, staff_token, url).status_code == 410  # expired: start again
    report = service.do_sweep()
    assert report.expired_uploads == 1
    assert db.session.get(UploadSession, upload_id) is None
    assert not get_storage().upload_path(upload_id).exists()


def test_cookie_session_upload_needs_csrf(client, course_staff, login, auth, media_course):
    login(client, course_staff)
    headers = {**TUS, "Upload-Length": "10",
               "Upload-Metadata": encode_metadata({"filename": "a.mp4", "course_id": str(media_course.id)})}
    assert client.post("/api/v1/uploads", headers=headers).status_code == 400
    ok = client.post("/api/v1/uploads", headers={**headers, "X-CSRFToken": auth.csrf()})
    assert ok.status_code == 201
