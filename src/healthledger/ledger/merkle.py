"""RFC 9162 Merkle tree hashing (lead's interim version; helper replaces it)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    if len(leaf_hashes) <= 1:
        return []
    k = 1 << ((len(leaf_hashes) - 1).bit_length() - 1)
    if index < k:
        return [*inclusion_proof(index, leaf_hashes[:k]), merkle_root(leaf_hashes[k:])]
    return [*inclusion_proof(index - k, leaf_hashes[k:]), merkle_root(leaf_hashes[:k])]
