"""Images of posts: checked by content, re-encoded without metadata or payloads, size limited, served to members."""
import io
import re

import pytest
from PIL import Image

from tests.forums.world import PERSONAS, call_api, fast_hashing, forum_world  # noqa: F401


def _png_with_payload() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    out = io.BytesIO()
    Image.new("RGBA", (40, 30), (255, 0, 0, 128)).save(out, "PNG", pnginfo=info)
    return out.getvalue() + b"<script>alert('appended')</script>"


def _jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (1.0, 2.0, 3.0)}  # GPS
    out = io.BytesIO()
    Image.new("RGB", (50, 20), (0, 128, 0)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def _upload(w, persona, data: bytes, name="a.png"):
    client, headers = w.api[persona]
    return client.post("/api/v1/forum-images", headers=headers, data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_images_are_re_encoded_without_metadata(forum_world):
    w = forum_world
    answer = _upload(w, "learner", _png_with_payload())
    assert answer.status_code == 201, answer.get_json()
    url = answer.get_json()["url"]
    assert re.fullmatch(r"/forums/images/[0-9a-f]{32}\.png", url) and answer.get_json()["markdown"] == f"![]({url})"
    served = w.pages["learner2"].get(url)
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert b"script" not in served.data and b"Comment" not in served.data
    assert Image.open(io.BytesIO(served.data)).size == (40, 30)
    jpeg = _upload(w, "learner", _jpeg_with_exif(), "photo.jpg").get_json()["url"]
    data = w.pages["learner"].get(jpeg).data
    assert jpeg.endswith(".jpg") and b"SecretCam" not in data and not Image.open(io.BytesIO(data)).getexif()
    # the image shows in a post; anonymous visitors are sent to sign in
    topic_id, _ = w.topic("class_a", body=f"看这张图：![示意图]({url})")
    assert f'src="{url}"' in call_api(w, "learner", "GET", f"/api/v1/topics/{topic_id}").get_json()["posts"][0]["body_html"]
    assert w.pages["anon"].get(url).status_code == 302


@pytest.mark.parametrize("data,name,status", [
    (b"<html><script>alert(1)</script></html>", "evil.png", 415),
    (b"GIF89a" + b"\x00" * 20, "broken.gif", 415),
    (b"%PDF-1.4 not an image", "doc.jpg", 415),
    (b"", "empty.png", 415),
])
def test_disguised_or_broken_files_are_refused(forum_world, data, name, status):
    answer = _upload(forum_world, "learner", data, name)
    assert answer.status_code == status and answer.get_json()["error"]["code"] == "file"


@pytest.mark.config(FORUM_IMAGE_MAX_BYTES=2000)
def test_oversized_images_are_refused(forum_world):
    out = io.BytesIO()
    Image.effect_noise((200, 200), 50).convert("RGB").save(out, "PNG")
    answer = _upload(forum_world, "learner", out.getvalue())
    assert answer.status_code == 413


def test_image_permission_table(forum_world):
    w = forum_world
    url = _upload(w, "learner", _png_with_payload()).get_json()["url"]
    #                 site cA  cB  tut man tu2 lrn ln2 tch exp exB anon
    upload_api =    "403 403 403 201 201 201 201 201 403 201 201 401".split()
    upload_page =   "403 403 403 302 302 302 302 302 403 302 302 L".split()
    view =          "200 200 200 200 200 200 200 200 200 200 200 L".split()
    problems = []
    for persona, want_api, want_page, want_view in zip(PERSONAS, upload_api, upload_page, view, strict=True):
        got = _upload(w, persona, _png_with_payload()).status_code
        page = w.pages[persona].post("/forums/images", data={"csrf_token": w.csrf[persona], "next": "/forums",
                                                             "file": (io.BytesIO(_png_with_payload()), "a.png")},
                                     content_type="multipart/form-data")
        got_page = "L" if page.status_code == 302 and "/login" in page.headers["Location"] else str(page.status_code)
        shown = w.pages[persona].get(url)
        got_view = "L" if shown.status_code == 302 else str(shown.status_code)
        if (str(got), got_page, got_view) != (want_api, want_page, want_view):
            problems.append(f"{persona}: api {got} page {got_page} view {got_view}")
    assert not problems, "\n".join(problems)
    assert w.pages["learner"].get("/forums/images/" + "0" * 32 + ".png").status_code == 404
    assert w.pages["learner"].get("/forums/images/..%2Fsecret.png").status_code == 404
