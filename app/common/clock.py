"""The one clock of the app: server time, replaceable by tests."""
from datetime import datetime, timezone
from typing import Callable

_source: Callable[[], datetime] | None = None


def now() -> datetime:
    """Return the current server time as an aware UTC datetime."""
    if _source is not None:
        return _source()
    return datetime.now(timezone.utc)


def set_source(source: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests); None restores the real clock."""
    global _source
    _source = source


def get_source() -> Callable[[], datetime] | None:
    """The replacement clock in use, if any (to put it back after setting another)."""
    return _source
