"""Background exports on Huey, built like app.media.jobs: SqliteHuey by default, RedisHuey with REDIS_URL.

The queue is its own (REPORTS_HUEY_NAME) so that `flask reports worker` runs
exports whatever the media worker is doing; with HUEY_IMMEDIATE (tests) a
task runs at once in the caller. A task carries the export's id only.
"""
from __future__ import annotations

import logging

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey

log = logging.getLogger(__name__)

EXPORT_TASK = "xueshi.reports.export"


def _make_huey(app: Flask):
    immediate = bool(app.config.get("HUEY_IMMEDIATE", False))
    name = app.config.get("REPORTS_HUEY_NAME") or app.config.get("MEDIA_HUEY_NAME", "xueshi") + "-reports"
    if app.config.get("REDIS_URL") and not immediate:
        huey = RedisHuey(name, url=app.config["REDIS_URL"], results=False)
    else:
        huey = SqliteHuey(name, filename=app.config["HUEY_SQLITE_PATH"], results=False, immediate=immediate)

    @huey.task(name=EXPORT_TASK, retries=0)
    def export_task(export_id: int) -> None:
        from app.reports import exports

        with app.app_context():
            log.info("report export %s: %s", export_id, exports.do_run_export(export_id))

    huey.xueshi_tasks = {"export": export_task}
    return huey


def get_huey(app: Flask | None = None):
    """Return the app's reports Huey instance, building it on first use."""
    app = app or current_app._get_current_object()
    huey = app.extensions.get("reports_huey")
    if huey is None:
        huey = app.extensions["reports_huey"] = _make_huey(app)
    return huey


def enqueue_export(export_id: int) -> None:
    """Queue a committed export (run it right now in immediate mode)."""
    get_huey().xueshi_tasks["export"](export_id)
