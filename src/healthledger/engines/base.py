"""What a node needs from an engine: submit, hear of commits, report health.

Two engines implement it: the solo engine (in-process ordering, the embedded
default) and the CometBFT engine (ordering by a BFT network over ABCI). The node,
its API and its vault only ever talk to this interface.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from healthledger.errors import LedgerError
from healthledger.ledger.block import Header, TxResult
from healthledger.ledger.transaction import Transaction

CommitCallback = Callable[[str, int, TxResult], None]


@dataclass(frozen=True)
class CommittedBlock:
    """What commit listeners hear: the durable header with the block's transactions and results.

    Listeners get them from memory, so reacting to a block never re-reads it from disk.
    """

    header: Header
    txs: tuple[Transaction, ...]
    results: tuple[TxResult, ...]


@dataclass(frozen=True)
class Accepted:
    """A transaction admitted to the mempool."""

    tx_id: str


class Engine(Protocol):
    """Orders transactions into blocks that the node's Application applies and commits."""

    failure: BaseException | None

    def start(self) -> None: ...

    def stop(self) -> None: ...

    @property
    def running(self) -> bool: ...

    def submit(self, raws: Sequence[bytes]) -> list[Accepted | LedgerError]:
        """Check raw transactions and admit the good ones, in order."""
        ...

    def is_pending(self, tx_id: str) -> bool: ...

    def mempool_size(self) -> int: ...

    def on_commit(self, listener: Callable[[CommittedBlock], None]) -> None:
        """Call `listener(block)` once each block is durable."""
        ...

    def wait_for(self, tx_id: str, callback: CommitCallback) -> bool:
        """Call `callback(tx_id, height, result)` when `tx_id` commits; False if not pending."""
        ...
