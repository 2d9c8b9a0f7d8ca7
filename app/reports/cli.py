"""`flask reports worker`: runs the hour-registration exports too big to stream at once."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

reports_cli = AppGroup("reports", help="Statistics and hour-registration exports.")


@reports_cli.command("worker")
@click.option("--workers", "-w", type=int, default=1, help="Exports written at once.")
def worker_command(workers: int) -> None:
    """Run the export job consumer."""
    from huey.consumer import Consumer

    from app.reports.jobs import get_huey

    from app.reports.exports import do_sweep_exports

    huey = get_huey(current_app._get_current_object())
    if huey.immediate:
        raise click.ClickException("HUEY_IMMEDIATE is on: exports run in the web process, no worker is needed.")
    do_sweep_exports()
    Consumer(huey, workers=workers, worker_type="thread", periodic=False).run()


@reports_cli.command("sweep")
def sweep_command() -> None:
    """Delete the files of exports older than REPORTS_EXPORT_TTL_H hours."""
    from app.reports.exports import do_sweep_exports

    click.echo(f"{do_sweep_exports()} export files deleted")


def register(app: Flask) -> None:
    """Add the `flask reports` commands to the app."""
    app.cli.add_command(reports_cli)
