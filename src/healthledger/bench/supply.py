"""`healthledger bench supply`: commissioning, custody events, verification and EPCIS
import at scale."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from healthledger.app.reader import SnapshotReader
from healthledger.bench.harness import Figures, Report, drive, percentile
from healthledger.bench.supply_epcis import GLNS, run_epcis_import
from healthledger.client.sdk import Signer
from healthledger.crypto.keys import load_keypair
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.domains.supply.messages import MAX_COMMISSION
from healthledger.domains.supply.queries import verify_package
from healthledger.engines.solo import SoloEngine
from healthledger.errors import MalformedInput
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.node import Node

CHAIN = "healthledger-bench-supply"
ORGS = [
    ("maker", "manufacturer", "Bench Maker"),
    ("dist", "distributor", "Bench Distributor"),
]
GTIN = "0031234500001" + str(gtin_check_digit("0031234500001"))
LOT, EXPIRY = "BENCH1", "2030-12-31"


def run_supply(
    serials: int,
    events: int,
    verifies: int,
    report: Report | None,
    epcis_events: int = 100_000,
) -> Figures:
    with tempfile.TemporaryDirectory(prefix="healthledger-bench-supply-") as tmp:
        root = Path(tmp) / "net"
        home = init_home(root, CHAIN, ORGS, glns=GLNS)
        maker = Signer(load_keypair(home.key_path("maker")), CHAIN)
        dist = Signer(load_keypair(home.key_path("dist")), CHAIN)
        node = Node(root, NodeSettings(org="maker", check_workers=2))
        node.start()
        engine = node.engine
        if not isinstance(engine, SoloEngine):
            raise MalformedInput("the supply benchmark runs on the solo engine")
        try:
            # 10 commissioning transactions (20,000 serials) make a block: blocks of a
            # size a real network would cut, not one giant write.
            engine.config = replace(engine.config, max_block_txs=10)
            commissioned_per_s = _commission(node, maker, serials, report)
            engine.config = replace(engine.config, max_block_txs=5000)
            events_per_s = _custody_events(node, maker, dist, min(events, serials), report)
            latencies = _verify_latencies(node, serials, verifies, report)
            imported = run_epcis_import(node, maker, epcis_events, report)
        finally:
            node.stop()
    return {
        "commissioned_per_s": round(commissioned_per_s, 1),
        "events_per_s": round(events_per_s, 1),
        "verify_p50_ms": round(statistics.median(latencies), 3),
        "verify_p99_ms": round(percentile(latencies, 0.99), 3),
        "serials": serials,
        "events": min(events, serials),
        "verifies": verifies,
        **imported,
    }


def _commission(node: Node, maker: Signer, serials: int, report: Report | None) -> float:
    """Bulk commissioning: transactions of 2,000 serials, 10 to a block."""
    raws = [
        maker.sign(
            "supply.commission",
            {
                "gtin": GTIN,
                "lot": LOT,
                "expiry": EXPIRY,
                "serials": [str(n) for n in range(start, min(serials, start + MAX_COMMISSION))],
            },
        ).raw
        for start in range(0, serials, MAX_COMMISSION)
    ]
    started = time.perf_counter()
    recorder = drive(node, raws, None, report, "commissioning (txs of 2,000)", chunk=20)
    return serials / (max(recorder.committed.values()) - started)


def _custody_events(
    node: Node, maker: Signer, dist: Signer, count: int, report: Report | None
) -> float:
    """One package per transaction: ship from maker, then receive at the distributor."""
    ships = [
        maker.sign("supply.ship", {"items": [f"{GTIN}:{n}"], "to": "dist"}).raw
        for n in range(count // 2)
    ]
    receives = [
        dist.sign("supply.receive", {"items": [f"{GTIN}:{n}"]}).raw for n in range(count // 2)
    ]
    started = time.perf_counter()
    first = drive(node, ships, None, report, "custody events: ship")
    second = drive(node, receives, None, report, "custody events: receive")
    elapsed = max(second.committed.values()) - started
    if first.failed or second.failed:
        raise RuntimeError("custody benchmark transactions failed")
    return (len(ships) + len(receives)) / elapsed


def _verify_latencies(node: Node, serials: int, count: int, report: Report | None) -> list[float]:
    """`verify` with its two state proofs, as GET /v1/supply/verify computes it."""
    rng = random.Random(1)
    latencies = []
    for index in range(count):
        serial = str(rng.randrange(serials))
        started = time.perf_counter()
        with node.store.snapshot():
            view = verify_package(SnapshotReader(node.store), GTIN, serial, LOT, EXPIRY)
        latencies.append((time.perf_counter() - started) * 1000)
        if view.verdict not in ("verified", "suspect"):
            raise RuntimeError(f"unexpected verdict {view.verdict}")
        if report is not None and index % 100 == 0:
            report("verify with proofs", index + 1, count)
    return latencies
