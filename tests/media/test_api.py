"""The media JSON API: upload a whole course's files, watch the jobs, retry; with the permission table."""
import re
from urllib.parse import urlsplit

import pytest

from app.extensions import db
from app.media.models import MediaAsset, MediaRendition
from app.media.probe import REASONS
from app.media.storage import sha256_file
from app.media.upload import encode_metadata
from tests.conftest import bearer
from tests.media.zoo import BROKEN, VALID

pytestmark = pytest.mark.config(MEDIA_X264_PRESET="ultrafast")


def _reason(app, code):
    """The reason sentence as an API request by a user without a language preference sees it."""
    with app.test_request_context():
        return str(REASONS[code])


def _status(client, token, media_id):
    response = client.get(f"/api/v1/media/{media_id}", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("name", VALID)
def test_valid_zoo_upload_becomes_ready(app, client, zoo, staff_token, upload_media, name):
    case = zoo.case(name)
    response = upload_media(staff_token, zoo.path(name), filename=case.filename)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert set(body) >= {"media_id", "job_id"}
    status = _status(client, staff_token, body["media_id"])
    assert status["state"] == "done", (status["error_code"], status["error_detail"])
    assert status["error"] is None and status["progress"] == 1.0
    assert status["kind"] == case.kind
    assert [r["label"] for r in status["renditions"]] == list(case.rungs)
    if case.kind != "document":
        assert status["duration_s"] == pytest.approx(case.duration_s, abs=0.15)
        for rendition in status["renditions"]:
            assert rendition["duration_s"] == pytest.approx(case.duration_s, abs=0.3)
            assert re.fullmatch(r"[0-9a-f]{64}", rendition["checksum"])
    if case.kind == "video":
        for rendition in status["renditions"]:
            portrait = rendition["height"] > rendition["width"]
            assert ("portrait" if portrait else "landscape") == case.orientation


@pytest.mark.parametrize("name", [n for n in BROKEN if n != "empty"])
def test_broken_zoo_upload_fails_with_a_reason(app, client, zoo, staff_token, upload_media, name):
    case = zoo.case(name)
    response = upload_media(staff_token, zoo.path(name), filename=case.filename)
    assert response.status_code == 202, response.get_json()
    status = _status(client, staff_token, response.get_json()["media_id"])
    assert status["state"] == "failed"
    assert status["error_code"] == case.reason
    assert status["error"] == _reason(app, case.reason)
    assert status["renditions"] == []
    assert not status["is_playable"]


def test_empty_file_is_refused_at_once(app, client, zoo, staff_token, upload_media):
    response = upload_media(staff_token, zoo.path("empty"), filename="empty.mp4")
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == _reason(app, "empty")
    assert db.session.query(MediaAsset).count() == 0


def test_storage_keys_are_generated_and_checksums_kept(app, client, zoo, staff_token, upload_media):
    response = upload_media(staff_token, zoo.path("mkv_as_mp4"), filename="../../etc/evil name 课.mp4")
    asset = db.session.get(MediaAsset, response.get_json()["media_id"])
    assert asset.source_filename == "evil name 课.mp4"  # kept for display only
    assert re.fullmatch(r"assets/[0-9a-f]{2}/[0-9a-f]{32}/source\.mkv", asset.source_key)  # content decides
    from app.media.storage import get_storage

    storage = get_storage()
    assert asset.source_checksum == sha256_file(zoo.path("mkv_as_mp4"))
    assert storage.checksum(asset.source_key) == asset.source_checksum
    keys = [r.storage_key for r in asset.renditions] + [asset.poster_key, asset.thumbnail_key]
    for key in keys:
        assert re.fullmatch(r"assets/[0-9a-f]{2}/[0-9a-f]{32}/[a-z0-9]+\.(mp4|m4a|jpg)", key)
        assert storage.exists(key)
    for rendition in asset.renditions:
        assert storage.checksum(rendition.storage_key) == rendition.checksum
        assert storage.size(rendition.storage_key) == rendition.size_bytes
    leftovers = [p for p in storage.root.rglob("*") if p.is_file() and ".work" in p.parts]
    assert leftovers == []


def test_lesson_gets_its_duration_from_the_probe(app, client, zoo, staff_token, upload_media, media_course):
    lesson = media_course.modules[0].lessons[0]
    assert lesson.duration_s == 600
    response = upload_media(staff_token, zoo.path("mp3_cover"), filename="talk.mp3", lesson=lesson)
    media_id = response.get_json()["media_id"]
    db.session.expire_all()
    lesson = db.session.get(type(lesson), lesson.id)
    assert lesson.duration_s == 2  # 2.04 s of audio, from the probe
    assert lesson.kind == "audio"
    from app.media import service

    asset = service.get_lesson_asset(lesson)
    assert asset.id == media_id and asset.poster_key and asset.renditions[0].label == "audio"
    assert lesson.media_key == asset.source_key


def test_failed_upload_keeps_the_lessons_duration(app, zoo, staff_token, upload_media, media_course):
    lesson = media_course.modules[0].lessons[0]
    upload_media(staff_token, zoo.path("truncated"), filename="cut.mp4", lesson=lesson)
    db.session.expire_all()
    assert db.session.get(type(lesson), lesson.id).duration_s == 600


@pytest.mark.config(MAX_UPLOAD_BYTES=50_000, MEDIA_X264_PRESET="ultrafast")
def test_too_large_is_413_with_the_limit(client, zoo, staff_token, upload_media):
    response = upload_media(staff_token, zoo.path("hd_720p"), filename="big.mp4")
    assert response.status_code == 413
    assert "48.8 KB" in response.get_json()["error"]["message"]
    assert db.session.query(MediaAsset).count() == 0


@pytest.mark.parametrize("filename,reason", [("setup.exe", "unknown_type"), ("lesson.m3u8", "playlist")])
def test_names_that_are_certainly_not_media_are_415(app, client, zoo, staff_token, upload_media, filename, reason):
    response = upload_media(staff_token, zoo.path("pdf_handout"), filename=filename)
    assert response.status_code == 415
    assert response.get_json()["error"]["message"] == _reason(app, reason)


def test_bad_requests(client, zoo, staff_token, media_course, make_course, org_tree):
    headers = bearer(staff_token)
    assert client.post("/api/v1/media", json={"course_id": media_course.id}, headers=headers).status_code == 415
    response = client.post("/api/v1/media", data={"course_id": str(media_course.id)}, headers=headers,
                           content_type="multipart/form-data")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "file"
    with open(zoo.path("pdf_handout"), "rb") as handle:
        response = client.post("/api/v1/media", data={"file": (handle, "a.pdf")}, headers=headers,
                               content_type="multipart/form-data")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "course_id"
    other = make_course(None, title="Other", org=org_tree["county_a"])
    with open(zoo.path("pdf_handout"), "rb") as handle:
        response = client.post("/api/v1/media", headers=headers, content_type="multipart/form-data",
                               data={"file": (handle, "a.pdf"), "course_id": str(media_course.id),
                                     "lesson_id": str(other.modules[0].lessons[0].id)})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "lesson_id"
    assert client.get("/api/v1/media/999999", headers=headers).status_code == 404


def test_retry_a_failed_job(app, client, zoo, staff_token, upload_media):
    response = upload_media(staff_token, zoo.path("corrupt_middle"), filename="damaged.mp4")
    media_id, first_job = response.get_json()["media_id"], response.get_json()["job_id"]
    assert _status(client, staff_token, media_id)["state"] == "failed"
    retry = client.post(f"/api/v1/media/{media_id}/retry", headers=bearer(staff_token))
    assert retry.status_code == 202
    assert retry.get_json()["job_id"] != first_job
    status = _status(client, staff_token, media_id)
    assert (status["state"], status["error_code"], status["attempt"]) == ("failed", "corrupt", 2)


def test_retry_a_ready_asset_is_409(client, zoo, staff_token, upload_media):
    media_id = upload_media(staff_token, zoo.path("pdf_handout"), filename="a.pdf").get_json()["media_id"]
    response = client.post(f"/api/v1/media/{media_id}/retry", headers=bearer(staff_token))
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "state"


def test_course_media_list(client, zoo, staff_token, upload_media, media_course):
    upload_media(staff_token, zoo.path("pdf_handout"), filename="handout.pdf")
    body = client.get(f"/api/v1/courses/{media_course.id}/media", headers=bearer(staff_token)).get_json()
    assert [m["filename"] for m in body["media"]] == ["handout.pdf"]
    assert body["media"][0]["kind"] == "document"


# --- who may do what ---------------------------------------------------------------------------------

#: endpoints whose permission table is in this module (see tests/test_route_matrix.py)
MATRIX_ENDPOINTS = (
    "media_api.create_media", "media_api.media_status", "media_api.retry_media", "media_api.course_media",
    "media_api.tus_options", "media_api.tus_create", "media_api.tus_upload", "media_api.tus_patch",
    "media_api.tus_delete",
)

PERSONAS = {
    # name: (role, org key or None, may manage)
    "site_admin": ("site_admin", None, True),
    "owner_admin": ("org_admin", "county_a", True),
    "province_admin": ("org_admin", "province", True),
    "expert_in_scope": ("expert", "county_a", True),
    "school_admin_below": ("org_admin", "school_a1", False),
    "other_county_admin": ("org_admin", "county_b", False),
    "expert_elsewhere": ("expert", "county_b", False),
    "learner": ("learner", None, False),
    "no_role": (None, None, False),
}


@pytest.fixture
def persona_token(make_user, make_project, make_class, org_tree, api_token):
    def token(name):
        role, org_key, _ = PERSONAS[name]
        if role == "learner":
            project = make_project()
            cls = make_class(project, org_tree["school_a1"])
            user = make_user(name, role="learner", cls=cls, school=org_tree["school_a1"])
        else:
            user = make_user(name, role=role, org=org_tree[org_key] if org_key else org_tree["school_a1"])
        return api_token(user)

    return token


@pytest.mark.parametrize("name", PERSONAS)
def test_permission_table(app, client, zoo, staff_token, upload_media, persona_token, media_course, name):
    allowed = PERSONAS[name][2]
    existing = upload_media(staff_token, zoo.path("pdf_handout"), filename="a.pdf").get_json()["media_id"]
    token = persona_token(name)
    expected = (202, 200) if allowed else (403, 403)
    response = upload_media(token, zoo.path("pdf_handout"), filename="b.pdf")
    assert response.status_code == expected[0], response.get_json()
    assert client.get(f"/api/v1/media/{existing}", headers=bearer(token)).status_code == expected[1]
    retry = client.post(f"/api/v1/media/{existing}/retry", headers=bearer(token))
    assert retry.status_code == (409 if allowed else 403)  # a ready document has nothing to retry
    listing = client.get(f"/api/v1/courses/{media_course.id}/media", headers=bearer(token))
    assert listing.status_code == expected[1]

    # Resumable uploads: staff may start one; an upload belongs to its uploader alone (404 to anyone else).
    tus = {"Tus-Resumable": "1.0.0"}
    meta = encode_metadata({"filename": "c.mp4", "course_id": str(media_course.id)})
    created = client.post("/api/v1/uploads", headers={**bearer(token), **tus, "Upload-Length": "10",
                                                      "Upload-Metadata": meta})
    assert created.status_code == (201 if allowed else 403)
    staff_upload = client.post("/api/v1/uploads", headers={**bearer(staff_token), **tus, "Upload-Length": "10",
                                                           "Upload-Metadata": meta}).headers["Location"]
    staff_upload = urlsplit(staff_upload).path
    assert client.head(staff_upload, headers={**bearer(token), **tus}).status_code == 404
    assert client.get(staff_upload, headers=bearer(token)).status_code == 404
    assert client.patch(staff_upload, data=b"x", headers={
        **bearer(token), **tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}).status_code == 404
    assert client.delete(staff_upload, headers={**bearer(token), **tus}).status_code == 404
    assert client.options("/api/v1/uploads").status_code == 204  # capabilities only: anyone may ask
    assert client.head(staff_upload, headers={**bearer(staff_token), **tus}).status_code == 200


def test_anonymous_gets_401(client, zoo, upload_media, staff_token):
    existing = upload_media(staff_token, zoo.path("pdf_handout"), filename="a.pdf").get_json()["media_id"]
    assert client.get(f"/api/v1/media/{existing}").status_code == 401
    # Without a session cookie the CSRF rule or the login rule answers first: either way nothing happens.
    assert client.post(f"/api/v1/media/{existing}/retry").status_code in (400, 401)
    assert client.post("/api/v1/media", data={}).status_code in (400, 401)
    assert db.session.query(MediaAsset).count() == 1


def test_cookie_session_needs_the_csrf_token(app, client, zoo, course_staff, login, media_course):
    login(client, course_staff)
    with open(zoo.path("pdf_handout"), "rb") as handle:
        response = client.post("/api/v1/media", data={"file": (handle, "a.pdf"), "course_id": str(media_course.id)},
                               content_type="multipart/form-data")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf"
    assert db.session.query(MediaRendition).count() == 0
