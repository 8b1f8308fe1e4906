"""The one hash function of the ledger: SHA-256."""

from __future__ import annotations

import hashlib


def sha256(data: bytes) -> bytes:
    """SHA-256 digest of `data`."""
    return hashlib.sha256(data).digest()


def sha256_hex(data: bytes) -> str:
    """SHA-256 digest of `data` as lowercase hex, the form ids take on the wire."""
    return hashlib.sha256(data).hexdigest()
