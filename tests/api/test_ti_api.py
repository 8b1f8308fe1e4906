"""DSCSA TI/TS over HTTP: a package's transaction history with proofs a partner checks itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import serve_network, stop_node
from healthledger.client.sdk import (
    ApiError,
    Client,
    Signer,
    verify_package_transactions,
    verify_supply_transaction,
)
from healthledger.crypto.keys import load_keypair
from healthledger.domains.supply import ti
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.errors import InvalidProof
from healthledger.node.home import Home

CHAIN = "ti-api"
GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))
PO = {"type": "po", "id": "urn:epcglobal:cbv:bt:0950600000007:PO/1"}  # an id with a '/'
PO2 = {"type": "po", "id": "PO-2"}
INV = {"type": "inv", "id": "INV-9"}


@pytest.fixture(scope="module")
def ti_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A1 and A2 travel under PO (matched), then A1 under PO2 (matched); B1 arrives alone
    under an invoice of two (short)."""
    root = tmp_path_factory.mktemp("ti") / "net"
    orgs = [
        ("medico-pharma", "manufacturer", "Medico"),
        ("pharmalink", "distributor", "PharmaLink"),
        ("corner-pharmacy", "pharmacy", "Corner"),
    ]
    url, process = serve_network(root, CHAIN, orgs)
    home = Home(root)
    signers = {org: Signer(load_keypair(home.key_path(org)), CHAIN) for org, _r, _n in orgs}

    def line(lot: str, quantity: int) -> dict[str, Any]:
        return {"gtin": GTIN, "lot": lot, "quantity": quantity}

    a1, a2, b1 = f"{GTIN}:A1", f"{GTIN}:A2", f"{GTIN}:B1"
    steps = [
        ("medico-pharma", "supply.commission", commission("A", ["A1", "A2"])),
        ("medico-pharma", "supply.commission", commission("B", ["B1"])),
        ("medico-pharma", "supply.transaction", sale("pharmalink", [PO], [line("A", 2)])),
        (
            "medico-pharma",
            "supply.ship",
            {"items": [a1, a2], "to": "pharmalink", "biz_transactions": [PO]},
        ),
        ("pharmalink", "supply.receive", {"items": [a1, a2]}),
        ("pharmalink", "supply.transaction", sale("corner-pharmacy", [PO2], [line("A", 1)])),
        (
            "pharmalink",
            "supply.ship",
            {"items": [a1], "to": "corner-pharmacy", "biz_transactions": [PO2]},
        ),
        ("corner-pharmacy", "supply.receive", {"items": [a1]}),
        ("medico-pharma", "supply.transaction", sale("pharmalink", [INV], [line("B", 2)])),
        (
            "medico-pharma",
            "supply.ship",
            {"items": [b1], "to": "pharmalink", "biz_transactions": [INV]},
        ),
        ("pharmalink", "supply.receive", {"items": [b1]}),
    ]
    with Client(url) as client:
        for org, tx_type, payload in steps:
            report = client.submit(signers[org].sign(tx_type, payload), wait=True)
            assert report.result is not None and report.result.code == "ok", report
    yield url, root
    stop_node(process)


def commission(lot: str, serials: list[str]) -> dict[str, Any]:
    return {"gtin": GTIN, "lot": lot, "expiry": "2027-06-30", "serials": serials}


def sale(buyer: str, refs: list[dict[str, str]], lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "buyer": buyer,
        "biz_transactions": refs,
        "lines": lines,
        "statement": ti.STATEMENT_SHA256,
    }


def member(url: str, root: Path, org: str = "corner-pharmacy") -> Client:
    return Client(url, keys=Home(root).key_path(org))


def signed_get(url: str, root: Path, path: str) -> dict[str, Any]:
    with member(url, root) as client:
        answer: dict[str, Any] = client._get(path).json()
    return answer


