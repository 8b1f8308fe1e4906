"""No command leaves its signature-check workers behind, however the node process ends.

The node runs as a real process in its own session, so every process it starts
(and every orphan left after it dies) keeps its process group; /proc tells us
which of them are still alive.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import process_group, wait_for
from healthledger.client.sdk import Signer
from healthledger.crypto.keys import KeyPair
from healthledger.engines.checker import MIN_PARALLEL_BATCH
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.process import free_port, node_command, wait_until_up

CHAIN = "workers-test"


@pytest.fixture
def node_group(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`healthledger node run` in its own session, with two check workers; its output discarded."""
    port = free_port()
    home = init_home(tmp_path / "net", CHAIN, [("st-marys", "hospital", "St Mary's")], port=port)
    home.write_settings(NodeSettings(org="st-marys", port=port, check_workers=2))
    process = subprocess.Popen(
        node_command(home.root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
        yield process, url
    finally:
        # Whatever the test did, nothing of this group may outlive it.
        for pid in process_group(process.pid):
            os.kill(pid, signal.SIGKILL)
        process.wait(timeout=30)


def start_workers(url: str) -> None:
    """A batch large enough to go to the worker pool (the signatures are what matters)."""
    txs = [
        Signer(KeyPair.generate(), CHAIN).sign("member.revoke", {"member_id": "nobody"})
        for _ in range(MIN_PARALLEL_BATCH * 2)
    ]
    response = httpx.post(
        f"{url}/v1/txs/batch?wait=false", json={"txs": [tx.to_dict() for tx in txs]}, timeout=60
    )
    assert response.status_code < 500, response.text


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGHUP])
def test_workers_die_with_a_node_that_is_killed(
    node_group: tuple[subprocess.Popen[bytes], str], signum: signal.Signals
) -> None:
    process, url = node_group
    start_workers(url)
    workers = [pid for pid in process_group(process.pid) if pid != process.pid]
    assert len(workers) >= 2  # the two check workers (and the pool's resource tracker)
    os.kill(process.pid, signum)  # no shutdown code runs in the node
    process.wait(timeout=30)
    wait_for(lambda: process_group(process.pid) == [], timeout=15)


def test_workers_stop_with_a_node_that_is_stopped(
    node_group: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, url = node_group
    start_workers(url)
    assert len(process_group(process.pid)) >= 3
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole group hears it
    assert process.wait(timeout=30) == 0
    # The pool's resource tracker leaves on its own once the node's end of its pipe closes.
    wait_for(lambda: process_group(process.pid) == [], timeout=5)
