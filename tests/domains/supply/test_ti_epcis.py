"""EPCIS 2.0 TransactionEvents to and from DSCSA transaction information (pure mapping)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from healthledger.domains.supply import ti
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.errors import LedgerError

MAKER_GLN = "095060000000" + str(gtin_check_digit("095060000000"))
DIST_GLN = "095060000001" + str(gtin_check_digit("095060000001"))
PARTIES = {
    "urn:epc:id:pgln:0950600.00000": "medico-pharma",
    f"https://id.gs1.org/417/{DIST_GLN}": "pharmalink",
}
# LGTIN 0950600.013435 -> GTIN 0 + 0950600 + 13435 + check digit (TDS).
GTIN = "00950600134355"[:13] + str(gtin_check_digit("00950600134355"[:13]))


LOT_B = f"https://id.gs1.org/01/{GTIN}/10/B"


def quantities(epc_class: str, quantity: Any, **extra: Any) -> dict[str, Any]:
    return {"quantityList": [{"epcClass": epc_class, "quantity": quantity, **extra}]}


def org_of_party(uri: str) -> str:
    try:
        return PARTIES[uri]
    except KeyError:
        raise LedgerError(f"unknown party {uri}") from None


def transaction_event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "TransactionEvent",
        "eventTime": "2026-03-01T10:00:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "action": "ADD",
        "bizTransactionList": [
            {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0950600000007:PO-1"},
            {"type": "https://ref.gs1.org/cbv/BTT-inv", "bizTransaction": "INV-1"},
            {"type": "urn:epcglobal:cbv:btt:desadv", "bizTransaction": "D-1"},
        ],
        "epcList": ["urn:epc:id:sgtin:0950600.013435.S1", f"https://id.gs1.org/01/{GTIN}/21/S2"],
        "quantityList": [
            {"epcClass": "urn:epc:class:lgtin:0950600.013435.LOT%2F1", "quantity": 40},
            {"epcClass": f"https://id.gs1.org/01/{GTIN}/10/B", "quantity": 2.0},
        ],
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0950600.00000"}],
        "destinationList": [
            {
                "type": "https://ref.gs1.org/cbv/SDT-owning_party",
                "destination": f"https://id.gs1.org/417/{DIST_GLN}",
            },
            {"type": "location", "destination": "urn:epc:id:sgln:0950600.00000.1"},
        ],
    }
    event.update(changes)
    return event


def test_a_transaction_event_becomes_transaction_information() -> None:
    event = transaction_event()
    info = ti.transaction_from_epcis(3, event, org_of_party)
    assert ti.transaction_seller(3, event, org_of_party) == "medico-pharma"
    assert info.buyer == "pharmalink"
    assert [(ref.type, ref.id) for ref in info.biz_transactions] == [
        ("po", "urn:epcglobal:cbv:bt:0950600000007:PO-1"),
        ("inv", "INV-1"),
        ("desadv", "D-1"),
    ]
    assert [(line.gtin, line.lot, line.quantity) for line in info.lines] == [
        (GTIN, "LOT/1", 40),
        (GTIN, "B", 2),
    ]
    assert info.items == [f"{GTIN}:S1", f"{GTIN}:S2"]
    assert info.statement == ti.STATEMENT_SHA256 and info.event_id is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type": "ObjectEvent"}, "type"),
        ({"action": "DELETE"}, "action"),
        ({"bizTransactionList": []}, "bizTransactionList"),
        ({"bizTransactionList": [{"type": "order", "bizTransaction": "X"}]}, ".type"),
        ({"bizTransactionList": [{"bizTransaction": "X"}]}, ".type"),
        ({"bizTransactionList": [{"type": "po", "bizTransaction": "has space"}]}, "bizTransac"),
        (quantities("urn:epc:idpat:sgtin:0950600.013435.*", 1), "epcClass"),
        (quantities(LOT_B, 1.5), "quantity"),
        (quantities(LOT_B, 0), "quantity"),
        (quantities(LOT_B, True), "quantity"),
        (quantities(LOT_B, 2, uom="KGM"), "uom"),
        ({"destinationList": []}, "destinationList"),
        ({"epcList": ["urn:epc:id:sgtin:0950600.013435"]}, "epcList[0]"),
        ({ti.STATEMENT_FIELD: "0" * 64}, ti.STATEMENT_FIELD),
    ],
)  # fmt: skip
def test_what_cannot_be_a_ti_is_refused_naming_the_event_and_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(LedgerError) as refused:
        ti.transaction_from_epcis(7, transaction_event(**changes), org_of_party)
    assert refused.value.message.startswith("event 7: ")
    assert field in refused.value.message


def test_a_shipping_event_names_its_business_transactions() -> None:
    shipping = {
        "type": "ObjectEvent",
        "bizStep": "shipping",
        "bizTransactionList": [
            {"type": "po", "bizTransaction": "PO-1"},
            {"bizTransaction": "untyped"},
            {"type": "urn:epcglobal:cbv:btt:desadv", "bizTransaction": "D-1"},
            {"type": "someone:else", "bizTransaction": "X"},
        ],
    }
    refs = ti.biz_transactions_from_epcis(0, shipping)
    assert refs is not None
    assert [(ref.type, ref.id) for ref in refs] == [("po", "PO-1"), ("desadv", "D-1")]
    assert ti.biz_transactions_from_epcis(0, {"type": "ObjectEvent"}) is None
    with pytest.raises(LedgerError, match="event 0: bizTransactionList"):
        ti.biz_transactions_from_epcis(0, {"bizTransactionList": "PO-1"})
    many = [{"type": "po", "bizTransaction": f"PO-{n}"} for n in range(9)]
    with pytest.raises(LedgerError, match="more than 8"):
        ti.biz_transactions_from_epcis(0, {"bizTransactionList": many})


def test_export_round_trips_through_import() -> None:
    record = ti.TransactionRecord(
        id="ti-" + "0" * 24,
        seller="medico-pharma",
        buyer="pharmalink",
        biz_transactions=(ti.BizRef(type="po", id="PO-1"), ti.BizRef(type="inv", id="I/2")),
        lines=(
            ti.LineCount(gtin=GTIN, lot="LOT/1", quantity=3, shipped=3, received=3),
            ti.LineCount(gtin=GTIN, lot="X", quantity=0, shipped=1, received=1),  # not listed
        ),
        statement=ti.STATEMENT_SHA256,
        event_id=None,
        tx_id="ab" * 32,
        height=5,
        status="mismatch",
    )
    glns = {"medico-pharma": MAKER_GLN, "pharmalink": DIST_GLN}
    event = ti.transaction_to_epcis(record, 1_772_355_600_000, glns)
    assert event["type"] == "TransactionEvent" and event["action"] == "ADD"
    assert event["eventTime"] == "2026-03-01T09:00:00.000Z"
    parties = {f"https://id.gs1.org/417/{MAKER_GLN}": "medico-pharma", **PARTIES}
    back = ti.transaction_from_epcis(0, copy.deepcopy(event), parties.__getitem__)
    assert ti.transaction_seller(0, event, parties.__getitem__) == "medico-pharma"
    assert back.buyer == "pharmalink"
    assert [(ref.type, ref.id) for ref in back.biz_transactions] == [("po", "PO-1"), ("inv", "I/2")]
    assert [(line.lot, line.quantity) for line in back.lines] == [("LOT/1", 3)]


def test_a_ti_the_payload_refuses_is_explained_in_our_words() -> None:
    # pydantic's "1 validation error for TransactionInfo" once leaked into results.
    many = [{"type": "po", "bizTransaction": f"PO-{n}"} for n in range(40)]
    with pytest.raises(LedgerError) as refused:
        ti.transaction_from_epcis(7, transaction_event(bizTransactionList=many), org_of_party)
    assert refused.value.message == "event 7: biz_transactions: has too many items"
