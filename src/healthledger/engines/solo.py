"""The solo engine: an in-process mempool and block producer (the embedded default).

It plays CometBFT's part for a single node: transactions pass `check` into the
mempool; a block is cut every `block_interval_ms` or at `max_block_txs`,
whichever comes first (empty intervals make no block), then finalized and
committed through the same application methods the ABCI adapter calls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from healthledger.app.application import Application
from healthledger.engines.base import (
    Accepted,
    Committed,
    CommittedBlock,
    commit_future,
    settle,
)
from healthledger.engines.checker import Checked, SignatureChecker, check_many
from healthledger.errors import DuplicateNonce, ErrorCode, LedgerError, Unavailable
from healthledger.ledger.block import Header, TxResult
from healthledger.ledger.context import BlockInfo
from healthledger.ledger.transaction import Transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineConfig:
    block_interval_ms: int = 200
    max_block_txs: int = 5000
    mempool_limit: int = 200_000
    proposer: str = "solo"


class SoloEngine:
    """Orders checked transactions into blocks on a background thread."""

    def __init__(
        self,
        app: Application,
        config: EngineConfig | None = None,
        checker: SignatureChecker | None = None,
    ) -> None:
        self.app = app
        self.config = config or EngineConfig()
        self.checker = checker
        self._mempool: deque[Transaction] = deque()
        # A pending transaction's id and the future its submitters wait on.
        self._pending: dict[str, Future[Committed]] = {}
        self._pending_nonces: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._commit_listeners: list[Callable[[CommittedBlock], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_time_ms = self._last_committed_time()
        self.failure: BaseException | None = None

    def _last_committed_time(self) -> int:
        height = self.app.tip_height
        return self.app.store.header(height).time_ms if height else 0

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="solo-producer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the block in progress, then stop; the mempool is not persisted."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join()
        self.app.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- submission -----------------------------------------------------------------

    def submit(self, raws: Sequence[bytes]) -> list[Accepted | LedgerError]:
        """Check a batch of raw transactions and admit the good ones, in order."""
        checked = self.checker.check(raws) if self.checker else check_many(raws)
        return [self._admit(item) for item in checked]

    def _admit(self, item: Checked) -> Accepted | LedgerError:
        if isinstance(item, LedgerError):
            return item
        try:
            self.app.check_tx(item)
        except LedgerError as exc:
            return exc
        with self._wake:
            if self.failure is not None:
                return Unavailable("the node has stopped producing blocks")
            if item.id in self._pending:
                # The same bytes again: already on their way, under the same future.
                return Accepted(item.id, self._pending[item.id])
            if (item.sender, item.nonce) in self._pending_nonces:
                return DuplicateNonce(f"nonce {item.nonce} is already pending for this sender")
            if len(self._mempool) >= self.config.mempool_limit:
                return LedgerError("the mempool is full; retry later", ErrorCode.MEMPOOL_FULL)
            self._mempool.append(item)
            future = self._pending[item.id] = commit_future()
            self._pending_nonces.add((item.sender, item.nonce))
            if len(self._mempool) >= self.config.max_block_txs:
                self._wake.notify_all()
        return Accepted(item.id, future)

    def is_pending(self, tx_id: str) -> bool:
        with self._lock:
            return tx_id in self._pending

    def mempool_size(self) -> int:
        with self._lock:
            return len(self._mempool)

    def on_commit(self, listener: Callable[[CommittedBlock], None]) -> None:
        """Call `listener(block)` on the commit thread once each block is durable."""
        self._commit_listeners.append(listener)

    # --- block production -------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                batch = self._next_batch()
                if batch:
                    self._produce(batch)
            batch = self._drain(self.config.max_block_txs)
            while batch and self.failure is None:
                self._produce(batch)
                batch = self._drain(self.config.max_block_txs)
        except BaseException as exc:  # the node must report, not hide, a failed commit
            log.exception("block production stopped")
            self.failure = exc

    def _next_batch(self) -> list[Transaction]:
        """Wait for the first transaction, then up to one interval or a full block."""
        interval = self.config.block_interval_ms / 1000
        with self._wake:
            while not self._mempool and not self._stop.is_set():
                self._wake.wait(timeout=interval)
            if not self._mempool:
                return []
            deadline = time.monotonic() + interval
            while len(self._mempool) < self.config.max_block_txs and not self._stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wake.wait(timeout=remaining)
            return self._take(self.config.max_block_txs)

    def _drain(self, limit: int) -> list[Transaction]:
        with self._lock:
            return self._take(limit)

    def _take(self, limit: int) -> list[Transaction]:
        count = min(limit, len(self._mempool))
        return [self._mempool.popleft() for _ in range(count)]

    def _produce(self, txs: list[Transaction]) -> None:
        """Finalize a block and start its commit; clients hear of it once it is durable."""
        # Block time never runs backwards, whatever the wall clock does.
        self._last_time_ms = max(int(time.time() * 1000), self._last_time_ms)
        block = BlockInfo(
            height=self.app.tip_height + 1,
            time_ms=self._last_time_ms,
            proposer=self.config.proposer,
        )
        pending = self.app.finalize_block(block, txs)
        results = [result for *_rest, result in pending.txs]
        future = self.app.begin_commit()
        future.add_done_callback(lambda done: self._committed(done, txs, results))

    def _committed(
        self, future: Future[Header], txs: list[Transaction], results: list[TxResult]
    ) -> None:
        """On the commit thread, once the block is durable (or its write failed)."""
        error = future.exception()
        if error is not None:
            log.error("block commit failed: %s", error)
            self.failure = error
            self._stop.set()
            return
        header = future.result()
        log.info(
            "block %d committed: %d txs, state root %s",
            header.height,
            header.tx_count,
            header.state_root[:16],
        )
        self._release(txs, results, header.height)
        block = CommittedBlock(header, tuple(txs), tuple(results))
        for listener in self._commit_listeners:
            listener(block)

    def _release(self, txs: list[Transaction], results: list[TxResult], height: int) -> None:
        """Resolve the block's futures (outside the lock: their callbacks may submit)."""
        settled: list[tuple[Future[Committed], TxResult]] = []
        with self._lock:
            for tx, result in zip(txs, results, strict=True):
                future = self._pending.pop(tx.id, None)
                self._pending_nonces.discard((tx.sender, tx.nonce))
                if future is not None:
                    settled.append((future, result))
        for future, result in settled:
            settle(future, Committed(height, result))
