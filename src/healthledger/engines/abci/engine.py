"""The CometBFT engine: CometBFT orders the blocks, this process applies them.

One node process holds the Application, serves it to its own `cometbft node`
over ABCI (a Unix socket, on a thread with its own event loop) and hands the
transactions its API receives to that CometBFT's mempool through the RPC
`broadcast_tx_sync`, whose answer is our own CheckTx verdict. A submitted
transaction is "pending" until our Commit of the block that holds it, which is
exactly when the solo engine would call back too; so the API, the vault and the
benchmarks work the same on either engine.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import httpx

from healthledger.app.application import Application
from healthledger.app.genesis import Genesis
from healthledger.engines.abci.adapter import AbciAdapter
from healthledger.engines.abci.protos import abci_types
from healthledger.engines.abci.results import ABCI_CODES, OK_CODE
from healthledger.engines.abci.server import AbciServer, ListenAddress
from healthledger.engines.base import (
    Accepted,
    Committed,
    CommittedBlock,
    commit_future,
    settle,
)
from healthledger.errors import ErrorCode, LedgerError, Unavailable
from healthledger.ledger.block import TxResult
from healthledger.ledger.transaction import Transaction, decode_transaction

log = logging.getLogger(__name__)

ERROR_FOR_CODE = {number: code for code, number in ABCI_CODES.items()}
# CometBFT answers a transaction it already holds with this RPC error, not a CheckTx code.
ALREADY_IN_CACHE = "tx already exists in cache"
MEMPOOL_FULL = "mempool is full"
# A submitted transaction that never commits (evicted on recheck, lost with a crashed
# CometBFT) stops being tracked after this long; its waiters time out on their own.
PENDING_TTL_S = 600.0
# JSON-RPC batches keep one HTTP round trip per API batch, up to this many transactions.
RPC_BATCH = 500


@dataclass(frozen=True)
class CometConfig:
    """Where this node's ABCI server listens and where its CometBFT's RPC answers."""

    abci_address: str
    rpc_url: str
    rpc_timeout_s: float = 30.0


class CometEngine:
    """The Engine interface over a CometBFT node: broadcast in, commits back through ABCI."""

    def __init__(self, app: Application, genesis: Genesis, config: CometConfig) -> None:
        ListenAddress.parse(config.abci_address)  # a bad address fails before anything starts
        self.app = app
        self.config = config
        types = abci_types()
        self.adapter = AbciAdapter(app, genesis, types, on_commit=self._committed)
        self._server = AbciServer(self.adapter.handle, types)
        self._rpc = httpx.Client(base_url=config.rpc_url, timeout=config.rpc_timeout_s)
        self._lock = threading.Lock()
        # A pending transaction's id, when it was first broadcast, and its commit future.
        self._pending: dict[str, tuple[float, Future[Committed]]] = {}
        self._listeners: list[Callable[[CommittedBlock], None]] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._serving = threading.Event()
        self.failure: BaseException | None = None

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Serve ABCI on a thread of its own; return once the socket listens."""
        self._thread = threading.Thread(target=self._run, name="abci-server", daemon=True)
        self._thread.start()
        self._serving.wait(timeout=30)
        if self.failure is not None:
            raise Unavailable(f"the ABCI server did not start: {self.failure}")

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported through /health, never swallowed
            log.exception("the ABCI server stopped")
            self.failure = exc
        finally:
            self._serving.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._loop.call_soon(self._serving.set)
        await self._server.serve(self.config.abci_address, self._stopping)

    def stop(self) -> None:
        """Close the ABCI connections (a Commit in progress finishes), then the ledger."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=60)
        self._rpc.close()
        self.app.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- submission -----------------------------------------------------------------

    def submit(self, raws: Sequence[bytes]) -> list[Accepted | LedgerError]:
        """Broadcast to CometBFT's mempool; each answer is our own CheckTx's verdict.

        Transactions go out in canonical form, so their ids are the ones our blocks
        record; what does not even decode is refused here and never broadcast.
        """
        decoded = [_decoded(raw) for raw in raws]
        txs = [tx for tx in decoded if isinstance(tx, Transaction)]
        broadcast: list[Accepted | LedgerError] = []
        for start in range(0, len(txs), RPC_BATCH):
            broadcast.extend(self._broadcast(txs[start : start + RPC_BATCH]))
        answers = iter(broadcast)
        return [next(answers) if isinstance(tx, Transaction) else tx for tx in decoded]

    def _broadcast(self, txs: Sequence[Transaction]) -> list[Accepted | LedgerError]:
        ids = [tx.id for tx in txs]
        raws = [tx.raw for tx in txs]
        now = time.monotonic()
        with self._lock:  # pending first: the block may commit before the RPC answers
            fresh = [tx_id for tx_id in ids if tx_id not in self._pending]
            self._pending.update((tx_id, (now, commit_future())) for tx_id in fresh)
            futures = [self._pending[tx_id][1] for tx_id in ids]
        try:
            answers = self._rpc_batch(raws)
        except (httpx.HTTPError, ValueError) as exc:
            self._forget(fresh)
            error = Unavailable(f"CometBFT's RPC did not answer: {exc}")
            return [error for _ in raws]
        outcomes = [
            self._outcome(tx_id, future, answer)
            for tx_id, future, answer in zip(ids, futures, answers, strict=True)
        ]
        self._forget(
            [tx_id for tx_id, o in zip(ids, outcomes, strict=True) if isinstance(o, LedgerError)]
        )
        return outcomes

    def _rpc_batch(self, raws: Sequence[bytes]) -> list[dict[str, Any]]:
        """One JSON-RPC batch of broadcast_tx_sync calls, answers in request order."""
        calls = [
            {
                "jsonrpc": "2.0",
                "id": index,
                "method": "broadcast_tx_sync",
                "params": {"tx": base64.b64encode(raw).decode()},
            }
            for index, raw in enumerate(raws)
        ]
        response = self._rpc.post("/", json=calls)
        response.raise_for_status()
        answers = response.json()
        if isinstance(answers, dict):
            answers = [answers]  # CometBFT answers a batch of one with a bare object
        if not isinstance(answers, list) or len(answers) != len(raws):
            raise ValueError(f"unexpected batch answer: {str(answers)[:200]}")
        by_id: dict[int, dict[str, Any]] = {answer.get("id"): answer for answer in answers}
        return [by_id[index] for index in range(len(raws))]

    def _outcome(
        self, tx_id: str, future: Future[Committed], answer: dict[str, Any]
    ) -> Accepted | LedgerError:
        error = answer.get("error")
        if error is not None:
            return self._rpc_refusal(tx_id, future, error)
        result = answer["result"]
        code = int(result.get("code", OK_CODE))
        if code == OK_CODE:
            return Accepted(tx_id, future)
        return LedgerError(result.get("log", ""), ERROR_FOR_CODE.get(code, ErrorCode.INVALID_STATE))

    def _rpc_refusal(
        self, tx_id: str, future: Future[Committed], error: dict[str, Any]
    ) -> Accepted | LedgerError:
        detail = f"{error.get('message', '')} {error.get('data', '')}".strip()
        if ALREADY_IN_CACHE in detail:
            # The same bytes again: already on their way (or committed), same future.
            return Accepted(tx_id, future)
        if MEMPOOL_FULL in detail:
            return LedgerError("the mempool is full; retry later", ErrorCode.MEMPOOL_FULL)
        return Unavailable(f"CometBFT refused the transaction: {detail}")

    def _forget(self, tx_ids: Sequence[str]) -> None:
        with self._lock:
            for tx_id in tx_ids:
                self._pending.pop(tx_id, None)

    def is_pending(self, tx_id: str) -> bool:
        with self._lock:
            return tx_id in self._pending

    def mempool_size(self) -> int:
        """Transactions this node submitted that have not committed yet."""
        with self._lock:
            return len(self._pending)

    def on_commit(self, listener: Callable[[CommittedBlock], None]) -> None:
        self._listeners.append(listener)

    # --- commits (on the ABCI consensus connection's thread) ----------------------------

    def _committed(self, block: CommittedBlock) -> None:
        """Resolve the block's pending transactions, then tell the listeners."""
        settled: list[tuple[Future[Committed], TxResult]] = []
        with self._lock:
            for tx, result in zip(block.txs, block.results, strict=True):
                pending = self._pending.pop(tx.id, None)
                if pending is not None:
                    settled.append((pending[1], result))
            self._expire_stale()
        for future, result in settled:
            settle(future, Committed(block.header.height, result))
        for listener in self._listeners:
            listener(block)

    def _expire_stale(self) -> None:
        """Drop the oldest entries past their time (the dict is in submission order)."""
        deadline = time.monotonic() - PENDING_TTL_S
        stale = []
        for tx_id, (since, _future) in self._pending.items():
            if since >= deadline:
                break
            stale.append(tx_id)
        for tx_id in stale:
            del self._pending[tx_id]


def _decoded(raw: bytes) -> Transaction | LedgerError:
    try:
        return decode_transaction(raw)
    except LedgerError as exc:
        return exc
