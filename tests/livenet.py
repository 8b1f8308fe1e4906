"""A live local CometBFT network for tests: `healthledger net up` in a temporary folder.

Shared by the network test modules; each module starts its own network with
`live_network()` and gets every node running and level before each test with `level()`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from cometbft_tools import install_cometbft
from healthledger.client.sdk import Client, Signer
from healthledger.ledger.transaction import Transaction
from healthledger.node.network import NetNode, Network, load_network

T = TypeVar("T")


def poll(probe: Callable[[], T | None], what: str, timeout: float = 90.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = probe()
        if answer is not None:
            return answer
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def healthledger(*args: str, timeout: float = 180.0) -> dict[str, Any]:
    """Run the CLI as a user would; its JSON report (the last line of stdout)."""
    result = subprocess.run(
        [sys.executable, "-m", "healthledger", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"healthledger {' '.join(args)}:\n{result.stdout}{result.stderr}"
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@dataclass
class LiveNet:
    root: Path

    @property
    def network(self) -> Network:
        return load_network(self.root)

    def node(self, org: str) -> NetNode:
        return self.network.node(org)

    def rpc(self, org: str, method: str, **params: Any) -> Any:
        """A CometBFT RPC result, or None while the node does not answer."""
        try:
            body = httpx.get(f"{self.node(org).rpc_url}/{method}", params=params, timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return None
        return body.get("result")

    def height(self, org: str) -> int | None:
        status = self.rpc(org, "status")
        return None if status is None else int(status["sync_info"]["latest_block_height"])

    def client(self, org: str) -> Client:
        """A client of `org`'s node that signs its ledger reads with `org`'s key (a member's)."""
        return Client(self.node(org).api_url, timeout=60, keys=self.root / "keys" / f"{org}.json")

    def signer(self, org: str) -> Signer:
        with self.client(org) as client:
            return client.signer(self.root / "keys" / f"{org}.json")

    def status(self) -> dict[str, Any]:
        return healthledger("net", "status", "--dir", str(self.root))

    def all_agree_at_top(self, orgs: list[str]) -> int | None:
        """The common height once the named nodes are level and agree on the app hash."""
        status = self.status()
        rows = {row["org"]: row for row in status["nodes"]}
        heights = {rows[org]["height"] for org in orgs}
        hashes = {rows[org]["app_hash"] for org in orgs}
        if len(heights) == 1 and len(hashes) == 1 and None not in heights and status["agree"]:
            return int(heights.pop())
        return None


@contextmanager
def live_network(root: Path, validators: int = 4) -> Iterator[LiveNet]:
    """`net up` in `root`, and `net down` afterwards whatever happened."""
    install_cometbft()
    report = healthledger("net", "up", "--validators", str(validators), "--dir", str(root))
    assert len(report["nodes"]) == validators
    live = LiveNet(root)
    try:
        yield live
    finally:
        healthledger("net", "down", "--dir", str(root))


def level(live: LiveNet) -> LiveNet:
    """The network with every node running and level (call it before each test).

    A test that fails midway may leave a node stopped; the next test starts
    it again instead of failing in turn.
    """
    orgs = [node.org for node in live.network.nodes]
    for org in orgs:
        if live.height(org) is None:
            start_node(live, org)
    poll(lambda: live.all_agree_at_top(orgs), "every node up and in agreement", 180)
    return live


def start_node(net: LiveNet, org: str) -> None:
    """`net start` for a node that is down (a supervisor restarting it may beat us to it)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "healthledger",
            "net",
            "start",
            "--node",
            org,
            "--dir",
            str(net.root),
        ],
        capture_output=True,
        timeout=180,
        check=False,
    )


def commit(net: LiveNet, org: str, tx: Transaction) -> int:
    with net.client(org) as client:
        report = client.submit(tx, wait=True, timeout_ms=60_000)
    assert report.status == "committed" and report.result is not None, report
    assert report.result.ok and report.height is not None, report
    return report.height
