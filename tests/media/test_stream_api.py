"""Media delivery through the app: GET /api/v1/lessons/<id>/media, the signed stream route, projector mode.

Permissions as tables (role x own / other class / other org / unenrolled), and
signed URLs fresh, expired and tampered, in the three serving modes.
"""
import os
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from app.extensions import db
from app.media import signing
from app.media.models import MediaAsset, MediaRendition
from app.media.storage import get_storage
from tests.conftest import bearer

TTL_S = 1800

#: routes whose permissions are tabled here (tests/test_route_matrix.py); the stream route's permission is
#: its signature (fresh / expired / tampered tables below)
MATRIX_ENDPOINTS = ("media_stream_api.lesson_media", "media.projector", "media.stream")


def _put(key: str, data: bytes) -> None:
    path = get_storage().path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def world(app, clock, org_tree, make_project, make_course, make_class, make_user, enroll):
    """One project at the province with a video lesson (two renditions) and a class in county A."""
    project = make_project("Project P")
    course = make_course(project, "Course C")
    lesson = course.modules[0].lessons[0]
    other_project = make_project("Project Q", org=org_tree["county_b"])
    make_course(other_project, "Course D")
    cls = make_class(project, org_tree["school_a1"], "Class 1", learning_center=org_tree["center_a"])
    other_cls = make_class(other_project, org_tree["school_b1"], "Class B")

    uid = secrets.token_hex(16)
    prefix = f"assets/{uid[:2]}/{uid}"
    files = {}
    asset = MediaAsset(uid=uid, course_id=course.id, lesson_id=lesson.id, kind="video", state="done", progress=1.0,
                       source_key=f"{prefix}/source.mp4", source_filename="lesson.mp4", duration_s=600,
                       width=1280, height=720, poster_key=f"{prefix}/poster.jpg")
    for label, (w, h, bitrate) in {"240p": (426, 240, 364_000), "720p": (1280, 720, 1_928_000)}.items():
        key = f"{prefix}/{label}.mp4"
        files[label] = os.urandom(50_000 + h)
        _put(key, files[label])
        asset.renditions.append(MediaRendition(label=label, width=w, height=h, bitrate=bitrate, storage_key=key,
                                               size_bytes=len(files[label]), checksum="0" * 64,
                                               content_type="video/mp4", duration_s=600))
    files["poster"] = os.urandom(3000)
    _put(asset.poster_key, files["poster"])
    db.session.add(asset)
    db.session.commit()

    users = {
        "learner": make_user("learner", role="learner", cls=cls, org=org_tree["school_a1"]),
        "unenrolled": make_user("visitor", role=None, org=org_tree["school_a1"]),
        "other_project_learner": make_user("qlearner", role="learner", cls=other_cls, org=org_tree["school_b1"]),
        "tutor": make_user("tutor", role="tutor", cls=cls),
        "class_manager": make_user("manager", role="class_manager", cls=cls),
        "other_class_tutor": make_user("btutor", role="tutor", cls=other_cls),
        "org_admin_county_a": make_user("admina", role="org_admin", org=org_tree["county_a"]),
        "org_admin_center": make_user("adminc", role="org_admin", org=org_tree["center_a"]),
        "org_admin_county_b": make_user("adminb", role="org_admin", org=org_tree["county_b"]),
        "expert": make_user("expert", role="expert", org=org_tree["province"]),
        "site_admin": make_user("root", role="site_admin"),
    }
    enroll(users["learner"], project)
    enroll(users["other_project_learner"], other_project)
    return {"project": project, "other_project": other_project, "course": course, "lesson": lesson,
            "asset": asset, "files": files, "users": users, "prefix": prefix}


def media(client, lesson_id, token=None, project_id=None):
    url = f"/api/v1/lessons/{lesson_id}/media" + (f"?project_id={project_id}" if project_id else "")
    return client.get(url, headers=bearer(token) if token else {})


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + "?" + parts.query


# ------------------------------------------------------------------ the media endpoint: who gets URLs

