"""The narrow window through which a domain handler sees the ledger.

A handler reads any namespace but writes only its own; it learns who sent the
transaction (an `Actor`), the block height and the block time set by the
engine, and records events. Writes go to a per-transaction overlay that the
application merges only if the handler returns without raising, so a failed
transaction changes nothing.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from healthledger.crypto.canonical import canonical_bytes, parse_json
from healthledger.errors import InvalidState

ReadFn = Callable[[str, str], bytes | None]
M = TypeVar("M", bound=BaseModel)

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
    # What governance granted beyond the role (an org's, or a member's within its org).
    capabilities: frozenset[str] = field(default=frozenset())

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


class StateModel(BaseModel):
    """Base of every record a domain stores: frozen, no unknown fields.

    A model dumps to exactly the JSON object the domain writes (every field, `None`
    included), so its canonical bytes, and the state root, do not depend on the model.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


class StateReader:
    """Read-only state, as every domain's query functions see it.

    Inside `apply` it sees the transaction's own writes; on the read side it sees
    one committed snapshot. Queries take this, never a store or a context.
    """

    def __init__(self, read: ReadFn) -> None:
        self._read = read

    def raw(self, ns: str, key: str) -> bytes | None:
        """The stored bytes, or None."""
        return self._read(ns, key)

    def load(self, ns: str, key: str, model: builtins.type[M]) -> M | None:
        """A stored record parsed as `model`, or None if absent."""
        raw = self._read(ns, key)
        return None if raw is None else model.model_validate_json(raw)


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
        capabilities: Mapping[str, str] = MappingProxyType({}),
        bases: frozenset[str] = frozenset(),
    ) -> None:
        self._read = read
        self.chain_id = chain_id  # what a signature inside a payload must be bound to
        # Every capability some domain declared (name -> meaning), handed in by the app:
        # governance grants only these, and cannot import the domains that declare them.
        self.capabilities = capabilities
        # The namespaces of base domains, handed in by the app: the only ones `within` opens.
        self.bases = bases
        self.namespace = namespace
        self.actor = actor
        self.block = block
        self.tx_id = tx_id
        self.writes: dict[tuple[str, str], bytes | None] = {}
        self.events: list[dict[str, Any]] = []
        self.reader = StateReader(self.read_raw)

    def within(self, namespace: str) -> TxContext:
        """The same transaction seen from another namespace, sharing its writes and events.

        Only a base domain's operation (governance, credentials, funds) uses this, to
        change its own state inside another domain's transaction: both commit or neither.
        Any other namespace is refused: a domain never writes a peer's state.
        """
        if namespace not in self.bases:
            raise InvalidState(f"{namespace} is not the namespace of a base domain")
        scoped = TxContext(
            self._read,
            namespace,
            self.actor,
            self.block,
            self.tx_id,
            self.chain_id,
            self.capabilities,
            self.bases,
        )
        scoped.writes = self.writes
        scoped.events = self.events
        return scoped

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

    def load(self, key: str, model: builtins.type[M]) -> M | None:
        """A record of this domain's namespace parsed as `model`, or None if absent."""
        raw = self.read_raw(self.namespace, key)
        return None if raw is None else model.model_validate_json(raw)

    def store(self, key: str, record: BaseModel) -> None:
        """Write a record of this domain's namespace (every field, as the model dumps it)."""
        self.writes[(self.namespace, key)] = canonical_bytes(record.model_dump(mode="json"))

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
