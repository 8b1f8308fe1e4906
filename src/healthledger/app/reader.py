"""The read side a domain's views see: one committed snapshot of the store.

`run_view` opens the snapshot, so every value, proof and header a view returns
describes the same committed block, even while the next block commits.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from healthledger.app.queries import state_in_snapshot
from healthledger.domains.kit import ProvenValue, View
from healthledger.ledger.context import StateReader
from healthledger.ledger.store import Store


class SnapshotReader:
    """A `LedgerReader` over a store; use inside `store.snapshot()` (as `run_view` does)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._state = StateReader(store.state_get)

    @property
    def state(self) -> StateReader:
        return self._state

    @property
    def height(self) -> int:
        return self._store.last_height()

    def scan(
        self, ns: str, prefix: str, limit: int, after: str | None = None
    ) -> list[tuple[str, bytes]]:
        return self._store.state_scan(ns, prefix, limit, after=after)

    def scan_newest(self, ns: str, prefix: str, limit: int) -> list[tuple[str, bytes]]:
        return self._store.state_scan(ns, prefix, limit, newest_first=True)

    def block_time_ms(self, height: int) -> int:
        return self._store.header(height).time_ms

    def proven(self, ns: str, key: str) -> ProvenValue:
        """The value with its proof against the latest header's state root."""
        view = state_in_snapshot(self._store, ns, key, prove=True)
        return ProvenValue.model_validate({"header": None, **view.wire()})


def run_view(store: Store, view: View, params: Any) -> BaseModel:
    """Answer a domain's published read from one committed snapshot."""
    with store.snapshot():
        return view.run(SnapshotReader(store), params)
