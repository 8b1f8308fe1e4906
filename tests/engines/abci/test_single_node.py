"""A real CometBFT v0.38.25 validator commits our transactions through the ABCI server.

Two real processes per run: `python -m healthledger.engines.abci` over a node folder
and `cometbft node` pointed at its Unix socket. Both are killed with SIGKILL and
restarted to show that Info makes CometBFT resume where the ledger stands.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from cometbft_tools import enrol, install_cometbft
from healthledger.client.sdk import Signer
from healthledger.engines.abci.results import ABCI_CODES, CODESPACE
from healthledger.errors import ErrorCode
from healthledger.ledger.store import Store
from healthledger.ledger.transaction import Transaction
from healthledger.node.home import Home, init_home
from healthledger.node.process import free_port

CHAIN = "abci-single"
T = TypeVar("T")


@pytest.fixture(scope="session")
def cometbft() -> Path:
    """The pinned binary and protobuf classes, built by the project's own script."""
    return install_cometbft()


def poll(probe: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    """The first non-None answer of `probe` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = probe()
        if answer is not None:
            return answer
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Network:
    """One HealthLedger ABCI server and one CometBFT validator, with their folders."""

    root: Path
    home: Home
    cmt_home: Path
    socket: Path
    rpc_port: int = field(default_factory=free_port)
    p2p_port: int = field(default_factory=free_port)
    abci: subprocess.Popen[bytes] | None = None
    node: subprocess.Popen[bytes] | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}"

    def start(self, cometbft: Path) -> None:
        """ABCI server first (CometBFT only retries a missing socket every few seconds)."""
        self.socket.unlink(missing_ok=True)
        self.abci = self._spawn(
            "abci.log",
            [
                sys.executable,
                "-m",
                "healthledger.engines.abci",
                "--home",
                str(self.home.root),
                "--socket",
                f"unix://{self.socket}",
            ],
        )
        poll(lambda: (self._alive() and self.socket.exists()) or None, "the ABCI socket")
        self.node = self._spawn(
            "cometbft.log",
            [
                str(cometbft),
                "node",
                "--home",
                str(self.cmt_home),
                "--proxy_app",
                f"unix://{self.socket}",
                "--rpc.laddr",
                f"tcp://127.0.0.1:{self.rpc_port}",
                "--p2p.laddr",
                f"tcp://127.0.0.1:{self.p2p_port}",
            ],
        )
        poll(lambda: self._alive() and self._status(), "CometBFT's RPC")

    def _spawn(self, log_name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with (self.root / log_name).open("ab") as log:
            return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    def _alive(self) -> bool:
        for process in (self.abci, self.node):
            if process is not None and process.poll() is not None:
                raise AssertionError(
                    f"{process.args[0]} exited with {process.returncode}\n{self.logs()}"
                )
        return True

    def _status(self) -> dict[str, Any] | None:
        try:
            return self.rpc("status")
        except httpx.HTTPError:
            return None

    def kill(self) -> None:
        """SIGKILL both processes: no chance to flush, close or say goodbye."""
        for process in (self.node, self.abci):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)
        self.node = self.abci = None

    def stop(self) -> int | None:
        """Stop CometBFT, then the ABCI server by SIGTERM; the server's exit code."""
        code = None
        for process in (self.node, self.abci):
            if process is None:
                continue
            process.terminate()
            try:
                code = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
        self.node = self.abci = None
        return code

    def rpc(self, method: str, **params: Any) -> dict[str, Any]:
        """A CometBFT JSON-RPC call; raises RpcError on an error answer."""
        response = httpx.post(
            self.rpc_url,
            json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
            timeout=30,
        )
        body = response.json()
        if "error" in body:
            raise RpcError(body["error"])
        result: dict[str, Any] = body["result"]
        return result

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name} (tail)\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.root.glob("*.log"))
        )


class RpcError(Exception):
    """CometBFT answered with a JSON-RPC error."""


def init_cometbft(cometbft: Path, cmt_home: Path) -> None:
    """`cometbft init`, then our chain id, 200 ms between blocks and no empty blocks."""
    subprocess.run(
        [str(cometbft), "init", "--home", str(cmt_home)], check=True, capture_output=True
    )
    genesis_path = cmt_home / "config" / "genesis.json"
    genesis = json.loads(genesis_path.read_text())
    genesis["chain_id"] = CHAIN
    genesis_path.write_text(json.dumps(genesis, indent=2))
    config_path = cmt_home / "config" / "config.toml"
    config = config_path.read_text()
    for name, value in (("timeout_commit", '"200ms"'), ("create_empty_blocks", "false")):
        config, count = re.subn(rf"(?m)^{name} = .*$", f"{name} = {value}", config)
        assert count == 1, f"{name} not found in config.toml"
    config_path.write_text(config)


