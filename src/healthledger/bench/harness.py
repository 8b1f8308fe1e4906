"""`healthledger bench`: measured throughput and latency of the ledger pipeline.

`ingest` signs N transactions from N distinct senders up front, then drives
check → order → apply → commit through a node's engine: first as fast as it
will go (throughput), then paced at half that rate (commit latency).
`api` does the same through the REST API of a node running in its own process.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from healthledger.cli.output import Report, emit, phase_bars
from healthledger.client.sdk import registration_payload
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.domains.governance.messages import Limits
from healthledger.engines.checker import worker_pool
from healthledger.ledger.block import TxResult
from healthledger.ledger.transaction import Transaction, sign_transaction
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.node import Node

BENCH_CHAIN = "healthledger-bench"
BENCH_ORGS = [("bench-hospital", "hospital", "Bench Hospital"), ("bench-lab", "laboratory", "Lab")]


# The bench hospital vouches for every registration; the cap per block is lifted so that
# blocks are as full as the engine makes them.
BENCH_LIMITS = Limits(registrations_per_block=100_000)


def _sign_registrations(job: tuple[list[bytes], dict[str, str]]) -> list[bytes]:
    """Worker: one vouched `patient.register` per fresh patient key (N senders)."""
    seeds, voucher_file = job
    voucher = KeyPair.from_dict(voucher_file)
    raws = []
    for seed in seeds:
        keys = KeyPair.from_seed(seed)
        payload = registration_payload(keys, BENCH_CHAIN, voucher)
        raws.append(sign_transaction(keys, BENCH_CHAIN, "patient.register", 1, payload).raw)
    return raws


def presign(count: int, voucher: KeyPair, offset: int = 0) -> list[bytes]:
    """Sign `count` registrations in parallel, deterministically from their index."""
    seeds = [(offset + i).to_bytes(32, "big") for i in range(count)]
    chunk = max(1, -(-count // 8))
    jobs = [(seeds[i : i + chunk], voucher.to_dict()) for i in range(0, count, chunk)]
    with worker_pool() as pool:
        return [raw for part in pool.map(_sign_registrations, jobs) for raw in part]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class LatencyRecorder:
    """Submit and commit times per transaction id."""

    def __init__(self) -> None:
        self.submitted: dict[str, float] = {}
        self.committed: dict[str, float] = {}
        self.failed = 0
        self._lock = threading.Lock()
        self.all_done = threading.Event()
        self.expected = 0

    def on_commit(self, tx_id: str, _height: int, result: TxResult) -> None:
        with self._lock:
            self.committed[tx_id] = time.perf_counter()
            self.failed += 0 if result.ok else 1
            if len(self.committed) >= self.expected:
                self.all_done.set()

    def latencies_ms(self) -> list[float]:
        return [(self.committed[i] - self.submitted[i]) * 1000 for i in self.committed]


def drive(
    node: Node,
    raws: list[bytes],
    rate: float | None,
    report: Report | None = None,
    phase: str = "",
    chunk: int = 500,
) -> LatencyRecorder:
    """Feed raw transactions to the engine in chunks, optionally paced to `rate` tx/s."""
    from healthledger.engines.base import Accepted

    recorder = LatencyRecorder()
    recorder.expected = len(raws)
    start = time.perf_counter()
    for index in range(0, len(raws), chunk):
        part = raws[index : index + chunk]
        if rate:
            due = start + index / rate
            time.sleep(max(0.0, due - time.perf_counter()))
        now = time.perf_counter()
        for outcome in node.engine.submit(part):
            if not isinstance(outcome, Accepted):
                raise RuntimeError(f"benchmark transaction refused: {outcome}")
            recorder.submitted[outcome.tx_id] = now
            node.engine.wait_for(outcome.tx_id, recorder.on_commit)
        if report is not None:
            report(phase, min(len(raws), index + chunk), len(raws))
    _wait_until_committed(node, recorder)
    return recorder


def _wait_until_committed(node: Node, recorder: LatencyRecorder, stall_s: float = 120) -> None:
    """Wait as long as commits keep coming; fail if the node stops or stalls."""
    seen, last_progress = -1, time.monotonic()
    while not recorder.all_done.wait(timeout=1.0):
        if node.engine.failure is not None:
            raise RuntimeError(f"the node stopped: {node.engine.failure}")
        if len(recorder.committed) != seen:
            seen, last_progress = len(recorder.committed), time.monotonic()
        elif time.monotonic() - last_progress > stall_s:
            raise RuntimeError(f"no commit for {stall_s:.0f} s: benchmark stalled")


def run_ingest(
    txs: int, workers: int, block_txs: int, interval_ms: int, report: Report | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="healthledger-bench-") as tmp:
        root = Path(tmp) / "net"
        home = init_home(root, BENCH_CHAIN, BENCH_ORGS, limits=BENCH_LIMITS)
        settings = NodeSettings(
            org="bench-hospital",
            block_interval_ms=interval_ms,
            max_block_txs=block_txs,
            check_workers=workers,
        )
        if report is not None:
            report("signing", 0, txs + txs // 2)
        raws = presign(txs + txs // 2, load_keypair(home.key_path("bench-hospital")))
        if report is not None:
            report("signing", txs + txs // 2, txs + txs // 2)
        node = Node(root, settings)
        node.start(parallel_check=workers > 1)
        try:
            t0 = time.perf_counter()
            full = drive(node, raws[:txs], None, report, "throughput run")
            elapsed = max(full.committed.values()) - t0
            tx_per_s = txs / elapsed
            stats = node.app.stats
            blocks, root_s, finalize_s, commit_s = (
                stats.blocks,
                stats.state_root_s,
                stats.finalize_s,
                stats.commit_s,
            )
            paced = drive(node, raws[txs:], tx_per_s / 2, report, "latency run at half rate")
            latencies = paced.latencies_ms()
            return {
                "tx_per_s": round(tx_per_s, 1),
                "p50_commit_ms": round(statistics.median(latencies), 1),
                "p99_commit_ms": round(percentile(latencies, 0.99), 1),
                "latency_rate_tx_per_s": round(tx_per_s / 2, 1),
                "state_root_ms_per_block": round(root_s * 1000 / blocks, 2),
                "block_ms": round((finalize_s + commit_s) * 1000 / blocks, 2),
                "state_root_share": round(root_s / (finalize_s + commit_s), 3),
                "blocks": blocks,
                "transactions": txs,
                "failed": full.failed + paced.failed,
                "check_workers": workers,
            }
        finally:
            node.stop()


def register(app: typer.Typer) -> None:
    bench_app = typer.Typer(
        help="Benchmarks (figures go in docs/benchmarks.md).", no_args_is_help=True
    )
    app.add_typer(bench_app, name="bench")

    @bench_app.command("ingest")
    def ingest(
        txs: Annotated[int, typer.Option(help="Transactions in the throughput run.")] = 20_000,
        workers: Annotated[int, typer.Option(help="Signature-check processes.")] = 2,
        block_txs: Annotated[int, typer.Option(help="max_block_txs.")] = 5000,
        interval_ms: Annotated[int, typer.Option(help="block_interval_ms.")] = 200,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """check → order → apply → commit, end to end, in one process."""
        with phase_bars(not as_json) as report:
            result = run_ingest(txs, workers, block_txs, interval_ms, report)
        emit(result, as_json)

    @bench_app.command("trie")
    def trie(
        keys: Annotated[int, typer.Option(help="Keys already in the state.")] = 1_000_000,
        batch: Annotated[int, typer.Option(help="Keys written per block.")] = 15_000,
        rounds: Annotated[int, typer.Option(help="Blocks to time.")] = 5,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """State-root cost per block on a large state (trie alone, nodes in memory)."""
        emit(run_trie(keys, batch, rounds), as_json)

    from healthledger.cli.bench_api import register_api
    from healthledger.cli.bench_net import register_net
    from healthledger.cli.bench_records import register_records
    from healthledger.cli.bench_supply import register_supply

    register_supply(bench_app)
    register_records(bench_app)
    register_api(bench_app)
    register_net(bench_app)


__all__ = ["Transaction", "register"]


class _MemoryNodes:
    """Trie nodes held in a dict: isolates the trie's own cost from SQLite."""

    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}

    def get(self, path: bytes) -> bytes | None:
        return self.nodes.get(path)

    def persist(self, writes: dict[bytes, bytes | None]) -> None:
        for path, node in writes.items():
            if node is None:
                self.nodes.pop(path, None)
            else:
                self.nodes[path] = node