@pytest.mark.parametrize(
    "who, status",
    [
        ("learner", 200),
        ("unenrolled", 403),
        ("other_project_learner", 403),   # enrolled, but in a project of another org without this course
        ("tutor", 200),                   # group-viewing staff of a class of the project
        ("class_manager", 200),
        ("other_class_tutor", 403),       # tutor of a class of the other project
        ("org_admin_county_a", 200),      # the class's school is in the subtree
        ("org_admin_center", 200),        # the class's learning center
        ("org_admin_county_b", 403),      # other org
        ("expert", 200),                  # course staff (can_manage_media)
        ("site_admin", 200),
    ],
)
def test_who_gets_media_urls(client, world, api_token, clock, who, status):
    rv = media(client, world["lesson"].id, api_token(world["users"][who]))
    assert rv.status_code == status, rv.get_data(as_text=True)
    body = rv.get_json()
    if status == 403:
        assert body == {"error": {"code": "not_enrolled", "message": body["error"]["message"]}}
        assert "url" not in rv.get_data(as_text=True)
    else:
        assert [r["height"] for r in body["renditions"]] == [240, 720]


def test_anonymous_gets_401_and_unknown_lesson_404(client, world, api_token):
    assert media(client, world["lesson"].id).status_code == 401
    rv = media(client, 999999, api_token(world["users"]["learner"]))
    assert rv.status_code == 404 and rv.get_json()["error"]["code"] == "not_found"


def test_project_id_limits_the_check_to_that_project(client, world, api_token):
    token = api_token(world["users"]["learner"])
    assert media(client, world["lesson"].id, token, world["project"].id).status_code == 200
    assert media(client, world["lesson"].id, token, world["other_project"].id).status_code == 403
    assert media(client, world["lesson"].id, token, 999999).status_code == 404


def test_an_elective_not_chosen_gives_no_urls(client, world, make_course, make_user, enroll, api_token, org_tree):
    elective = make_course(world["project"], "Elective E", is_required=False)
    lesson = elective.modules[0].lessons[0]
    lesson.media_key = "demo/elective.mp4"
    db.session.commit()
    token = api_token(world["users"]["learner"])
    assert media(client, lesson.id, token).status_code == 403


def test_session_cookie_works_too(client, world, login):
    login(client, world["users"]["learner"])
    assert media(client, world["lesson"].id).status_code == 200


