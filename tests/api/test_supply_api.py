"""Supply endpoints on a real node: verification with proofs a pharmacy checks itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import serve_network, stop_node
from healthledger.client.sdk import (
    ApiError,
    Client,
    Signer,
    require_committed,
    verify_supply_view,
)
from healthledger.crypto.keys import load_keypair
from healthledger.domains.supply.epcis import NEXT_CURSOR_FIELD, PACKAGES_FIELD
from healthledger.domains.supply.gs1 import ProductIdentifier, gtin_check_digit
from healthledger.errors import InvalidProof
from healthledger.node.home import Home

CHAIN = "supply-api"
GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))
# Another product whose serial and lot use GS1 characters that mean something in a URL.
ODD_GTIN = "0950600013436" + str(gtin_check_digit("0950600013436"))
ODD_SERIAL, ODD_LOT = "X/1?%25&", "L/9?"
# A serial of dots (URL libraries resolve such segments) and a lot named like a route.
DOTS, ROUTE_LIKE_LOT = "..", "Z/epcis"


@pytest.fixture(scope="module")
def supply_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("supply") / "net"
    orgs = [
        ("medico-pharma", "manufacturer", "Medico"),
        ("pharmalink", "distributor", "PharmaLink"),
        ("corner-pharmacy", "pharmacy", "Corner"),
    ]
    url, process = serve_network(root, CHAIN, orgs)
    home = Home(root)
    client = Client(url)
    signers = {org: Signer(load_keypair(home.key_path(org)), CHAIN) for org, _r, _n in orgs}
    steps = [
        (
            "medico-pharma",
            "supply.commission",
            {"gtin": GTIN, "lot": "L1", "expiry": "2027-06-30", "serials": ["A1", "A2"]},
        ),
        (
            "medico-pharma",
            "supply.commission",
            {"gtin": GTIN, "lot": "L2", "expiry": "2027-06-30", "serials": ["A10", "A3"]},
        ),
        (
            "medico-pharma",
            "supply.commission",
            {"gtin": GTIN, "lot": "OLD", "expiry": "2020-01-31", "serials": ["B1"]},
        ),
        (
            "medico-pharma",
            "supply.commission",
            {"gtin": ODD_GTIN, "lot": ODD_LOT, "expiry": "2027-06-30", "serials": [ODD_SERIAL]},
        ),
        (
            "medico-pharma",
            "supply.commission",
            {"gtin": ODD_GTIN, "lot": ROUTE_LIKE_LOT, "expiry": "2027-06-30", "serials": [DOTS]},
        ),
        ("medico-pharma", "supply.ship", {"items": [f"{GTIN}:A1"], "to": "pharmalink"}),
        ("pharmalink", "supply.receive", {"items": [f"{GTIN}:A1"]}),
    ]
    for org, tx_type, payload in steps:
        report = client.submit(signers[org].sign(tx_type, payload), wait=True)
        assert report.result is not None and report.result.code == "ok", report
    yield url, root
    client.close()
    stop_node(process)


def test_verify_with_proofs_and_the_request_is_logged(supply_node: tuple[str, Path]) -> None:
    url, root = supply_node
    with Client(url) as client:
        view = client.supply_verify(GTIN, "A1", "L1", "2027-06-30")
        assert view.verdict == "verified"
        assert view.package is not None and view.package["owner"] == "pharmalink"
        assert client.supply_verify(GTIN, "A1", "L9", "2027-06-30").verdict == "lot_mismatch"
        assert client.supply_verify(GTIN, "ZZZ", "L1", "2027-06-30").verdict == "unknown_serial"
    log = (root / "data" / "verifications.jsonl").read_text().splitlines()
    assert len(log) == 3


def test_verify_from_a_barcode_scan(supply_node: tuple[str, Path]) -> None:
    url, _root = supply_node
    scan = ProductIdentifier(GTIN, "A2", "L1", "2027-06-30").element_string()
    view = httpx.get(f"{url}/v1/supply/verify", params={"scan": scan}).json()
    assert (view["serial"], view["verdict"]) == ("A2", "verified")
    verify_supply_view(view)
    bad = httpx.get(f"{url}/v1/supply/verify", params={"scan": "(01)09506000134353(21)X"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_field")


def test_a_lying_verdict_is_caught(supply_node: tuple[str, Path]) -> None:
    url, _root = supply_node
    view = httpx.get(
        f"{url}/v1/supply/verify",
        params={"gtin": GTIN, "serial": "A1", "lot": "L1", "expiry": "2027-06-30"},
    ).json()
    view["verdict"] = "recalled"
    with pytest.raises(InvalidProof):
        verify_supply_view(view)


def member(url: str, root: Path, org: str = "corner-pharmacy") -> Client:
    """A client signing its reads with a member organisation's key."""
    return Client(url, keys=Home(root).key_path(org))


