"""Custody events: the supply domain's record of what happened to which items, and by whom.

Handlers emit them (as transaction events) and queries rebuild a package's history
from them; `epcis.py` maps them to and from GS1 EPCIS 2.0 JSON at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Action = Literal[
    "commission",
    "aggregate",
    "disaggregate",
    "ship",
    "receive",
    "return",
    "dispense",
    "destroy",
    "export",
]
ACTIONS: tuple[Action, ...] = get_args(Action)


def package_id(gtin: str, serial: str) -> str:
    """One serialized package: its GTIN-14 and serial (unambiguous: a GTIN-14 is 14 digits)."""
    return f"{gtin}:{serial}"


def split_package_id(item: str) -> tuple[str, str]:
    return item[:14], item[15:]


def is_container(item: str) -> bool:
    """A case or pallet is named by its 18-digit SSCC; a package id has a ':' after 14 digits."""
    return len(item) == 18 and item.isdigit()


@dataclass(frozen=True)
class CustodyEvent:
    """One custody step of one or more items (packages `gtin:serial`, or containers by SSCC)."""

    action: Action
    time_ms: int  # block time, milliseconds since the Unix epoch (UTC)
    org: str  # the organisation that acted
    items: tuple[str, ...]
    parent: str | None = None  # the container, for aggregate / disaggregate
    counterparty: str | None = None  # ship/return: the receiver; receive: the sender
    lot: str | None = None  # commission: the lot of every item
    expiry: str | None = None  # commission: ISO date YYYY-MM-DD
    reason: str | None = None  # destroy / export (country) / return
    tx_id: str | None = None  # the ledger transaction that recorded it, when there is one