def test_body_shape_and_lifetime(app, client, world, api_token, clock):
    rv = media(client, world["lesson"].id, api_token(world["users"]["learner"]), world["project"].id)
    body = rv.get_json()
    assert rv.headers["Cache-Control"] == "no-store"
    expires = int(clock().timestamp()) + TTL_S
    assert body["expires_at"] == (clock() + timedelta(seconds=TTL_S)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["ttl_s"] == TTL_S and body["state"] == "ready"
    assert body["document_url"] is None
    assert [(r["height"], r["width"], r["bitrate"], r["label"]) for r in body["renditions"]] == [
        (240, 426, 364_000, "240p"), (720, 1280, 1_928_000, "720p")]
    for rendition, label in zip(body["renditions"], ("240p", "720p")):
        parts = urlsplit(rendition["url"])
        assert parts.scheme == "http" and parts.netloc == "localhost"
        assert parts.path == f"/media/s/{world['prefix']}/{label}.mp4"
        assert parse_qs(parts.query)["expires"] == [str(expires)]
        assert parse_qs(parts.query)["md5"] == [signing.signature(parts.path, expires, app.config["MEDIA_SIGNING_KEY"])]
    assert urlsplit(body["poster_url"]).path == f"/media/s/{world['prefix']}/poster.jpg"


@pytest.mark.config(MEDIA_URL_TTL_S=60)
def test_ttl_comes_from_config(client, world, api_token, clock):
    body = media(client, world["lesson"].id, api_token(world["users"]["learner"])).get_json()
    assert body["ttl_s"] == 60
    assert parse_qs(urlsplit(body["renditions"][0]["url"]).query)["expires"] == [str(int(clock().timestamp()) + 60)]


def test_document_lesson_gets_a_document_url(client, world, make_course, api_token):
    course = make_course(world["project"], "Reading", kind="document")
    lesson = course.modules[0].lessons[0]
    uid = secrets.token_hex(16)
    key = f"assets/{uid[:2]}/{uid}/source.pdf"
    _put(key, b"%PDF-1.4 test\n%%EOF\n")
    db.session.add(MediaAsset(uid=uid, course_id=course.id, lesson_id=lesson.id, kind="document", state="done",
                              source_key=key, content_type="application/pdf"))
    db.session.commit()
    client_token = api_token(world["users"]["learner"])
    body = media(client, lesson.id, client_token).get_json()
    assert body["renditions"] == [] and body["poster_url"] is None
    assert urlsplit(body["document_url"]).path == "/media/s/" + key
    rv = client.get(path_of(body["document_url"]))
    assert rv.status_code == 200 and rv.headers["Content-Type"] == "application/pdf"
    assert rv.data == b"%PDF-1.4 test\n%%EOF\n"


def test_lesson_being_transcoded_has_no_urls_yet(client, world, make_course, api_token):
    course = make_course(world["project"], "New")
    lesson = course.modules[0].lessons[0]
    uid = secrets.token_hex(16)
    db.session.add(MediaAsset(uid=uid, course_id=course.id, lesson_id=lesson.id, kind="video", state="running",
                              source_key=f"assets/{uid[:2]}/{uid}/source.mp4"))
    db.session.commit()
    body = media(client, lesson.id, api_token(world["users"]["learner"])).get_json()
    assert body["renditions"] == [] and body["state"] == "processing"


def test_lesson_with_a_plain_media_key_is_served(client, world, make_course, api_token):
    course = make_course(world["project"], "Demo")
    lesson = course.modules[0].lessons[0]
    lesson.media_key = "demo/lesson-1.mp4"
    db.session.commit()
    _put("demo/lesson-1.mp4", b"demo-bytes" * 100)
    body = media(client, lesson.id, api_token(world["users"]["learner"])).get_json()
    assert [(r["height"], r["label"]) for r in body["renditions"]] == [(None, "source")]
    rv = client.get(path_of(body["renditions"][0]["url"]), headers={"Range": "bytes=0-9"})
    assert rv.status_code == 206 and rv.data == b"demo-bytes"


# ------------------------------------------------------------------ the stream route: the URL is the permission

@pytest.fixture
def signed(client, clock, world, api_token):
    body = media(client, world["lesson"].id, api_token(world["users"]["learner"])).get_json()
    return {"720p": path_of(body["renditions"][1]["url"]), "poster": path_of(body["poster_url"])}


def test_fresh_url_serves_ranges(client, world, signed):
    data = world["files"]["720p"]
    rv = client.get(signed["720p"], headers={"Range": "bytes=100-1099"})
    assert rv.status_code == 206
    assert rv.data == data[100:1100]
    assert rv.headers["Content-Range"] == f"bytes 100-1099/{len(data)}"
    assert rv.headers["Content-Type"] == "video/mp4"
    assert rv.headers["Accept-Ranges"] == "bytes"
    assert "private" in rv.headers["Cache-Control"] and f"max-age={TTL_S}" in rv.headers["Cache-Control"]
    head = client.head(signed["720p"])
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data)) and head.data == b""
    poster = client.get(signed["poster"])
    assert poster.status_code == 200 and poster.data == world["files"]["poster"]
    assert poster.headers["Content-Type"] == "image/jpeg"


def test_no_login_is_needed_for_a_signed_url_but_it_expires(app, world, signed, clock):
    anonymous = app.test_client()
    assert anonymous.get(signed["720p"], headers={"Range": "bytes=0-0"}).status_code == 206
    clock.advance(TTL_S)
    assert anonymous.get(signed["720p"], headers={"Range": "bytes=0-0"}).status_code == 206  # last valid second
    clock.advance(1)
    rv = anonymous.get(signed["720p"], headers={"Range": "bytes=0-0"})
    assert rv.status_code == 410 and world["files"]["720p"][:64] not in rv.data
    assert "Content-Range" not in rv.headers


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda u: u.replace("md5=", "md5=A"), id="signature"),
        pytest.param(lambda u: u.replace("expires=", "expires=9"), id="expiry"),
        pytest.param(lambda u: u.replace("720p.mp4", "240p.mp4"), id="other-file"),
        pytest.param(lambda u: u.split("?")[0], id="no-query"),
        pytest.param(lambda u: u.split("&")[0], id="no-expiry"),
    ],
)
def test_tampered_url_is_403(client, signed, tamper):
    rv = client.get(tamper(signed["720p"]), headers={"Range": "bytes=0-0"})
    assert rv.status_code == 403
    assert "X-Accel-Redirect" not in rv.headers and "Content-Range" not in rv.headers


