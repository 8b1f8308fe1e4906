"""Cold chain through the command line, the REST reads and the SDK, on a real node."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import serve_network, stop_node
from healthledger.client.sdk import ApiError, Client
from healthledger.crypto.keys import load_keypair
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.node.home import Home

CHAIN = "coldchain-cli"
GTIN = "0950600013437" + str(gtin_check_digit("0950600013437"))
CLI = [sys.executable, "-m", "healthledger"]


def cli(*args: str, check: bool = True) -> Any:
    result = subprocess.run([*CLI, *args, "--json"], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stdout}{result.stderr}")
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Home]]:
    root = tmp_path_factory.mktemp("cold") / "net"
    orgs = [
        ("medico-pharma", "manufacturer", "Medico"),
        ("pharmalink", "distributor", "PharmaLink"),
        ("corner-pharmacy", "pharmacy", "Corner"),
    ]
    url, process = serve_network(root, CHAIN, orgs)
    yield url, Home(root)
    stop_node(process)


def key(home: Home, org: str) -> str:
    return str(home.key_path(org))


def test_range_sensor_excursion_and_decision(node: tuple[str, Home]) -> None:
    url, home = node
    maker, holder = key(home, "medico-pharma"), key(home, "pharmalink")
    common = ("--url", url)
    cli("supply", "commission", "--key", maker, "--gtin", GTIN, "--lot", "C1",
        "--expiry", "2028-01-31", "--count", "2", "--prefix", "C", *common)  # fmt: skip
    too_fine = cli("supply", "range", "set", "--key", maker, "--gtin", GTIN, "--min", "2.0001",
                   "--max", "8", *common, check=False)  # fmt: skip
    assert too_fine["error"]["code"] == "invalid_field"
    cli("supply", "range", "set", "--key", maker, "--gtin", GTIN, "--min", "-2.5", "--max", "8",
        *common)  # fmt: skip
    shown = cli("supply", "range", "show", GTIN, "--key", holder, *common)
    assert shown["range"] == {"min_mc": -2500, "max_mc": 8000}
    items = [f"{GTIN}:C1", f"{GTIN}:C2"]
    cli("supply", "ship", "--key", maker, "--to", "pharmalink", *items, *common)
    cli("supply", "receive", "--key", holder, *items, *common)
    # A non-holder is refused; the holder's 47.3 °F (8.5 °C) maximum opens an excursion.
    refused = cli("supply", "sensor", "--key", maker, "--items", items[0], "--max", "9",
                  *common, check=False)  # fmt: skip
    assert refused["error"]["code"] == "unauthorized"
    reported = cli("supply", "sensor", "--key", holder, "--items", items[0], "--item", items[1],
                   "--min", "40", "--max", "47.3", "--unit", "FAR", "--device", "urn:dev:7",
                   *common)  # fmt: skip
    events = {e["type"]: e for e in reported["result"]["events"]}
    assert events["supply.sensor_report"]["excursions"] == [1]
    page = cli("supply", "excursions", "--key", holder, *common)
    (found,) = page["excursions"]
    assert (found["custodian"], found["status"], found["worst"]["by_mc"]) == (
        "pharmalink",
        "open",
        500,
    )
    shipped = cli("supply", "ship", "--key", holder, "--to", "corner-pharmacy", items[0],
                  *common, check=False)  # fmt: skip
    assert shipped["error"]["code"] == "invalid_state"
    both = cli("supply", "excursion", "resolve", "1", "--key", maker, "--reason", "x",
               *common, check=False)  # fmt: skip
    assert both["error"]["code"] == "invalid_field"
    cli("supply", "excursion", "resolve", "1", "--clear", "--key", maker,
        "--reason", "stability data cover 8.5 C", *common)  # fmt: skip
    assert cli("supply", "excursion", "show", "1", "--key", holder, *common)["status"] == "cleared"
    cli("supply", "ship", "--key", holder, "--to", "corner-pharmacy", items[0], *common)

    with Client(url, keys=load_keypair(home.key_path("corner-pharmacy"))) as client:
        cold = client.supply_cold_chain(GTIN, "C1")
        assert cold.reports_total == 1 and cold.open_excursions == []
        assert [e.number for e in cold.excursions] == [1] and not cold.quarantined
        report = client.supply_sensor_report(1)
        assert report.readings[0].max == 47_300 and report.device == "urn:dev:7"
        assert client.supply_excursion(1).resolution is not None
        with pytest.raises(ApiError):
            client.supply_excursion(99)
    # Reads reveal who holds what: members only, signed.
    assert httpx.get(f"{url}/v1/supply/excursions").status_code in (401, 403)
