"""A partner's EPCIS feed through a real node: SDK import, dry-run check, export round trip."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import serve_network, stop_node
from healthledger.client.sdk import ApiError, Client, Signer
from healthledger.crypto.keys import load_keypair
from healthledger.domains.supply.event_hash import document_prefixes, event_hash
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.domains.supply.importer import MAX_CHECK_EVENTS
from healthledger.node.home import Home

CHAIN = "epcis-import"
GTIN = "0950600013437" + str(gtin_check_digit("0950600013437"))
LOT = "LX1"
URN = "urn:healthledger:org:"
EXAMPLE_NS = "http://ns.example.com/epcis/"
ORGS = [
    ("medico-pharma", "manufacturer", "Medico"),
    ("pharmalink", "distributor", "PharmaLink"),
]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Home]]:
    root = tmp_path_factory.mktemp("epcis") / "net"
    url, process = serve_network(root, CHAIN, ORGS)
    yield url, Home(root)
    stop_node(process)


def signer(home: Home, org: str) -> Signer:
    return Signer(load_keypair(home.key_path(org)), CHAIN)


def epc(serial: str) -> str:
    return f"https://id.gs1.org/01/{GTIN}/21/{serial}"


def document(*events: dict[str, Any], query: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"eventList": list(events)}
    if query:
        body = {"queryResults": {"queryName": "SimpleEventQuery", "resultsBody": body}}
    return {
        "@context": [
            "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
            {"example": EXAMPLE_NS},
        ],
        "type": "EPCISQueryDocument" if query else "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T00:00:00Z",
        "epcisBody": body,
    }


def commissioning(*serials: str) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:0a3e3e30-2b2e-4c8e-9d3f-3d0c1f5e0a11",
        "eventTime": "2026-03-01T10:00:00.000Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc(s) for s in serials],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "bizLocation": {"id": URN + "medico-pharma"},
        "ilmd": {"cbvmda:lotNumber": LOT, "cbvmda:itemExpirationDate": "2028-01-31"},
    }


def shipping(serial: str) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-03-01T12:00:00.000+02:00",
        "eventTimeZoneOffset": "+02:00",
        "epcList": [epc(serial)],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "sourceList": [{"type": "owning_party", "source": URN + "medico-pharma"}],
        "destinationList": [{"type": "owning_party", "destination": URN + "pharmalink"}],
    }


def weighing(serial: str) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventTime": "2026-03-01T11:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [epc(serial)],
        "quantityList": [
            {"epcClass": f"https://id.gs1.org/01/{GTIN}/10/{LOT}", "quantity": 0.25, "uom": "KGM"}
        ],
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "readPoint": {"id": URN + "pharmalink"},
        "example:scale": {"example:model": "W-200"},
    }


def test_a_mixed_feed_imports_and_exports_the_same_event_ids(node: tuple[str, Home]) -> None:
    url, home = node
    made, checked, shipped = commissioning("P1", "P2"), weighing("P1"), shipping("P1")
    with Client(url, keys=home.key_path("medico-pharma")) as client:
        dry = client.supply_check_epcis(document(made, checked, shipped), "medico-pharma")
        assert [e["became"] for e in dry["events"]] == [  # type: ignore[index]
            "custody:commission",
            "observation attested",
            "custody:ship",
        ]
        assert dry["submitted"] is False
        report = client.supply_import_epcis(
            document(made, checked, shipped, query=True), signer(home, "medico-pharma")
        )
        assert report["ok"] is True, report
        events = report["events"]
        ids = [event_hash(e, {"example": EXAMPLE_NS}) for e in (made, checked, shipped)]
        assert [e["event_id"] for e in events] == ids
        # The extension is hashed under its namespace: without the document's prefix it differs.
        assert event_hash(checked) != ids[1]
        assert all(e["tx_id"] for e in events)
        exported = client.supply_epcis(GTIN, "P1")
        history = client.supply_history(GTIN, "P1")
        lot_page = client.supply_lot_epcis_page(GTIN, LOT)
    # The lot's page: each imported event once (the weighing names the lot and P1), as written.
    lot_bodies = lot_page["epcisBody"]["eventList"]  # type: ignore[index]
    lot_prefixes = document_prefixes(lot_page)
    lot_ids = [event_hash(body, lot_prefixes) for body in lot_bodies]  # type: ignore[arg-type]
    assert sorted(lot_ids) == sorted(set(lot_ids)) and set(ids) <= set(lot_ids)
    bodies = exported["epcisBody"]["eventList"]  # type: ignore[index]
    prefixes = document_prefixes(exported)
    assert set(ids) <= {event_hash(body, prefixes) for body in bodies}  # type: ignore[arg-type]
    for body in bodies:
        if body["eventID"].startswith("ni:"):  # type: ignore[index]
            assert body["eventID"] == event_hash(body, prefixes)  # type: ignore[index,arg-type]
    weighed = next(b for b in bodies if b.get("bizStep") == "inspecting")  # type: ignore[union-attr]
    assert weighed["quantityList"][0]["quantity"] == 0.25  # type: ignore[index]
    kinds = [e["kind"] for e in history["epcis_events"]]  # type: ignore[union-attr,index]
    assert kinds == ["custody:commission", "observation attested", "custody:ship"]


def test_one_bad_event_submits_nothing(node: tuple[str, Home]) -> None:
    url, home = node
    bad = {**copy.deepcopy(weighing("P2")), "bizStep": 7}
    with Client(url, keys=home.key_path("pharmalink")) as client:
        report = client.supply_import_epcis(
            document(weighing("P2"), bad), signer(home, "pharmalink")
        )
        assert report["ok"] is False and report["submitted"] is False
        assert report["events"][0]["error"] is None
        assert "event 1: bizStep" in report["events"][1]["error"]
        key_id = load_keypair(home.key_path("pharmalink")).key_id
        assert client.sender_txs(key_id) == []


def test_the_check_refuses_what_was_already_applied(node: tuple[str, Home]) -> None:
    url, home = node
    with Client(url, keys=home.key_path("pharmalink")) as client:
        event = weighing("P2")
        first = client.supply_import_epcis(document(event), signer(home, "pharmalink"))
        assert first["ok"] is True
        again = client.supply_check_epcis(document(event), "pharmalink")
    assert again["ok"] is False
    assert "already applied" in again["events"][0]["error"]  # type: ignore[index]


def test_the_check_refuses_a_step_the_role_may_not_take(node: tuple[str, Home]) -> None:
    url, home = node
    own_commissioning = {**commissioning("Q1"), "bizLocation": {"id": URN + "pharmalink"}}
    with Client(url, keys=home.key_path("pharmalink")) as client:
        answer = client.supply_check_epcis(document(own_commissioning), "pharmalink")
        with pytest.raises(ApiError) as unknown:
            client.supply_check_epcis(document(own_commissioning), "nobody-at-all")
    (event,) = answer["events"]  # type: ignore[misc]
    assert event["code"] == "unauthorized" and "supply.commission" in event["error"]  # type: ignore[index]
    assert unknown.value.code == "not_found"


def test_the_check_knows_what_the_same_document_records_first(node: tuple[str, Home]) -> None:
    # The import applies events in order, so the dry run must too: it once refused the
    # declaration of an event earlier in the document, which the import then accepted.
    url, home = node
    inspected = {**weighing("P2"), "eventTime": "2026-03-01T11:30:00Z"}  # P2: commissioned
    declared = {**inspected, "errorDeclaration": {"declarationTime": "2026-03-02T00:00:00Z"}}
    with Client(url, keys=home.key_path("pharmalink")) as client:
        dry = client.supply_check_epcis(document(inspected, declared), "pharmalink")
        twice = client.supply_check_epcis(document(inspected, inspected), "pharmalink")
        own = client.signer(load_keypair(home.key_path("pharmalink")))  # its next nonce
        done = client.supply_import_epcis(document(inspected, declared), own)
        exported = client.supply_epcis(GTIN, "P2")
    assert dry["ok"] is True and done["ok"] is True
    assert [e["became"] for e in dry["events"]] == [e["became"] for e in done["events"]]  # type: ignore[index]
    assert twice["ok"] is False and "is event 0 again" in twice["events"][1]["error"]  # type: ignore[index]
    # The export shows the event with its declaration, and its id still holds.
    (shown,) = [e for e in exported["epcisBody"]["eventList"] if "errorDeclaration" in e]  # type: ignore[index,operator,union-attr]
    assert shown["errorDeclaration"] == declared["errorDeclaration"]
    prefixes = document_prefixes(exported)
    assert shown["eventID"] == event_hash(shown, prefixes) == dry["events"][0]["event_id"]  # type: ignore[index]


def test_the_check_refuses_a_deep_body_with_a_stable_error(node: tuple[str, Home]) -> None:
    """A body nested past Python's recursion limit raised RecursionError in the parse,
    which no handler names: an unauthenticated 500 instead of a malformed request."""
    url, _home = node
    deep = b"[" * 200_000 + b"]" * 200_000
    answer = httpx.post(f"{url}/v1/supply/epcis/check?org=pharmalink", content=deep)
    assert answer.status_code == 400, answer.text[:300]
    assert answer.json()["error"]["code"] == "malformed"


def test_the_check_maps_a_bounded_number_of_events(node: tuple[str, Home]) -> None:
    """Each event is hashed and mapped: an 8 MiB body of small events was tens of thousands
    of them, all mapped in one unauthenticated request."""
    url, _home = node
    many = document(*[weighing("P9")] * (MAX_CHECK_EVENTS + 1))
    answer = httpx.post(f"{url}/v1/supply/epcis/check?org=pharmalink", json=many)
    assert answer.status_code == 413, answer.text[:300]
    error = answer.json()["error"]
    assert error["code"] == "too_large" and f"{MAX_CHECK_EVENTS:,}" in error["message"]
