"""Form fields every feature shares, and the status of a page that shows a form.

Numbers typed into forms follow the rule of ``app.common.numbers``: ASCII digits only. ``int()`` and
``Decimal()`` also read full-width ("４５") and Arabic-Indic ("١٢") digits and underscores ("1_000"),
so WTForms' own fields would store such input as a number nobody typed.
"""
import decimal
import re

import wtforms
from flask import request
from flask_babel import gettext as _

#: a whole number: an optional sign and ASCII digits
_INTEGER_RE = re.compile(r"[+-]?[0-9]+\Z")
#: a decimal number in plain notation: an optional sign, ASCII digits and at most one decimal point
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\Z")


def _check_number_text(field: wtforms.Field, valuelist, pattern: re.Pattern, invalid, not_ascii) -> None:
    """Refuse (clearing the field) submitted text that is not a plain number written with ASCII digits.

    Non-ASCII text gets ``not_ascii()`` (say to type half-width digits), other text ``invalid()`` (WTForms'
    own message); both are called only then, in the request, and give a str (views join field errors).
    Empty text is left to the field and its validators (Optional, InputRequired).
    """
    if not valuelist or not isinstance(valuelist[0], str):
        return
    text = valuelist[0].strip()
    if text and not pattern.match(text):
        field.data = None
        raise ValueError(invalid() if text.isascii() else not_ascii())


class IntegerField(wtforms.IntegerField):
    """WTForms' IntegerField for whole numbers written with the ASCII digits 0-9 (and an optional sign).

    ``int()`` alone would also take "４５", "١٢" and "1_000".
    """

    def process_formdata(self, valuelist):
        _check_number_text(self, valuelist, _INTEGER_RE, lambda: self.gettext("Not a valid integer value."),
                           lambda: _("Enter a whole number using the half-width digits 0–9."))
        super().process_formdata(valuelist)


class DecimalField(wtforms.DecimalField):
    """WTForms' DecimalField for finite numbers in plain notation with the ASCII digits 0-9 and one decimal point.

    NaN, sNaN, Infinity, exponents ("1e3") and underscores are not a valid decimal value: WTForms'
    NumberRange cannot compare a signalling NaN (a 500), and no setting is infinite.
    """

    def process_formdata(self, valuelist):
        _check_number_text(self, valuelist, _DECIMAL_RE, lambda: self.gettext("Not a valid decimal value."),
                           lambda: _("Enter a number using the half-width digits 0–9 and at most one decimal point."))
        super().process_formdata(valuelist)
        if valuelist and isinstance(self.data, decimal.Decimal) and not self.data.is_finite():
            self.data = None
            raise ValueError(self.gettext("Not a valid decimal value."))


def form_status() -> int:
    """The status of a page that shows a form: 400 when it shows a submission it refused, 200 otherwise."""
    return 400 if request.method == "POST" else 200
