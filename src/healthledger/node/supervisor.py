"""Keeps every node of a local network running: its application first, then its CometBFT.

CometBFT exits when its ABCI connection drops, and a node must survive either
process dying, so the two run as a pair: if either exits, the other is stopped
and both start again (application first: CometBFT then handshakes through Info
and replays what the application lacks). A node that keeps failing (five exits
in two minutes: an application whose app hash disagrees with the network's, say)
is marked halted with the reason from its logs, and left down.

The supervisor reads network.json on every round, so a node added by `net join`
starts without a restart. It takes orders through files in each node's run/
folder: `held` (keep it down) and `halted` (failed; `net start` clears both).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from healthledger.node.cometbft import cometbft_binary
from healthledger.node.network import NetNode, Network, load_network

log = logging.getLogger(__name__)

ROUND_S = 0.25
RESTART_DELAY_S = 1.0
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
FAILURE_WINDOW_S = 120.0
FAILURES_TO_HALT = 5
SUPERVISOR_PID = "supervisor.pid"
# What CometBFT (v0.38) writes when THIS node's application disagrees with a block more
# than 2/3 of the validators prevoted or committed: at the handshake after a restart, in
# consensus ("+2/3 prevoted for an invalid block", "+2/3 committed an invalid block",
# each logged as CONSENSUS FAILURE), or while catching up by block sync ("Error in
# validation", after the commit's signatures were checked).
# Not "prevote step: consensus deems this block invalid": that names a *proposer* whose
# app hash is wrong; an honest node refuses that block and commits the next round's.
HANDSHAKE_MISMATCH = "AppHash does not match"
# A block more than 2/3 of the validators voted for, that this node finds invalid in
# any field its own execution decides (app hash, last results hash, ...): its fault.
QUORUM_BLOCK_REFUSED = ("+2/3 prevoted for an invalid block", "+2/3 committed an invalid block")
SYNCED_BLOCK_REFUSED = "Error in validation"
WRONG_HEADER = "wrong Block.Header."


def held_mark(run_dir: Path) -> Path:
    return run_dir / "held"


def halted_mark(run_dir: Path) -> Path:
    return run_dir / "halted"


@dataclass
class Pair:
    """One node's two processes and what the supervisor remembers about them."""

    node: NetNode
    home: Path
    app: subprocess.Popen[bytes] | None = None
    comet: subprocess.Popen[bytes] | None = None
    state: str = "down"
    started_at: float = 0.0
    not_before: float = 0.0
    failures: deque[float] = field(default_factory=deque)
    restarts: int = 0
    log_offset: int = 0

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"


