"""A running node: store, application, solo engine and the signature-check pool."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import ExitStack
from pathlib import Path

from healthledger.app.application import Application
from healthledger.engines.abci.engine import CometConfig, CometEngine
from healthledger.engines.base import Accepted, Engine
from healthledger.engines.checker import SignatureChecker
from healthledger.engines.solo import EngineConfig, SoloEngine
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.block import TxResult
from healthledger.ledger.store import Store
from healthledger.ledger.transaction import Transaction
from healthledger.node.home import Home, NodeSettings
from healthledger.node.request_log import RequestLog

log = logging.getLogger(__name__)


class Node:
    """Everything one node process holds; `start` and `stop` bracket its life."""

    def __init__(self, root: Path, settings: NodeSettings | None = None) -> None:
        self.home = Home(Path(root))
        self.home.check_rules_version()
        self.settings = settings or self.home.settings()
        self.home.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.home.db_path)
        try:
            # Refuses a folder of other rules (RULES_VERSION) before reading anything else.
            self.app = Application(self.store)
            if not self.app.initialized:
                self.app.init_chain(self.home.genesis())
        except BaseException:
            self.store.close()
            raise
        self.requests = RequestLog(self.home.db_path.parent / "verifications.jsonl")
        self.checker: SignatureChecker | None = None
        self._closers: list[Callable[[], None]] = []
        self.engine: Engine = self._engine()

    def _engine(self) -> Engine:
        settings = self.settings
        if settings.engine == "cometbft":
            comet = CometConfig(settings.abci_address, settings.cometbft_rpc)
            return CometEngine(self.app, self.home.genesis(), comet)
        if settings.engine != "solo":
            raise LedgerError(
                f"node.json names engine {settings.engine!r}: use solo or cometbft",
                ErrorCode.INVALID_FIELD,
            )
        config = EngineConfig(
            block_interval_ms=settings.block_interval_ms,
            max_block_txs=settings.max_block_txs,
            proposer=settings.org,
        )
        return SoloEngine(self.app, config)

    def start(self, parallel_check: bool = True) -> None:
        # Under CometBFT our CheckTx verifies signatures as CometBFT asks, one at a time.
        if (
            isinstance(self.engine, SoloEngine)
            and parallel_check
            and self.settings.check_workers > 1
        ):
            self.checker = SignatureChecker(self.settings.check_workers)
            self.engine.checker = self.checker
        try:
            self.engine.start()
        except BaseException:
            self._close_checker()
            raise
        info = self.app.info()
        log.info("node %s at height %d, state root %s", info.chain_id, info.height, info.state_root)

    def on_stop(self, closer: Callable[[], None]) -> None:
        """Close a service that lives beside the node (the vault) after the engine stops."""
        self._closers.append(closer)

    def stop(self) -> None:
        """Stop the engine, then what lives beside it; every step runs even if one fails."""
        with ExitStack() as stack:
            # Callbacks run last-in first-out: closers, checker pool, request log, store.
            stack.callback(self.store.close)
            stack.callback(self.requests.close)
            stack.callback(self._close_checker)
            for closer in reversed(self._closers):
                stack.callback(closer)
            self.engine.stop()

    def _close_checker(self) -> None:
        if self.checker is not None:
            self.checker.close()
            self.checker = None


class CommitWaiter:
    """Collects commit results of chosen transactions from the engine's producer thread."""

    def __init__(self) -> None:
        self._results: dict[str, tuple[int, TxResult]] = {}
        self._done = threading.Condition()

    def callback(self, tx_id: str, height: int, result: TxResult) -> None:
        with self._done:
            self._results[tx_id] = (height, result)
            self._done.notify_all()

    def wait(self, tx_ids: Sequence[str], timeout: float) -> dict[str, tuple[int, TxResult]]:
        """Block until every id has committed, or raise a timeout error."""
        deadline = time.monotonic() + timeout
        with self._done:
            while not all(tx_id in self._results for tx_id in tx_ids):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LedgerError("transactions did not commit in time", ErrorCode.TIMEOUT)
                self._done.wait(remaining)
            return {tx_id: self._results[tx_id] for tx_id in tx_ids}


def commit_futures(node: Node, txs: Sequence[Transaction]) -> list[Future[tuple[int, TxResult]]]:
    """Submit transactions in one batch; each future resolves with (height, result) once durable.

    A refusal at check time resolves its future with that error, so a caller
    awaiting them (the vault, in an event loop) never blocks a thread.
    """
    outcomes = node.engine.submit([tx.raw for tx in txs])
    return [_future_for(node, outcome) for outcome in outcomes]


def _future_for(node: Node, outcome: Accepted | LedgerError) -> Future[tuple[int, TxResult]]:
    future: Future[tuple[int, TxResult]] = Future()
    if isinstance(outcome, LedgerError):
        future.set_exception(outcome)
        return future

    def settle(_tx_id: str, height: int, result: TxResult) -> None:
        if not future.done():
            future.set_result((height, result))

    if not node.engine.wait_for(outcome.tx_id, settle):
        stored = node.store.tx(outcome.tx_id)
        future.set_result((stored.height, stored.result))
    return future


def submit_and_wait(
    node: Node, txs: Sequence[Transaction], timeout: float = 60.0
) -> list[tuple[int, TxResult] | LedgerError]:
    """Submit in order and wait for every accepted transaction to commit."""
    waiter = CommitWaiter()
    outcomes = node.engine.submit([tx.raw for tx in txs])
    accepted: list[str] = []
    for outcome in outcomes:
        if isinstance(outcome, Accepted) and node.engine.wait_for(outcome.tx_id, waiter.callback):
            accepted.append(outcome.tx_id)
    done = waiter.wait(accepted, timeout)
    reports: list[tuple[int, TxResult] | LedgerError] = []
    for outcome in outcomes:
        if isinstance(outcome, LedgerError):
            reports.append(outcome)
        elif outcome.tx_id in done:
            reports.append(done[outcome.tx_id])
        else:
            stored = node.store.tx(outcome.tx_id)
            reports.append((stored.height, stored.result))
    return reports