def test_tampered_and_expired_is_403(client, signed, clock):
    clock.advance(TTL_S + 60)
    assert client.get(signed["720p"].replace("md5=", "md5=A")).status_code == 403


def test_signed_urls_for_missing_or_unservable_keys(client, app):
    secret = app.config["MEDIA_SIGNING_KEY"]
    far = 4_000_000_000
    missing = signing.sign_key("assets/00/none/720p.mp4", far, secret).url
    assert client.get(missing).status_code == 404
    _put("uploads/abc.part", b"partial")
    upload = signing.sign_key("uploads/abc.part", far, secret).url
    assert client.get(upload).status_code == 404
    assert client.get("/media/s/../config.py?md5=x&expires=1").status_code in (403, 404)
    assert client.post(signing.sign_key("demo/x.mp4", far, secret).url).status_code == 405


@pytest.mark.config(MEDIA_SERVE_MODE="x-accel")
def test_x_accel_mode_hands_the_file_to_nginx(client, signed, world):
    rv = client.get(signed["720p"], headers={"Range": "bytes=0-99"})
    assert rv.status_code == 200
    assert rv.headers["X-Accel-Redirect"] == f"/_protected/{world['prefix']}/720p.mp4"
    assert rv.headers["Content-Type"] == "video/mp4"
    assert rv.data == b""
    assert client.get(signed["720p"].replace("md5=", "md5=A")).headers.get("X-Accel-Redirect") is None


@pytest.mark.config(MEDIA_SERVE_MODE="x-accel", MEDIA_X_ACCEL_PREFIX="/internal-media")
def test_x_accel_prefix_from_config(client, signed, world):
    rv = client.get(signed["poster"])
    assert rv.headers["X-Accel-Redirect"] == f"/internal-media/{world['prefix']}/poster.jpg"
    assert rv.headers["Content-Type"] == "image/jpeg"


@pytest.mark.config(MEDIA_SERVE_MODE="x-accel")
def test_x_accel_mode_still_refuses_expired(client, signed, clock):
    clock.advance(TTL_S + 1)
    rv = client.get(signed["720p"])
    assert rv.status_code == 410 and "X-Accel-Redirect" not in rv.headers


@pytest.mark.config(MEDIA_SERVE_MODE="secure-link")
def test_secure_link_mode_app_route_is_a_working_fallback(client, signed, world):
    rv = client.get(signed["720p"], headers={"Range": "bytes=-10"})
    assert rv.status_code == 206 and rv.data == world["files"]["720p"][-10:]
    assert client.get(signed["720p"].replace("md5=", "md5=A")).status_code == 403


@pytest.mark.config(MEDIA_OPEN_RANGE_CAP_BYTES=1000)
def test_open_ranges_are_answered_in_bounded_pieces(client, signed, world):
    data = world["files"]["720p"]
    rv = client.get(signed["720p"], headers={"Range": "bytes=500-"})
    assert rv.status_code == 206
    assert rv.headers["Content-Range"] == f"bytes 500-1499/{len(data)}"
    assert rv.data == data[500:1500]
    bounded = client.get(signed["720p"], headers={"Range": "bytes=500-20499"})
    assert bounded.data == data[500:20500]  # an explicit range is answered whole


# ------------------------------------------------------------------ projector mode

@pytest.mark.parametrize(
    "who, status",
    [
        ("learner", 403),
        ("unenrolled", 403),
        ("tutor", 200),
        ("class_manager", 200),
        ("other_class_tutor", 403),
        ("org_admin_county_a", 200),
        ("org_admin_center", 200),
        ("org_admin_county_b", 403),
        ("expert", 403),
        ("site_admin", 200),
    ],
)
def test_who_may_open_projector_mode(client, world, login, who, status):
    login(client, world["users"][who])
    rv = client.get(f"/lessons/{world['lesson'].id}/projector?project_id={world['project'].id}")
    assert rv.status_code == status
    if status == 200:
        html = rv.get_data(as_text=True)
        assert 'id="xs-projector"' in html and "js/media-source.js" in html and "js/projector.js" in html
        assert f'data-lesson-id="{world["lesson"].id}"' in html


