"""Forms of the homework pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.common.forms import IntegerField


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class AssignmentForm(FlaskForm):
    #: "course:<id>" (every class of the project) or "class:<id>"
    target = SelectField(_l("For"), validate_choice=True)
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    instructions = TextAreaField(_l("Instructions (Markdown)"), validators=[Optional(), Length(max=50000)])
    due_at = DateTimeLocalField(_l("Due"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    late_until = DateTimeLocalField(_l("Late submissions accepted until (optional)"), format="%Y-%m-%dT%H:%M",
                                    validators=[Optional()])
    is_required = BooleanField(_l("Required"), default=True)
    accepts_text = BooleanField(_l("A text answer"), default=True)
    accepts_files = BooleanField(_l("Files"), default=True)
    kinds = MultiCheckboxField(_l("Kinds of file accepted"), validate_choice=True)
    max_mb = IntegerField(_l("Largest file (MB)"), default=20, validators=[InputRequired(), NumberRange(min=1, max=500)])
    max_files = IntegerField(_l("Most files per submission"), default=5, validators=[InputRequired(), NumberRange(min=1, max=20)])
    is_returnable = BooleanField(_l("The tutor may return it for revision"), default=True)
    is_deleted = BooleanField(_l("Withdrawn (hidden from learners)"))


class ReviewForm(FlaskForm):
    """The tutor's grading form: grade, return, recommend or withdraw (the pressed button's action)."""

    score = IntegerField(_l("Score (0–100)"), validators=[Optional(), NumberRange(min=0, max=100)])
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=5000)])
    reason = TextAreaField(_l("What should be revised"), validators=[Optional(), Length(max=5000)])


class ActionForm(FlaskForm):
    """A form with only the CSRF token."""


class BriefForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    body = TextAreaField(_l("Text (Markdown)"), validators=[Optional(), Length(max=50000)])