def test_history_and_alerts_are_members_reads(supply_node: tuple[str, Path]) -> None:
    url, root = supply_node
    with member(url, root) as client:
        history = client.supply_history(GTIN, "A1")
        with pytest.raises(ApiError) as missing:
            client.supply_history(GTIN, "NOPE")
        assert client.supply_alerts() == []
    assert [step["action"] for step in history["history"]] == ["commission", "ship", "receive"]
    assert missing.value.status == 404
    for path in (
        f"/v1/supply/packages/{GTIN}/A1/history",
        f"/v1/supply/packages/{GTIN}/A1/epcis",
        f"/v1/supply/lots/{GTIN}/L1/epcis",
        "/v1/supply/alerts",
    ):
        unsigned = httpx.get(f"{url}{path}")
        assert (unsigned.status_code, unsigned.json()["error"]["code"]) == (401, "bad_signature")


def test_recalls_are_members_reads_in_pages(supply_node: tuple[str, Path]) -> None:
    url, root = supply_node
    gtin = "0950600013437" + str(gtin_check_digit("0950600013437"))
    steps = [
        (
            "supply.commission",
            {"gtin": gtin, "lot": "R1", "expiry": "2027-06-30", "serials": ["R1"]},
        ),
        ("supply.recall", {"gtin": gtin, "lot": "R1", "reason": "label misprint"}),
        (
            "supply.recall",
            {"gtin": gtin, "serial_from": "R5", "serial_to": "R9", "reason": "seal defect"},
        ),
    ]
    with Client(url) as client:
        maker = client.signer(Home(root).key_path("medico-pharma"))
        for tx_type, payload in steps:
            require_committed(client.submit(maker.sign(tx_type, payload), wait=True))
    with member(url, root) as client:
        pages = [client.supply_recalls(limit=1)]
        while pages[-1].next_after is not None:
            pages.append(client.supply_recalls(limit=1, after=pages[-1].next_after))
    mine = [recall for page in pages for recall in page.recalls if recall.gtin == gtin]
    assert {(r.lot, r.serial_from, r.serial_to, r.reason) for r in mine} == {
        ("R1", None, None, "label misprint"),
        (None, "R5", "R9", "seal defect"),
    }
    assert all(r.by == "medico-pharma" and r.notify == ("medico-pharma",) for r in mine)
    assert [len(page.recalls) for page in pages] == [1, 1, 0]
    unsigned = httpx.get(f"{url}/v1/supply/recalls")
    assert (unsigned.status_code, unsigned.json()["error"]["code"]) == (401, "bad_signature")


def test_lot_history_as_epcis(supply_node: tuple[str, Path]) -> None:
    url, root = supply_node
    with member(url, root) as client:
        document = client.supply_lot_epcis(GTIN, "L1")
        with pytest.raises(ApiError) as missing:
            client.supply_lot_epcis(GTIN, "NOLOT")
    steps = [event["bizStep"] for event in document["epcisBody"]["eventList"]]
    assert steps.count("commissioning") == 2
    assert steps[-2:] == ["shipping", "receiving"]
    assert document[PACKAGES_FIELD] == 2 and NEXT_CURSOR_FIELD not in document
    assert missing.value.status == 404


def test_lot_epcis_comes_in_bounded_pages(supply_node: tuple[str, Path]) -> None:
    """One package per page: each page names the next by a cursor, and the pages add up."""
    url, root = supply_node
    serials: list[str] = []
    cursor: str | None = None
    with member(url, root) as client:
        for _ in range(5):
            page = client.supply_lot_epcis_page(GTIN, "L1", limit=1, cursor=cursor)
            serials += [
                epc.rsplit("/", 1)[-1]
                for event in page["epcisBody"]["eventList"]
                for epc in event.get("epcList", [])
            ]
            cursor = page.get(NEXT_CURSOR_FIELD)
            if cursor is None:
                break
        whole = client.supply_lot_epcis(GTIN, "L1")
        with pytest.raises(ApiError) as too_big:
            client.supply_lot_epcis_page(GTIN, "L1", limit=10_001)
    assert cursor is None
    assert sorted(set(serials)) == ["A1", "A2"]  # L2's A10 and A3 sit between them, unsent
    assert len(whole["epcisBody"]["eventList"]) == 4
    assert (too_big.value.status, too_big.value.remote_code) == (400, "invalid_field")


