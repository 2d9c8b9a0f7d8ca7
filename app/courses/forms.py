"""Forms of the learner pages: register or enrol with a learning card."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp


class CardRegisterForm(FlaskForm):
    card_number = StringField(_l("Card number"), validators=[DataRequired(), Length(max=32)])
    pin = PasswordField(_l("PIN"), validators=[DataRequired(), Length(max=32)])
    username = StringField(
        _l("Username"),
        validators=[DataRequired(), Length(min=3, max=64),
                    Regexp(r"^[A-Za-z0-9_.-]+\Z", message=_l("Use letters, digits, dot, dash or underscore."))],
    )
    real_name = StringField(_l("Real name"), validators=[DataRequired(), Length(max=64)])
    teacher_no = StringField(_l("Teacher number"), validators=[Optional(), Length(max=32)])
    phone = StringField(_l("Mobile phone"), validators=[Optional(), Regexp(r"^1[0-9]{10}\Z", message=_l("Enter an 11-digit mobile number."))])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=8, max=128)])
    confirm = PasswordField(_l("Repeat the password"), validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))])


class CardRedeemForm(FlaskForm):
    card_number = StringField(_l("Card number"), validators=[DataRequired(), Length(max=32)])
    pin = PasswordField(_l("PIN"), validators=[DataRequired(), Length(max=32)])
