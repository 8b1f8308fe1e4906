"""Blocks and headers: how a block commits to its transactions, results and state.

The header hash links each block to the previous one; block 1 links to the hash
of the genesis document. `tx_root` and `result_root` are RFC 9162 Merkle roots
over the block's transactions and their outcomes; `log_root` is the root of the
ledger-wide log of every transaction so far (size `log_size`), so inclusion in
the whole ledger and consistency between two sizes are provable from one header.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.hashing import sha256
from healthledger.errors import MalformedInput
from healthledger.ledger.merkle import leaf_hash

OK = "ok"


@dataclass(frozen=True)
class Header:
    """What a block commits to; its hash is the block hash."""

    chain_id: str
    height: int
    time_ms: int
    prev_hash: str
    proposer: str
    tx_count: int
    tx_root: str
    result_root: str
    state_root: str
    log_size: int
    log_root: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def canonical(self) -> bytes:
        return canonical_bytes(self.to_dict())

    def hash(self) -> str:
        return sha256(self.canonical()).hex()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Header:
        try:
            return cls(**data)
        except TypeError as exc:
            raise MalformedInput(f"not a block header: {exc}") from exc


@dataclass(frozen=True)
class TxResult:
    """The outcome of one transaction in its block: ok, or a stable error code."""

    code: str
    message: str
    events: tuple[dict[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == OK

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "events": list(self.events)}

    def leaf(self, tx_id: str) -> bytes:
        """The result's leaf hash: binds the outcome to the transaction it belongs to."""
        return leaf_hash(canonical_bytes({"tx": tx_id, **self.to_dict()}))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TxResult:
        return cls(code=data["code"], message=data["message"], events=tuple(data["events"]))


def tx_leaf(raw_tx: bytes) -> bytes:
    """A transaction's leaf hash in its block and in the ledger-wide log."""
    return leaf_hash(raw_tx)


def genesis_hash(genesis_canonical: bytes) -> str:
    """The `prev_hash` of block 1: the hash of the canonical genesis document."""
    return sha256(genesis_canonical).hex()
