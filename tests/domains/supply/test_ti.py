"""DSCSA transaction information and statements: recording, shipping under, receipt checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from epcis_standin import as_dispatcher

from conftest import Chain, make_genesis
from healthledger.app.application import Application
from healthledger.domains.supply import ti
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.ledger.block import TxResult
from healthledger.ledger.store import Store

PARTNERS = [
    ("medico-pharma", "manufacturer"),
    ("other-pharma", "manufacturer"),
    ("pharmalink", "distributor"),
    ("corner-pharmacy", "pharmacy"),
    ("health-authority", "regulator"),
    ("acme-insurance", "insurer"),
]
GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))
OTHER_GTIN = "0950600099999" + str(gtin_check_digit("0950600099999"))
EXPIRY = "2027-06-30"
SSCC_BODY = "00950600000000001"
SSCC = SSCC_BODY + str(gtin_check_digit(SSCC_BODY))
PO = {"type": "po", "id": "urn:epcglobal:cbv:bt:0950600000007:PO-1"}
INV = {"type": "inv", "id": "INV-1"}


@pytest.fixture
def sc(tmp_path: Path) -> Iterator[Chain]:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(make_genesis(PARTNERS))
    chain = Chain(app, store)
    commission(chain, "A", [f"A{n}" for n in range(1, 6)])
    commission(chain, "B", ["B1", "B2"])
    yield chain
    store.close()


def do(sc: Chain, org: str, tx_type: str, **payload: Any) -> TxResult:
    return sc.one(sc.signer(org).sign(f"supply.{tx_type}", payload))


def commission(sc: Chain, lot: str, serials: list[str]) -> None:
    result = do(
        sc, "medico-pharma", "commission", gtin=GTIN, lot=lot, expiry=EXPIRY, serials=serials
    )
    assert result.ok, result


def pkg(serial: str) -> str:
    return f"{GTIN}:{serial}"


def record_ti(
    sc: Chain, lines: list[tuple[str, int]], refs: list[dict[str, str]] | None = None, **extra: Any
) -> TxResult:
    fields: dict[str, Any] = {
        "buyer": "pharmalink",
        "biz_transactions": refs or [PO, INV],
        "lines": [{"gtin": GTIN, "lot": lot, "quantity": quantity} for lot, quantity in lines],
        "statement": ti.STATEMENT_SHA256,
        **extra,
    }
    return do(sc, "medico-pharma", "transaction", **fields)


def ti_record(sc: Chain, seller: str = "medico-pharma", ref: dict[str, str] = PO) -> Any:
    index = sc.state("supply", ti.biz_key(seller, ref["type"], ref["id"]))
    return sc.state("supply", ti.ti_key(index["ti"]))


def ship_and_receive(sc: Chain, serials: list[str]) -> TxResult:
    items = [pkg(s) for s in serials]
    shipped = do(sc, "medico-pharma", "ship", items=items, to="pharmalink", biz_transactions=[PO])
    assert shipped.ok, shipped
    return do(sc, "pharmalink", "receive", items=items)


def ti_alerts(result: TxResult) -> list[dict[str, Any]]:
    return [event for event in result.events if event["type"] == "supply.alert"]


def test_exact_match_gives_no_alert_and_matches(sc: Chain) -> None:
    assert record_ti(sc, [("A", 2), ("B", 1)]).ok
    received = ship_and_receive(sc, ["A1", "A2", "B1"])
    assert received.ok and ti_alerts(received) == []
    record = ti_record(sc)
    assert record["status"] == "matched"
    assert [(line["lot"], line["shipped"], line["received"]) for line in record["lines"]] == [
        ("A", 2, 2),
        ("B", 1, 1),
    ]
    assert sc.state("supply", "alerts") is None
    # The link is gone once received; the package remembers the TI it travelled under.
    assert sc.state("supply", ti.shipment_key(pkg("A1"))) is None
    assert sc.state("supply", ti.history_key(GTIN, "A1")) == [record["id"]]


def test_extra_lot_raises_an_alert_and_the_receipt_stands(sc: Chain) -> None:
    assert record_ti(sc, [("A", 2)]).ok
    received = ship_and_receive(sc, ["A1", "A2", "B1"])
    assert received.ok
    (alert,) = ti_alerts(received)
    assert alert["status"] == "open" and alert["gtin"] == GTIN
    assert "lot B" in alert["reason"] and "is not in the transaction information" in alert["reason"]
    facts = sc.state("supply", ti.alert_facts_key(alert["number"]))
    assert facts["problem"] == "not_in_transaction"
    assert (facts["lot"], facts["quantity"], facts["received"]) == ("B", 0, 1)
    assert facts["ti"] == ti_record(sc)["id"]
    assert ti_record(sc)["status"] == "mismatch"
    assert sc.state("supply", f"pkg/{GTIN}/B1")["owner"] == "pharmalink"


def test_over_quantity_raises_an_alert(sc: Chain) -> None:
    assert record_ti(sc, [("A", 2)]).ok
    received = ship_and_receive(sc, ["A1", "A2", "A3"])
    (alert,) = ti_alerts(received)
    facts = sc.state("supply", ti.alert_facts_key(alert["number"]))
    assert (facts["problem"], facts["quantity"], facts["received"]) == ("over_quantity", 2, 3)
    assert "3 received, 2 listed" in alert["reason"]


def test_short_is_raised_only_once_everything_shipped_is_received(sc: Chain) -> None:
    assert record_ti(sc, [("A", 3)]).ok
    items = [pkg("A1"), pkg("A2")]
    assert do(sc, "medico-pharma", "ship", items=items, to="pharmalink", biz_transactions=[PO]).ok
    first = do(sc, "pharmalink", "receive", items=[pkg("A1")])
    assert first.ok and ti_alerts(first) == []  # A2 is still on its way
    assert ti_record(sc)["status"] == "open"
    second = do(sc, "pharmalink", "receive", items=[pkg("A2")])
    (alert,) = ti_alerts(second)
    facts = sc.state("supply", ti.alert_facts_key(alert["number"]))
    assert (facts["problem"], facts["quantity"], facts["received"]) == ("short_quantity", 3, 2)
    assert ti_record(sc)["status"] == "mismatch"


def test_a_case_counts_its_contents_and_partial_shipments_add_up(sc: Chain) -> None:
    assert record_ti(sc, [("A", 3)]).ok
    assert do(sc, "medico-pharma", "aggregate", sscc=SSCC, items=[pkg("A1"), pkg("A2")]).ok
    items = [SSCC, pkg("A3")]
    assert do(sc, "medico-pharma", "ship", items=items, to="pharmalink", biz_transactions=[INV]).ok
    received = do(sc, "pharmalink", "receive", items=items)
    assert received.ok and ti_alerts(received) == []
    assert ti_record(sc)["status"] == "matched"
    assert sc.state("supply", ti.shipment_key(SSCC)) is None


def test_plain_ships_and_receives_touch_no_ti_key(sc: Chain) -> None:
    assert do(sc, "medico-pharma", "ship", items=[pkg("A1")], to="pharmalink").ok
    assert do(sc, "pharmalink", "receive", items=[pkg("A1")]).ok
    keys = [row[1] for row in sc.store.table_rows("state") if row[0] == "supply"]
    assert not [k for k in keys if str(k).startswith(("ti/", "tibt/", "tiship/", "tihist/"))]


def test_ti_from_items_counts_their_packages(sc: Chain) -> None:
    assert do(sc, "medico-pharma", "aggregate", sscc=SSCC, items=[pkg("A1"), pkg("B1")]).ok
    result = record_ti(sc, [], items=[SSCC, pkg("A2")])
    assert result.ok, result
    assert [(line["lot"], line["quantity"]) for line in ti_record(sc)["lines"]] == [
        ("A", 2),
        ("B", 1),
    ]
    # Items the seller does not hold cannot be sold.
    assert do(sc, "medico-pharma", "ship", items=[pkg("A3")], to="pharmalink").ok
    assert do(sc, "pharmalink", "receive", items=[pkg("A3")]).ok
    refused = record_ti(sc, [], refs=[{"type": "po", "id": "PO-2"}], items=[pkg("A3")])
    assert refused.code == "unauthorized"


def test_refusals(sc: Chain) -> None:
    before = sc.domain_state()
    assert record_ti(sc, [("A", 1)], statement="0" * 64).code == "invalid_field"
    assert record_ti(sc, [("A", 1)], buyer="medico-pharma").code == "invalid_field"
    assert record_ti(sc, [("A", 1)], buyer="acme-insurance").code == "not_found"
    assert record_ti(sc, [("NOPE", 1)]).code == "not_found"
    assert record_ti(sc, []).code == "invalid_field"
    assert record_ti(sc, [("A", 1), ("A", 2)]).code == "conflict"
    assert record_ti(sc, [("A", 1)], refs=[PO, PO]).code == "conflict"
    huge = [{"gtin": GTIN, "lot": f"L{n}", "quantity": 1} for n in range(ti.MAX_LINES + 1)]
    assert (
        do(
            sc,
            "medico-pharma",
            "transaction",
            buyer="pharmalink",
            biz_transactions=[PO],
            lines=huge,
            statement=ti.STATEMENT_SHA256,
        ).code
        == "invalid_field"
    )
    many_refs = [{"type": "po", "id": f"P{n}"} for n in range(9)]
    assert record_ti(sc, [("A", 1)], refs=many_refs).code == "invalid_field"
    # Not a trading role: an insurer or a regulator sells nothing.
    assert (
        do(
            sc,
            "acme-insurance",
            "transaction",
            buyer="pharmalink",
            biz_transactions=[PO],
            lines=[],
            statement=ti.STATEMENT_SHA256,
        ).code
        == "unauthorized"
    )
    assert sc.domain_state() == before


def test_duplicate_business_transactions_and_replays_are_refused(sc: Chain) -> None:
    assert record_ti(sc, [("A", 1)]).ok
    # The same invoice again (another PO): the seller's id is taken.
    again = record_ti(sc, [("A", 1)], refs=[{"type": "po", "id": "PO-9"}, INV])
    assert again.code == "already_exists"
    # The same signed transaction again: its nonce was used.
    signer = sc.signer("medico-pharma")
    tx = signer.sign(
        "supply.transaction",
        {
            "buyer": "pharmalink",
            "biz_transactions": [{"type": "desadv", "id": "D-1"}],
            "lines": [{"gtin": GTIN, "lot": "A", "quantity": 1}],
            "statement": ti.STATEMENT_SHA256,
        },
    )
    assert sc.one(tx).ok
    assert sc.one(tx).code == "duplicate_nonce"
    # Another seller may use the same ids: the index is per seller.
    other = do(
        sc,
        "pharmalink",
        "transaction",
        buyer="corner-pharmacy",
        biz_transactions=[PO],
        lines=[{"gtin": GTIN, "lot": "A", "quantity": 1}],
        statement=ti.STATEMENT_SHA256,
    )
    assert other.ok, other


def test_shipping_under_another_sellers_ti_or_to_another_buyer_is_refused(sc: Chain) -> None:
    assert record_ti(sc, [("A", 2)]).ok
    move = do(sc, "medico-pharma", "ship", items=[pkg("A1")], to="pharmalink")
    assert move.ok and do(sc, "pharmalink", "receive", items=[pkg("A1")]).ok
    before = sc.domain_state()
    # The distributor names the manufacturer's PO: not one of its own.
    stolen = do(
        sc, "pharmalink", "ship", items=[pkg("A1")], to="corner-pharmacy", biz_transactions=[PO]
    )
    assert stolen.code == "not_found"
    wrong_buyer = do(
        sc, "medico-pharma", "ship", items=[pkg("A2")], to="corner-pharmacy", biz_transactions=[PO]
    )
    assert wrong_buyer.code == "invalid_field"
    assert record_ti(sc, [("B", 1)], refs=[{"type": "po", "id": "PO-2"}]).ok
    after_second = sc.domain_state()
    two = do(
        sc,
        "medico-pharma",
        "ship",
        items=[pkg("A2")],
        to="pharmalink",
        biz_transactions=[PO, {"type": "po", "id": "PO-2"}],
    )
    assert two.code == "conflict"
    assert sc.domain_state() == after_second
    assert before != after_second


def test_the_epcis_event_id_is_kept_with_the_ti(sc: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    as_dispatcher(monkeypatch, "supply.transaction")
    event_id = "ni:///sha-256;" + "ab" * 32 + "?ver=CBV2.0"
    assert record_ti(sc, [("A", 1)], event_id=event_id).ok
    assert ti_record(sc)["event_id"] == event_id
    fresh = [{"type": "rma", "id": "R-1"}]
    assert record_ti(sc, [("A", 1)], refs=fresh, event_id="urn:uuid:1").code == "invalid_field"
