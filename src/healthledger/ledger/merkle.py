"""RFC 9162 (Certificate Transparency v2) §2.1 Merkle trees: roots, proofs and a compact range.

Every function takes leaf *hashes* (see `leaf_hash`), never raw entries, so a caller
hashes each entry once and can keep the hashes. The tree shape is RFC 9162's: the
left subtree of a tree of n > 1 leaves holds the largest power of two k < n leaves.

Everything here is iterative and linear in the number of leaves (no recursion that
copies lists), so a root over a million leaves costs a million SHA-256 calls and no
more. The verifiers live apart, in `proofs.py`, so that file can be vendored alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32  # SHA-256, the hash of RFC 9162 §2.1 trees.

# MTH({}) = SHA-256() of nothing: RFC 9162 §2.1.1.
EMPTY_ROOT = hashlib.sha256(b"").digest()

# Leaf prefix 0x00 and node prefix 0x01 so a leaf can never be read as a node, nor a
# node as a leaf (second-preimage resistance): RFC 9162 §2.1.1.
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d): the hash of one log entry (RFC 9162 §2.1.1)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node (RFC 9162 §2.1.1)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(size: int) -> int:
    """RFC 9162 §2.1.1's k: the largest power of two strictly smaller than `size` (> 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def _pair_up(nodes: Sequence[bytes], start: int, end: int) -> list[bytes]:
    """Hash nodes[start:end] in adjacent pairs; an odd last node is carried up unchanged."""
    sha256 = hashlib.sha256  # bound once: this loop is the whole cost of a root
    parents = [
        sha256(_NODE_PREFIX + nodes[i] + nodes[i + 1]).digest() for i in range(start, end - 1, 2)
    ]
    if (end - start) & 1:
        parents.append(nodes[end - 1])
    return parents


def _range_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) without copying the input, bottom-up, level by level.

    Why bottom-up equals RFC 9162's top-down split: after L rounds of pairing, node j
    of the level is MTH of leaves [j*2^L, min((j+1)*2^L, n)). Pairing two neighbours
    gives a chunk of size in (2^L, 2^(L+1)] whose RFC split k is exactly 2^L, and a
    carried-up odd last chunk (size <= 2^L) is still the MTH of its leaves. So the
    single node left at the top is MTH(D[start:end]).
    """
    if start >= end:
        return EMPTY_ROOT
    if end - start == 1:
        return leaf_hashes[start]
    level = _pair_up(leaf_hashes, start, end)
    while len(level) > 1:
        level = _pair_up(level, 0, len(level))
    return level[0]


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 §2.1.1 over already-hashed leaves: the log's commitment."""
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 §2.1.3.1: the siblings that tie one leaf to the root."""
    size = len(leaf_hashes)
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is outside a tree of {size} leaves")
    # Walk down from the root, one RFC split per level, noting the subtree we do not
    # enter. The RFC lists the deepest sibling first, so the walk is reversed at the end.
    siblings: list[bytes] = []
    start = 0
    while size > 1:
        k = _split(size)
        if index - start < k:
            siblings.append(_range_root(leaf_hashes, start + k, start + size))
            size = k
        else:
            siblings.append(_range_root(leaf_hashes, start, start + k))
            start, size = start + k, size - k
    siblings.reverse()
    return siblings


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1: shows the log of `old_size` is a prefix of this one.

    RFC 9162 defines PROOF only for 0 < m <= n (m == n gives the empty proof), so
    `old_size` 0 or beyond the tree is a ValueError, like a leaf outside the tree.
    """
    size = len(leaf_hashes)
    if not 0 < old_size <= size:
        raise ValueError(f"no consistency proof from size {old_size} to {size}")
    # SUBPROOF(m, D[start:start+size], whole), unrolled: each step keeps the half that
    # still holds the old tree's right edge and notes the other half's MTH.
    siblings: list[bytes] = []
    start, m, whole = 0, old_size, True
    while m != size:
        k = _split(size)
        if m <= k:
            siblings.append(_range_root(leaf_hashes, start + k, start + size))
            size = k
        else:
            siblings.append(_range_root(leaf_hashes, start, start + k))
            start, m, size, whole = start + k, m - k, size - k, False
    # SUBPROOF(m, D[m], false) = {MTH(D[m])}: a subtree the old tree ends with but the
    # verifier cannot rebuild from the old root alone. With whole = true it is omitted,
    # since then the subtree is the old tree itself and the verifier knows its root.
    if not whole:
        siblings.append(_range_root(leaf_hashes, start, start + size))
    siblings.reverse()
    return siblings


class CompactRange:
    """The Merkle frontier of a growing log: roots of its perfect subtrees, largest first.

    A log of n leaves splits into one perfect subtree per set bit of n (transparency-dev
    "compact ranges"), so this holds at most log2(n) + 1 hashes. Appending merges equal
    subtrees like binary carry, O(log n) hashes at worst and O(1) amortised, and never
    rehashes history; `root` folds the peaks into the RFC 9162 MTH of all n leaves.
    """

    __slots__ = ("_peaks", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._peaks: list[bytes] = []

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash at index `size`; return the (level, index, hash) nodes it completes.

        Level 0 is the leaf itself. The ledger stores every completed node once, so
        any root or proof of the log later needs O(log n) reads (see `ledger/log.py`).
        """
        node, index, level = leaf_hash, self._size, 0
        completed = [(0, index, leaf_hash)]
        # Each trailing 1 bit of the index is a perfect subtree of the same height
        # waiting on the left for this one: combine them, exactly like a binary carry.
        while index & 1:
            node = node_hash(self._peaks.pop(), node)
            index >>= 1
            level += 1
            completed.append((level, index, node))
        self._peaks.append(node)
        self._size += 1
        return completed

    def copy(self) -> CompactRange:
        return CompactRange.from_list(self._size, self._peaks)

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append several leaf hashes in order."""
        for leaf in leaf_hashes:
            self.append(leaf)

    def root(self) -> bytes:
        """MTH of all leaves so far (RFC 9162 §2.1.1), from O(log n) peaks."""
        if not self._peaks:
            return EMPTY_ROOT
        # The RFC's split puts the largest power of two on the left, which is the first
        # peak; the remaining leaves split the same way. So fold right to left.
        root = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            root = node_hash(peak, root)
        return root

    def to_list(self) -> list[bytes]:
        """The peaks, largest subtree first, for storage next to `size`."""
        return list(self._peaks)

    @classmethod
    def from_list(cls, size: int, peaks: Sequence[bytes]) -> CompactRange:
        """Restore a range saved with `to_list`; the size cannot be inferred from the peaks."""
        if size < 0:
            raise ValueError(f"a log cannot have {size} leaves")
        if len(peaks) != size.bit_count():
            raise ValueError(
                f"a log of {size} leaves has {size.bit_count()} peaks, not {len(peaks)}"
            )
        if any(len(peak) != HASH_SIZE for peak in peaks):
            raise ValueError(f"every peak must be a {HASH_SIZE}-byte hash")
        compact = cls()
        compact._size = size
        compact._peaks = [bytes(peak) for peak in peaks]
        return compact

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._peaks == other._peaks

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"
