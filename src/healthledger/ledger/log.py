"""The ledger-wide log of every transaction, as a Merkle tree kept in perfect subtrees.

Every node of every perfect, aligned subtree is stored once when it completes
(level 0 holds the leaf hashes), so the root of any size and the inclusion and
consistency proofs of RFC 9162 §2.1 need O(log n) node reads, never a rescan.
"""

from __future__ import annotations

from collections.abc import Callable

from healthledger.crypto.canonical import canonical_bytes, parse_json
from healthledger.ledger.merkle import EMPTY_ROOT, CompactRange, node_hash

NodeLookup = Callable[[int, int], bytes]  # (level, index) -> hash
LogNode = tuple[int, int, bytes]


def frontier_to_bytes(frontier: CompactRange) -> bytes:
    """The log frontier as stored in the node's meta table."""
    return canonical_bytes({"size": frontier.size, "peaks": [p.hex() for p in frontier.to_list()]})


def frontier_from_bytes(data: bytes) -> CompactRange:
    value = parse_json(data)
    return CompactRange.from_list(value["size"], [bytes.fromhex(p) for p in value["peaks"]])


def _split(size: int) -> int:
    """The largest power of two strictly below `size` (RFC 9162 §2.1.1's k)."""
    return 1 << ((size - 1).bit_length() - 1)


def subtree_root(lookup: NodeLookup, start: int, size: int) -> bytes:
    """MTH of leaves [start, start+size) built from stored perfect subtrees."""
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return lookup(level, start >> level)
    k = _split(size)
    return node_hash(subtree_root(lookup, start, k), subtree_root(lookup, start + k, size - k))


def log_root(lookup: NodeLookup, size: int) -> bytes:
    return EMPTY_ROOT if size == 0 else subtree_root(lookup, 0, size)


def inclusion_proof(lookup: NodeLookup, index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size])."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is outside a log of size {size}")
    return _path(lookup, index, 0, size)


def _path(lookup: NodeLookup, index: int, start: int, size: int) -> list[bytes]:
    if size == 1:
        return []
    k = _split(size)
    if index < k:
        return [*_path(lookup, index, start, k), subtree_root(lookup, start + k, size - k)]
    return [*_path(lookup, index - k, start + k, size - k), subtree_root(lookup, start, k)]


def consistency_proof(lookup: NodeLookup, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size])."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    return _subproof(lookup, old_size, 0, new_size, True)


def _subproof(lookup: NodeLookup, m: int, start: int, n: int, whole: bool) -> list[bytes]:
    if m == n:
        return [] if whole else [subtree_root(lookup, start, n)]
    k = _split(n)
    if m <= k:
        return [*_subproof(lookup, m, start, k, whole), subtree_root(lookup, start + k, n - k)]
    return [*_subproof(lookup, m - k, start + k, n - k, False), subtree_root(lookup, start, k)]
