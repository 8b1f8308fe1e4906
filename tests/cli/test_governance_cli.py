"""`healthledger org propose/approve` and `healthledger member capability` against a real node."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import enroll_member, serve_network, stop_node
from healthledger.client.sdk import Client
from healthledger.crypto.keys import load_keypair

CLI = [sys.executable, "-m", "healthledger"]
ORGS = [
    ("st-marys", "hospital", "St Mary's"),
    ("acme", "insurer", "Acme"),
    ("city-lab", "laboratory", "City Lab"),
]


def cli(*args: str) -> tuple[int, Any]:
    done = subprocess.run([*CLI, *args, "--json"], capture_output=True, text=True, timeout=120)
    return done.returncode, json.loads(done.stdout or done.stderr)


@pytest.fixture
def net(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    url, process = serve_network(tmp_path / "net", "cli-gov", ORGS)
    yield url, tmp_path / "net" / "keys"
    stop_node(process)


def test_capability_by_quorum_then_passed_to_a_member(net: tuple[str, Path]) -> None:
    url, keys = net
    key = {org: str(keys / f"{org}.json") for org, _role, _name in ORGS}
    code, opened = cli(
        "org", "propose", "city-lab", "--grant", "inspector", "--key", key["st-marys"], "--url", url
    )
    assert code == 0 and opened["executed"] is False, opened
    code, approved = cli("org", "approve", opened["proposal"], "--key", key["acme"], "--url", url)
    assert code == 0 and approved["executed"] is True, approved
    with Client(url) as client:
        lab = client.signer(Path(key["city-lab"]))
        enroll_member(client, lab, "tech", "technician")
        held = client.state("gov", "cap/city-lab", keys=load_keypair(Path(key["acme"])))
        assert held.value == {"granted": {"inspector": opened["proposal"]}}
    code, passed = cli(
        "member",
        "capability",
        "tech",
        "--grant",
        "inspector",
        "--key",
        key["city-lab"],
        "--url",
        url,
    )
    assert (code, passed) == (0, {"ok": True, "member": "tech", "grant": "inspector"})
    code, refused = cli(
        "member",
        "capability",
        "tech",
        "--grant",
        "astronaut",
        "--key",
        key["city-lab"],
        "--url",
        url,
    )
    assert code != 0 and refused["error"]["code"] == "invalid_field", refused
    code, both = cli("org", "propose", "city-lab", "--key", key["acme"], "--url", url)
    assert code != 0 and both["error"]["code"] == "malformed", both
