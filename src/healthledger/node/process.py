"""Node processes seen from outside: start one, wait until it answers, stop it; a network's too.

Shared by the CLI (`net up/down/stop`), the benchmarks and the tests, which all run
real `healthledger` processes rather than in-process stand-ins.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

from healthledger.errors import Timeout
from healthledger.node.network import NetNode, Network
from healthledger.node.supervisor import SUPERVISOR_PID, halted_mark, held_mark

SUPERVISOR_STOP_S = 90.0


# --- one node process ----------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers_health(url: str, timeout: float = 1.0) -> bool:
    """Whether a node's API answers its health check (False while it starts or after it stops)."""
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until the node at `url` answers; fail at once if its process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"node exited with {process.returncode}")
        if answers_health(url):
            return
        time.sleep(0.1)
    raise RuntimeError("node did not start")


def node_command(root: Path) -> list[str]:
    """The command line of `healthledger node run` for a network folder."""
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


# --- a CometBFT network's supervisor -----------------------------------------------------------


def supervisor_pid(root: Path) -> int | None:
    """The running supervisor's pid, or None (a stale pid file is ignored)."""
    try:
        pid = int((root / SUPERVISOR_PID).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def start_supervisor(root: Path) -> None:
    """Start `healthledger net supervise` detached, unless one already runs for `root`."""
    if supervisor_pid(root) is not None:
        return
    with (root / "supervisor.log").open("ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "healthledger", "net", "supervise", "--dir", str(root)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this command and its terminal
        )


def await_nodes(network: Network, timeout: float) -> None:
    """Until every node that should run answers on its API and has a first block."""
    deadline = time.monotonic() + timeout
    waiting = [node for node in network.nodes if _should_run(network, node)]
    while waiting and time.monotonic() < deadline:
        waiting = [node for node in waiting if not _node_ready(node)]
        time.sleep(0.2)
    if waiting:
        names = ", ".join(node.org for node in waiting)
        raise Timeout(
            f"nodes not up after {timeout:.0f} s: {names}; see {network.root}/nodes/<org>/logs/"
        )


def _should_run(network: Network, node: NetNode) -> bool:
    run = network.run_dir(node.org)
    return not held_mark(run).exists() and not halted_mark(run).exists()


def _node_ready(node: NetNode) -> bool:
    if not answers_health(node.api_url):
        return False
    status = rpc_result(node, "status")
    return status is not None and int(status["sync_info"]["latest_block_height"]) >= 1


def rpc_result(node: NetNode, method: str, **params: Any) -> Any:
    """A CometBFT RPC result, or None if the node does not answer."""
    try:
        response = httpx.get(f"{node.rpc_url}/{method}", params=params, timeout=2.0)
        body = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    return body.get("result")


def stop_network(network: Network) -> int:
    """Stop the supervisor (it stops every pair), then any process it left; how many of those."""
    pid = supervisor_pid(network.root)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        await_exit(pid, SUPERVISOR_STOP_S)
    return _stop_stragglers(network)


def await_exit(pid: int, timeout: float) -> None:
    """Until `pid` is gone (or reaped by its parent); SIGKILL it after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Running: a zombie waiting for its parent to reap it counts as gone.

    psutil, not /proc, so `net stop` and `net down` work on macOS as on Linux.
    """
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _stop_stragglers(network: Network) -> int:
    """Processes a killed supervisor left behind, found by their pid files."""
    stopped = 0
    for node in network.nodes:
        for name in ("cometbft.pid", "app.pid"):
            if signal_pid_file(network.run_dir(node.org) / name, signal.SIGTERM) is not None:
                stopped += 1
    return stopped


def signal_pid_file(path: Path, signum: int) -> int | None:
    """Signal the process a pid file names, if it is still ours; its pid if signalled."""
    try:
        pid = int(path.read_text())
        if not _is_our_process(pid):
            return None
        os.kill(pid, signum)
    except (OSError, ValueError):
        return None
    return pid


def _is_our_process(pid: int) -> bool:
    """A pid file can outlive its process; only signal a cometbft or healthledger process."""
    try:
        command = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False
    return "cometbft" in command or "healthledger" in command
