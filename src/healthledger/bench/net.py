"""`healthledger bench net`: the network's committed throughput against CometBFT's kvstore.

Both runs use the same machine, the same 4-validator topology and config
(node/cometbft.py's PRIVATE_NETWORK_CONFIG), the same transaction sizes and the
same closed-loop driver: per node, `clients` threads each broadcast a batch to
that node's CometBFT RPC (broadcast_tx_sync: CheckTx), then wait until a watcher
polling node 0 sees every transaction of the batch in a committed block. Commit
latency is broadcast to seen-committed; throughput is transactions over the time
from the first broadcast to the last commit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from healthledger.bench.harness import Figures, percentile
from healthledger.client.sdk import Signer, registration_payload
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.node.cometbft import cometbft_binary, set_toml_value
from healthledger.node.network import Network, create_network
from healthledger.node.process import await_nodes, start_supervisor, stop_network

BENCH_CHAIN = "healthledger-bench"
COMMIT_TIMEOUT_S = 120.0
WATCH_INTERVAL_S = 0.01


@dataclass
class LoadResult:
    committed: int
    refused: int
    seconds: float
    latencies_ms: list[float]

    @property
    def tx_per_s(self) -> float:
        return self.committed / self.seconds if self.seconds else 0.0


@dataclass
class CommitWatcher:
    """Polls one node's blocks after `from_height`; records when each tx hash is first seen.

    `from_height` is read by whoever starts the load, before any client broadcasts:
    read on the watcher's own thread, it could already include blocks holding the
    first batches, whose clients would then wait out COMMIT_TIMEOUT_S (see `drive`).
    """

    rpc_url: str
    from_height: int
    seen: dict[str, float] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.rpc_url, timeout=30) as http:
            height = self.from_height
            while not self.stop.is_set():
                latest = _height(http)
                for next_height in range(height + 1, latest + 1):
                    self._record(http, next_height)
                height = latest
                time.sleep(WATCH_INTERVAL_S)

    def _record(self, http: httpx.Client, height: int) -> None:
        block = http.get("/block", params={"height": height}).json()["result"]["block"]
        now = time.monotonic()
        hashes = [_tx_hash(base64.b64decode(tx)) for tx in block["data"]["txs"] or []]
        with self.changed:
            for tx_hash in hashes:
                self.seen.setdefault(tx_hash, now)
            self.changed.notify_all()

    def wait(self, hashes: Sequence[str], timeout: float) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not all(h in self.seen for h in hashes):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.changed.wait(remaining)
            return {h: self.seen[h] for h in hashes if h in self.seen}


def latest_height(rpc_url: str) -> int:
    """The height of the last block a CometBFT node has committed."""
    with httpx.Client(base_url=rpc_url, timeout=30) as http:
        return _height(http)


def _height(http: httpx.Client) -> int:
    return int(http.get("/status").json()["result"]["sync_info"]["latest_block_height"])


def _tx_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def drive(
    rpc_urls: Sequence[str], work: Sequence[Sequence[bytes]], batch: int, clients: int
) -> LoadResult:
    """Closed loop: each node's clients broadcast a batch and wait for it to commit."""
    # The watcher's starting height is read here, before any client broadcasts. Read on
    # the watcher's thread it raced the clients: when their first batches committed
    # before the thread's first /status, it started past those blocks, never saw them,
    # and their clients waited out COMMIT_TIMEOUT_S (65 tx/s reported instead of ~760).
    watcher = CommitWatcher(rpc_urls[0], latest_height(rpc_urls[0]))
    watching = threading.Thread(target=watcher.run, daemon=True)
    watching.start()
    latencies: list[float] = []
    counts = {"committed": 0, "refused": 0}
    lock = threading.Lock()
    started = time.monotonic()

    def client(url: str, txs: Sequence[bytes]) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for start in range(0, len(txs), batch):
                chunk = txs[start : start + batch]
                sent = time.monotonic()
                accepted = _broadcast(http, chunk)
                seen = watcher.wait(accepted, COMMIT_TIMEOUT_S)
                with lock:
                    latencies.extend((at - sent) * 1000 for at in seen.values())
                    counts["committed"] += len(seen)
                    counts["refused"] += len(chunk) - len(accepted)

    threads = [
        threading.Thread(target=client, args=(rpc_urls[i % len(rpc_urls)], txs))
        for i, txs in enumerate(work)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finished = max(watcher.seen.values(), default=started)
    watcher.stop.set()
    watching.join()
    return LoadResult(counts["committed"], counts["refused"], finished - started, latencies)


def _broadcast(http: httpx.Client, txs: Sequence[bytes]) -> list[str]:
    """One JSON-RPC batch of broadcast_tx_sync; the hashes CheckTx accepted."""
    calls = [
        {
            "jsonrpc": "2.0",
            "id": i,
            "method": "broadcast_tx_sync",
            "params": {"tx": base64.b64encode(tx).decode()},
        }
        for i, tx in enumerate(txs)
    ]
    answers = http.post("/", json=calls).json()
    answers = answers if isinstance(answers, list) else [answers]
    by_id = {answer["id"]: answer for answer in answers}
    return [
        _tx_hash(tx)
        for i, tx in enumerate(txs)
        if "result" in by_id[i] and by_id[i]["result"].get("code", 0) == 0
    ]


def split(txs: Sequence[bytes], parts: int) -> list[list[bytes]]:
    return [list(txs[i::parts]) for i in range(parts)]


def healthledger_work(network: Network, txs: int, clients_per_node: int) -> list[list[bytes]]:
    """Patient registrations, each signed by a fresh patient key (no shared nonce sequence)."""
    per_client = txs // (len(network.nodes) * clients_per_node)
    voucher = load_keypair(network.keys_dir / f"{network.nodes[0].org}.json")
    return [
        [_registration(network.chain_id, voucher) for _ in range(per_client)]
        for _ in range(len(network.nodes) * clients_per_node)
    ]


def _registration(chain_id: str, voucher: KeyPair) -> bytes:
    """A fresh patient key registers, vouched for by the first founder (a hospital)."""
    keys = KeyPair.generate()
    payload = registration_payload(keys, chain_id, voucher)
    return Signer(keys, chain_id).sign("patient.register", payload).raw


def kvstore_work(sized_like: list[list[bytes]]) -> list[list[bytes]]:
    """kvstore's `key=value` transactions, each the length of its healthledger twin."""
    work = []
    for c, txs in enumerate(sized_like):
        chunk = []
        for i, tx in enumerate(txs):
            key = f"k{c}-{i}=".encode()
            chunk.append(key + b"v" * max(1, len(tx) - len(key)))
        work.append(chunk)
    return work


def run_healthledger(
    root: Path, validators: int, txs: int, batch: int, clients: int
) -> tuple[LoadResult, Network, list[list[bytes]]]:
    network = create_network(root, cometbft_binary(), validators, chain_id=BENCH_CHAIN)
    start_supervisor(root)
    try:
        await_nodes(network, 120.0)
        work = healthledger_work(network, txs, clients)
        result = drive([node.rpc_url for node in network.nodes], work, batch, clients)
    finally:
        stop_network(network)
    return result, network, work


def run_kvstore(
    network: Network, root: Path, work: list[list[bytes]], batch: int, clients: int
) -> LoadResult:
    """The same CometBFT homes (keys, config, ports), fresh chains, the built-in kvstore app."""
    binary = cometbft_binary()
    processes = []
    try:
        for node in network.nodes:
            home = root / node.org
            shutil.copytree(network.home(node.org).cometbft_dir / "config", home / "config")
            (home / "data").mkdir()
            (home / "data" / "priv_validator_state.json").write_text(
                json.dumps({"height": "0", "round": 0, "step": 0})
            )
            config = home / "config" / "config.toml"
            config.write_text(set_toml_value(config.read_text(), "", "proxy_app", '"kvstore"'))
            log = (root / f"{node.org}.log").open("ab")
            processes.append(
                subprocess.Popen(
                    [str(binary), "node", "--home", str(home)], stdout=log, stderr=subprocess.STDOUT
                )
            )
        _await_heights([node.rpc_url for node in network.nodes])
        return drive([node.rpc_url for node in network.nodes], kvstore_work(work), batch, clients)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _await_heights(urls: Sequence[str], timeout: float = 60.0) -> None:
    """Until every node has made its first block; a node still starting does not answer."""
    deadline = time.monotonic() + timeout
    for url in urls:
        while _height_or_zero(url) < 1:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} made no block in {timeout:.0f} s")
            time.sleep(0.2)


