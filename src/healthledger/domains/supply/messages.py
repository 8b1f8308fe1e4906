"""Payloads of the supply transactions; GS1 fields are validated here, once, at the edge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from healthledger.domains.shared.fields import iso_day
from healthledger.domains.supply import gs1
from healthledger.domains.supply.events import is_container, package_id
from healthledger.errors import LedgerError
from healthledger.ledger.context import Payload

MAX_COMMISSION = 2000  # serials per transaction: keeps a transaction under 64 KiB
MAX_ITEMS = 1000


def _gs1(check: Callable[[str], str]) -> Callable[[str], str]:
    """Adapt a gs1 validator to pydantic: its LedgerError becomes a field error."""

    def validate(value: str) -> str:
        try:
            return check(value)
        except LedgerError as exc:
            raise ValueError(exc.message) from exc

    return validate


def _gtin14(value: str) -> str:
    if len(value) != 14:
        raise ValueError(f"GTIN {value!r}: the ledger uses 14-digit GTINs")
    return gs1.validate_gtin(value)


def _iso_date(value: str) -> str:
    try:
        return iso_day(value)
    except ValueError as exc:
        raise ValueError(f"expiry {value!r} is not a YYYY-MM-DD date") from exc


def _item(value: str) -> str:
    """A package `gtin:serial` or a container's SSCC."""
    if is_container(value):
        return gs1.validate_sscc(value)
    if len(value) < 16 or value[14] != ":":
        raise ValueError(f"item {value!r}: expected 'GTIN14:serial' or an 18-digit SSCC")
    return package_id(_gtin14(value[:14]), gs1.validate_serial(value[15:]))


Gtin = Annotated[str, AfterValidator(_gs1(_gtin14))]
Serial = Annotated[str, AfterValidator(_gs1(gs1.validate_serial))]
Lot = Annotated[str, AfterValidator(_gs1(gs1.validate_lot))]
Sscc = Annotated[str, AfterValidator(_gs1(gs1.validate_sscc))]
Expiry = Annotated[str, AfterValidator(_iso_date)]
Item = Annotated[str, AfterValidator(_gs1(_item))]
Items = Annotated[list[Item], Field(min_length=1, max_length=MAX_ITEMS)]
OrgId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$")]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
RecallId = Annotated[str, StringConstraints(pattern=r"^rcl-[0-9a-f]{16}$")]
# The GS1 EPCIS event hash (CBV 2.0) of the event an operation records, when it came from one.
EventId = Annotated[str, StringConstraints(pattern=r"^ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0$")]
# CBV 2.0 business transaction types (BizTransactionType), written bare as in EPCIS 2.0 JSON.
BizTransactionType = Literal[
    "bol",
    "cert",
    "desadv",
    "inv",
    "pedigree",
    "po",
    "poc",
    "prodorder",
    "recadv",
    "rma",
    "testprd",
    "testres",
    "upevt",
]
# A business transaction id is a URI or a plain reference: printable ASCII, no spaces.
BizTransactionId = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
]
MAX_BIZ_TRANSACTIONS = 8


class BizTransaction(Payload):
    """One business transaction (EPCIS 2.0 bizTransactionList entry): a PO, an invoice..."""

    type: BizTransactionType
    id: BizTransactionId


BizTransactions = Annotated[
    list[BizTransaction], Field(min_length=1, max_length=MAX_BIZ_TRANSACTIONS)
]


class Commission(Payload):
    """A manufacturer serializes packages of one GTIN and lot (DSCSA product identifiers)."""

    gtin: Gtin
    lot: Lot
    expiry: Expiry
    serials: Annotated[list[Serial], Field(min_length=1, max_length=MAX_COMMISSION)]


class Aggregate(Payload):
    """Pack items (packages or cases) into a case or pallet named by its SSCC."""

    sscc: Sscc
    items: Items


class Disaggregate(Payload):
    sscc: Sscc


class Ship(Payload):
    """Ship items; `biz_transactions` names the seller's TI they travel under (ti.py)."""

    items: Items
    to: OrgId
    biz_transactions: BizTransactions | None = None


class Receive(Payload):
    items: Items


class Return(Payload):
    """Send items back up the chain (allowed for recalled packages, unlike `ship`)."""

    items: Items
    to: OrgId
    reason: Reason


class Dispense(Payload):
    gtin: Gtin
    serial: Serial


class Destroy(Payload):
    items: Items
    reason: Reason


class Export(Payload):
    items: Items
    country: Country


class Verify(Payload):
    """A trading partner scanned a package and records what it saw (DSCSA verification)."""

    gtin: Gtin
    serial: Serial
    lot: Lot
    expiry: Expiry


class Quarantine(Payload):
    gtin: Gtin
    serial: Serial
    reason: Reason


class Clear(Payload):
    gtin: Gtin
    serial: Serial
    reason: Reason


class Recall(Payload):
    """Recall a whole lot, or a serial range (`serial_from`..`serial_to`, inclusive)."""

    gtin: Gtin
    lot: Lot | None = None
    serial_from: Serial | None = None
    serial_to: Serial | None = None
    reason: Reason


class RecallAck(Payload):
    recall_id: RecallId
