"""Forms of the forum pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
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
    action = SelectField(choices=[(a, a) for a in ("pin", "unpin", "lock", "unlock", "excellent", "unexcellent",
                                                   "move")], validate_choice=True)
    board_id = SelectField(_l("Move to"), coerce=int, validate_choice=False, validators=[Optional()])


class FlagForm(FlaskForm):
    value = HiddenField()
