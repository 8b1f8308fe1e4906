"""`healthledger orgs publish` and `orgs list` against a real node."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import serve_network, stop_node
from healthledger.client.sdk import Client
from healthledger.crypto.keys import KeyPair, save_keypair

CLI = [sys.executable, "-m", "healthledger"]
ORGS = [("st-marys", "hospital", "St Mary's"), ("acme", "insurer", "Acme")]


def cli(*args: str) -> tuple[int, Any]:
    done = subprocess.run([*CLI, *args, "--json"], capture_output=True, text=True, timeout=120)
    return done.returncode, json.loads(done.stdout or done.stderr)


@pytest.fixture
def net(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    url, process = serve_network(tmp_path / "net", "cli-orgs", ORGS)
    yield url, tmp_path / "net"
    stop_node(process)


def test_publish_and_list(net: tuple[str, Path], tmp_path: Path) -> None:
    url, root = net
    key = str(root / "keys" / "st-marys.json")
    empty = subprocess.run(
        [*CLI, "orgs", "list", "--url", url], capture_output=True, text=True, timeout=120
    )
    assert empty.returncode == 0 and "no organisation has published" in empty.stdout
    # By default the node key is the one of the node at --url (its node_key.json).
    code, published = cli("orgs", "publish", "--key", key, "--endpoint", url, "--url", url)
    assert code == 0 and published["org"] == "st-marys", published
    other = KeyPair.generate()
    node_file = str(tmp_path / "other-node.json")
    save_keypair(other, Path(node_file))
    acme = str(root / "keys" / "acme.json")
    code, changed = cli(
        "orgs", "publish", "--key", acme, "--endpoint", url, "--endpoint",
        "https://acme.example.org/hl", "--node-key", node_file, "--replica", "st-marys",
        "--url", url,
    )  # fmt: skip
    assert code == 0, changed
    code, listed = cli("orgs", "list", "--url", url)
    assert code == 0
    rows = {row["org"]: row for row in listed["orgs"]}
    with Client(url) as client:
        assert rows["st-marys"]["node_key"] == client.info().node_key
    assert rows["acme"]["endpoints"] == [url, "https://acme.example.org/hl"]
    assert (rows["acme"]["node_key"], rows["acme"]["replica"]) == (other.key_id, "st-marys")
    # A bad URL is refused with its code, and nothing changes.
    code, refused = cli(
        "orgs", "publish", "--key", key, "--endpoint", "ftp://x.example", "--url", url
    )
    assert code != 0 and refused["error"]["code"] in {"invalid_field", "malformed"}, refused
    assert cli("orgs", "list", "--url", url)[1] == listed
