"""flask commands of the accounts feature."""
import click
from flask import Flask


def register(app: Flask) -> None:
    @app.cli.command("create-admin")
    @click.argument("username")
    @click.password_option()
    def create_admin(username: str, password: str):
        """Create a site administrator (or reset its password)."""
        from sqlalchemy import select

        from app.accounts import auth
        from app.accounts.models import RoleAssignment, User
        from app.common.db import write_transaction
        from app.extensions import db

        if (problem := auth.password_problem(password)) is not None:
            raise click.ClickException(problem)
        with write_transaction():
            user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if user is None:
                user = User(username=username, real_name=username, password_hash=auth.hash_password(password))
                db.session.add(user)
                db.session.flush()
            else:
                user.password_hash = auth.hash_password(password)
            if not user.has_role("site_admin"):
                db.session.add(RoleAssignment(user_id=user.id, role="site_admin"))
        click.echo(f"site admin {username} ready")
