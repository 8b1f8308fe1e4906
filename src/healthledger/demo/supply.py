"""The demo's drug supply story: serialize, pack, ship, dispense, catch a clone, recall a lot."""

from __future__ import annotations

from typing import Any

from healthledger.demo.chain import DemoChain, StoryPrecondition
from healthledger.domains.supply.gs1 import gtin_check_digit

GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))  # amoxicillin 500 mg, 21 caps
LOT_A, LOT_B = "AMX2611", "AMX2612"
EXPIRY = "2028-10-31"


def sscc(serial_reference: int) -> str:
    """An SSCC of Medico Pharma's (extension 0, company prefix 0614141) with its check digit."""
    body = f"00614141{serial_reference:09d}"
    return body + str(gtin_check_digit(body))


def item(serial: str) -> str:
    return f"{GTIN}:{serial}"


def act(runner: DemoChain, org: str, tx_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    (result,) = runner.commit([runner.signers[org].sign(tx_type, payload)])
    return result


def _event(result: dict[str, Any], event_type: str) -> dict[str, Any]:
    """The event of `event_type` a step of the story must have emitted."""
    for event in result.get("events", []):
        if event["type"] == event_type:
            return dict(event)
    raise StoryPrecondition("supply", f"a {event_type} event, not {result}")


def supply_story(runner: DemoChain) -> dict[str, Any]:
    """Run the story; return what a user may want to look at afterwards."""
    maker, dist = "medico-pharma", "pharmalink"
    act(
        runner,
        maker,
        "supply.commission",
        {
            "gtin": GTIN,
            "lot": LOT_A,
            "expiry": EXPIRY,
            "serials": [f"A{n:05d}" for n in range(1, 201)],
        },
    )
    act(
        runner,
        maker,
        "supply.commission",
        {
            "gtin": GTIN,
            "lot": LOT_B,
            "expiry": EXPIRY,
            "serials": [f"B{n:05d}" for n in range(1, 101)],
        },
    )
    cases = [sscc(1), sscc(2)]
    pallet = sscc(100)
    for index, case in enumerate(cases):
        contents = [item(f"A{n:05d}") for n in range(1 + 10 * index, 11 + 10 * index)]
        act(runner, maker, "supply.aggregate", {"sscc": case, "items": contents})
    act(runner, maker, "supply.aggregate", {"sscc": pallet, "items": cases})
    act(runner, maker, "supply.ship", {"items": [pallet, item("B00001")], "to": dist})
    act(runner, dist, "supply.receive", {"items": [pallet, item("B00001")]})
    act(runner, dist, "supply.disaggregate", {"sscc": pallet})
    for case in cases:
        act(runner, dist, "supply.disaggregate", {"sscc": case})
    _deliver(runner, dist, "corner-pharmacy", [f"A{n:05d}" for n in range(1, 6)] + ["B00001"])
    _deliver(runner, dist, "town-pharmacy", [f"A{n:05d}" for n in range(11, 16)])
    for serial in ("A00001", "A00002"):
        fields = {"gtin": GTIN, "serial": serial, "lot": LOT_A, "expiry": EXPIRY}
        act(runner, "corner-pharmacy", "supply.verify", fields)
        act(runner, "corner-pharmacy", "supply.dispense", {"gtin": GTIN, "serial": serial})
    # A counterfeit: a clone of a package Corner Pharmacy holds turns up at Town Pharmacy,
    # and a pack with a serial Medico never made is scanned there too.
    clone = act(
        runner,
        "town-pharmacy",
        "supply.verify",
        {"gtin": GTIN, "serial": "A00003", "lot": LOT_A, "expiry": EXPIRY},
    )
    act(
        runner,
        "town-pharmacy",
        "supply.verify",
        {"gtin": GTIN, "serial": "Z99999", "lot": LOT_A, "expiry": EXPIRY},
    )
    act(
        runner,
        "health-authority",
        "supply.quarantine",
        {"gtin": GTIN, "serial": "A00003", "reason": "cloned serial under investigation"},
    )
    recall = act(
        runner,
        maker,
        "supply.recall",
        {"gtin": GTIN, "lot": LOT_B, "reason": "out-of-specification dissolution"},
    )
    recall_id = str(_event(recall, "supply.recall")["recall"])
    # Lot B's only holder besides Medico is Corner Pharmacy, which acknowledges.
    act(runner, "corner-pharmacy", "supply.recall_ack", {"recall_id": recall_id})
    return {
        "gtin": GTIN,
        "try": [
            f"healthledger supply verify --gtin {GTIN} --serial A00004"
            f" --lot {LOT_A} --expiry {EXPIRY}",
            # Custody and alerts are members' reads: signed with a member's key.
            f"healthledger supply history {GTIN} A00001 --key {runner.home.key_path(maker)}",
            f"healthledger supply alerts --key {runner.home.key_path('corner-pharmacy')}",
        ],
        "counterfeit_caught": _event(clone, "supply.verified"),
        "recall": recall_id,
    }


def _deliver(runner: DemoChain, sender: str, receiver: str, serials: list[str]) -> None:
    items = [item(serial) for serial in serials]
    act(runner, sender, "supply.ship", {"items": items, "to": receiver})
    act(runner, receiver, "supply.receive", {"items": items})