def test_a_package_history_lists_each_ti_with_proofs(ti_node: tuple[str, Path]) -> None:
    url, root = ti_node
    with member(url, root) as client:
        view = client.supply_transactions(GTIN, "A1")
        untraded = client.supply_transactions(GTIN, "B1")
    records = view.records()
    assert [(r.seller, r.buyer, r.status) for r in records] == [
        ("medico-pharma", "pharmalink", "matched"),
        ("pharmalink", "corner-pharmacy", "matched"),
    ]
    assert [r.biz_transactions[0].id for r in records] == [PO["id"], PO2["id"]]
    assert view.statement_text == ti.STATEMENT
    assert untraded.records()[0].status == "mismatch"
    with member(url, root) as client:
        sold_once = client.supply_transactions(GTIN, "A2")
    assert [r.buyer for r in sold_once.records()] == ["pharmalink"]


def test_a_short_receipt_is_listed_with_the_alerts(ti_node: tuple[str, Path]) -> None:
    url, root = ti_node
    with member(url, root) as client:
        (alert,) = client.supply_alerts()
    assert isinstance(alert, dict) and alert["status"] == "open"
    assert alert["presented_by"] == "pharmalink" and alert["manufacturer"] == "medico-pharma"
    reason = str(alert["reason"])
    assert "INV-9" in reason and "lot B" in reason and "1 received, 2 listed" in reason


def test_a_ti_by_its_business_transaction(ti_node: tuple[str, Path]) -> None:
    url, root = ti_node
    with member(url, root, "pharmalink") as client:
        view = client.supply_transaction("medico-pharma", "po", PO["id"])
        with pytest.raises(ApiError) as missing:
            client.supply_transaction("pharmalink", "po", PO["id"])  # another seller's id
    record = view.record()
    assert (record.seller, record.buyer) == ("medico-pharma", "pharmalink")
    assert [(line.lot, line.quantity, line.shipped, line.received) for line in record.lines] == [
        ("A", 2, 2, 2)
    ]
    assert (missing.value.status, missing.value.remote_code) == (404, "not_found")


def test_reads_are_for_members_only(ti_node: tuple[str, Path]) -> None:
    url, _root = ti_node
    for path in (
        f"/v1/supply/packages/{GTIN}/A1/transactions",
        "/v1/supply/transactions/medico-pharma/po/PO-2",
    ):
        unsigned = httpx.get(f"{url}{path}")
        assert (unsigned.status_code, unsigned.json()["error"]["code"]) == (401, "bad_signature")


def test_a_lying_node_is_caught(ti_node: tuple[str, Path]) -> None:
    url, root = ti_node
    history = signed_get(url, root, f"/v1/supply/packages/{GTIN}/A1/transactions")
    verify_package_transactions(history, GTIN, "A1")
    dropped = {**history, "transactions": history["transactions"][:1]}
    with pytest.raises(InvalidProof):
        verify_package_transactions(dropped, GTIN, "A1")
    with pytest.raises(InvalidProof):  # a true answer about another package
        verify_package_transactions(history, GTIN, "A2")
    other_text = {**history, "statement_text": "Seller makes no statement."}
    with pytest.raises(InvalidProof):
        verify_package_transactions(other_text, GTIN, "A1")
    answer = signed_get(url, root, "/v1/supply/transactions/pharmalink/po/PO-2")
    verify_supply_transaction(answer, "pharmalink", "po", "PO-2")
    with pytest.raises(InvalidProof):  # the TI of PO-2 passed off as another PO's
        verify_supply_transaction(answer, "pharmalink", "po", "PO-3")
    swapped = {**answer, "transaction": history["transactions"][0]}
    with pytest.raises(InvalidProof):
        verify_supply_transaction(swapped, "pharmalink", "po", "PO-2")


def test_the_openapi_document_describes_the_ti_reads(ti_node: tuple[str, Path]) -> None:
    url, _root = ti_node
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    assert "/v1/supply/packages/{gtin}/{serial}/transactions" in paths
    assert "/v1/supply/transactions/{seller}/{type}/{id}" in paths
