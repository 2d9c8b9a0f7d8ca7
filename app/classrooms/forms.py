"""Forms of the class administration."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.accounts.admin_forms import as_choices, int_or_none, stage_choices


class ClassForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    org_unit_id = SelectField(_l("Org unit"), coerce=int_or_none, validate_choice=False)
    learning_center_id = SelectField(_l("Learning center (group viewing)"), coerce=int_or_none, validate_choice=False)
    subject = StringField(_l("Subject"), validators=[Optional(), Length(max=40)])
    stage = SelectField(_l("Stage"), choices=stage_choices(), validators=[Optional()])
    is_workshop = BooleanField(_l("Workshop (工作坊, led by a workshop leader)"))


class AddLearnersForm(FlaskForm):
    """Checked candidates (user_ids, read from the request) and/or usernames or teacher numbers, one a line."""
    names = TextAreaField(_l("Usernames or teacher numbers, one a line"), validators=[Optional(), Length(max=20000)])


class StaffForm(FlaskForm):
    role = SelectField(_l("Role"), choices=as_choices([("tutor", _l("Tutor")), ("class_manager", _l("Class manager"))]))
    username = StringField(_l("Username (empty: nobody)"), validators=[Optional(), Length(max=64)])
