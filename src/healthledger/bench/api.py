"""`healthledger bench api`: the ingest benchmark through the REST API of a node process."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer

from healthledger.cli.output import emit
from healthledger.client.sdk import node_is_up
from healthledger.crypto.keys import load_keypair
from healthledger.node.home import NodeSettings, init_home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"node exited with {process.returncode}")
        if node_is_up(url):
            return
        time.sleep(0.1)
    raise RuntimeError("node did not start")


def node_command(root: Path) -> list[str]:
    return [sys.executable, "-m", "healthledger", "node", "run", "--data", str(root)]


@contextmanager
def node_process(
    root: Path, url: str, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`healthledger node run` for `root` as a child process, answering at `url`, stopped after."""
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(log.open("wb")) if log is not None else subprocess.DEVNULL
        process = subprocess.Popen(node_command(root), stdout=out, stderr=out)
        try:
            wait_until_up(url, process)
            yield process
        finally:
            process.terminate()
            process.wait(timeout=60)


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


def run_api(txs: int, clients: int, batch: int) -> dict[str, Any]:
    from healthledger.cli.bench import BENCH_CHAIN, BENCH_LIMITS, BENCH_ORGS, percentile, presign

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


def register_api(bench_app: typer.Typer) -> None:
    @bench_app.command("api")
    def api(
        txs: Annotated[int, typer.Option(help="Transactions to submit.")] = 20_000,
        clients: Annotated[int, typer.Option(help="Concurrent HTTP clients.")] = 16,
        batch: Annotated[int, typer.Option(help="Transactions per request (1 = single).")] = 250,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Signed transactions through POST /v1/txs/batch?wait=true from concurrent clients."""
        emit(run_api(txs, clients, batch), as_json)
