"""Operations of governance: what another domain's handler does in governance's state.

A base domain's operation runs inside the caller's transaction and writes the base
domain's own namespace (`TxContext.within`): it commits with that transaction or not
at all, and the caller never learns governance's keys or layout. Reads go through
`governance.queries`; writes of governance state by anyone else come through here.

Daily allowances are the first: how often an actor may do a thing in any 24 hours of
block time (a clinician's break-glass reads, a patient's vouches), kept beside the
actor's other governance records under `allowance/<what>/<who>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from healthledger.domains.governance.state import NAMESPACE
from healthledger.domains.shared.allowance import spend_daily
from healthledger.ledger.context import StateModel, TxContext

_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True)
class DailyAllowance:
    """A thing counted per actor per day: its key name and how a refusal names it."""

    name: str  # in the state key: `allowance/<name>/<who>`
    counted: str  # "at most N <counted> in 24 hours"

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"allowance {self.name!r}: names are lower-case words")


class AllowanceWindow(StateModel):
    """Block times of an actor's uses in the last 24 hours (never more than the limit)."""

    times: tuple[int, ...]


def allowance_key(what: DailyAllowance, who: str) -> str:
    return f"allowance/{what.name}/{who}"


def spend_allowance(ctx: TxContext, who: str, what: DailyAllowance, per_day: int) -> None:
    """Count one use by `who` now, or RateLimited once `per_day` are in the last 24 hours."""
    gov = ctx.within(NAMESPACE)
    key = allowance_key(what, who)
    window = gov.load(key, AllowanceWindow)
    times = spend_daily(
        [] if window is None else list(window.times), ctx.block.time_ms, per_day, what.counted
    )
    gov.store(key, AllowanceWindow(times=tuple(times)))


# Governance's own: a patient vouches for a few people a day (a parent for children).
VOUCHES = DailyAllowance("vouch", "patients vouched for by one patient")
