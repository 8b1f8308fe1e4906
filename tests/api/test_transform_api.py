"""Transformations through a real node: SDK reads proven, history and EPCIS export linked, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import serve_network, stop_node
from healthledger.client.sdk import ApiError, Client, Signer, require_committed
from healthledger.crypto.keys import load_keypair
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.errors import InvalidProof
from healthledger.node.home import Home

CHAIN = "transform-api"
GTIN = "0950600013437" + str(gtin_check_digit("0950600013437"))
KIT = "0950600013438" + str(gtin_check_digit("0950600013438"))
MINE = "0950600013439" + str(gtin_check_digit("0950600013439"))
XID = "urn:epc:id:gdti:0614141.12345.400/run?1"  # a URI with characters a path must encode
CLI = [sys.executable, "-m", "healthledger"]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("transform") / "net"
    orgs = [
        ("medico-pharma", "manufacturer", "Medico"),
        ("repack-co", "manufacturer", "Repack"),
        ("corner-pharmacy", "pharmacy", "Corner"),
    ]
    url, process = serve_network(root, CHAIN, orgs)
    home = Home(root)
    signers = {org: Signer(load_keypair(home.key_path(org)), CHAIN) for org, _r, _n in orgs}
    steps: list[tuple[str, str, dict[str, Any]]] = [
        (
            "medico-pharma",
            "supply.commission",
            {"gtin": GTIN, "lot": "L1", "expiry": "2027-06-30", "serials": ["A1", "A2", "A3"]},
        ),
        (
            "medico-pharma",
            "supply.ship",
            {"items": [f"{GTIN}:A1", f"{GTIN}:A2"], "to": "repack-co"},
        ),
        ("repack-co", "supply.receive", {"items": [f"{GTIN}:A1", f"{GTIN}:A2"]}),
        (
            "repack-co",
            "supply.transform",
            {
                "inputs": [f"{GTIN}:A1", f"{GTIN}:A2"],
                "outputs": [{"gtin": KIT, "lot": "K1", "expiry": "2027-01-31", "serials": ["K1"]}],
                "transformation_id": XID,
            },
        ),
    ]
    with Client(url) as client:
        for org, tx_type, payload in steps:
            require_committed(client.submit(signers[org].sign(tx_type, payload), wait=True))
    yield url, root
    stop_node(process)


def reader(url: str, root: Path) -> Client:
    return Client(url, keys=Home(root).key_path("corner-pharmacy"))


def test_the_sdk_reads_a_transformation_proven(node: tuple[str, Path]) -> None:
    url, root = node
    with reader(url, root) as client:
        record = client.supply_transformation(XID)
    assert (record.id, record.org) == (XID, "repack-co")
    assert (record.inputs, record.outputs) == ([f"{GTIN}:A1", f"{GTIN}:A2"], [f"{KIT}:K1"])
    unsigned = httpx.get(f"{url}/v1/supply/transformations/xf-0")
    assert unsigned.status_code == 401


def test_an_unknown_transformation_is_not_found(node: tuple[str, Path]) -> None:
    url, root = node
    with reader(url, root) as client, pytest.raises(ApiError) as missing:
        client.supply_transformation("urn:example:none")
    assert missing.value.status == 404


def test_a_node_answering_with_another_record_is_caught(
    node: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A true proof of another key is refused: the answer must prove the id asked for."""
    url, root = node
    with reader(url, root) as client:
        real = client._get  # the node's own answer, for another id than was asked

        def lying(path: str, *args: Any, **kwargs: Any) -> Any:
            return real(path.replace("other", "0614141"), *args, **kwargs)

        monkeypatch.setattr(client, "_get", lying)
        with pytest.raises(InvalidProof):
            client.supply_transformation(XID.replace("0614141", "other"))


def test_histories_and_epcis_show_the_link(node: tuple[str, Path]) -> None:
    url, root = node
    with reader(url, root) as client:
        consumed = client.supply_history(GTIN, "A1")
        produced = client.supply_history(KIT, "K1")
        exported = client.supply_epcis(KIT, "K1")
    assert consumed["custody"]["status"] == "transformed"  # type: ignore[index]
    assert consumed["consumed_by"]["items"] == [f"{KIT}:K1"]  # type: ignore[index]
    assert produced["produced_by"]["items"] == [f"{GTIN}:A1", f"{GTIN}:A2"]  # type: ignore[index]
    events = exported["epcisBody"]["eventList"]  # type: ignore[index]
    kinds = [event["type"] for event in events]  # type: ignore[union-attr]
    assert kinds == ["ObjectEvent", "TransformationEvent"]
    transformation = events[1]  # type: ignore[index]
    assert transformation["transformationID"] == XID
    assert transformation["ilmd"] == {
        "cbvmda:lotNumber": "K1",
        "cbvmda:itemExpirationDate": "2027-01-31",
    }
    assert len(transformation["inputEPCList"]) == 2


def cli(*args: str) -> Any:
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_the_cli_transforms_and_reads(node: tuple[str, Path]) -> None:
    url, root = node
    home = Home(root)
    maker = str(home.key_path("medico-pharma"))
    made = cli(
        "supply", "transform", "--key", maker, "--in", f"{GTIN}:A3",
        "--gtin", MINE,
        "--lot", "M1", "--expiry", "2027-02-28", "--count", "2", "--prefix", "M",
        "--url", url, "--json",
    )  # fmt: skip
    event = next(e for e in made["result"]["events"] if e["type"] == "supply.transformed")
    assert event["produced"] == 2 and event["consumed"] == 1
    answer = cli(
        "supply", "transformation", event["transformation"],
        "--key", str(home.key_path("corner-pharmacy")), "--url", url, "--json",
    )  # fmt: skip
    assert answer["inputs"] == [f"{GTIN}:A3"] and len(answer["outputs"]) == 2
