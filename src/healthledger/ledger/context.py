"""The narrow window through which a domain handler sees the ledger.

A handler reads any namespace but writes only its own; it learns who sent the
transaction (an `Actor`), the block height and the block time set by the
engine, and records events. Writes go to a per-transaction overlay that the
application merges only if the handler returns without raising, so a failed
transaction changes nothing.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from healthledger.crypto.canonical import canonical_bytes, parse_json

ReadFn = Callable[[str, str], bytes | None]

# An actor that signs with a key the ledger has never seen (self-registration).
NEW_KEY = "new"


@dataclass(frozen=True)
class Actor:
    """Who sent a transaction, as the ledger knows them."""

    key_id: str
    kind: str  # "org", "member", "patient" or NEW_KEY
    id: str
    org: str | None
    role: str

    @property
    def permission(self) -> str:
        """The name the permission table uses: `kind:role` (`org:hospital`, `patient:patient`)."""
        return f"{self.kind}:{self.role}"


@dataclass(frozen=True)
class BlockInfo:
    """What the engine decides about a block before the application applies it."""

    height: int
    time_ms: int
    proposer: str


class TxContext:
    """Reads, namespaced writes and events for one transaction."""

    def __init__(
        self,
        read: ReadFn,
        namespace: str,
        actor: Actor,
        block: BlockInfo,
        tx_id: str,
        chain_id: str = "",
    ) -> None:
        self._read = read
        self.chain_id = chain_id  # what a signature inside a payload must be bound to
        self.namespace = namespace
        self.actor = actor
        self.block = block
        self.tx_id = tx_id
        self.writes: dict[tuple[str, str], bytes | None] = {}
        self.events: list[dict[str, Any]] = []

    def read_raw(self, ns: str, key: str) -> bytes | None:
        """The stored bytes (None if absent), seeing this transaction's writes."""
        return self.writes[(ns, key)] if (ns, key) in self.writes else self._read(ns, key)

    def read(self, ns: str, key: str) -> Any:
        """A JSON value (None if absent) from any namespace, seeing this transaction's writes."""
        raw = self.read_raw(ns, key)
        return None if raw is None else parse_json(raw)

    def get(self, key: str) -> Any:
        """A JSON value from this domain's namespace."""
        return self.read(self.namespace, key)

    def put(self, key: str, value: Any) -> None:
        """Write a JSON value (integers and strings, no floats) in this domain's namespace."""
        self.writes[(self.namespace, key)] = canonical_bytes(value)

    def delete(self, key: str) -> None:
        self.writes[(self.namespace, key)] = None

    def emit(self, event_type: str, **attributes: Any) -> None:
        """Record an event in the transaction's result (committed by the result root)."""
        self.events.append({"type": event_type, **attributes})


class Payload(BaseModel):
    """Base of every transaction payload: strict types, frozen, no unknown fields.

    A payload is parsed once at the edge; handlers then trust its types.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


@dataclass(frozen=True)
class TxSpec:
    """A transaction type a domain offers: its payload model and its handler."""

    type: str
    namespace: str
    payload: builtins.type[Payload]
    handler: Callable[[TxContext, Any], None]
    summary: str
