"""A 4-validator CometBFT network on this machine: ordering, agreement and faults.

Every test drives real processes through the commands a user runs: `healthledger
net up` starts 4 `cometbft` and 4 `healthledger node` processes under a supervisor,
`net stop --kill` SIGKILLs a node's pair, `net start` lets it come back. The tests
run in file order on one network; each leaves every node running for the next.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from cometbft_tools import install_cometbft
from healthledger.client.sdk import ApiError, Client, Signer
from healthledger.crypto.keys import KeyPair
from healthledger.engines.abci.results import CODESPACE
from healthledger.ledger.transaction import Transaction
from healthledger.node.network import NetNode, Network, load_network

pytestmark = pytest.mark.network
T = TypeVar("T")
HERE = Path(__file__).parent


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
        return Client(self.node(org).api_url, timeout=60)

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


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNet]:
    install_cometbft()
    root = tmp_path_factory.mktemp("net")
    report = healthledger("net", "up", "--validators", "4", "--dir", str(root))
    assert len(report["nodes"]) == 4
    live = LiveNet(root)
    try:
        yield live
    finally:
        healthledger("net", "down", "--dir", str(root))


def enrol(signer: Signer, member_id: str) -> Transaction:
    member = KeyPair.generate()
    return signer.sign(
        "member.enroll",
        {
            "member_id": member_id,
            "name": member_id.title(),
            "role": "nurse",
            "signing_key": member.key_id,
            "encryption_key": member.encryption_public.hex(),
        },
    )


def commit(net: LiveNet, org: str, tx: Transaction) -> int:
    with net.client(org) as client:
        report = client.submit(tx, wait=True, timeout_ms=60_000)
    assert report["status"] == "committed" and report["result"]["code"] == "ok", report
    return int(report["height"])


FOUNDERS = ["st-marys", "acme-insurance", "pharmaco", "citypharm"]


def test_a_transaction_sent_to_any_node_commits_in_the_same_block_everywhere(
    net: LiveNet,
) -> None:
    committed = {}
    for org in FOUNDERS:
        tx = enrol(net.signer(org), f"nurse-{org}")
        committed[tx.id] = commit(net, org, tx)
    for tx_id, height in committed.items():
        for org in FOUNDERS:
            with net.client(org) as client:
                assert poll(lambda c=client, t=tx_id: _stored_height(c, t), "the tx") == height
    assert poll(lambda: net.all_agree_at_top(FOUNDERS), "agreement") >= max(committed.values())
    # Our state root after block H is the app hash every validator signed in header H+1.
    height = max(committed.values())
    with net.client("pharmaco") as client:
        state_root = client.block(height)["header"]["state_root"]
    for org in FOUNDERS:
        header = poll(lambda o=org: net.rpc(o, "block", height=height + 1), "block H+1")
        assert header["block"]["header"]["app_hash"].lower() == state_root


def _stored_height(client: Client, tx_id: str) -> int | None:
    try:
        view = client.tx(tx_id)
    except ApiError:
        return None
    return int(view["height"]) if view.get("status", "committed") == "committed" else None


def test_malformed_and_invalid_transactions_are_refused_in_checktx(net: LiveNet) -> None:
    forged = enrol(net.signer("st-marys"), "forged").to_dict()
    forged["signature"] = "00" * 64
    other_chain = enrol(Signer(KeyPair.generate(), "another-chain"), "elsewhere")
    refusals = {
        b"\x00not json": 2,  # malformed
        json.dumps(forged).encode(): 9,  # bad_signature
        other_chain.raw: 7,  # wrong_chain
    }
    for raw, code in refusals.items():
        result = net.rpc("citypharm", "broadcast_tx_sync", tx="0x" + raw.hex())
        assert result is not None, "CometBFT's RPC did not answer"
        assert (result["code"], result["codespace"]) == (code, CODESPACE), result
    response = httpx.post(f"{net.node('citypharm').api_url}/v1/txs", json=forged, timeout=30)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    # A later block commits, and none of the refused transactions is in any block.
    commit(net, "citypharm", enrol(net.signer("citypharm"), "after-refusals"))
    for raw in refusals:
        found = net.rpc("citypharm", "tx", hash="0x" + hashlib.sha256(raw).hexdigest())
        assert found is None
