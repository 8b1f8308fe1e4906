"""`healthledger bench api`: the ingest benchmark through the REST API of a node process.

Signed transactions go through POST /v1/txs/batch?wait=true from concurrent clients.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from healthledger.bench.harness import (
    BENCH_CHAIN,
    BENCH_LIMITS,
    BENCH_ORGS,
    Figures,
    percentile,
    presign,
)
from healthledger.crypto.keys import load_keypair
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.process import free_port, node_process


async def _client(
    http: httpx.AsyncClient, batches: asyncio.Queue[list[bytes]], latencies: list[float]
) -> None:
    while True:
        try:
            batch = batches.get_nowait()
        except asyncio.QueueEmpty:
            return
        body = b'{"txs":[' + b",".join(batch) + b"]}"
        started = time.perf_counter()
        response = await http.post(
            "/v1/txs/batch?wait=true&timeout_ms=60000",
            content=body,
            headers={"content-type": "application/json"},
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
        results = orjson.loads(response.content)["results"]
        bad = [r for r in results if r.get("status") != "committed"]
        if response.status_code != 200 or bad:
            raise RuntimeError(f"batch not committed: {response.status_code} {bad[:1]}")
        latencies.extend([elapsed_ms] * len(batch))


async def _drive(
    url: str, raws: list[bytes], clients: int, batch: int
) -> tuple[float, list[float]]:
    queue: asyncio.Queue[list[bytes]] = asyncio.Queue()
    for index in range(0, len(raws), batch):
        queue.put_nowait(raws[index : index + batch])
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(_client(http, queue, latencies) for _ in range(clients)))
        return time.perf_counter() - started, latencies


def run_api(txs: int, clients: int, batch: int) -> Figures:
    with tempfile.TemporaryDirectory(prefix="healthledger-bench-api-") as tmp:
        root = Path(tmp) / "net"
        port = free_port()
        home = init_home(root, BENCH_CHAIN, BENCH_ORGS, port=port, limits=BENCH_LIMITS)
        home.write_settings(NodeSettings(org="bench-hospital", port=port))
        voucher = load_keypair(home.key_path("bench-hospital"))
        raws = presign(txs, voucher, offset=10_000_000)
        url = f"http://127.0.0.1:{port}"
        with node_process(root, url):
            elapsed, latencies = asyncio.run(_drive(url, raws, clients, batch))
    return {
        "tx_per_s": round(txs / elapsed, 1),
        "p50_commit_ms": round(statistics.median(latencies), 1),
        "p99_commit_ms": round(percentile(latencies, 0.99), 1),
        "transactions": txs,
        "clients": clients,
        "batch": batch,
    }
