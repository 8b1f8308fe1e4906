"""The stateless half of `check`, spread over worker processes so every core verifies.

Decoding, canonical re-encoding and the Ed25519 check need no state, so they run
in a process pool before ordering; each worker returns either the parsed
transaction or the error it raised, never an exception across the pool.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.transaction import Transaction, decode_and_verify

Checked = Transaction | LedgerError

# Below this many transactions the round trip to a worker costs more than it saves.
MIN_PARALLEL_BATCH = 64


def check_raw(raw: bytes) -> Checked:
    """Decode and verify one transaction, returning the error instead of raising."""
    try:
        return decode_and_verify(raw)
    except LedgerError as exc:
        return exc
    except Exception as exc:  # a bug in decoding must not kill the worker or the node
        return LedgerError(f"cannot decode transaction: {exc}", ErrorCode.MALFORMED)


def check_many(raws: Sequence[bytes]) -> list[Checked]:
    return [check_raw(raw) for raw in raws]


class SignatureChecker:
    """A pool of processes that verify batches of raw transactions in parallel."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, os.cpu_count() or 1)
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)

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
        self._pool.shutdown(wait=True, cancel_futures=True)