def test_a_lot_past_its_expiry_is_marked_at_block_time(supply_node: tuple[str, Path]) -> None:
    """The node's block times are today's: a lot that expired in 2020 is marked by the
    sweep at the end of the block that commissioned it; verification says so, with a proof."""
    url, root = supply_node
    with Client(url) as client:
        old = client.supply_verify(GTIN, "B1", "OLD", "2020-01-31")
        current = client.supply_verify(GTIN, "A1", "L1", "2027-06-30")
    assert (old.verdict, old.expired) == ("verified", True)
    assert old.proofs.expired is not None and current.proofs.expired is not None
    assert old.proofs.expired.key == f"expired/{GTIN}/OLD"
    assert old.proofs.expired.value["expiry"] == "2020-01-31"
    assert current.expired is False and current.proofs.expired.value is None
    with member(url, root) as client:
        lot = client.supply_lot(GTIN, "OLD")
        fresh = client.supply_lot(GTIN, "L1")
    assert (lot.expired, lot.holders, lot.count) == (True, {"medico-pharma": 1}, 1)
    assert isinstance(lot.expired_at, int)
    assert (fresh.expired, fresh.expired_at) == (False, None)
    assert fresh.holders == {"medico-pharma": 1, "pharmalink": 1}
    unsigned = httpx.get(f"{url}/v1/supply/lots/{GTIN}/OLD/status")
    assert unsigned.status_code == 401


def test_the_openapi_document_describes_every_supply_answer(
    supply_node: tuple[str, Path],
) -> None:
    document = httpx.get(f"{supply_node[0]}/openapi.json").json()
    supply = {path: ops for path, ops in document["paths"].items() if "/supply/" in path}
    assert set(supply) == {
        "/v1/supply/verify",
        "/v1/supply/packages/{gtin}/{serial}/history",
        "/v1/supply/packages/{gtin}/{serial}/epcis",
        "/v1/supply/lots/{gtin}/{lot}/epcis",
        "/v1/supply/lots/{gtin}/{lot}/status",
        "/v1/supply/alerts",
        "/v1/supply/recalls",
        "/v1/supply/epcis/check",
        "/v1/supply/transformations/{id}",
        "/v1/supply/excursions",
        "/v1/supply/excursions/{number}",
        "/v1/supply/sensor-reports/{number}",
        "/v1/supply/ranges/{gtin}",
        "/v1/supply/packages/{gtin}/{serial}/coldchain",
        "/v1/supply/packages/{gtin}/{serial}/transactions",
        "/v1/supply/transactions/{seller}/{type}/{id}",
    }
    for path, ops in supply.items():
        (operation,) = ops.values()
        content = operation["responses"]["200"]["content"]
        schemas = [media.get("schema") for media in content.values()]
        assert any(schema for schema in schemas), path
    verify = document["components"]["schemas"]["VerifyAnswer"]
    assert {"verdict", "expired", "proofs", "package"} <= set(verify["properties"])


def test_serials_and_lots_with_url_characters_are_read_and_verified(
    supply_node: tuple[str, Path],
) -> None:
    """GS1 allows / ? % & in a serial or lot: the SDK encodes them, the node routes and
    checks the signature over what was sent, every read answers the right package."""
    url, root = supply_node
    with Client(url) as client:
        verified = client.supply_verify(ODD_GTIN, ODD_SERIAL, ODD_LOT, "2027-06-30")
    assert (verified.serial, verified.lot, verified.verdict) == (ODD_SERIAL, ODD_LOT, "verified")
    with member(url, root) as client:
        history = client.supply_history(ODD_GTIN, ODD_SERIAL)
        lot = client.supply_lot(ODD_GTIN, ODD_LOT)
        epcis = client.supply_epcis(ODD_GTIN, ODD_SERIAL)
        page = client.supply_lot_epcis_page(ODD_GTIN, ODD_LOT)
        state = client.verified_state("supply", f"pkg/{ODD_GTIN}/{ODD_SERIAL}")
        cold = client.supply_cold_chain(ODD_GTIN, ODD_SERIAL)
    assert (cold.serial, cold.reports_total) == (ODD_SERIAL, 0)
    assert (history["serial"], history["lot"]) == (ODD_SERIAL, ODD_LOT)
    assert (lot.lot, lot.count) == (ODD_LOT, 1)
    assert len(epcis["epcisBody"]["eventList"]) == 1
    assert len(page["epcisBody"]["eventList"]) == 1
    assert state["serial"] == ODD_SERIAL
    with member(url, root) as client:
        dots = client.supply_history(ODD_GTIN, DOTS)
        route_like = client.supply_lot(ODD_GTIN, ROUTE_LIKE_LOT)
        dots_state = client.verified_state("supply", f"pkg/{ODD_GTIN}/{DOTS}")
        dots_cold = client.supply_cold_chain(ODD_GTIN, DOTS)
    assert dots_cold.serial == DOTS
    assert (dots["serial"], dots["lot"]) == (DOTS, ROUTE_LIKE_LOT)
    assert (route_like.lot, route_like.count) == (ROUTE_LIKE_LOT, 1)
    assert dots_state["serial"] == DOTS
