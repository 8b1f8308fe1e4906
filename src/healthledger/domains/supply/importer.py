"""Turn imported custody events (from a partner's EPCIS document) into supply transactions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from healthledger.domains.supply.events import CustodyEvent, is_container, split_package_id
from healthledger.domains.supply.messages import MAX_COMMISSION
from healthledger.errors import ErrorCode, InvalidField, LedgerError, Unauthorized

TxPlan = tuple[str, dict[str, Any]]


def plan_transactions(events: Sequence[CustodyEvent], org: str) -> list[TxPlan]:
    """The transactions `org` signs to record these events; refuse events by anyone else."""
    plans: list[TxPlan] = []
    for index, event in enumerate(events):
        if event.org != org:
            raise Unauthorized(
                f"event {index}: recorded by {event.org}; only {event.org} can sign it"
            )
        plans.extend(_plan(index, event))
    return plans


def _plan(index: int, event: CustodyEvent) -> list[TxPlan]:
    items = list(event.items)
    if event.action == "commission":
        return _commission(index, event)
    if event.action in ("aggregate", "disaggregate"):
        if event.parent is None:
            raise _missing(index, "parentID")
        if event.action == "disaggregate":
            return [("supply.disaggregate", {"sscc": event.parent})]
        return [("supply.aggregate", {"sscc": event.parent, "items": items})]
    if event.action in ("ship", "return"):
        if event.counterparty is None:
            raise _missing(index, "destination owning_party")
        payload: dict[str, Any] = {"items": items, "to": event.counterparty}
        if event.action == "return":
            payload["reason"] = event.reason or "returned"
        return [(f"supply.{event.action}", payload)]
    if event.action == "receive":
        return [("supply.receive", {"items": items})]
    if event.action == "dispense":
        return [_dispense(index, item) for item in items]
    if event.action == "destroy":
        return [("supply.destroy", {"items": items, "reason": event.reason or "destroyed"})]
    if event.reason is None:
        raise _missing(index, "export country (healthledger:reason)")
    return [("supply.export", {"items": items, "country": event.reason})]


def _commission(index: int, event: CustodyEvent) -> list[TxPlan]:
    if event.lot is None or event.expiry is None:
        raise _missing(index, "ilmd lot and expiry")
    by_gtin: dict[str, list[str]] = {}
    for item in event.items:
        if is_container(item):
            raise InvalidField(f"event {index}: cannot commission an SSCC")
        gtin, serial = split_package_id(item)
        by_gtin.setdefault(gtin, []).append(serial)
    return [
        (
            "supply.commission",
            {
                "gtin": gtin,
                "lot": event.lot,
                "expiry": event.expiry,
                "serials": serials[i : i + MAX_COMMISSION],
            },
        )
        for gtin, serials in by_gtin.items()
        for i in range(0, len(serials), MAX_COMMISSION)
    ]


def _dispense(index: int, item: str) -> TxPlan:
    if is_container(item):
        raise InvalidField(f"event {index}: dispense names packages, not SSCCs")
    gtin, serial = split_package_id(item)
    return ("supply.dispense", {"gtin": gtin, "serial": serial})


def _missing(index: int, what: str) -> LedgerError:
    return LedgerError(f"event {index}: missing {what}", ErrorCode.MALFORMED)
