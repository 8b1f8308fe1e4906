"""Read-side of the supply chain: the verification verdict, from records alone.

`verdict` is pure: the node computes it for `GET /v1/supply/verify`, and a client
that checked the state proofs of the same records can recompute it itself.
"""

from __future__ import annotations

from typing import Any

from healthledger.domains.supply import state as st

VERIFIED = "verified"
UNKNOWN_SERIAL = "unknown_serial"
LOT_MISMATCH = "lot_mismatch"
EXPIRY_MISMATCH = "expiry_mismatch"
RECALLED = "recalled"
ALREADY_DISPENSED = "already_dispensed"
DESTROYED = "destroyed"
SUSPECT = "suspect"
VERDICTS = (
    VERIFIED,
    UNKNOWN_SERIAL,
    LOT_MISMATCH,
    EXPIRY_MISMATCH,
    RECALLED,
    ALREADY_DISPENSED,
    DESTROYED,
    SUSPECT,
)


def verdict(
    package: dict[str, Any] | None, recalls: list[dict[str, Any]] | None, lot: str, expiry: str
) -> str:
    """What a scan of (lot, expiry) on this package means, most serious finding first."""
    if package is None:
        return UNKNOWN_SERIAL
    if package["lot"] != lot:
        return LOT_MISMATCH
    if package["expiry"] != expiry:
        return EXPIRY_MISMATCH
    if package["status"] == st.DESTROYED:
        return DESTROYED
    if package["status"] == st.DISPENSED:
        return ALREADY_DISPENSED
    # An exported package seen again at home is diversion: treated as suspect.
    if package["suspect"] or package["quarantined"] or package["status"] == st.EXPORTED:
        return SUSPECT
    if any(st.recall_applies(r, package["lot"], package["serial"]) for r in recalls or []):
        return RECALLED
    return VERIFIED


def custody_summary(package: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a verifier is told about a package: owner and status, never prices or customers."""
    if package is None:
        return None
    return {
        "owner": package["owner"],
        "status": package["status"],
        "in_transit_to": package["to"],
        "container": package["container"],
        "manufacturer": package["manufacturer"],
        "suspect": package["suspect"],
        "quarantined": package["quarantined"],
    }
