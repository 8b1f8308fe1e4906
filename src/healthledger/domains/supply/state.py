"""Supply records and their keys in the `supply` namespace.

Only what DSCSA transaction information needs is kept: product identifiers, who
holds what, custody steps and flags. No prices, no customers, no patients.

Each record is a frozen `StateModel` that dumps to exactly the JSON object stored
(every field, `None` included), so typed handlers write the same bytes, and the
same state root, as the dicts they replaced.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Literal, NamedTuple

from pydantic import ConfigDict, RootModel

from healthledger.ledger.context import StateModel

NAMESPACE = "supply"

# Package status: where it is in its life. Flags (suspect, quarantined) are separate.
# "transformed": consumed by a transformation (repackaging, kitting, compounding), whose
# outputs are new packages (transform.py keeps the link both ways).
Status = Literal["active", "in_transit", "dispensed", "destroyed", "exported", "transformed"]
ACTIVE: Status = "active"
IN_TRANSIT: Status = "in_transit"
DISPENSED: Status = "dispensed"
DESTROYED: Status = "destroyed"
EXPORTED: Status = "exported"
TRANSFORMED: Status = "transformed"
FINAL: frozenset[Status] = frozenset({DISPENSED, DESTROYED, EXPORTED, TRANSFORMED})


def package_key(gtin: str, serial: str) -> str:
    return f"pkg/{gtin}/{serial}"


def container_key(sscc: str) -> str:
    return f"sscc/{sscc}"


def lot_key(gtin: str, lot: str) -> str:
    return f"lot/{gtin}/{lot}"


def product_key(gtin: str) -> str:
    """Which manufacturer serializes this GTIN: the first to commission it."""
    return f"gtin/{gtin}"


def holders_key(gtin: str) -> str:
    """How many packages of a GTIN each organisation holds, per lot: who to notify of a recall."""
    return f"holders/{gtin}"


def recalls_key(gtin: str) -> str:
    """The recalls in force for a GTIN (few), checked by every verification."""
    return f"recalls/{gtin}"


def recall_key(recall_id: str) -> str:
    return f"recall/{recall_id}"


def alert_key(number: int) -> str:
    return f"alert/{number:012d}"


def expired_key(gtin: str, lot: str) -> str:
    """Present once the block-time sweep found the lot past its expiry date."""
    return f"expired/{gtin}/{lot}"


ALERT_COUNT_KEY = "alerts"
ALERT_PREFIX = "alert/"
RECALL_PREFIX = "recall/"
# The due-queue of lot expiries (domains/shared/schedule.py) lives under this prefix.
EXPIRY_QUEUE_PREFIX = "due/expiry/"


class Step(NamedTuple):
    """One custody step or flag of an item, stored as the list `[height, action, org, detail]`."""

    height: int
    action: str
    org: str
    detail: str | None  # the counterparty, a reason or a country, as the action has one


class Tracked(StateModel):
    """What packages and containers share: who holds them, where, and how they got there."""

    owner: str
    status: Status
    to: str | None  # the receiver while in transit
    container: str | None  # the case or pallet it is packed in
    history: tuple[Step, ...]

    @property
    @abstractmethod
    def name(self) -> str:
        """How a refusal names the item: `gtin:serial`, or the SSCC."""


class Package(Tracked):
    """One serialized package (a DSCSA product identifier) and its custody."""

    gtin: str
    serial: str
    lot: str
    expiry: str  # ISO date YYYY-MM-DD
    manufacturer: str
    suspect: bool
    quarantined: bool

    @property
    def name(self) -> str:
        return f"{self.gtin}:{self.serial}"


class Container(Tracked):
    """A case or pallet named by its SSCC; moving it moves its children."""

    sscc: str
    children: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.sscc


Item = Package | Container


class Lot(StateModel):
    gtin: str
    lot: str
    expiry: str
    manufacturer: str
    count: int  # packages commissioned in the lot


class Product(StateModel):
    gtin: str
    manufacturer: str


class Holders(RootModel[dict[str, dict[str, int]]]):
    """lot -> organisation -> packages held (only non-zero counts; no empty lots)."""

    model_config = ConfigDict(frozen=True)


class RecallRef(StateModel):
    """A recall in force, as every verification and move of its GTIN checks it."""

    id: str
    lot: str | None
    serial_from: str | None
    serial_to: str | None

    def applies(self, lot: str, serial: str) -> bool:
        if self.lot is not None:
            return self.lot == lot
        if self.serial_from is None or self.serial_to is None:
            return False  # never stored: a recall names a lot or both ends of a range
        return serial_in_range(serial, self.serial_from, self.serial_to)


class RecallsInForce(RootModel[tuple[RecallRef, ...]]):
    model_config = ConfigDict(frozen=True)


class Recall(StateModel):
    id: str
    gtin: str
    lot: str | None
    serial_from: str | None
    serial_to: str | None
    reason: str
    by: str
    height: int
    notify: tuple[str, ...]  # the holders when it was issued
    acknowledged: tuple[str, ...]  # sorted


class Alert(StateModel):
    """A presentation that looks like a counterfeit or a diversion."""

    number: int
    gtin: str
    serial: str
    reason: str
    presented_by: str
    manufacturer: str | None  # None when the GTIN was never commissioned
    height: int
    status: str


class AlertCount(StateModel):
    count: int


class ExpiredLot(StateModel):
    """A lot the block-time sweep found past its expiry date, and the block that found it."""

    gtin: str
    lot: str
    expiry: str
    height: int


def new_package(
    gtin: str, serial: str, lot: str, expiry: str, manufacturer: str, height: int
) -> Package:
    return Package(
        gtin=gtin,
        serial=serial,
        lot=lot,
        expiry=expiry,
        manufacturer=manufacturer,
        owner=manufacturer,
        status=ACTIVE,
        to=None,
        container=None,
        suspect=False,
        quarantined=False,
        history=(Step(height, "commission", manufacturer, None),),
    )


def serial_in_range(serial: str, first: str, last: str) -> bool:
    """Numeric serials compare as numbers; others by (length, text), so '9' < '10'."""
    return _order(first) <= _order(serial) <= _order(last)


def _order(serial: str) -> tuple[int, str]:
    return (len(serial), serial)
