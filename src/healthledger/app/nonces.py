"""Replay protection: each (sender, nonce) pair is accepted once.

Per sender the state keeps the highest nonce used and a bitmap of the WINDOW
nonces just below it, so clients may submit concurrently and out of order within
the window while the state stays one small record per sender. A nonce at or
below `max - WINDOW` is refused as a duplicate: it can no longer be told apart.
"""

from __future__ import annotations

from healthledger.errors import DuplicateNonce
from healthledger.ledger.context import ReadFn, StateModel

NAMESPACE = "nonce"
WINDOW = 256


class NonceRecord(StateModel):
    """A sender's highest nonce used, and which of the WINDOW nonces below it were used
    (bit i set: nonce `max - 1 - i` was used), as lower-case hex without leading zeros."""

    max: int
    window: str = "0"


def load_nonce(read: ReadFn, sender: str) -> NonceRecord | None:
    """The sender's record in the `nonce` namespace, None before its first transaction."""
    raw = read(NAMESPACE, sender)
    return None if raw is None else NonceRecord.model_validate_json(raw)


def check_nonce(record: NonceRecord | None, nonce: int) -> None:
    """Raise DuplicateNonce if `nonce` was used (or is too old to tell)."""
    if record is None or nonce > record.max:
        return
    if nonce == record.max:
        raise DuplicateNonce(f"nonce {nonce} was already used")
    offset = record.max - 1 - nonce
    if offset >= WINDOW:
        raise DuplicateNonce(f"nonce {nonce} is older than the last {WINDOW} nonces")
    if (int(record.window, 16) >> offset) & 1:
        raise DuplicateNonce(f"nonce {nonce} was already used")


def record_nonce(record: NonceRecord | None, nonce: int) -> NonceRecord:
    """The sender's record after using `nonce` (which `check_nonce` accepted)."""
    if record is None:
        return NonceRecord(max=nonce, window="0")
    top, window = record.max, int(record.window, 16)
    if nonce > top:
        shift = nonce - top
        window = ((window << 1 | 1) << (shift - 1)) if shift <= WINDOW else 0
        top = nonce
    else:
        window |= 1 << (top - 1 - nonce)
    window &= (1 << WINDOW) - 1
    return NonceRecord(max=top, window=format(window, "x"))