class Supervisor:
    """Runs rounds over every node until told to stop, then stops them all."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.binary = cometbft_binary()
        self.pairs: dict[str, Pair] = {}
        self.stopping = False

    def run(self) -> None:
        (self.root / SUPERVISOR_PID).write_text(str(os.getpid()))
        signal.signal(signal.SIGTERM, self._stop_signal)
        signal.signal(signal.SIGINT, self._stop_signal)
        try:
            while not self.stopping:
                self.round()
                time.sleep(ROUND_S)
        finally:
            for pair in self.pairs.values():
                self._stop_pair(pair, "down")
            (self.root / SUPERVISOR_PID).unlink(missing_ok=True)

    def _stop_signal(self, _signum: int, _frame: object) -> None:
        self.stopping = True

    def round(self) -> None:
        network = load_network(self.root)
        for node in network.nodes:
            pair = self.pairs.get(node.org)
            if pair is None:
                pair = self.pairs[node.org] = Pair(node, network.node_dir(node.org))
                pair.run_dir.mkdir(parents=True, exist_ok=True)
            pair.node = node  # a changed command applies from the pair's next start
            self._tend(network, pair)
            self._write_status(pair)

    def _tend(self, network: Network, pair: Pair) -> None:
        if held_mark(pair.run_dir).exists() or halted_mark(pair.run_dir).exists():
            if pair.state != "down":
                self._stop_pair(pair, "down")
            pair.failures.clear()
            return
        if pair.state == "down" and time.monotonic() >= pair.not_before:
            self._start_app(pair)
        elif pair.state == "starting":
            self._await_app(pair)
        elif pair.state == "running":
            self._watch(pair)

    # --- transitions ------------------------------------------------------------------

    def _start_app(self, pair: Pair) -> None:
        home = pair.home
        command = pair.node.app_command or [
            sys.executable,
            "-m",
            "healthledger",
            "node",
            "run",
            "--data",
            str(home),
        ]
        pair.app = _spawn(command, pair.logs_dir / "app.log")
        _write_pid(pair.run_dir / "app.pid", pair.app)
        pair.state, pair.started_at = "starting", time.monotonic()

    def _await_app(self, pair: Pair) -> None:
        """Start CometBFT once the application listens on its ABCI address."""
        assert pair.app is not None
        if pair.app.poll() is not None:
            self._failed(pair, f"the application exited with {pair.app.returncode}")
        elif _abci_listening(pair.home):
            comet_log = pair.logs_dir / "cometbft.log"
            pair.log_offset = comet_log.stat().st_size if comet_log.exists() else 0
            pair.comet = _spawn(
                [str(self.binary), "node", "--home", str(pair.home / "cometbft")], comet_log
            )
            _write_pid(pair.run_dir / "cometbft.pid", pair.comet)
            pair.state = "running"
        elif time.monotonic() - pair.started_at > START_TIMEOUT_S:
            self._failed(pair, "the application did not open its ABCI address")

    def _watch(self, pair: Pair) -> None:
        for name, process in (("application", pair.app), ("cometbft", pair.comet)):
            if process is not None and process.poll() is not None:
                self._failed(pair, f"{name} exited with {process.returncode}")
                return
        mismatch = self._new_mismatch(pair)
        if mismatch is not None:
            self._halt(pair, mismatch)

    def _new_mismatch(self, pair: Pair) -> str | None:
        """A line CometBFT logged since the last round saying our app hash is not the network's.

        A node whose application computes another state root cannot follow the chain:
        CometBFT refuses every block it is given. It is stopped, not left retrying.
        """
        path = pair.logs_dir / "cometbft.log"
        try:
            with path.open("rb") as handle:
                handle.seek(pair.log_offset)
                fresh = handle.read()
        except OSError:
            return None
        complete = fresh[: fresh.rfind(b"\n") + 1]
        pair.log_offset += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            if _own_mismatch(line):
                return f"app hash mismatch: {line.strip()[:400]}"
        return None

    def _halt(self, pair: Pair, cause: str) -> None:
        self._stop_pair(pair, "down")
        halted_mark(pair.run_dir).write_text(cause + "\n")
        log.error("node %s halted: %s", pair.node.org, cause)

    def _failed(self, pair: Pair, reason: str) -> None:
        """Stop what is left of the pair; restart it later, or halt it if it keeps failing."""
        log.warning("node %s: %s", pair.node.org, reason)
        self._stop_pair(pair, "down")
        now = time.monotonic()
        pair.failures.append(now)
        while pair.failures and now - pair.failures[0] > FAILURE_WINDOW_S:
            pair.failures.popleft()
        pair.restarts += 1
        pair.not_before = now + RESTART_DELAY_S
        if len(pair.failures) >= FAILURES_TO_HALT:
            self._halt(pair, f"{len(pair.failures)} failures in {FAILURE_WINDOW_S:.0f} s: {reason}")

    def _stop_pair(self, pair: Pair, state: str) -> None:
        """CometBFT first (it would die without its application anyway), then the app."""
        for process in (pair.comet, pair.app):
            _terminate(process)
        pair.app = pair.comet = None
        pair.state = state

    def _write_status(self, pair: Pair) -> None:
        state = pair.state
        if halted_mark(pair.run_dir).exists():
            state = "halted"
        elif held_mark(pair.run_dir).exists():
            state = "held"
        status = {
            "state": state,
            "restarts": pair.restarts,
            "app_pid": pair.app.pid if pair.app else None,
            "cometbft_pid": pair.comet.pid if pair.comet else None,
        }
        path = pair.run_dir / "status.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(status) + "\n")
        temporary.replace(path)


def _spawn(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def _write_pid(path: Path, process: subprocess.Popen[bytes]) -> None:
    path.write_text(str(process.pid))


def _terminate(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _abci_listening(home: Path) -> bool:
    """Whether the node's ABCI address accepts a connection (CometBFT needs it at start)."""
    settings = json.loads((home / "node.json").read_text())
    address: str = settings["abci_address"]
    try:
        if address.startswith("unix://"):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(address.removeprefix("unix://"))
        else:
            host, _, port = address.removeprefix("tcp://").rpartition(":")
            socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


def supervise(root: Path) -> None:
    """Entry point of `healthledger net supervise` (started detached by `net up`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    Supervisor(root).run()


def _own_mismatch(line: str) -> bool:
    """Whether a CometBFT log line says this node's own state is not the network's."""
    if HANDSHAKE_MISMATCH in line or any(mark in line for mark in QUORUM_BLOCK_REFUSED):
        return True
    return SYNCED_BLOCK_REFUSED in line and WRONG_HEADER in line
