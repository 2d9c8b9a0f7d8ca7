"""The course staff's upload page (HTML) and, in Chromium, a real resumable upload with tus-js-client."""
import re

import pytest

from app.extensions import db
from app.media.models import MediaAsset

pytestmark = pytest.mark.config(MEDIA_X264_PRESET="ultrafast")

#: endpoints whose permission table is in this module (see tests/test_route_matrix.py)
MATRIX_ENDPOINTS = ("media_upload.course_media",)


def test_staff_see_the_upload_page(app, client, login, course_staff, media_course):
    login(client, course_staff)
    response = client.get(f"/courses/{media_course.id}/media")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="media-progress"' in html and "vendor/tus/tus.min.js" in html and "js/upload.js" in html
    assert f'data-course-id="{media_course.id}"' in html
    assert re.search(r'<option value="\d+">Module 1 · Physics lesson 1</option>', html)
    assert re.findall(r'(?:src|href)="(?:https?:)?//', html) == []  # every asset from this server


@pytest.mark.parametrize("role,org,status", [
    ("learner", "school_a1", 403), ("org_admin", "county_b", 403), ("org_admin", "school_a1", 403),
    ("site_admin", None, 200), ("expert", "county_a", 200),
])
def test_upload_page_permissions(app, client, login, make_user, org_tree, media_course, make_project,
                                 make_class, role, org, status):
    if role == "learner":
        cls = make_class(make_project(), org_tree["school_a1"])
        user = make_user("learner_x", role="learner", cls=cls, school=org_tree["school_a1"])
    else:
        user = make_user(f"{role}_x", role=role, org=org_tree[org] if org else org_tree["school_a1"])
    login(client, user)
    assert client.get(f"/courses/{media_course.id}/media").status_code == status


def test_upload_page_needs_login(app, client, media_course):
    response = client.get(f"/courses/{media_course.id}/media")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/courses/999999/media").status_code in (302, 404)


def test_failed_media_shows_its_reason(app, client, login, zoo, course_staff, staff_token, upload_media,
                                       media_course):
    upload_media(staff_token, zoo.path("hls_as_mp4"), filename="playlist.mp4")
    login(client, course_staff)
    html = client.get(f"/courses/{media_course.id}/media").get_data(as_text=True)
    assert "playlist.mp4" in html and "streaming playlist" in html and 'data-retry="' in html


@pytest.mark.browser
def test_browser_upload_survives_a_dropped_connection(app, live_server, page, zoo, course_staff,
                                                      media_course):
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", course_staff.username)
    page.fill("input[name=password]", "Secret-pass-1")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/courses/{media_course.id}/media")
    dropped = []

    def drop_first_patch(route, request):
        if request.method == "PATCH" and not dropped:
            dropped.append(request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/v1/uploads/**", drop_first_patch)
    page.set_input_files("#media-file", str(zoo.copy_as("avi_mp3", zoo.root)))
    page.select_option("#media-lesson", index=1)
    page.click("[data-testid=media-start]")
    row = page.locator("#media-table tr[data-media-id]").first
    row.wait_for(timeout=30_000)
    page.wait_for_function(
        "() => { const r = document.querySelector('#media-table tr[data-media-id]');"
        " return r && r.dataset.state === 'done'; }", timeout=60_000)
    assert dropped, "the first PATCH was cut off"
    assert page.locator("#media-progress").get_attribute("aria-valuenow") == "100"
    assert "240p" in row.inner_text()
    db.session.rollback()  # see what the server's threads committed
    asset = db.session.query(MediaAsset).one()
    assert asset.state == "done" and asset.lesson_id == media_course.modules[0].lessons[0].id
    from app.media.storage import sha256_file

    assert asset.source_checksum == sha256_file(zoo.path("avi_mp3"))
