"""`flask media ...`: the job worker and the sweeper."""
from __future__ import annotations

import json
import logging

import click
from flask import Flask, current_app
from flask.cli import AppGroup

media_cli = AppGroup("media", help="Media uploads and transcoding.")


@media_cli.command("worker")
@click.option("--workers", "-w", type=int, default=None, help="Jobs run at once (default MEDIA_WORKERS or 1).")
def worker_command(workers: int | None) -> None:
    """Run the job consumer: transcodes uploads and sweeps every few minutes."""
    from huey.consumer import Consumer

    from app.media import service
    from app.media.jobs import get_huey

    app = current_app._get_current_object()
    huey = get_huey(app)
    if huey.immediate:
        raise click.ClickException("HUEY_IMMEDIATE is on: jobs run in the web process, no worker is needed.")
    report = service.do_sweep()  # jobs a killed worker left "running" become retryable now
    click.echo(f"media worker: swept {json.dumps(report.as_dict())}")
    huey_log = logging.getLogger("huey")
    if not huey_log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        for name in ("huey", "app.media"):
            logging.getLogger(name).addHandler(handler)
            logging.getLogger(name).setLevel(logging.INFO)
    count = workers or int(app.config.get("MEDIA_WORKERS") or 1)
    consumer = Consumer(huey, workers=count, worker_type="thread", periodic=True)
    consumer.run()


@media_cli.command("sweep")
def sweep_command() -> None:
    """Remove expired uploads and stray scratch files; fail jobs whose worker died."""
    from app.media import service

    report = service.do_sweep()
    click.echo(json.dumps(report.as_dict()))


@media_cli.command("retry")
@click.argument("media_id", type=int)
def retry_command(media_id: int) -> None:
    """Queue a failed (or stuck) media job again."""
    from app.common.db import write_transaction
    from app.media import jobs, service

    asset = service.get_asset(media_id)
    if asset is None:
        raise click.ClickException(f"no media {media_id}")
    job = asset.latest_job
    if job is not None and job.state == "done":
        raise click.ClickException("this media is ready; nothing to retry")
    with write_transaction():
        asset = service.get_asset(media_id)
        job = service.do_retry(asset)
    jobs.enqueue_transcode(job.id)
    click.echo(f"queued job {job.id} for media {media_id}")


def register(app: Flask) -> None:
    """Add the `flask media` commands to the app."""
    app.cli.add_command(media_cli)
