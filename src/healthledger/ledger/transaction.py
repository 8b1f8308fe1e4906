"""Signed transactions: canonical bytes, signatures and ids.

A transaction is (chain, type, sender, nonce, payload, signature). The signature
is Ed25519 over the RFC 8785 bytes of everything but the signature; the id is the
SHA-256 of the canonical bytes of the whole signed object. The chain id is signed
so a transaction cannot be replayed on another network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NewType

from healthledger.crypto.canonical import MAX_SAFE_INTEGER, canonical_bytes, parse_json
from healthledger.crypto.hashing import sha256_hex
from healthledger.crypto.keys import (
    SIGNATURE_HEX_LEN,
    KeyId,
    KeyPair,
    parse_key_id,
    verify_signature,
)
from healthledger.errors import FloatNotAllowed, MalformedInput, TooLarge

TxId = NewType("TxId", str)

MAX_TX_BYTES = 64 * 1024
TX_FIELDS = frozenset({"chain", "type", "sender", "nonce", "payload", "signature"})
_TX_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class Transaction:
    """A signed transaction as it travels and as it is stored."""

    chain: str
    type: str
    sender: KeyId
    nonce: int
    payload: dict[str, Any]
    signature: bytes
    id: TxId = field(compare=False)
    raw: bytes = field(compare=False, repr=False)

    def unsigned_dict(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "type": self.type,
            "sender": self.sender,
            "nonce": self.nonce,
            "payload": self.payload,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.unsigned_dict(), "signature": self.signature.hex()}

    def verify_signature(self) -> None:
        """Raise BadSignature unless the sender's key signed exactly these fields."""
        verify_signature(self.sender, canonical_bytes(self.unsigned_dict()), self.signature)


def sign_transaction(
    keys: KeyPair, chain: str, tx_type: str, nonce: int, payload: dict[str, Any]
) -> Transaction:
    """Build and sign a transaction with the sender's keys."""
    unsigned = {
        "chain": chain,
        "type": tx_type,
        "sender": keys.key_id,
        "nonce": nonce,
        "payload": payload,
    }
    signature = keys.sign(canonical_bytes(unsigned))
    return _build({**unsigned, "signature": signature.hex()})


def decode_transaction(data: bytes | str | dict[str, Any]) -> Transaction:
    """Parse an untrusted transaction (JSON bytes or an already-parsed object); check shape only."""
    if isinstance(data, bytes | str):
        if len(data) > MAX_TX_BYTES:
            raise TooLarge(f"transaction exceeds {MAX_TX_BYTES} bytes")
        data = parse_json(data)
    if not isinstance(data, dict):
        raise MalformedInput("a transaction is a JSON object")
    return _build(data)


def decode_and_verify(data: bytes | str | dict[str, Any]) -> Transaction:
    """The stateless half of `check`: shape, canonical form and signature."""
    tx = decode_transaction(data)
    tx.verify_signature()
    return tx


def _build(data: dict[str, Any]) -> Transaction:
    _require_fields(data)
    chain, tx_type, nonce, payload = data["chain"], data["type"], data["nonce"], data["payload"]
    if not isinstance(chain, str) or not chain:
        raise MalformedInput("chain must be a non-empty string")
    if not isinstance(tx_type, str) or not _TX_TYPE.match(tx_type):
        raise MalformedInput("type must look like 'namespace.action'")
    if isinstance(nonce, float):
        raise FloatNotAllowed("nonce must be an integer, not a float")
    if isinstance(nonce, bool) or not isinstance(nonce, int) or not 0 <= nonce <= MAX_SAFE_INTEGER:
        raise MalformedInput("nonce must be a non-negative integer below 2^53")
    if not isinstance(payload, dict):
        raise MalformedInput("payload must be a JSON object")
    sender = parse_key_id(data["sender"], "sender")
    signature = _parse_signature(data["signature"])
    raw = canonical_bytes(data)
    if len(raw) > MAX_TX_BYTES:
        raise TooLarge(f"transaction exceeds {MAX_TX_BYTES} bytes")
    return Transaction(
        chain=chain,
        type=tx_type,
        sender=sender,
        nonce=nonce,
        payload=payload,
        signature=signature,
        id=TxId(sha256_hex(raw)),
        raw=raw,
    )


def _require_fields(data: dict[str, Any]) -> None:
    missing = TX_FIELDS - data.keys()
    if missing:
        raise MalformedInput(f"transaction is missing {', '.join(sorted(missing))}")
    extra = data.keys() - TX_FIELDS
    if extra:
        raise MalformedInput(f"transaction has unknown fields {', '.join(sorted(extra))}")


def _parse_signature(value: object) -> bytes:
    if not isinstance(value, str) or len(value) != SIGNATURE_HEX_LEN:
        raise MalformedInput("signature must be 128 hex characters")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise MalformedInput("signature must be hex") from exc
