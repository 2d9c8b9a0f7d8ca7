"""Forms of the cross-feature administration pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired

from app.accounts.admin_forms import int_or_none


class ImportForm(FlaskForm):
    file = FileField(_l("CSV or XLSX file"), validators=[FileRequired(_l("Choose a file to import."))])
    project_id = SelectField(_l("Enrol in the training project (optional)"), coerce=int_or_none, validate_choice=False)
    class_id = SelectField(_l("Seat in the class (optional)"), coerce=int_or_none, validate_choice=False)


class RoleForm(FlaskForm):
    """The role switcher of the navigation: the chosen home comes as the pressed button's value."""

    role = StringField(validators=[DataRequired()])
