"""Forms of the forum pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.forums.models import BODY_MAX, REASON_MAX, TITLE_MAX


class TopicForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=TITLE_MAX)])
    body = TextAreaField(_l("Text (Markdown)"), validators=[DataRequired(), Length(max=BODY_MAX)])


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Your reply (Markdown)"), validators=[DataRequired(), Length(max=BODY_MAX)])
    quote_post_id = HiddenField()


class EditForm(FlaskForm):
    body = TextAreaField(_l("Text (Markdown)"), validators=[DataRequired(), Length(max=BODY_MAX)])


class ReportForm(FlaskForm):
    reason = StringField(_l("Why (optional)"), validators=[Optional(), Length(max=REASON_MAX)])


class ModerateForm(FlaskForm):
    """pin, unpin, lock, unlock, excellent, unexcellent or move (with board_id, read by the view)."""

    action = StringField(validators=[DataRequired(), Length(max=20)])


class FlagForm(FlaskForm):
    value = HiddenField()


class ImageForm(FlaskForm):
    file = FileField(_l("Image (PNG, JPEG, GIF or WebP)"), validators=[FileRequired()])
