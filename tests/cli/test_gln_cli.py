"""GLNs end to end against a real node: `healthledger orgs gln ...`, the SDK and the API."""

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
from healthledger.client.parties import party_resolver
from healthledger.client.sdk import Client
from healthledger.crypto.keys import load_keypair
from healthledger.errors import LedgerError

CLI = [sys.executable, "-m", "healthledger"]
ORGS = [
    ("st-marys", "hospital", "St Mary's"),
    ("acme", "insurer", "Acme"),
    ("medico", "manufacturer", "Medico"),
]
PARTY = "0614141000005"
SITE = "0614141000012"
UNKNOWN_SITE = "urn:epc:id:sgln:4012345.00000.0"


def cli(*args: str) -> tuple[int, Any]:
    done = subprocess.run([*CLI, *args, "--json"], capture_output=True, text=True, timeout=120)
    return done.returncode, json.loads(done.stdout or done.stderr)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("gln") / "net"
    url, process = serve_network(root, "cli-gln", ORGS)
    yield url, root
    stop_node(process)


def key(root: Path, org: str) -> str:
    return str(root / "keys" / f"{org}.json")


def test_claim_approve_resolve_release(net: tuple[str, Path]) -> None:
    url, root = net
    code, claimed = cli(
        "orgs", "gln", "claim", "--key", key(root, "medico"), "--party", PARTY,
        "--location", SITE, "--url", url,
    )  # fmt: skip
    assert code == 0, claimed
    proposal = claimed["proposal"]
    code, early = cli("orgs", "gln", "resolve", "urn:epc:id:pgln:0614141.00000", "--url", url)
    assert code == 3 and early["error"]["code"] == "unknown_party", early
    for voter in ("st-marys", "acme"):
        code, approved = cli("org", "approve", proposal, "--key", key(root, voter), "--url", url)
        assert code == 0, approved
    assert approved["executed"] is True
    for uri in (
        "urn:epc:id:sgln:0614141.00001.0",
        "urn:epc:id:sgln:0614141.00001.dock-7",
        "urn:epc:id:pgln:0614141.00000",
        "https://id.gs1.org/414/0614141000012/254/7",
        "https://partner.example/417/0614141000005",
        SITE,
    ):
        code, resolved = cli("orgs", "gln", "resolve", uri, "--url", url)
        assert (code, resolved) == (0, {"uri": uri, "org": "medico"}), (uri, resolved)
    code, shown = cli("orgs", "gln", "show", "medico", "--url", url)
    assert shown == {"org": "medico", "party": PARTY, "locations": [SITE]}
    # The answer is proven against the anchor the user names, not only the node's own word.
    for command in (("show", "medico"), ("resolve", SITE)):
        code, unanchored = cli("orgs", "gln", *command, "--pin", f"1:{'0' * 64}", "--url", url)
        assert code != 0 and unanchored["error"]["code"] == "invalid_proof", unanchored
    code, unknown = cli("orgs", "gln", "resolve", UNKNOWN_SITE, "--url", url)
    assert code == 3 and unknown["error"] == {
        "code": "unknown_party",
        "message": f"GLN 4012345000009 (from {UNKNOWN_SITE}) is not registered to any organisation",
    }
    code, bad = cli("orgs", "gln", "resolve", "urn:epc:id:sgtin:0614141.107346.1", "--url", url)
    assert code == 2 and bad["error"]["code"] == "invalid_field"
    # Another organisation's GLN is refused at once.
    code, taken = cli(
        "orgs", "gln", "claim", "--key", key(root, "acme"), "--location", SITE, "--url", url
    )
    assert code == 2 and taken["error"]["code"] == "already_exists", taken
    assert "registered to medico" in taken["error"]["message"]
    code, wrong = cli(
        "orgs", "gln", "claim", "--key", key(root, "acme"), "--party", "0614141000006",
        "--url", url,
    )  # fmt: skip
    assert code == 2 and "check digit should be 5" in wrong["error"]["message"], wrong
    code, released = cli("orgs", "gln", "release", SITE, "--key", key(root, "medico"), "--url", url)
    assert code == 0 and released["released"] is True, released
    code, gone = cli("orgs", "gln", "resolve", SITE, "--url", url)
    assert code == 3 and gone["error"]["code"] == "unknown_party"


def test_the_sdk_and_api_prove_every_answer(net: tuple[str, Path]) -> None:
    url, root = net
    with Client(url) as client:
        medico = load_keypair(Path(key(root, "medico")))
        proposal = client.claim_glns(medico, locations=["0614141000029"])
        for voter in ("st-marys", "acme"):
            client.approve(load_keypair(Path(key(root, voter))), proposal)
        assert client.org_of_gln("0614141000029") == "medico"
        assert client.org_of_gln("4012345000009") is None
        held = client.org_glns("medico")
        assert held is not None and "0614141000029" in held.locations
        assert client.org_glns("acme") is None
        assert client.glns()["0614141000029"] == "medico"
        resolve = party_resolver(client)
        assert resolve("urn:epc:id:sgln:0614141.00002.0") == "medico"
        assert resolve("urn:healthledger:org:acme") == "acme"
        with pytest.raises(LedgerError, match="GLN 4012345000009"):
            resolve(UNKNOWN_SITE)
        # Only organisations that publish an endpoint are in `orgs()`; GLNs ride beside.
        assert client.orgs() == []
    raw = httpx.get(url + "/v1/glns/0614141000029", timeout=10).json()
    assert (raw["org"], raw["kind"], raw["proof"]["key"]) == (
        "medico",
        "location",
        "gln/0614141000029",
    )
    page = httpx.get(url + "/v1/orgs", timeout=10).json()
    row = next(r for r in page["orgs"] if r["org"] == "medico")
    assert row["glns_proof"]["key"] == "glns/medico" and row["entry"] is None
    bad = httpx.get(url + "/v1/glns/12345", timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_field"
