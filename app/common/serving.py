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
"""
from __future__ import annotations

from time import monotonic

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
