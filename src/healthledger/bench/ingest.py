"""`healthledger bench ingest`: check → order → apply → commit, end to end, in one process.

Signs N transactions from N distinct senders up front, then drives them through a
node's engine: first as fast as it will go (throughput), then paced at half that
rate (commit latency).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from healthledger.bench.harness import (
    BENCH_CHAIN,
    BENCH_LIMITS,
    BENCH_ORGS,
    Figures,
    Report,
    drive,
    percentile,
    presign,
)
from healthledger.crypto.keys import load_keypair
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.node import Node


def run_ingest(
    txs: int, workers: int, block_txs: int, interval_ms: int, report: Report | None = None
) -> Figures:
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