@pytest.fixture
def network(cometbft: Path, tmp_path: Path) -> Iterator[Network]:
    # A Unix socket path must stay under ~100 bytes; pytest's tmp_path can be longer.
    socket_dir = Path(tempfile.mkdtemp(prefix="hl-abci-", dir="/tmp"))
    home = init_home(
        tmp_path / "node",
        CHAIN,
        [("st-marys", "hospital", "St Mary's"), ("acme-insurance", "insurer", "Acme")],
    )
    init_cometbft(cometbft, tmp_path / "cometbft")
    net = Network(tmp_path, home, tmp_path / "cometbft", socket_dir / "app.sock")
    net.start(cometbft)
    yield net
    net.stop()
    shutil.rmtree(socket_dir, ignore_errors=True)


def commit_tx(net: Network, tx: Transaction) -> int:
    """broadcast_tx_commit; assert CheckTx and FinalizeBlock both said 0; the height."""
    result = net.rpc("broadcast_tx_commit", tx=base64.b64encode(tx.raw).decode())
    assert result["check_tx"].get("code", 0) == 0, result
    assert result["tx_result"].get("code", 0) == 0, result
    return int(result["height"])


@contextmanager
def ledger(net: Network) -> Iterator[Store]:
    """Our node's database, read-only, while the ABCI server may be writing it."""
    store = Store(net.home.db_path, readonly=True)
    try:
        yield store
    finally:
        store.close()


def state_root_at(net: Network, height: int) -> str:
    with ledger(net) as store:
        return store.header(height).state_root


def assert_app_hash_is_state_root(net: Network, height: int) -> None:
    """Block H+1's header carries the app hash after H: it must be our state root at H."""

    def next_header() -> dict[str, Any] | None:
        try:
            header: dict[str, Any] = net.rpc("block", height=str(height + 1))["block"]["header"]
        except RpcError:
            return None
        return header

    header = poll(next_header, f"block {height + 1}")
    assert header["app_hash"].lower() == state_root_at(net, height)


def latest_height(net: Network) -> int:
    return int(net.rpc("status")["sync_info"]["latest_block_height"])


def wait_until_synced(net: Network, at_least: int) -> int:
    """The height once CometBFT and our ledger (per Info) agree on it, at or above `at_least`."""

    def synced() -> int | None:
        latest = latest_height(net)
        app_height = int(net.rpc("abci_info")["response"]["last_block_height"])
        return latest if latest >= at_least and app_height == latest else None

    return poll(synced, f"CometBFT and the ledger to agree at height {at_least} or above")


def test_cometbft_commits_our_transactions_and_resumes_after_kill_9(
    network: Network, cometbft: Path
) -> None:
    signer = Signer.from_file(network.home.key_path("st-marys"), CHAIN)

    garbage = b"this is not a transaction"
    refused = network.rpc("broadcast_tx_sync", tx=base64.b64encode(garbage).decode())
    assert (refused["code"], refused["codespace"]) == (ABCI_CODES[ErrorCode.MALFORMED], CODESPACE)
    assert refused["log"], refused

    first = enrol(signer, "nurse-1")
    height = commit_tx(network, first)
    assert_app_hash_is_state_root(network, height)
    with ledger(network) as store:
        stored = store.tx(first.id)
        assert (stored.height, stored.result.ok) == (height, True)
        assert sum(store.header(h).tx_count for h in range(1, store.last_height() + 1)) == 1
    with pytest.raises(RpcError):
        network.rpc("tx", hash=base64.b64encode(hashlib.sha256(garbage).digest()).decode())

    before = latest_height(network)
    network.kill()
    network.start(cometbft)
    assert wait_until_synced(network, before) >= before
    second = enrol(signer, "nurse-2")
    second_height = commit_tx(network, second)
    assert second_height > height
    assert_app_hash_is_state_root(network, second_height)
    assert network.stop() == 0, network.logs()


def test_cometbft_replays_to_a_ledger_that_lost_blocks(network: Network, cometbft: Path) -> None:
    """Info reports an older height: CometBFT re-executes the missing blocks, same app hashes."""
    signer = Signer.from_file(network.home.key_path("acme-insurance"), CHAIN)
    first_height = commit_tx(network, enrol(signer, "clerk-1"))
    assert_app_hash_is_state_root(network, first_height)
    backup = network.root / "ledger-backup.sqlite"
    with (
        closing(sqlite3.connect(f"file:{network.home.db_path}?mode=ro", uri=True)) as live,
        closing(sqlite3.connect(backup)) as copy,
    ):
        live.backup(copy)
    second = enrol(signer, "clerk-2")
    second_height = commit_tx(network, second)
    assert_app_hash_is_state_root(network, second_height)
    root_before = state_root_at(network, second_height)
    before = latest_height(network)

    network.kill()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{network.home.db_path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, network.home.db_path)
    with ledger(network) as store:
        assert store.last_height() < second_height
    network.start(cometbft)

    assert wait_until_synced(network, before) >= before
    with ledger(network) as store:
        assert store.tx(second.id).height == second_height
    assert state_root_at(network, second_height) == root_before
    third_height = commit_tx(network, enrol(signer, "clerk-3"))
    assert_app_hash_is_state_root(network, third_height)
