"""The demo's supply story: a cold-chain excursion, a TI/TS mismatch, a partner's EPCIS feed
imported by GLN, and what they left on the ledger (read back from the node the demo built)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from healthledger.app.reader import SnapshotReader
from healthledger.demo.chain import GLNS
from healthledger.demo.runner import Runner
from healthledger.demo.supply import GTIN
from healthledger.domains.supply.coldchain import ExcursionRecord, excursion_key
from healthledger.domains.supply.importer import check_document
from healthledger.domains.supply.observations import Observation, observation_key
from healthledger.domains.supply.parties import resolve_party
from healthledger.domains.supply.state import NAMESPACE, Package, package_key
from healthledger.domains.supply.ti import TiRef, TransactionRecord, biz_key, ti_key
from healthledger.node.node import Node


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Node]]:
    directory = tmp_path_factory.mktemp("demo") / "net"
    summary = Runner(directory, total_txs=20, block_interval_ms=20).run()
    node = Node(directory)
    try:
        yield summary["supply"], node
    finally:
        node.stop()


def package(node: Node, serial: str) -> Package:
    with node.store.snapshot():
        found = SnapshotReader(node.store).state.load(NAMESPACE, package_key(GTIN, serial), Package)
    assert found is not None
    return found


def test_a_pallet_read_at_12_5_degrees_quarantines_its_packages_and_medico_destroys(
    demo: tuple[dict[str, Any], Node],
) -> None:
    supply, node = demo
    excursion = supply["excursion"]
    assert (excursion["custodian"], excursion["manufacturer"]) == ("pharmalink", "medico-pharma")
    assert (excursion["packages"], excursion["side"], excursion["by_mc"]) == (10, "above", 4_500)
    assert excursion["resolved"]["decision"] == "destroy"
    with node.store.snapshot():
        record = SnapshotReader(node.store).state.load(
            NAMESPACE, excursion_key(excursion["number"]), ExcursionRecord
        )
    assert record is not None and record.status == "destroyed"
    assert record.serials == tuple(f"A{n:05d}" for n in range(41, 51))
    assert package(node, "A00041").status == "destroyed"


def test_the_partner_feed_reports_what_each_event_became(
    demo: tuple[dict[str, Any], Node],
) -> None:
    supply, node = demo
    feed = supply["feed"]
    assert [e["became"] for e in feed["imported"]] == [
        "custody:ship",
        "observation attested",  # Town Pharmacy's receipt, seen by PharmaLink
        "observation confirmed",  # PharmaLink's own inspection
        "sensor",  # 5.2 °C: within 2-8 °C, no excursion
    ]
    receipt = feed["imported"][1]["event_id"]
    assert feed["confirmed"] == [{"index": 0, "event_id": receipt, "became": "custody:receive"}]
    with node.store.snapshot():
        observed = SnapshotReader(node.store).state.load(
            NAMESPACE, observation_key(receipt), Observation
        )
    assert observed is not None and observed.status == "confirmed"
    assert observed.attesters == ("pharmalink",)
    assert package(node, "A00016").owner == "town-pharmacy"
    assert package(node, "A00019").quarantined is False


def test_the_feed_file_names_parties_by_gln_and_checks_again(
    demo: tuple[dict[str, Any], Node],
) -> None:
    supply, _node = demo
    document = json.loads(Path(supply["feed"]["file"]).read_text())
    shipping = document["epcisBody"]["eventList"][0]
    assert shipping["sourceList"][0]["source"].startswith("https://id.gs1.org/417/")
    assert shipping["destinationList"][0]["destination"].startswith("urn:epc:id:sgln:")
    ids = [e["event_id"] for e in supply["feed"]["imported"]]

    registry = {
        gln: org for org, held in GLNS.items() for gln in (held["party"], *held["locations"])
    }

    def by_gln(uri: str) -> str:
        return resolve_party(uri, registry.get)

    checked = check_document(document, by_gln, "pharmalink")
    assert [r.event_id for r in checked.reports] == ids  # the same ids the ledger holds
    assert any("--check" in line and supply["feed"]["file"] in line for line in supply["try"])


def test_a_sale_shipped_with_the_wrong_lot_raises_ti_mismatch_alerts(
    demo: tuple[dict[str, Any], Node],
) -> None:
    supply, node = demo
    sale = supply["transaction"]
    assert (sale["po"], sale["sale"]) == ("PO-1001", "ok")
    not_listed, short = sorted(sale["alerts"], key=lambda reason: "AMX2613" not in reason)
    assert "lot AMX2613" in not_listed and "is not in the transaction information" in not_listed
    assert "lot AMX2611" in short and "(9 received, 10 listed)" in short
    with node.store.snapshot():
        state = SnapshotReader(node.store).state
        ti_id = state.load(NAMESPACE, biz_key("medico-pharma", "po", "PO-1001"), TiRef)
        assert ti_id is not None
        record = state.load(NAMESPACE, ti_key(ti_id.ti), TransactionRecord)
    assert record is not None and record.status == "mismatch"
    assert (record.seller, record.buyer) == ("medico-pharma", "pharmalink")
    assert any(f"transactions {GTIN} A00051" in line for line in supply["try"])
