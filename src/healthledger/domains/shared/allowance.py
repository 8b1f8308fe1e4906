"""Daily allowances counted on block time: a rule several domains share.

An actor may do a thing at most `per_day` times in any 24 hours of block time (a
clinician's break-glass reads, a patient's vouches). The state keeps only the times
inside the window, so the list never holds more than `per_day` entries.
"""

from __future__ import annotations

from healthledger.errors import RateLimited

DAY_MS = 24 * 60 * 60 * 1000


def spend_daily(times: list[int], now_ms: int, per_day: int, what: str) -> list[int]:
    """The times after one more use now, or RATE_LIMITED once `per_day` are in the window."""
    recent = [t for t in times if t > now_ms - DAY_MS]
    if len(recent) >= per_day:
        raise RateLimited(f"at most {per_day} {what} in 24 hours")
    return [*recent, now_ms]
