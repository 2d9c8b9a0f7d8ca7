"""gunicorn's gthread worker, taking a new connection only when it has a thread free to serve it.

Every worker process waits on the one listening socket, and gthread accepts whatever arrives as
long as it holds fewer than `worker_connections` (1,000) connections. Clients that keep their
connections open (nginx's upstream keep-alive pool, a load generator, browsers) connect in bursts,
and whichever worker is awake first takes most of the burst: one process then serves nearly every
request on one core while the other idles. This worker stops accepting while all its threads have
a request (in hand or queued), so a burst spreads over the workers that have room. A worker that
has had no free thread for `ACCEPT_WHEN_BUSY_AFTER_S` takes one connection anyway, so new
connections are never starved by busy kept-alive ones: every worker does that at the same rate,
which keeps the spread even when all are busy.

Use it with `gunicorn --worker-class app.common.serving.ThreadWorker` (as `make run` does).

Logger is gunicorn's logger with a cheaper access log line for the default format (see there).
"""
from __future__ import annotations

import logging
import time
from time import monotonic

from gunicorn import glogging
from gunicorn.config import Config
from gunicorn.workers import gthread

ACCEPT_WHEN_BUSY_AFTER_S = 0.01


class ThreadWorker(gthread.ThreadWorker):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.in_pool = 0  # requests handed to the thread pool and not finished yet
        self.paused_since: float | None = None  # when accepting stopped for want of a thread

    def enqueue_req(self, conn) -> None:
        self.in_pool += 1
        super().enqueue_req(conn)

    def finish_request(self, conn, fs) -> None:
        self.in_pool -= 1
        super().finish_request(conn, fs)

    def accept(self, listener) -> None:
        super().accept(listener)
        if self.in_pool >= self.cfg.threads:
            self.paused_since = monotonic()
            super().set_accept_enabled(False)

    def set_accept_enabled(self, enabled: bool) -> None:
        # The run loop asks for accepting again on every turn while it is off; a turn comes with
        # every finished request, and at least once a second.
        if enabled and self.paused_since is not None:
            if (self.in_pool >= self.cfg.threads
                    and monotonic() - self.paused_since < ACCEPT_WHEN_BUSY_AFTER_S):
                return
            self.paused_since = None
        super().set_accept_enabled(enabled)


_DEFAULT_ACCESS_FORMAT = Config().access_log_format  # '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
_PLAIN_HANDLERS = (logging.StreamHandler, logging.FileHandler)


class Logger(glogging.Logger):
    """gunicorn's logger, writing the default access log format without its per-request overhead.

    gunicorn builds a dict of every atom, request header, response header and
    environ variable for each access line, then formats it through the logging
    module: about a tenth of a heartbeat's time in a worker. For the default
    format this writes the same line from the atoms it uses, with the same
    escaping, straight to plain stream and file handlers (under their lock, as
    their emit does); any other format or handler goes gunicorn's way.
    """

    _second = -1
    _stamp = ""

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        if self.cfg.access_log_format != _DEFAULT_ACCESS_FORMAT:
            return super().access(resp, req, environ, request_time)
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        fields = (environ.get("REMOTE_ADDR", "-"), "-", self._get_user(environ) or "-", self._now(),
                  f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}", status,
                  "-" if sent is None else str(sent), environ.get("HTTP_REFERER", "-"),
                  environ.get("HTTP_USER_AGENT", "-"))
        line = '%s %s %s %s "%s" %s %s "%s" "%s"' % tuple(
            f.replace('"', '\\"') if isinstance(f, str) else f for f in fields)
        handlers = self.access_log.handlers
        if not all(type(h) in _PLAIN_HANDLERS and h.formatter is not None and h.formatter._fmt == self.access_fmt
                   and h.level <= logging.INFO for h in handlers) or not self.access_log.isEnabledFor(logging.INFO):
            self.access_log.info("%s", line)
            return
        for handler in handlers:
            handler.acquire()
            try:
                handler.stream.write(line + handler.terminator)
                handler.flush()
            except Exception:
                handler.handleError(logging.makeLogRecord({"msg": line}))
            finally:
                handler.release()

    def _now(self) -> str:
        """now(), made once a second."""
        second = int(time.time())
        if second != self._second:
            self._stamp, self._second = self.now(), second
        return self._stamp
