"""`flask notifications worker`: sends the e-mail copies of notifications."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

notifications_cli = AppGroup("notifications", help="In-app notifications and their e-mails.")


@notifications_cli.command("worker")
@click.option("--workers", "-w", type=int, default=1, help="E-mails sent at once.")
def worker_command(workers: int) -> None:
    """Run the e-mail job consumer."""
    from huey.consumer import Consumer

    from app.notifications.jobs import get_huey

    huey = get_huey(current_app._get_current_object())
    if huey.immediate:
        raise click.ClickException("HUEY_IMMEDIATE is on: e-mails go out in the web process, no worker is needed.")
    Consumer(huey, workers=workers, worker_type="thread", periodic=False).run()


def register(app: Flask) -> None:
    """Add the `flask notifications` commands to the app."""
    app.cli.add_command(notifications_cli)
