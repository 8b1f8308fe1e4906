"""Field checks every domain shares (no domain's vocabulary, only formats)."""

from __future__ import annotations

import re
from datetime import date

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_day(value: str) -> str:
    """A calendar day written YYYY-MM-DD, or ValueError saying what is wrong with it."""
    if not _ISO_DAY.fullmatch(value):
        raise ValueError("expected a date YYYY-MM-DD")
    try:
        date.fromisoformat(value)  # refuses days that do not exist, like 2026-02-30
    except ValueError:
        # Our own words: payload errors are hashed into blocks, Python's wording may change.
        raise ValueError(f"{value} is not a day of the calendar") from None
    return value
