"""The stateless half of `check`, spread over worker processes so every core verifies.

Decoding, canonical re-encoding and the Ed25519 check need no state, so they run
in a process pool before ordering; each worker returns either the parsed
transaction or the error it raised, never an exception across the pool.

Workers never outlive the node: the pool is shut down in `close` (a context
manager, called from `finally`), and each worker also watches its parent and
exits when the parent is gone, however it went (kill -9, SIGHUP, a crash).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

from healthledger.crypto.hashing import sha256_hex
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.transaction import Transaction, decode_and_verify

log = logging.getLogger(__name__)

Checked = Transaction | LedgerError

# Below this many transactions the round trip to a worker costs more than it saves.
MIN_PARALLEL_BATCH = 64
# How often a worker looks whether its parent still lives (an orphan lingers at most this long).
PARENT_WATCH_S = 0.2


def check_raw(raw: bytes) -> Checked:
    """Decode and verify one transaction, returning the error instead of raising."""
    try:
        return decode_and_verify(raw)
    except LedgerError as exc:
        return exc  # an ordinary refusal: the client hears why, the log stays quiet
    except Exception:  # a bug in decoding must not kill the worker or the node
        # The digest of the submitted bytes: the transaction id when they are canonical.
        log.exception("unexpected error checking transaction %s", sha256_hex(raw))
        return LedgerError(
            "the transaction could not be decoded (an unexpected error, logged by the node)",
            ErrorCode.MALFORMED,
        )


def check_many(raws: Sequence[bytes]) -> list[Checked]:
    return [check_raw(raw) for raw in raws]


def worker_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """A process pool whose workers die with the process that made it."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_prepare_worker,
        # The parent's pid is passed, not read in the worker: a parent that dies while a
        # worker still starts up would otherwise leave it watching its new parent instead.
        initargs=(os.getpid(),),
    )


def _prepare_worker(parent: int) -> None:
    """In each worker: leave Ctrl-C to the parent, and exit once the parent is gone."""
    # Ctrl-C reaches the whole process group; the parent shuts the pool down in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_when_orphaned, args=(parent,), name="parent-watch", daemon=True
    ).start()


def _exit_when_orphaned(parent: int) -> None:
    # Workers of a spawn pool hold the write end of their own task queue, so they never
    # see end-of-file when the parent dies: without this they would wait for ever.
    while os.getppid() == parent:
        time.sleep(PARENT_WATCH_S)
    os._exit(0)


class SignatureChecker:
    """A pool of processes that verify batches of raw transactions in parallel."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, os.cpu_count() or 1)
        self._pool = worker_pool(self.workers)

    def __enter__(self) -> SignatureChecker:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def check(self, raws: Sequence[bytes]) -> list[Checked]:
        """Verify in order; large batches are split across the workers."""
        if len(raws) < MIN_PARALLEL_BATCH:
            return check_many(raws)
        size = -(-len(raws) // self.workers)
        chunks = [raws[i : i + size] for i in range(0, len(raws), size)]
        results: list[Checked] = []
        for part in self._pool.map(check_many, chunks):
            results.extend(part)
        return results

    def close(self) -> None:
        """Stop the workers and wait for them (safe to call twice)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
