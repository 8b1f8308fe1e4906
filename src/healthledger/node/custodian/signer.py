"""One organisation key signing for a custodial service: strictly increasing nonces, in order.

A custodial service (the records vault today; registries, escrow agents and
data-access committees later) signs transactions with an organisation's key on
the organisation's behalf, for many requests at once. `OrgSigner` is the one place
that does it: each transaction gets its nonce when it is submitted, under one
lock, so the engine receives every key's transactions in nonce order however many
requests prepared them concurrently. A transaction refused at submission only
leaves a gap: nonces need not be consecutive (app/nonces.py), so later ones pass.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from healthledger.app.nonces import load_nonce
from healthledger.crypto.keys import KeyPair
from healthledger.engines.base import Committed as EngineCommitted
from healthledger.errors import LedgerError
from healthledger.ledger.block import TxResult
from healthledger.ledger.context import Payload
from healthledger.ledger.transaction import Transaction, sign_transaction
from healthledger.node.node import Node, commit_futures, wait_committed

Commit = EngineCommitted  # the height of the block and the transaction's result there


@dataclass(frozen=True)
class OrgTx:
    """A transaction an organisation's key will sign when it is submitted."""

    org: str
    tx_type: str
    payload: Payload

    def payload_json(self) -> dict[str, object]:
        """The fields the caller set, no more: the bytes a hand-built payload would give."""
        return self.payload.model_dump(mode="json", exclude_unset=True)


@dataclass(frozen=True)
class Submitted:
    """A signed transaction the engine took or refused; `commit` resolves once it is durable."""

    tx: Transaction
    commit: Future[Commit]


@dataclass(frozen=True)
class Committed:
    """A transaction in a durable block, with its result (which may be a refusal by `apply`)."""

    tx: Transaction
    height: int
    result: TxResult


class OrgSigner:
    """Signs, submits and awaits the transactions of the organisation keys a node holds.

    `keys_of(org)` names the key to sign with now (after a rotation, the new one).
    """

    def __init__(self, node: Node, keys_of: Callable[[str], KeyPair]) -> None:
        self._node = node
        self._keys_of = keys_of
        self._last: dict[str, int] = {}
        self._nonce_lock = threading.Lock()
        self._submit_lock = threading.Lock()

    def submit(self, items: Sequence[OrgTx]) -> list[Submitted]:
        """Sign in nonce order and submit as one batch; refusals at submission resolve at once."""
        with self._submit_lock:
            txs = [self._sign(item) for item in items]
            futures = commit_futures(self._node, txs)
        return [Submitted(tx, future) for tx, future in zip(txs, futures, strict=True)]

    def commit(
        self, items: Sequence[OrgTx], timeout: float = 60.0
    ) -> list[Committed | LedgerError]:
        """Submit and wait (for callers without an event loop: the demo, tests)."""
        submitted = self.submit(items)
        outcomes = wait_committed([item.commit for item in submitted], timeout)
        return [
            outcome if isinstance(outcome, LedgerError) else Committed(item.tx, *outcome)
            for item, outcome in zip(submitted, outcomes, strict=True)
        ]

    def next_nonce(self, keys: KeyPair) -> int:
        """Past both our own last nonce and the ledger's, in case an operator used the key too."""
        stored = load_nonce(self._node.store.state_get, keys.key_id)
        on_chain = 0 if stored is None else stored.max
        with self._nonce_lock:
            nonce = max(self._last.get(keys.key_id, 0), on_chain) + 1
            self._last[keys.key_id] = nonce
            return nonce

    def _sign(self, item: OrgTx) -> Transaction:
        keys = self._keys_of(item.org)
        nonce = self.next_nonce(keys)
        chain_id = self._node.app.chain_id
        return sign_transaction(keys, chain_id, item.tx_type, nonce, item.payload_json())


__all__ = ["Commit", "Committed", "OrgSigner", "OrgTx", "Submitted"]
