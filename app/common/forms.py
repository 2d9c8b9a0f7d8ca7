"""Form fields every feature shares."""
import decimal

import wtforms


class DecimalField(wtforms.DecimalField):
    """WTForms' DecimalField for finite numbers: NaN, sNaN and Infinity are not a valid decimal value.

    WTForms' NumberRange cannot compare a signalling NaN (a 500), and no setting is infinite.
    """

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if valuelist and isinstance(self.data, decimal.Decimal) and not self.data.is_finite():
            self.data = None
            raise ValueError(self.gettext("Not a valid decimal value."))
