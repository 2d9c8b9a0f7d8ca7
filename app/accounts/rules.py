"""Pure rules of the accounts feature (no flask, no db)."""
import re

_DIGITS = re.compile(r"\d+")


def natural_key(text: str) -> str:
    """Return a string that sorts like people read numbers: "learner2" before "learner10".

    Each run of digits becomes its length (two digits) followed by the number without leading zeros,
    so plain string comparison (on SQLite and PostgreSQL alike) orders the numbers by value; the text
    is lower-cased so that the database's collation does not matter for ASCII usernames.
    """
    def number(match: re.Match) -> str:
        digits = match.group().lstrip("0") or "0"
        return f"{len(digits):02d}{digits}"

    return _DIGITS.sub(number, (text or "").lower())
