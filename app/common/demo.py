"""flask demo: load the demo data set (filled in below)."""
import click


@click.command("demo")
def demo_command():
    """Load the demo data set (idempotent)."""
    raise click.ClickException("not yet")
