"""Forms of the notification pages: buttons only (the CSRF token is their one field)."""
from flask_wtf import FlaskForm


class ButtonForm(FlaskForm):
    """Open a notification, or mark all read."""
