"""Forms of the accounts feature."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

#: one address: something@domain.tld, no spaces (the mail server has the last word)
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=128)])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=8, max=128)])
    confirm = PasswordField(
        _l("Repeat the new password"), validators=[DataRequired(), EqualTo("new_password", message=_l("The two passwords differ."))]
    )


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=[("zh_CN", "中文"), ("en", "English")])


class AccountForm(FlaskForm):
    """What a user keeps up to date themselves: the e-mail address notifications are copied to."""

    email = StringField(_l("E-mail address"), filters=[lambda value: value.strip() if isinstance(value, str) else value],
                        validators=[
        Optional(), Length(max=254), Regexp(EMAIL_PATTERN, message=_l("Enter an e-mail address like name@example.com."))])
