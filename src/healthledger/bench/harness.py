"""What every benchmark shares: the bench chain, presigned load, driving an engine, timing.

`drive` feeds raw transactions to a node's engine and records, per transaction, when it
was submitted and when its commit future resolved; `percentile` and `Figures` shape the
results that `healthledger bench ...` prints as text or JSON.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from healthledger.client.sdk import registration_payload
from healthledger.crypto.keys import KeyPair
from healthledger.domains.governance.messages import Limits
from healthledger.engines.base import Accepted, Committed
from healthledger.engines.checker import worker_pool
from healthledger.ledger.transaction import sign_transaction
from healthledger.node.node import Node

BENCH_CHAIN = "healthledger-bench"
BENCH_ORGS = [("bench-hospital", "hospital", "Bench Hospital"), ("bench-lab", "laboratory", "Lab")]
# The bench hospital vouches for every registration; the cap per block is lifted so that
# blocks are as full as the engine makes them.
BENCH_LIMITS = Limits(registrations_per_block=100_000)
STALL_S = 120.0

Report = Callable[[str, int, int], None]  # (phase, done, total): progress of a long phase
Figures = dict[str, float | int | None]  # one benchmark's results, in the order printed


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

    def __init__(self, expected: int) -> None:
        self.submitted: dict[str, float] = {}
        self.committed: dict[str, float] = {}
        self.failed = 0
        self.expected = expected
        self._lock = threading.Lock()
        self.all_done = threading.Event()

    def track(self, accepted: Accepted, submitted_at: float) -> None:
        """Time `accepted` from `submitted_at` until its commit future resolves."""
        self.submitted[accepted.tx_id] = submitted_at
        accepted.committed.add_done_callback(lambda future: self._on_commit(accepted.tx_id, future))

    def _on_commit(self, tx_id: str, future: Future[Committed]) -> None:
        committed_at = time.perf_counter()
        ok = future.result().result.ok
        with self._lock:
            self.committed[tx_id] = committed_at
            self.failed += 0 if ok else 1
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
    recorder = LatencyRecorder(len(raws))
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
            recorder.track(outcome, now)
        if report is not None:
            report(phase, min(len(raws), index + chunk), len(raws))
    wait_until_committed(node, recorder)
    return recorder


def wait_until_committed(node: Node, recorder: LatencyRecorder, stall_s: float = STALL_S) -> None:
    """Wait as long as commits keep coming; fail if the node stops or stalls."""
    seen, last_progress = -1, time.monotonic()
    while not recorder.all_done.wait(timeout=1.0):
        if node.engine.failure is not None:
            raise RuntimeError(f"the node stopped: {node.engine.failure}")
        if len(recorder.committed) != seen:
            seen, last_progress = len(recorder.committed), time.monotonic()
        elif time.monotonic() - last_progress > stall_s:
            raise RuntimeError(f"no commit for {stall_s:.0f} s: benchmark stalled")
