"""What a node needs from an engine: submit, hear of commits, report health.

Two engines implement it: the solo engine (in-process ordering, the embedded
default) and the CometBFT engine (ordering by a BFT network over ABCI). The node,
its API and its vault only ever talk to this interface.

Waiting for a commit has one form: `submit` answers each admitted transaction
with an `Accepted` whose `committed` future resolves once its block is durable.
The future exists before the transaction can commit, so no commit is missed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from healthledger.errors import LedgerError
from healthledger.ledger.block import Header, TxResult
from healthledger.ledger.transaction import Transaction


@dataclass(frozen=True)
class CommittedBlock:
    """What commit listeners hear: the durable header with the block's transactions and results.

    Listeners get them from memory, so reacting to a block never re-reads it from disk.
    """

    header: Header
    txs: tuple[Transaction, ...]
    results: tuple[TxResult, ...]


class Committed(NamedTuple):
    """Where and how a transaction committed (a tuple, so `height, result = ...` reads it)."""

    height: int
    result: TxResult


def commit_future() -> Future[Committed]:
    """A future only its engine settles: a waiter's `cancel()` (a timeout) cannot break it."""
    future: Future[Committed] = Future()
    future.set_running_or_notify_cancel()  # running futures refuse cancel()
    return future


def settle(future: Future[Committed], committed: Committed) -> None:
    """Resolve a commit future once; the same transaction may be released twice."""
    if not future.done():
        future.set_result(committed)


@dataclass(frozen=True)
class Accepted:
    """A transaction admitted to the mempool; `committed` resolves once its block is durable.

    Transactions that never commit (evicted, lost with a crashed engine) leave their
    future pending: waiters keep their own timeouts.
    """

    tx_id: str
    committed: Future[Committed] = field(compare=False, repr=False)


class Engine(Protocol):
    """Orders transactions into blocks that the node's Application applies and commits."""

    failure: BaseException | None

    def start(self) -> None: ...

    def stop(self) -> None: ...

    @property
    def running(self) -> bool: ...

    def submit(self, raws: Sequence[bytes]) -> list[Accepted | LedgerError]:
        """Check raw transactions and admit the good ones, in order, each with its future."""
        ...

    def is_pending(self, tx_id: str) -> bool: ...

    def mempool_size(self) -> int: ...

    def on_commit(self, listener: Callable[[CommittedBlock], None]) -> None:
        """Call `listener(block)` once each block is durable."""
        ...