def run_trie(keys: int, batch: int, rounds: int) -> dict[str, Any]:
    """State-root cost per written key on a trie already holding `keys` keys."""
    import hashlib

    from healthledger.ledger.trie import StateTrie

    def h(prefix: bytes, n: int) -> bytes:
        return hashlib.sha256(prefix + n.to_bytes(8, "big")).digest()

    nodes = _MemoryNodes()
    trie = StateTrie(nodes)
    for start in range(0, keys, 50_000):
        end = min(keys, start + 50_000)
        nodes.persist(trie.update({h(b"k", n): h(b"v", n) for n in range(start, end)}))
    timings = []
    for round_index in range(rounds):
        # Half updates of existing keys, half new keys, as a block of registrations would.
        writes = {
            h(b"k", (round_index * batch + i) * 7919 % keys): h(b"u", i) for i in range(batch // 2)
        }
        writes.update({h(b"new", round_index * batch + i): h(b"v", i) for i in range(batch // 2)})
        started = time.perf_counter()
        nodes.persist(trie.update(writes))
        timings.append(time.perf_counter() - started)
    per_batch = statistics.median(timings)
    return {
        "state_keys": keys,
        "keys_per_block": batch,
        "state_root_ms_per_block": round(per_batch * 1000, 1),
        "us_per_key": round(per_batch * 1e6 / batch, 2),
    }
