"""Range serving from the app (app/media/serving.py), in process and under gunicorn."""
import http.client
import os
import socket
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from flask import Flask, request
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.http import http_date

from app.media import serving
from tests.conftest import free_port

SIZE = 100_000
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def media_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("media") / "720p.mp4"
    data = os.urandom(SIZE)
    path.write_bytes(data)
    mtime = 1_700_000_000
    os.utime(path, (mtime, mtime))
    return path, data


@pytest.fixture(scope="module")
def files_client(media_file):
    path, _ = media_file
    app = Flask("serving-test")

    @app.route("/f/<name>", methods=["GET", "HEAD"])
    def serve(name):
        return serving.serve_file(str(path.parent / name), request.environ, max_age_s=60)

    return app.test_client()


def get(client, headers=None, method="GET", name="720p.mp4"):
    return client.open(f"/f/{name}", method=method, headers=headers or {}, buffered=True)


def test_whole_file_with_validators(files_client, media_file):
    _, data = media_file
    rv = get(files_client)
    assert rv.status_code == 200
    assert rv.data == data
    assert rv.headers["Content-Length"] == str(SIZE)
    assert rv.headers["Accept-Ranges"] == "bytes"
    assert rv.headers["Content-Type"] == "video/mp4"
    assert rv.headers["ETag"] == f'"{1_700_000_000:x}-{SIZE:x}"'  # nginx's form
    assert rv.headers["Last-Modified"] == http_date(1_700_000_000)
    assert rv.headers["X-Content-Type-Options"] == "nosniff"
    assert set(rv.headers["Cache-Control"].replace(" ", "").split(",")) == {"private", "max-age=60"}


