"""The gunicorn worker takes a new connection only when it has a thread free to serve it (app.common.serving)."""
import re
import selectors
import socket
import subprocess
import sys
import time
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path

import pytest
from gunicorn.config import Config

from app.common import serving

ROOT = Path(__file__).resolve().parents[2]


class _Log:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class _Pool:
    """A thread pool that never runs anything: every request stays in hand."""

    def __init__(self):
        self.conns = []

    def submit(self, fn, conn):
        self.conns.append(conn)
        return Future()


@pytest.fixture
def worker(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(serving, "monotonic", lambda: now[0])
    listener = socket.create_server(("127.0.0.1", 0))
    cfg = Config()
    cfg.set("threads", 2)
    w = serving.ThreadWorker(0, 0, [listener], None, 30, cfg, _Log())
    w.poller = selectors.DefaultSelector()
    w.tpool = _Pool()
    w.set_accept_enabled(True)
    clients = []

    def connect_and_accept():
        clients.append(socket.create_connection(listener.getsockname()))
        w.accept(listener)

    w.connect_and_accept, w.now = connect_and_accept, now
    yield w
    for client in clients:
        client.close()
    w.poller.close()
    listener.close()


def _listening(w) -> bool:
    return any(key.fileobj is w.sockets[0] for key in w.poller.get_map().values())


def test_a_worker_stops_accepting_once_every_thread_has_a_request(worker):
    worker.connect_and_accept()
    assert _listening(worker)
    worker.connect_and_accept()
    assert worker.in_pool == 2
    assert not _listening(worker)
    worker.set_accept_enabled(True)  # what the run loop asks on its next turn
    assert not _listening(worker), "a busy worker left the connection to a worker with a free thread"


def test_a_finished_request_lets_the_worker_accept_again(worker):
    worker.connect_and_accept()
    worker.connect_and_accept()
    done = Future()
    done.set_result(False)  # the request is answered and its connection closed
    worker.finish_request(worker.tpool.conns[0], done)
    assert worker.in_pool == 1
    worker.set_accept_enabled(True)
    assert _listening(worker)


def test_a_busy_worker_still_takes_a_connection_after_a_short_wait(worker):
    worker.connect_and_accept()
    worker.connect_and_accept()
    worker.now[0] += serving.ACCEPT_WHEN_BUSY_AFTER_S / 2
    worker.set_accept_enabled(True)
    assert not _listening(worker)
    worker.now[0] += serving.ACCEPT_WHEN_BUSY_AFTER_S
    worker.set_accept_enabled(True)
    assert _listening(worker), "new connections are never starved by busy kept-alive ones"
    worker.connect_and_accept()  # the one it took; still busy, so it pauses again
    assert worker.in_pool == 3
    assert not _listening(worker)


def test_stopping_turns_accepting_off_whatever_the_pause(worker):
    worker.connect_and_accept()
    worker.connect_and_accept()
    worker.now[0] += 1
    worker.set_accept_enabled(True)
    worker.set_accept_enabled(False)  # as the run loop does when the worker stops
    assert not _listening(worker)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_pid(sock: socket.socket, request: bytes) -> int:
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    return int(body)


def test_under_gunicorn_a_connection_goes_to_the_worker_with_a_free_thread():
    """Two workers of one thread: while one holds a request, a new connection is served by the other."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--worker-class", "app.common.serving.ThreadWorker", "--workers", "2",
         "--threads", "1", "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "tests.common.pid_app:app"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        pids = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until both workers answered once (the server is up)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as probe:
                    pids.add(_get_pid(probe, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
            except ConnectionRefusedError:
                try:
                    server.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    continue
                raise AssertionError(server.stderr.read()) from None
            if len(pids) == 2:
                break
        assert len(pids) == 2, "both workers should be up"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as held:
            # The body comes late: the worker that took this connection has its only thread reading it.
            held.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n")
            assert held.recv(4096).startswith(b"HTTP/1.1 100 Continue")
            with socket.create_connection(("127.0.0.1", port), timeout=5) as other:
                served_by_other = _get_pid(other, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            served_by_held = _get_pid(held, b"x")
        assert served_by_other != served_by_held
    finally:
        server.terminate()
        server.wait(timeout=30)


class _Response:
    def __init__(self, status, sent):
        self.status, self.sent, self.headers = status, sent, [("Content-Type", "application/json")]


@pytest.mark.parametrize("environ, response", [
    ({"REMOTE_ADDR": "10.0.0.7", "REQUEST_METHOD": "POST", "RAW_URI": "/api/v1/playback/sessions/5/heartbeats",
      "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_USER_AGENT": "Mozilla/5.0 (X11) MicroMessenger/8.0"}, _Response("200 OK", 126)),
    ({"REMOTE_ADDR": "10.0.0.7", "REQUEST_METHOD": "GET", "RAW_URI": '/search?q="quoted"', "SERVER_PROTOCOL": "HTTP/1.0",
      "HTTP_REFERER": 'http://x/"r"', "HTTP_USER_AGENT": 'agent "with quotes"',
      "HTTP_AUTHORIZATION": "Basic dGVhY2hlcjpzZWNyZXQ="}, _Response("404 NOT FOUND", 0)),
    ({"REQUEST_METHOD": "HEAD", "RAW_URI": "/healthz", "SERVER_PROTOCOL": "HTTP/1.1"}, _Response(304, None)),
])
def test_the_access_log_lines_are_gunicorns(tmp_path, environ, response):
    lines = {}
    for name, cls in (("gunicorn", serving.glogging.Logger), ("ours", serving.Logger)):
        cfg = Config()
        cfg.set("accesslog", str(tmp_path / f"{name}.log"))
        logger = cls(cfg)
        logger.access(response, [("Host", "t")], environ, timedelta(microseconds=1500))
        for handler in logger.access_log.handlers:
            handler.flush()
        lines[name] = (tmp_path / f"{name}.log").read_text()
    stamp = re.compile(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]")
    assert lines["ours"].count("\n") == 1 and stamp.search(lines["ours"])
    assert stamp.sub("[T]", lines["ours"]) == stamp.sub("[T]", lines["gunicorn"])


def test_a_custom_access_log_format_is_left_to_gunicorn(tmp_path):
    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "a.log"))
    cfg.set("access_log_format", "%(m)s %(U)s %(s)s %({content-type}o)s")
    serving.Logger(cfg).access(_Response("201 CREATED", 9), [], {"REQUEST_METHOD": "POST", "PATH_INFO": "/x",
                                                                   "RAW_URI": "/x", "SERVER_PROTOCOL": "HTTP/1.1"},
                               timedelta(0))
    assert (tmp_path / "a.log").read_text() == "POST /x 201 application/json\n"
