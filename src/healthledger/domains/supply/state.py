"""Supply records and their keys in the `supply` namespace.

Only what DSCSA transaction information needs is kept: product identifiers, who
holds what, custody steps and flags. No prices, no customers, no patients.
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "supply"

# Package status: where it is in its life. Flags (suspect, quarantined) are separate.
ACTIVE = "active"
IN_TRANSIT = "in_transit"
DISPENSED = "dispensed"
DESTROYED = "destroyed"
EXPORTED = "exported"
FINAL = frozenset({DISPENSED, DESTROYED, EXPORTED})


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


ALERT_COUNT_KEY = "alerts"


def new_package(
    gtin: str, serial: str, lot: str, expiry: str, manufacturer: str, height: int
) -> dict[str, Any]:
    return {
        "gtin": gtin,
        "serial": serial,
        "lot": lot,
        "expiry": expiry,
        "manufacturer": manufacturer,
        "owner": manufacturer,
        "status": ACTIVE,
        "to": None,
        "container": None,
        "suspect": False,
        "quarantined": False,
        "history": [[height, "commission", manufacturer, None]],
    }


def serial_in_range(serial: str, first: str, last: str) -> bool:
    """Numeric serials compare as numbers; others by (length, text), so '9' < '10'."""
    return _order(first) <= _order(serial) <= _order(last)


def _order(serial: str) -> tuple[int, str]:
    return (len(serial), serial)


def recall_applies(recall: dict[str, Any], lot: str, serial: str) -> bool:
    if recall["lot"] is not None:
        return bool(recall["lot"] == lot)
    return serial_in_range(serial, recall["serial_from"], recall["serial_to"])
