"""`supply.epcis`: raw EPCIS 2.0 events applied as custody, or anchored as observations.

Parties are named `urn:healthledger:org:<id>` here; GS1 GLN parties are the GLN registry's
(tests of parties.py) and the published examples' (test_epcis_examples.py).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Chain, make_genesis
from healthledger.app.application import Application
from healthledger.domains.supply import feed
from healthledger.domains.supply.event_hash import event_hash
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.domains.supply.importer import batches, check_document
from healthledger.ledger.block import TxResult
from healthledger.ledger.store import Store

PARTNERS = [
    ("medico-pharma", "manufacturer"),
    ("pharmalink", "distributor"),
    ("corner-pharmacy", "pharmacy"),
    ("health-authority", "regulator"),
]
GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))
LOT, EXPIRY = "L2026A", "2027-06-30"
URN = "urn:healthledger:org:"


@pytest.fixture
def sc(tmp_path: Path) -> Iterator[Chain]:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(make_genesis(PARTNERS))
    yield Chain(app, store)
    store.close()


def epc(serial: str) -> str:
    return f"https://id.gs1.org/01/{GTIN}/21/{serial}"


def commissioning(*serials: str, org: str = "medico-pharma") -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-03-01T10:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc(s) for s in serials],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "bizLocation": {"id": URN + org},
        "ilmd": {"cbvmda:lotNumber": LOT, "cbvmda:itemExpirationDate": EXPIRY},
    }


def shipping(*serials: str, source: str, destination: str, minute: int = 1) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": f"2026-03-01T10:{minute:02d}:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc(s) for s in serials],
        "action": "OBSERVE",
        "bizStep": "https://ref.gs1.org/cbv/BizStep-shipping",
        "disposition": "urn:epcglobal:cbv:disp:in_transit",
        "sourceList": [{"type": "owning_party", "source": URN + source}],
        "destinationList": [{"type": "owning_party", "destination": URN + destination}],
    }


def inspecting(*serials: str, org: str, minute: int = 2) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": f"2026-03-01T11:{minute:02d}:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": [epc(s) for s in serials],
        "action": "OBSERVE",
        "bizStep": "urn:epcglobal:cbv:bizstep:inspecting",
        "disposition": "conformant",
        "readPoint": {"id": URN + org},
    }


def submit(sc: Chain, org: str, *events: dict[str, Any]) -> TxResult:
    payload = {"events": [feed.event_text(event) for event in events]}
    return sc.one(sc.signer(org).sign("supply.epcis", payload))


def kinds(result: TxResult) -> list[str]:
    return ["+".join(e["kinds"]) for e in result.events if e["type"] == "supply.epcis_event"]


def key_hex(event: dict[str, Any]) -> str:
    return event_hash(event).split(";")[1][:64]


def test_own_custody_events_move_packages(sc: Chain) -> None:
    made, shipped = (
        commissioning("S1", "S2"),
        shipping("S1", source="medico-pharma", destination="pharmalink"),
    )
    result = submit(sc, "medico-pharma", made, shipped)
    assert result.ok, result
    assert kinds(result) == ["custody:commission", "custody:ship"]
    package = sc.state("supply", f"pkg/{GTIN}/S1")
    assert (package["status"], package["to"]) == ("in_transit", "pharmalink")
    record = sc.state("supply", f"event/{key_hex(shipped)}/medico-pharma")
    assert record["kind"] == "custody:ship" and record["position"] == 1
    links = sc.app.store.state_scan("supply", f"evlink/p/{GTIN}/S1/", 10)
    assert len(links) == 2


def test_other_organisations_events_are_attested_then_confirmed(sc: Chain) -> None:
    assert submit(sc, "medico-pharma", commissioning("S1")).ok
    shipped = shipping("S1", source="medico-pharma", destination="pharmalink")
    # The distributor imports the manufacturer's shipment from its partner's feed: anchored.
    result = submit(sc, "pharmalink", shipped)
    assert result.ok, result
    assert kinds(result) == ["observation attested"]
    observation = sc.state("supply", f"obs/{key_hex(shipped)}")
    assert (observation["status"], observation["actor"], observation["attested_by"]) == (
        "attested",
        "medico-pharma",
        "pharmalink",
    )
    assert sc.state("supply", f"pkg/{GTIN}/S1")["status"] == "active"  # no custody moved
    # The manufacturer then submits the same event itself: custody moves, and it is confirmed.
    mine = submit(sc, "medico-pharma", shipped)
    assert mine.ok, mine
    assert kinds(mine) == ["custody:ship"]
    confirmed = sc.state("supply", f"obs/{key_hex(shipped)}")
    assert confirmed["status"] == "confirmed" and confirmed["confirmed_tx"] is not None


def test_same_event_twice_by_the_same_org_is_refused(sc: Chain) -> None:
    event = inspecting("S1", org="pharmalink")
    assert submit(sc, "pharmalink", event).ok
    before = sc.domain_state()
    again = submit(sc, "pharmalink", copy.deepcopy(event))
    assert again.code == "already_exists" and again.message.startswith("event 0:")
    assert sc.domain_state() == before
    # Another organisation may still attest it (its actor already vouched for it).
    assert kinds(submit(sc, "corner-pharmacy", event)) == ["observation confirmed"]
    assert sc.state("supply", f"obs/{key_hex(event)}")["attesters"] == [
        "pharmalink",
        "corner-pharmacy",
    ]


def test_error_declaration_only_by_the_recorder(sc: Chain) -> None:
    event = inspecting("S1", org="pharmalink")
    assert submit(sc, "pharmalink", event).ok
    declared = {
        **event,
        "errorDeclaration": {
            "declarationTime": "2026-03-02T00:00:00Z",
            "reason": "urn:epcglobal:cbv:er:incorrect_data",
            "correctiveEventIDs": ["urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8"],
        },
    }
    assert event_hash(declared) == event_hash(event)
    stranger = submit(sc, "corner-pharmacy", declared)
    assert stranger.code == "unauthorized"
    result = submit(sc, "pharmalink", declared)
    assert result.ok, result
    assert kinds(result) == ["error declaration"]
    mark = sc.state("supply", f"erroneous/{key_hex(event)}")
    assert (mark["by"], mark["reason"]) == ("pharmalink", "incorrect_data")
    assert mark["corrective_ids"] == ["urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8"]
    # The observation itself is not rewritten.
    assert sc.state("supply", f"obs/{key_hex(event)}")["status"] == "confirmed"
    assert submit(sc, "pharmalink", declared).code == "conflict"


def test_class_level_and_custom_steps_are_observations(sc: Chain) -> None:
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-03-01T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [],
        "quantityList": [
            {"epcClass": f"https://id.gs1.org/01/{GTIN}/10/{LOT}", "quantity": 12.5, "uom": "KGM"}
        ],
        "action": "OBSERVE",
        "bizStep": "https://example.com/steps/weighing",
        "readPoint": {"id": URN + "pharmalink"},
    }
    result = submit(sc, "pharmalink", event)
    assert result.ok, result
    observation = sc.state("supply", f"obs/{key_hex(event)}")
    assert observation["lots"] == [f"{GTIN}:{LOT}"]
    assert observation["quantities"] == [
        {"epc_class": f"https://id.gs1.org/01/{GTIN}/10/{LOT}", "quantity": "12.5", "uom": "KGM"}
    ]
    assert observation["biz_step"] == "https://example.com/steps/weighing"
    assert len(sc.app.store.state_scan("supply", f"evlink/l/{GTIN}/{LOT}/", 10)) == 1


def test_a_failing_event_fails_the_transaction_naming_it(sc: Chain) -> None:
    before = sc.domain_state()
    good = inspecting("S1", org="pharmalink")
    bad = shipping("NOPE", source="pharmalink", destination="corner-pharmacy")
    result = submit(sc, "pharmalink", good, bad)
    assert result.code == "not_found" and result.message.startswith("event 1:")
    assert sc.domain_state() == before


def test_an_event_does_nothing_its_sender_could_not(sc: Chain) -> None:
    result = submit(sc, "corner-pharmacy", commissioning("S9", org="corner-pharmacy"))
    assert result.code == "unauthorized" and "supply.commission" in result.message


def test_unknown_party_is_named(sc: Chain) -> None:
    result = submit(sc, "pharmalink", inspecting("S1", org="nobody-here"))
    assert result.code == "not_found" and "nobody-here" in result.message


def test_huge_and_deep_inputs_are_refused_before_ordering(sc: Chain) -> None:
    deep: Any = "x"
    for _ in range(feed.MAX_JSON_DEPTH + 1):
        deep = [deep]
    event = {**inspecting("S1", org="pharmalink"), "example:deep": deep}
    result = submit(sc, "pharmalink", event)
    assert result.code in ("malformed", "invalid_field") and "deeper" in result.message
    for text, why in (
        ('{"type": ', "not JSON (at character 9)"),
        ('{"value": NaN}', "not JSON (a number out of range)"),
        ("1" * 5000, "not JSON (a number out of range)"),
        ("[1, 2]", "expected a JSON object"),
    ):
        refused = sc.one(sc.signer("pharmalink").sign("supply.epcis", {"events": [text]}))
        assert refused.code == "invalid_field" and why in refused.message, refused
    many = {"events": ["{}"] * (feed.MAX_EVENTS + 1)}
    assert sc.one(sc.signer("pharmalink").sign("supply.epcis", many)).code == "invalid_field"


def test_document_with_one_bad_event_is_refused_whole() -> None:
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T00:00:00Z",
        "epcisBody": {
            "eventList": [
                inspecting("S1", org="pharmalink"),
                {**inspecting("S2", org="pharmalink"), "eventTime": "yesterday"},
                {**inspecting("S3", org="pharmalink"), "type": "MysteryEvent"},
            ]
        },
    }
    checked = check_document(document, _urn_party, "pharmalink")
    assert not checked.ok
    assert [r.error is None for r in checked.reports] == [True, False, False]
    assert "eventTime" in (checked.reports[1].error or "")
    assert "MysteryEvent" in (checked.reports[2].error or "")


def test_a_document_naming_one_event_twice_is_refused_before_sending() -> None:
    # The handler refuses a repeat, failing its whole transaction: the check says so first.
    once = inspecting("S1", org="pharmalink")
    declared = {**once, "errorDeclaration": {"declarationTime": "2026-03-02T00:00:00Z"}}
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T00:00:00Z",
        "epcisBody": {"eventList": [once, declared, once]},
    }
    checked = check_document(document, _urn_party, "pharmalink")
    assert [r.code for r in checked.reports] == [None, None, "already_exists"]
    assert (checked.reports[2].error or "").endswith("is event 0 again")


def test_query_document_is_accepted_and_batches_are_bounded() -> None:
    events = [inspecting(f"S{i}", org="pharmalink", minute=i % 60) for i in range(700)]
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T00:00:00Z",
        "epcisBody": {
            "queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": events}}
        },
    }
    checked = check_document(document, _urn_party, "corner-pharmacy")
    assert checked.ok
    assert {r.became for r in checked.reports} == {"observation attested"}
    groups = batches(checked)
    assert [i for group in groups for i in group] == list(range(700))
    assert len(groups) > 1


def _urn_party(uri: str) -> str:
    assert uri.startswith(URN)
    return uri[len(URN) :]


def test_an_observation_is_confirmed_by_its_actor_submitting_it(sc: Chain) -> None:
    event = inspecting("S1", org="pharmalink")
    assert kinds(submit(sc, "corner-pharmacy", event)) == ["observation attested"]
    assert kinds(submit(sc, "pharmalink", event)) == ["observation confirmed"]
    observation = sc.state("supply", f"obs/{key_hex(event)}")
    assert (observation["status"], observation["attested_by"]) == ("confirmed", "corner-pharmacy")
    assert observation["attesters"] == ["corner-pharmacy"]
    # The attester's declaration marks nothing (pharmalink's event is not its to declare);
    # the actor's does, and the attester's then seconds it, once.
    declared = {**event, "errorDeclaration": {"declarationTime": "2026-03-02T00:00:00Z"}}
    assert kinds(submit(sc, "corner-pharmacy", declared)) == ["error declaration attested"]
    assert sc.state("supply", f"erroneous/{key_hex(event)}") is None
    assert kinds(submit(sc, "pharmalink", declared)) == ["error declaration"]
    assert kinds(submit(sc, "corner-pharmacy", declared)) == ["error declaration attested"]
    mark = sc.state("supply", f"erroneous/{key_hex(event)}")
    assert (mark["by"], mark["seconded_by"]) == ("pharmalink", ["corner-pharmacy"])
    assert submit(sc, "pharmalink", declared).code == "conflict"
    assert submit(sc, "corner-pharmacy", declared).code == "conflict"


def test_own_transformation_event_transforms(sc: Chain) -> None:
    kit = "0950600013438" + str(gtin_check_digit("0950600013438"))
    assert submit(sc, "medico-pharma", commissioning("S1", "S2")).ok
    event = {
        "type": "TransformationEvent",
        "eventTime": "2026-03-02T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "inputEPCList": [epc("S1"), epc("S2")],
        "outputEPCList": [f"https://id.gs1.org/01/{kit}/21/K1"],
        "bizStep": "repackaging",
        "readPoint": {"id": URN + "medico-pharma"},
        "ilmd": {"cbvmda:lotNumber": "KIT-1", "cbvmda:itemExpirationDate": "2027-01-31"},
    }
    result = submit(sc, "medico-pharma", event)
    assert result.ok, result
    assert kinds(result) == ["transform"]
    assert sc.state("supply", f"pkg/{GTIN}/S1")["status"] == "transformed"
    assert sc.state("supply", f"pkg/{kit}/K1")["owner"] == "medico-pharma"
    # Another organisation's transformation is anchored, not applied.
    other = {**event, "readPoint": {"id": URN + "pharmalink"}}
    assert kinds(submit(sc, "corner-pharmacy", other)) == ["observation attested"]


def receiving_with_readings(serial: str, celsius: float) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-03-01T12:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc(serial)],
        "action": "OBSERVE",
        "bizStep": "receiving",
        "disposition": "in_progress",
        "destinationList": [{"type": "owning_party", "destination": URN + "pharmalink"}],
        "sensorElementList": [
            {
                "sensorMetadata": {"time": "2026-03-01T11:59:00Z"},
                "sensorReport": [{"type": "gs1:Temperature", "value": celsius, "uom": "CEL"}],
            }
        ],
    }


def test_readings_travel_with_the_receipt_and_an_excursion_quarantines(sc: Chain) -> None:
    made = commissioning("S1")
    shipped = shipping("S1", source="medico-pharma", destination="pharmalink")
    assert submit(sc, "medico-pharma", made, shipped).ok
    range_payload = {"gtin": GTIN, "min_mc": 2000, "max_mc": 8000}
    assert sc.one(sc.signer("medico-pharma").sign("supply.product_range", range_payload)).ok
    received = receiving_with_readings("S1", 12.5)
    # Anchored by the sender's partner, the readings quarantine nothing.
    assert kinds(submit(sc, "medico-pharma", received)) == ["observation attested"]
    assert sc.state("supply", f"pkg/{GTIN}/S1")["quarantined"] is False
    # The receiver's own event: the readings (taken while in transit to it), then the receipt.
    result = submit(sc, "pharmalink", received)
    assert result.ok, result
    assert kinds(result) == ["sensor+custody:receive"]
    package = sc.state("supply", f"pkg/{GTIN}/S1")
    assert (package["owner"], package["quarantined"]) == ("pharmalink", True)
    assert sc.state("supply", f"obs/{key_hex(received)}")["status"] == "confirmed"


def test_a_sale_then_its_shipment_and_receipt(sc: Chain) -> None:
    assert submit(sc, "medico-pharma", commissioning("S1", "S2")).ok
    po = [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0950600000007:PO-7"}]
    sale = {
        "type": "TransactionEvent",
        "eventTime": "2026-03-01T10:30:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "ADD",
        "bizTransactionList": po,
        "epcList": [epc("S1"), epc("S2")],
        "sourceList": [{"type": "owning_party", "source": URN + "medico-pharma"}],
        "destinationList": [{"type": "owning_party", "destination": URN + "pharmalink"}],
    }
    shipped = {
        **shipping("S1", "S2", source="medico-pharma", destination="pharmalink"),
        "bizTransactionList": po,
    }
    result = submit(sc, "medico-pharma", sale, shipped)
    assert result.ok, result
    assert kinds(result) == ["transaction", "custody:ship"]
    received = {
        **shipped,
        "bizStep": "receiving",
        "disposition": "in_progress",
        "eventTime": "2026-03-02T09:00:00Z",
    }
    assert kinds(submit(sc, "pharmalink", received)) == ["custody:receive"]
    assert sc.state("supply", f"pkg/{GTIN}/S2")["owner"] == "pharmalink"
    # The buyer anchors the seller's TI from its feed; a rail passage is no sale.
    assert kinds(submit(sc, "pharmalink", sale)) == ["observation confirmed"]
    passage = {
        **sale,
        "bizTransactionList": [{"type": "urn:x:rail:passage", "bizTransaction": "P1"}],
    }
    assert kinds(submit(sc, "medico-pharma", passage)) == ["observation confirmed"]