def _height_or_zero(url: str) -> int:
    try:
        with httpx.Client(base_url=url, timeout=2) as http:
            return _height(http)
    except (httpx.HTTPError, KeyError, ValueError):
        return 0  # not up yet


def run_net_bench(validators: int, txs: int, batch: int, clients: int) -> Figures:
    with tempfile.TemporaryDirectory(prefix="hl-bench-net-") as tmp:
        ours, network, work = run_healthledger(Path(tmp) / "net", validators, txs, batch, clients)
        kv = run_kvstore(network, Path(tmp) / "kvstore", work, batch, clients)
    tx_bytes = [len(tx) for txs_ in work for tx in txs_]
    return {
        "validators": validators,
        "txs": sum(len(w) for w in work),
        "tx_bytes_mean": round(sum(tx_bytes) / len(tx_bytes)),
        "batch": batch,
        "clients_per_node": clients,
        "tx_per_s": round(ours.tx_per_s, 1),
        "p50_commit_ms": round(percentile(ours.latencies_ms, 0.50), 1),
        "p99_commit_ms": round(percentile(ours.latencies_ms, 0.99), 1),
        "refused": ours.refused,
        "kvstore_tx_per_s": round(kv.tx_per_s, 1),
        "kvstore_p50_commit_ms": round(percentile(kv.latencies_ms, 0.50), 1),
        "kvstore_p99_commit_ms": round(percentile(kv.latencies_ms, 0.99), 1),
        "ratio": round(ours.tx_per_s / kv.tx_per_s, 3) if kv.tx_per_s else None,
    }
