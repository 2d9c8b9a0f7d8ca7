"""`flask homework sweep`: removes unfinished resumable uploads whose time ran out."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

homework_cli = AppGroup("homework", help="Homework (作业).")


@homework_cli.command("sweep")
def sweep_command() -> None:
    """Delete unfinished homework uploads older than HOMEWORK_UPLOAD_TTL_S and their bytes."""
    from app.homework.service import do_sweep_uploads

    click.echo(f"{do_sweep_uploads()} unfinished homework uploads removed")


def register(app: Flask) -> None:
    """Add the `flask homework` commands to the app."""
    app.cli.add_command(homework_cli)
