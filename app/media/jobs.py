"""Background jobs on Huey: transcoding, and the periodic sweep.

The queue is SqliteHuey at HUEY_SQLITE_PATH by default, RedisHuey when
REDIS_URL is set, and runs tasks at once, in the caller, when HUEY_IMMEDIATE
is true (tests). The Huey instance is built per app (it depends on the app's
config) and kept in `app.extensions["media_huey"]`; the task names are fixed
so the web process and `flask media worker` agree on them. A task carries a
job id only: everything else is in the database.
"""
from __future__ import annotations

import logging

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey, crontab

log = logging.getLogger(__name__)

TRANSCODE_TASK = "xueshi.media.transcode"
SWEEP_TASK = "xueshi.media.sweep"


def _make_huey(app: Flask):
    immediate = bool(app.config.get("HUEY_IMMEDIATE", False))
    redis_url = app.config.get("REDIS_URL")
    name = app.config.get("MEDIA_HUEY_NAME", "xueshi-media")
    if redis_url and not immediate:
        huey = RedisHuey(name, url=redis_url, results=False)
    else:
        huey = SqliteHuey(name, filename=app.config["HUEY_SQLITE_PATH"], results=False, immediate=immediate)

    @huey.task(name=TRANSCODE_TASK, retries=0)
    def transcode_task(job_id: int) -> None:
        from app.media import service

        with app.app_context():
            state = service.do_run_transcode_job(job_id)
            log.info("media job %s: %s", job_id, state)

    sweep_minutes = int(app.config.get("MEDIA_SWEEP_EVERY_MIN", 15))

    @huey.periodic_task(crontab(minute=f"*/{sweep_minutes}"), name=SWEEP_TASK)
    def sweep_task() -> None:
        from app.media import service

        with app.app_context():
            report = service.do_sweep()
            log.info("media sweep: %s", report.as_dict())
            for sweep in app.extensions.get("xueshi_sweeps", ()):  # the other features' clean-ups
                log.info("%s: %s", sweep.__qualname__, sweep())

    huey.xueshi_tasks = {"transcode": transcode_task, "sweep": sweep_task}
    return huey


def get_huey(app: Flask | None = None):
    """Return the app's Huey instance, building it on first use."""
    app = app or current_app._get_current_object()
    huey = app.extensions.get("media_huey")
    if huey is None:
        huey = _make_huey(app)
        app.extensions["media_huey"] = huey
    return huey


def enqueue_transcode(job_id: int) -> None:
    """Queue the transcode of a committed job (run it right now in immediate mode)."""
    get_huey().xueshi_tasks["transcode"](job_id)
