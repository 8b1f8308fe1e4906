"""kill -9 a loaded node at random moments: every acknowledged commit survives, verify passes."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import httpx

from conftest import start_node
from healthledger.app.verify import verify_store
from healthledger.client.sdk import Signer
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.errors import NotFound
from healthledger.ledger.store import Store
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.process import free_port, wait_until_up

CHAIN = "crash-test"


class Loader(threading.Thread):
    """Submits batches with wait=true and remembers what the node acknowledged as committed."""

    def __init__(self, url: str, signer: Signer) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.signer = signer
        self.acknowledged: set[str] = set()
        self.stopping = threading.Event()

    def run(self) -> None:
        counter = 0
        while not self.stopping.is_set():
            txs = []
            for _ in range(50):
                counter += 1
                keys = KeyPair.from_seed(counter.to_bytes(32, "big"))
                txs.append(
                    self.signer.sign(
                        "member.enroll",
                        {
                            "member_id": f"staff-{counter}",
                            "name": "Staff",
                            "role": "staff",
                            "signing_key": keys.key_id,
                            "encryption_key": keys.encryption_public.hex(),
                        },
                    )
                )
            try:
                response = httpx.post(
                    f"{self.url}/v1/txs/batch?wait=true&timeout_ms=5000",
                    json={"txs": [tx.to_dict() for tx in txs]},
                    timeout=10,
                )
                for result in response.json()["results"]:
                    if result.get("status") == "committed":
                        self.acknowledged.add(result["id"])
            except (httpx.HTTPError, ValueError, KeyError):
                time.sleep(0.05)  # the node is down: keep trying, as a real client would


def test_kill_dash_nine_loses_no_acknowledged_commit(tmp_path: Path) -> None:
    root = tmp_path / "net"
    port = free_port()
    home = init_home(root, CHAIN, [("st-marys", "hospital", "St Mary's")], port=port)
    home.write_settings(NodeSettings(org="st-marys", port=port, block_interval_ms=20))
    url = f"http://127.0.0.1:{port}"
    signer = Signer(load_keypair(home.key_path("st-marys")), CHAIN)
    loader = Loader(url, signer)
    rng = random.Random(20261124)
    process = start_node(root)
    wait_until_up(url, process)
    loader.start()
    try:
        for _ in range(4):
            time.sleep(rng.uniform(0.5, 2.0))
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            process = start_node(root)
            wait_until_up(url, process)
        time.sleep(1.0)
    finally:
        loader.stopping.set()
        loader.join(timeout=30)
        process.terminate()
        process.wait(timeout=30)
    assert len(loader.acknowledged) > 100
    # verify_store raises Tampered on any broken link, signature or root, and replays
    # every block: what it reports is the chain that survived the kills.
    report = verify_store(home.db_path)
    store = Store(home.db_path, readonly=True)
    try:
        heights = {tx_id: _height_of(store, tx_id) for tx_id in loader.acknowledged}
        last_height = store.last_height()
    finally:
        store.close()
    missing = [tx_id for tx_id, height in heights.items() if height is None]
    assert missing == []
    # The replay covered the whole chain, so every acknowledged commit was re-applied.
    assert report.height == last_height >= max(h for h in heights.values() if h is not None)
    assert report.transactions >= len(loader.acknowledged)


def _height_of(store: Store, tx_id: str) -> int | None:
    """The height of a committed transaction, None if the store does not hold it."""
    try:
        return store.tx(tx_id).height
    except NotFound:
        return None