@pytest.mark.parametrize(
    "range_header, start, end",
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-1023", 0, 1023),
        ("bytes=500-999", 500, 999),
        ("bytes=99000-", 99000, SIZE - 1),  # open range
        ("bytes=-100", SIZE - 100, SIZE - 1),  # suffix range
        ("bytes=-1", SIZE - 1, SIZE - 1),
        ("bytes=99990-200000", 99990, SIZE - 1),  # end past the file is cut
        ("bytes=-200000", 0, SIZE - 1),  # suffix longer than the file is the whole file
        ("BYTES = 10-19", 10, 19),
    ],
)
def test_single_ranges(files_client, media_file, range_header, start, end):
    _, data = media_file
    rv = get(files_client, {"Range": range_header})
    assert rv.status_code == 206
    assert rv.headers["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert rv.headers["Content-Length"] == str(end - start + 1)
    assert rv.data == data[start : end + 1]
    assert rv.headers["Content-Type"] == "video/mp4"


@pytest.mark.parametrize("range_header", ["bytes=100000-", "bytes=200000-300000", "bytes=abc", "bytes=5-1", "bytes=-0"])
def test_unsatisfiable_or_malformed_ranges_get_416(files_client, range_header):
    rv = get(files_client, {"Range": range_header})
    assert rv.status_code == 416
    assert rv.headers["Content-Range"] == f"bytes */{SIZE}"
    assert rv.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize("range_header", ["items=0-5", "bytes=0-1,5-6"])
def test_unknown_units_and_multiple_ranges_get_the_whole_file(files_client, media_file, range_header):
    rv = get(files_client, {"Range": range_header})
    assert rv.status_code == 200
    assert rv.data == media_file[1]


def test_if_range(files_client, media_file):
    _, data = media_file
    full = get(files_client, method="HEAD")
    etag, last_modified = full.headers["ETag"], full.headers["Last-Modified"]

    same = get(files_client, {"Range": "bytes=10-19", "If-Range": etag})
    assert same.status_code == 206 and same.data == data[10:20]
    same_date = get(files_client, {"Range": "bytes=10-19", "If-Range": last_modified})
    assert same_date.status_code == 206 and same_date.data == data[10:20]

    changed = get(files_client, {"Range": "bytes=10-19", "If-Range": '"0-0"'})
    assert changed.status_code == 200 and changed.data == data
    older = get(files_client, {"Range": "bytes=10-19", "If-Range": http_date(1_600_000_000)})
    assert older.status_code == 200 and older.data == data
    weak = get(files_client, {"Range": "bytes=10-19", "If-Range": "W/" + etag})
    assert weak.status_code == 200  # If-Range needs a strong match


def test_conditional_get_and_preconditions(files_client):
    etag = get(files_client, method="HEAD").headers["ETag"]
    assert get(files_client, {"If-None-Match": etag}).status_code == 304
    # If-None-Match is evaluated before Range (RFC 9110 13.2.2).
    cached = get(files_client, {"If-None-Match": etag, "Range": "bytes=0-9"})
    assert cached.status_code == 304 and cached.data == b""
    assert get(files_client, {"If-None-Match": '"other"'}).status_code == 200
    assert get(files_client, {"If-Modified-Since": http_date(1_700_000_000)}).status_code == 304
    assert get(files_client, {"If-Modified-Since": http_date(1_600_000_000)}).status_code == 200
    assert get(files_client, {"If-Match": '"other"', "Range": "bytes=0-9"}).status_code == 412
    assert get(files_client, {"If-Match": etag, "Range": "bytes=0-9"}).status_code == 206


def test_head_has_headers_and_no_body(files_client):
    rv = get(files_client, method="HEAD")
    assert rv.status_code == 200 and rv.data == b""
    assert rv.headers["Content-Length"] == str(SIZE)
    ranged = get(files_client, {"Range": "bytes=100-199"}, method="HEAD")
    assert ranged.status_code == 206 and ranged.data == b""
    assert ranged.headers["Content-Range"] == f"bytes 100-199/{SIZE}"
    assert ranged.headers["Content-Length"] == "100"


def test_missing_file_is_404(files_client):
    assert get(files_client, name="nothing.mp4").status_code == 404


@pytest.mark.parametrize(
    "key, content_type",
    [
        ("a/720p.mp4", "video/mp4"),
        ("a/audio.m4a", "audio/mp4"),
        ("a/poster.jpg", "image/jpeg"),
        ("a/source.pdf", "application/pdf"),
        ("a/source.mp3", "audio/mpeg"),
        ("a/THUMB.PNG", "image/png"),
        ("a/blob.unknownext", "application/octet-stream"),
    ],
)
def test_content_type_by_extension(key, content_type):
    assert serving.content_type_for(key) == content_type


@settings(max_examples=150, deadline=None)
@given(start=st.integers(min_value=0, max_value=SIZE + 10), length=st.integers(min_value=1, max_value=SIZE + 10))
def test_any_range_returns_exactly_those_bytes(files_client, media_file, start, length):
    _, data = media_file
    end = start + length - 1
    rv = get(files_client, {"Range": f"bytes={start}-{end}"})
    if start >= SIZE:
        assert rv.status_code == 416
    else:
        assert rv.status_code == 206
        assert rv.data == data[start : end + 1]
        assert rv.headers["Content-Range"] == f"bytes {start}-{min(end, SIZE - 1)}/{SIZE}"


class RecordingWrapper:
    """Stands in for gunicorn's wsgi.file_wrapper: records what it was given."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize

    def __iter__(self):
        return iter(lambda: self.filelike.read(self.blksize), b"")

    def close(self):
        self.filelike.close()


def test_body_is_handed_to_the_server_file_wrapper_at_the_range_offset(media_file):
    # gunicorn sendfile()s Content-Length bytes from the descriptor's offset:
    # the body must be its wrapper, positioned at the range start.
    path, data = media_file
    environ = {"REQUEST_METHOD": "GET", "HTTP_RANGE": "bytes=90000-90999", "wsgi.file_wrapper": RecordingWrapper}
    rv = serving.serve_file(str(path), environ)
    try:
        assert rv.status_code == 206
        assert isinstance(rv.response, RecordingWrapper)
        fd = rv.response.filelike.fileno()
        assert os.lseek(fd, 0, os.SEEK_CUR) == 90000
        assert rv.content_length == 1000
        assert b"".join(rv.response) == data[90000:91000]
    finally:
        rv.close()



@pytest.fixture
def gunicorn_server(tmp_path):
    """Run serving.serve_file under a real gunicorn gthread worker (sendfile path)."""
    data = os.urandom(5 * 1024 * 1024 + 123)
    (tmp_path / "big.mp4").write_bytes(data)
    (tmp_path / "rangeapp.py").write_text(
        textwrap.dedent(
            f"""
            from flask import Flask, request
            from app.media import serving
            app = Flask("rangeapp")

            @app.route("/big.mp4", methods=["GET", "HEAD"])
            def big():
                return serving.serve_file({str(tmp_path / "big.mp4")!r}, request.environ)
            """
        )
    )
    port = free_port()
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--threads", "4", "--workers", "1",
             "--bind", f"127.0.0.1:{port}", "rangeapp:app"],
            env=env, stdout=subprocess.DEVNULL, stderr=log_file,
        )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("gunicorn did not start: " + log.read_text(errors="replace"))
            time.sleep(0.1)
    yield port, data
    proc.terminate()
    proc.wait(timeout=10)


def test_ranges_under_gunicorn_sendfile(gunicorn_server):
    port, data = gunicorn_server
    size = len(data)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    cases = [
        ("bytes=0-99", 0, 99),
        ("bytes=4194304-5242879", 4194304, 5242879),
        (f"bytes={size - 1000}-", size - 1000, size - 1),
        ("bytes=-777", size - 777, size - 1),
        ("bytes=1048576-1048576", 1048576, 1048576),
    ]
    for header, start, end in cases:  # several requests on one keep-alive connection
        conn.request("GET", "/big.mp4", headers={"Range": header})
        rv = conn.getresponse()
        body = rv.read()
        assert rv.status == 206, header
        assert rv.getheader("Content-Range") == f"bytes {start}-{end}/{size}"
        assert body == data[start : end + 1], header
    conn.request("GET", "/big.mp4")
    rv = conn.getresponse()
    assert rv.status == 200 and rv.read() == data
    conn.request("HEAD", "/big.mp4", headers={"Range": "bytes=10-19"})
    rv = conn.getresponse()
    assert rv.status == 206 and rv.read() == b"" and rv.getheader("Content-Length") == "10"
    conn.request("GET", "/big.mp4", headers={"Range": f"bytes={size}-"})
    rv = conn.getresponse()
    rv.read()
    assert rv.status == 416 and rv.getheader("Content-Range") == f"bytes */{size}"
    conn.close()
