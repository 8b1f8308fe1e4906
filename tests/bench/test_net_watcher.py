"""`bench net`'s commit watcher against a real CometBFT node (its built-in kvstore app).

The race it had: the watcher read its starting height on its own thread, after the
clients might already have committed, so it never saw those blocks and their clients
waited out the 120 s timeout. A watcher started after commits, from a height read
before them, must still see them.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator

import httpx
import pytest

from cometbft_tools import install_cometbft
from healthledger.bench.net import CommitWatcher, _await_heights, _tx_hash, drive, latest_height
from healthledger.node.cometbft import set_toml_value
from healthledger.node.process import free_port


@pytest.fixture(scope="module")
def kvstore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One CometBFT validator running kvstore, blocks only when there are transactions."""
    binary = install_cometbft()
    home = tmp_path_factory.mktemp("kvstore")
    subprocess.run([str(binary), "init", "--home", str(home)], check=True, capture_output=True)
    rpc = f"127.0.0.1:{free_port()}"
    config = home / "config" / "config.toml"
    text = config.read_text()
    for section, key, value in [
        ("", "proxy_app", '"kvstore"'),
        ("rpc", "laddr", f'"tcp://{rpc}"'),
        ("p2p", "laddr", f'"tcp://127.0.0.1:{free_port()}"'),
        ("consensus", "timeout_commit", '"100ms"'),
        ("consensus", "create_empty_blocks", "false"),
    ]:
        text = set_toml_value(text, section, key, value)
    config.write_text(text)
    with (home / "node.log").open("wb") as log:
        process = subprocess.Popen(
            [str(binary), "node", "--home", str(home)], stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://{rpc}"
    try:
        _await_heights([url])
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def commit(url: str, txs: list[bytes]) -> list[str]:
    """broadcast_tx_commit each: returns once each is in a committed block."""
    with httpx.Client(base_url=url, timeout=30) as http:
        for tx in txs:
            answer = http.get("/broadcast_tx_commit", params={"tx": "0x" + tx.hex()}).json()
            assert answer["result"]["tx_result"].get("code", 0) == 0, answer
    return [_tx_hash(tx) for tx in txs]


def watch(url: str, from_height: int) -> tuple[CommitWatcher, threading.Thread]:
    watcher = CommitWatcher(url, from_height)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    return watcher, thread


def test_a_watcher_started_after_commits_still_sees_them(kvstore: str) -> None:
    before = latest_height(kvstore)  # what `drive` captures before any client broadcasts
    hashes = commit(kvstore, [f"early-{i}=v".encode() for i in range(3)])
    assert latest_height(kvstore) > before  # the commits happened before the watcher ran

    watcher, thread = watch(kvstore, before)
    try:
        seen = watcher.wait(hashes, timeout=10)
    finally:
        watcher.stop.set()
        thread.join()
    assert set(seen) == set(hashes)


def test_a_watcher_starting_at_its_own_first_look_misses_them(kvstore: str) -> None:
    """The old behaviour, for contrast: the same commits, watched from the height after them."""
    hashes = commit(kvstore, [f"late-{i}=v".encode() for i in range(3)])
    watcher, thread = watch(kvstore, latest_height(kvstore))
    try:
        assert watcher.wait(hashes, timeout=1.0) == {}
    finally:
        watcher.stop.set()
        thread.join()


def test_drive_counts_every_transaction_committed(kvstore: str) -> None:
    work = [[f"drive-{c}-{i}=v".encode() for i in range(20)] for c in range(4)]
    result = drive([kvstore], work, batch=5, clients=4)
    assert result.committed == 80 and result.refused == 0
    assert len(result.latencies_ms) == 80
    assert max(result.latencies_ms) < 30_000  # none waited out COMMIT_TIMEOUT_S
