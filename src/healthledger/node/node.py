"""A running node: store, application, solo engine and the signature-check pool."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from contextlib import ExitStack
from pathlib import Path

from healthledger.app.application import Application
from healthledger.engines.abci.engine import CometConfig, CometEngine
from healthledger.engines.base import Accepted, Committed, Engine
from healthledger.engines.checker import SignatureChecker
from healthledger.engines.solo import EngineConfig, SoloEngine
from healthledger.errors import InvalidField, LedgerError, Timeout
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
        # The key this node signs its answers with (the directory names its public half).
        self.node_key = self.home.node_key()
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
            raise InvalidField(f"node.json names engine {settings.engine!r}: use solo or cometbft")
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


def commit_futures(node: Node, txs: Sequence[Transaction]) -> list[Future[Committed]]:
    """Submit transactions in one batch; each future resolves with (height, result) once durable.

    A refusal at check time resolves its future with that error, so a caller
    awaiting them (the vault, in an event loop) never blocks a thread.
    """
    outcomes = node.engine.submit([tx.raw for tx in txs])
    return [_future_of(outcome) for outcome in outcomes]


def _future_of(outcome: Accepted | LedgerError) -> Future[Committed]:
    if isinstance(outcome, Accepted):
        return outcome.committed
    refused: Future[Committed] = Future()
    refused.set_exception(outcome)
    return refused


def submit_and_wait(
    node: Node, txs: Sequence[Transaction], timeout: float = 60.0
) -> list[Committed | LedgerError]:
    """Submit in order and wait for every accepted transaction to commit (or raise `timeout`)."""
    return wait_committed(commit_futures(node, txs), timeout)


def wait_committed(
    futures: Sequence[Future[Committed]], timeout: float
) -> list[Committed | LedgerError]:
    """Each future's commit or refusal, in order; `timeout` if any is still pending after."""
    _done, waiting = wait(futures, timeout)
    if waiting:
        raise Timeout("transactions did not commit in time")
    return [_outcome(future) for future in futures]


def _outcome(future: Future[Committed]) -> Committed | LedgerError:
    error = future.exception()
    if error is None:
        return future.result()
    if isinstance(error, LedgerError):
        return error
    raise error
