"""The demo's drug supply story: serialize, pack, ship, dispense, catch a clone, recall a lot;
then a cold-chain excursion on a pallet, a sale whose receipt does not match its transaction
information, and a partner's EPCIS 2.0 feed imported by GLN."""

from __future__ import annotations

from typing import Any

from healthledger.demo.chain import DemoChain, StoryPrecondition
from healthledger.demo.supply_feed import feed_document, import_feed, write_feed
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.domains.supply.ti import STATEMENT_SHA256

GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))  # amoxicillin 500 mg, 21 caps
LOT_A, LOT_B = "AMX2611", "AMX2612"
LOT_C = "AMX2613"  # a lot a sale under PO-1001 did not list
PURCHASE_ORDER = "PO-1001"
EXPIRY = "2028-10-31"


def sscc(serial_reference: int) -> str:
    """An SSCC of Medico Pharma's (extension 0, company prefix 0614141) with its check digit."""
    body = f"00614141{serial_reference:09d}"
    return body + str(gtin_check_digit(body))


def item(serial: str) -> str:
    return f"{GTIN}:{serial}"


def epc(serial: str) -> str:
    """A package as EPCIS names it: a GS1 Digital Link with GTIN and serial."""
    return f"https://id.gs1.org/01/{GTIN}/21/{serial}"


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
    excursion = cold_chain_story(runner)
    sale = transaction_story(runner)
    feed_path, imported, confirmed = partner_feed_story(runner)
    key = runner.home.key_path
    return {
        "gtin": GTIN,
        "try": [
            f"healthledger supply verify --gtin {GTIN} --serial A00004"
            f" --lot {LOT_A} --expiry {EXPIRY}",
            # Custody and alerts are members' reads: signed with a member's key.
            f"healthledger supply history {GTIN} A00001 --key {key(maker)}",
            f"healthledger supply alerts --key {key('corner-pharmacy')}",
            f"healthledger supply excursions --key {key(maker)}",
            f"healthledger supply transactions {GTIN} A00051 --key {key(dist)}",
            f"healthledger supply alerts --key {key(dist)}",
            # Already imported: the check now reports each event as applied before.
            f"healthledger supply import-epcis {feed_path} --key {key(dist)} --check",
            f"healthledger supply history {GTIN} A00016 --key {key(dist)}",
        ],
        "counterfeit_caught": _event(clone, "supply.verified"),
        "recall": recall_id,
        "excursion": excursion,
        "transaction": sale,
        "feed": {"file": str(feed_path), "imported": imported, "confirmed": confirmed},
    }


def cold_chain_story(runner: DemoChain) -> dict[str, Any]:
    """Medico keeps its amoxicillin at 2-8 °C; a pallet PharmaLink holds is read at 12.5 °C:
    its packages are quarantined, the excursion names PharmaLink, Medico destroys them."""
    maker, dist = "medico-pharma", "pharmalink"
    act(runner, maker, "supply.product_range", {"gtin": GTIN, "min_mc": 2_000, "max_mc": 8_000})
    case, pallet = sscc(3), sscc(101)
    contents = [item(f"A{n:05d}") for n in range(41, 51)]
    act(runner, maker, "supply.aggregate", {"sscc": case, "items": contents})
    act(runner, maker, "supply.aggregate", {"sscc": pallet, "items": [case]})
    act(runner, maker, "supply.ship", {"items": [pallet], "to": dist})
    act(runner, dist, "supply.receive", {"items": [pallet]})
    reading = {"type": "Temperature", "value": 12_500, "uom": "CEL"}
    reported = act(
        runner,
        dist,
        "supply.sensor",
        {"items": [pallet], "readings": [reading], "device": "urn:epc:id:giai:4012345.0007"},
    )
    excursion = _event(reported, "supply.excursion")
    resolved = act(
        runner,
        maker,
        "supply.excursion_resolve",
        {
            "number": excursion["number"],
            "decision": "destroy",
            "reason": "no stability data above 8 °C for this product",
        },
    )
    decision = _event(resolved, "supply.excursion_resolved")
    return {**excursion, "pallet": pallet, "resolved": decision}


def partner_feed_story(runner: DemoChain) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """PharmaLink imports its EPCIS 2.0 feed (written to the demo folder); Town Pharmacy then
    submits its own receipt from that feed, which confirms what PharmaLink attested."""
    epcs = {
        "shipped": epc("A00016"),
        "shipped2": epc("A00017"),
        "inspected": epc("A00018"),
        "sensed": epc("A00019"),
        "sensed2": epc("A00020"),
    }
    document = feed_document(epcs, "town-pharmacy")
    path = write_feed(runner.home.root, document)
    imported = import_feed(runner, "pharmalink", document)
    receipt = document["epcisBody"]["eventList"][1]
    own = {**document, "epcisBody": {"eventList": [receipt]}}
    write_feed(runner.home.root, own, "town-pharmacy-receipt.epcis.json")
    confirmed = import_feed(runner, "town-pharmacy", own)
    return str(path), _became(imported), _became(confirmed)


def _became(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """What each event of an import became, by event id (the whole report is the CLI's)."""
    return [
        {"index": e["index"], "event_id": e["event_id"], "became": e["became"]}
        for e in answer["events"]
    ]


def _deliver(runner: DemoChain, sender: str, receiver: str, serials: list[str]) -> None:
    items = [item(serial) for serial in serials]
    act(runner, sender, "supply.ship", {"items": items, "to": receiver})
    act(runner, receiver, "supply.receive", {"items": items})


def transaction_story(runner: DemoChain) -> dict[str, Any]:
    """Medico records a sale of ten packs of lot A to PharmaLink (PO-1001) with its DSCSA
    statement, then ships nine of lot A and one of lot C under it: PharmaLink's receipt
    raises transaction information mismatch alerts (lot C not listed, lot A short)."""
    maker, dist = "medico-pharma", "pharmalink"
    act(
        runner,
        maker,
        "supply.commission",
        {"gtin": GTIN, "lot": LOT_C, "expiry": EXPIRY, "serials": ["C00001", "C00002"]},
    )
    order = [{"type": "po", "id": PURCHASE_ORDER}]
    sale = act(
        runner,
        maker,
        "supply.transaction",
        {
            "buyer": dist,
            "biz_transactions": order,
            "lines": [{"gtin": GTIN, "lot": LOT_A, "quantity": 10}],
            "statement": STATEMENT_SHA256,
        },
    )
    shipped = [item(f"A{n:05d}") for n in range(51, 60)] + [item("C00001")]
    act(runner, maker, "supply.ship", {"items": shipped, "to": dist, "biz_transactions": order})
    receipt = act(runner, dist, "supply.receive", {"items": shipped})
    alerts = [e["reason"] for e in receipt.get("events", []) if e["type"] == "supply.alert"]
    if not alerts:
        raise StoryPrecondition("supply", f"a TI mismatch alert at receipt, not {receipt}")
    return {"po": PURCHASE_ORDER, "sale": sale.get("code"), "alerts": alerts}
