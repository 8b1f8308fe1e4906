"""`healthledger supply transaction ...`: DSCSA TI/TS from the command line, against a real node."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import serve_network, stop_node
from healthledger.client.sdk import Client, Signer, require_committed
from healthledger.crypto.keys import load_keypair
from healthledger.domains.supply import ti
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.node.home import Home

CLI = [sys.executable, "-m", "healthledger"]
CHAIN = "ti-cli"
GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stdout}{result.stderr}")
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("ti-cli") / "net"
    orgs = [
        ("medico-pharma", "manufacturer", "Medico"),
        ("pharmalink", "distributor", "PharmaLink"),
    ]
    url, process = serve_network(root, CHAIN, orgs)
    maker = Signer(load_keypair(Home(root).key_path("medico-pharma")), CHAIN)
    payload = {"gtin": GTIN, "lot": "L1", "expiry": "2027-06-30", "serials": ["S1", "S2", "S3"]}
    with Client(url) as client:
        require_committed(client.submit(maker.sign("supply.commission", payload), wait=True))
    yield url, root
    stop_node(process)


def key(root: Path, org: str) -> str:
    return str(Home(root).key_path(org))


def test_record_ship_receive_and_read_the_history(node: tuple[str, Path], tmp_path: Path) -> None:
    url, root = node
    maker, dist = key(root, "medico-pharma"), key(root, "pharmalink")
    common = ["--url", url, "--json"]
    recorded = as_json(
        run(
            "supply", "transaction", "record", "--key", maker, "--buyer", "pharmalink",
            "--po", "PO-1", "--inv", "INV-1", "--line", f"{GTIN}:L1:2", *common,
        )
    )  # fmt: skip
    assert recorded["statement"] == ti.STATEMENT and recorded["result"]["code"] == "ok"
    # From a file: the statement's hash is filled in by the command.
    document = {
        "buyer": "pharmalink",
        "biz_transactions": [{"type": "po", "id": "PO-2"}],
        "items": [f"{GTIN}:S3"],
    }
    (tmp_path / "ti.json").write_text(json.dumps(document))
    run(
        "supply",
        "transaction",
        "record",
        "--key",
        maker,
        "--file",
        str(tmp_path / "ti.json"),
        *common,
    )
    items = [f"{GTIN}:S1", f"{GTIN}:S2"]
    run("supply", "ship", "--key", maker, "--to", "pharmalink", "--po", "PO-1", *items, *common)
    run("supply", "receive", "--key", dist, *items, *common)
    history = as_json(run("supply", "transactions", GTIN, "S1", "--key", dist, *common))
    assert history["verified_proofs"] is True and "pinned on first use" in history["anchor"]
    [sale] = history["transactions"]
    assert (sale["seller"], sale["buyer"], sale["status"]) == (
        "medico-pharma",
        "pharmalink",
        "matched",
    )
    shown = as_json(
        run(
            "supply", "transaction", "show", "medico-pharma", "inv", "INV-1", "--key", dist, *common
        )
    )
    assert shown["transaction"]["id"] == sale["id"] and shown["verified_proofs"] is True
    by_file = as_json(
        run("supply", "transaction", "show", "medico-pharma", "po", "PO-2", "--key", dist, *common)
    )
    assert [(line["lot"], line["quantity"]) for line in by_file["transaction"]["lines"]] == [
        ("L1", 1)
    ]


def test_refusals_exit_with_their_codes(node: tuple[str, Path]) -> None:
    url, root = node
    maker = key(root, "medico-pharma")
    common = ["--url", url, "--json"]
    taken = run(
        "supply", "transaction", "record", "--key", maker, "--buyer", "pharmalink",
        "--desadv", "D-1", "--line", f"{GTIN}:L1:1", *common,
    )  # fmt: skip
    assert taken.returncode == 0
    again = run(
        "supply", "transaction", "record", "--key", maker, "--buyer", "pharmalink",
        "--desadv", "D-1", "--line", f"{GTIN}:L1:1", *common, check=False,
    )  # fmt: skip
    assert again.returncode != 0 and as_json(again)["error"]["code"] == "already_exists"
    bad_line = run(
        "supply", "transaction", "record", "--key", maker, "--buyer", "pharmalink",
        "--po", "PO-X", "--line", "not-a-line", *common, check=False,
    )  # fmt: skip
    assert as_json(bad_line)["error"]["code"] == "malformed"
    unknown = run(
        "supply", "ship", "--key", maker, "--to", "pharmalink", "--po", "NOPE", f"{GTIN}:S3",
        *common, check=False,
    )  # fmt: skip
    assert as_json(unknown)["error"]["code"] == "not_found"
