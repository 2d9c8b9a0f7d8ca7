"""Forms of the accounts administration (every one carries the CSRF token)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from app.accounts.labels import LABELS
from app.common.numbers import parse_int


def as_choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value="" if value is None else value, label=label) for value, label in pairs]


def int_or_none(value):
    """Coerce a chosen id: None for no choice; a value that is no id fails the field ("could not coerce")."""
    if value in (None, "", "None"):
        return None
    if isinstance(value, int):
        return value
    number = parse_int(value, min_value=1)
    if number is None:
        raise ValueError(f"not an id: {value!r}")
    return number


def kind_labels() -> dict:
    return dict(LABELS["org_kind"])


def stage_choices() -> list:
    return as_choices([("", _l("—")), *LABELS["stage"].items()])


def role_labels() -> dict:
    """The roles an admin grants on an org unit."""
    return {role: LABELS["role"][role] for role in ("org_admin", "expert")}


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token."""


class OrgUnitForm(FlaskForm):
    parent_id = SelectField(_l("Parent unit"), coerce=int_or_none, validate_choice=False)
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), validate_choice=False)
    code = StringField(_l("Code (used by imports)"), validators=[Optional(), Length(max=40),
                       Regexp(r"^[A-Za-z0-9_.-]+\Z", message=_l("Use letters, digits, dot, dash or underscore."))])


class OrgUnitEditForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    code = StringField(_l("Code (used by imports)"), validators=[Optional(), Length(max=40),
                       Regexp(r"^[A-Za-z0-9_.-]+\Z", message=_l("Use letters, digits, dot, dash or underscore."))])
    parent_id = SelectField(_l("Parent unit"), coerce=int_or_none, validate_choice=False)


class UserFieldsMixin:
    real_name = StringField(_l("Real name"), validators=[DataRequired(), Length(max=64)])
    teacher_no = StringField(_l("Teacher number"), validators=[Optional(), Length(max=32)])
    phone = StringField(_l("Mobile phone"), validators=[Optional(), Regexp(r"^1[0-9]{10}\Z", message=_l("Enter an 11-digit mobile number."))])
    school_id = SelectField(_l("School or org unit"), coerce=int_or_none, validate_choice=False)
    subject = StringField(_l("Subject"), validators=[Optional(), Length(max=40)])
    stage = SelectField(_l("Stage"), choices=stage_choices(), validators=[Optional()])


class UserCreateForm(UserFieldsMixin, FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(min=3, max=64),
                           Regexp(r"^[A-Za-z0-9_.-]+\Z", message=_l("Use letters, digits, dot, dash or underscore."))])
    password = PasswordField(_l("Initial password (empty: generate one)"), validators=[Optional(), Length(max=128)])


class UserEditForm(UserFieldsMixin, FlaskForm):
    is_active = BooleanField(_l("Active (may sign in)"))


class RoleGrantForm(FlaskForm):
    role = SelectField(_l("Role"), choices=as_choices(role_labels().items()))
    org_unit_id = SelectField(_l("Org unit"), coerce=int_or_none, validate_choice=False)


class SetActiveForm(FlaskForm):
    active = HiddenField(validators=[DataRequired()])