def test_projector_needs_login_and_a_lesson_of_the_project(client, world, login):
    url = f"/lessons/{world['lesson'].id}/projector?project_id={world['project'].id}"
    rv = client.get(url)
    assert rv.status_code == 302 and "/login" in rv.headers["Location"]
    login(client, world["users"]["site_admin"])
    assert client.get(f"/lessons/{world['lesson'].id}/projector?project_id={world['other_project'].id}").status_code == 404
    assert client.get(f"/lessons/999999/projector?project_id={world['project'].id}").status_code == 404


@pytest.mark.parametrize(
    "who, status",
    [
        ("learner", 403),
        ("unenrolled", 403),
        ("tutor", 302),
        ("class_manager", 302),
        ("other_class_tutor", 403),
        ("org_admin_county_a", 302),
        ("org_admin_center", 302),
        ("org_admin_county_b", 403),
        ("expert", 403),
        ("site_admin", 302),
    ],
)
def test_projector_without_a_project_chooses_the_only_one(client, world, login, who, status):
    login(client, world["users"][who])
    rv = client.get(f"/lessons/{world['lesson'].id}/projector")
    assert rv.status_code == status
    if status == 302:
        assert rv.headers["Location"] == f"/lessons/{world['lesson'].id}/projector?project_id={world['project'].id}"
        assert client.get(rv.headers["Location"]).status_code == 200
    else:
        assert "projector" not in rv.headers.get("Location", "")


def test_projector_lists_the_projects_when_the_lesson_is_in_several(client, world, login, make_project, org_tree):
    from app.courses.service import do_link_course

    second = make_project("Project R", org=org_tree["county_a"])
    do_link_course(second, world["course"], is_required=True)
    db.session.commit()
    url = f"/lessons/{world['lesson'].id}/projector"
    login(client, world["users"]["site_admin"])
    rv = client.get(url)
    assert rv.status_code == 200
    html = rv.get_data(as_text=True)
    for project in (world["project"], second):
        assert f'href="{url}?project_id={project.id}"' in html and project.title in html
    # The county A admin may project in both (one at the province with a class in county A, one in county A).
    login(client, world["users"]["org_admin_county_a"])
    assert client.get(url).status_code == 200
    # The class's tutor runs group viewing in project P only: no list, straight there.
    login(client, world["users"]["tutor"])
    rv = client.get(url)
    assert rv.status_code == 302 and rv.headers["Location"].endswith(f"?project_id={world['project'].id}")


def test_projector_of_a_lesson_in_no_project_or_none_at_all(client, world, login, make_course):
    lonely = make_course(None, "Course without project").modules[0].lessons[0]
    login(client, world["users"]["site_admin"])
    rv = client.get(f"/lessons/{lonely.id}/projector")
    assert rv.status_code == 404
    assert client.get("/lessons/999999/projector").status_code == 404


def test_staff_find_projector_mode_on_the_course_page(client, world, login):
    login(client, world["users"]["site_admin"])
    html = client.get(f"/admin/courses/{world['course'].id}").get_data(as_text=True)
    assert f'href="/lessons/{world["lesson"].id}/projector"' in html
    login(client, world["users"]["org_admin_county_b"])  # sees the province course, runs no group viewing of it
    rv = client.get(f"/admin/courses/{world['course'].id}")
    assert rv.status_code == 200 and "/projector" not in rv.get_data(as_text=True)


@pytest.mark.parametrize("mode", ["app", "x-accel"])
def test_stream_route_answers_valid_and_refuses_tampered(app, client, signed, world, mode):
    app.config.update(MEDIA_SERVE_MODE=mode)
    rv = client.get(signed["720p"], headers={"Range": "bytes=10-19"})
    if mode == "app":
        assert rv.status_code == 206 and rv.data == world["files"]["720p"][10:20]
    else:
        assert rv.status_code == 200 and rv.headers["X-Accel-Redirect"].endswith("/720p.mp4")
    bad = client.get(signed["720p"].replace("md5=", "md5=A"))
    assert bad.status_code == 403 and "text/html" in bad.headers["Content-Type"]  # the app's error page