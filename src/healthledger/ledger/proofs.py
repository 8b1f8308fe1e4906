"""Pure proof verifiers: vendor this one file to check HealthLedger proofs without trusting a node.

Imports only hashlib (and collections.abc/typing, for annotations). Log proofs follow
RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency); state proofs follow
docs/state-tree.md. Every verify_ function returns None on success and raises
ProofError on any mismatch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any


class ProofError(ValueError):
    """A proof that does not verify: malformed, for other sizes, or leading to another root."""


# --- log proofs (RFC 9162 §2.1) ---
# The two hash functions are repeated here, not imported from merkle.py, so this file
# stands alone for whoever vendors it.

_HASH_SIZE = 32  # RFC 9162 §2.1 trees hash with SHA-256.


def _leaf_hash(data: bytes) -> bytes:
    # Leaf prefix 0x00 so a leaf can never be read as a node: RFC 9162 §2.1.1.
    return hashlib.sha256(b"\x00" + data).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    # Node prefix 0x01, the other half of the same domain separation: RFC 9162 §2.1.1.
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash of an entry, so a verifier can hash what it was given itself."""
    return _leaf_hash(data)


def _check_hash(what: str, value: bytes) -> None:
    # A hash of the wrong size is never a node of the tree. Reject it by name rather than
    # as a vague mismatch (an empty leaf and an empty root would otherwise "match").
    if len(value) != _HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, not a {_HASH_SIZE}-byte SHA-256 hash")


def _check_path(proof: Sequence[bytes]) -> None:
    for position, node in enumerate(proof):
        _check_hash(f"proof hash {position}", node)


def _climb_right_edge(fn: int, sn: int) -> tuple[int, int]:
    # RFC 9162 §2.1.3.2 step 4.b.ii (and §2.1.4.2 step 6.b.ii): a node on the right edge
    # with LSB(fn) clear was carried up without a sibling, so skip the levels where it
    # has none: shift until LSB(fn) is set or fn is 0.
    while fn and not fn & 1:
        fn >>= 1
        sn >>= 1
    return fn, sn


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2 steps 1-5), to compare or show."""
    if not 0 <= index < size:  # step 1 (and size 0 has no leaves at all)
        raise ProofError(f"leaf {index} is outside a tree of {size} leaves")
    _check_hash("leaf hash", leaf_hash)
    _check_path(proof)
    fn, sn, r = index, size - 1, leaf_hash  # steps 2 and 3
    for p in proof:  # step 4
        if sn == 0:
            raise ProofError("inclusion proof has more hashes than the tree has levels")
        if fn & 1 or fn == sn:  # r is a right child, or the right edge: p sits on its left
            r = _node_hash(p, r)
            fn, sn = _climb_right_edge(fn, sn)
        else:
            r = _node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:  # step 5, first half: the path must reach the root exactly
        raise ProofError("inclusion proof has fewer hashes than the tree has levels")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf_hash` is leaf `index` of the log of `size` with `root` (§2.1.3.2)."""
    _check_hash("root", root)
    if root_from_inclusion(leaf_hash, index, size, proof) != root:  # step 5, second half
        raise ProofError(f"inclusion proof for leaf {index} of {size} does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the log of `old_size` is a prefix of the log of `new_size` (RFC 9162 §2.1.4.2).

    RFC 9162 §2.1.4.1 defines PROOF(m, D[n]) only for 0 < m <= n, and so does this:

    - old_size == new_size: the proof must be empty (SUBPROOF(m, D[m], true) = {}) and
      the roots equal. Checked before the §2.1.4.2 steps, whose step 1 rejects any
      empty proof.
    - old_size == 0: rejected. An empty log is a prefix of every log, so there is
      nothing to prove, and accepting it would accept any pair of roots; a client
      starting from nothing should skip the check, not ask for a proof.
    - old_size > new_size: rejected, since a log only grows.
    """
    if not 0 < old_size <= new_size:
        raise ProofError(f"no consistency proof exists from size {old_size} to {new_size}")
    _check_hash("old root", old_root)
    _check_hash("new root", new_root)
    _check_path(proof)
    if old_size == new_size:
        _check_same_tree(old_root, new_root, proof)
        return
    fr, sr = _roots_from_consistency(old_size, new_size, old_root, proof)
    if fr != old_root:  # step 7
        raise ProofError(f"consistency proof does not lead to the root of size {old_size}")
    if sr != new_root:
        raise ProofError(f"consistency proof does not lead to the root of size {new_size}")


def _check_same_tree(old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    if proof:
        raise ProofError("a consistency proof between equal sizes must be empty")
    if old_root != new_root:
        raise ProofError("two different roots for the same log size")


def _roots_from_consistency(
    old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    # RFC 9162 §2.1.4.2 steps 1-6 for 0 < old_size < new_size: (fr, sr), the old and new
    # roots the proof leads to. Step 7's comparisons are left to the caller.
    if not proof:  # step 1
        raise ProofError("consistency proof is empty but the sizes differ")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2: the old tree is a perfect subtree of
        path.insert(0, old_root)  # the new one, so SUBPROOF left its root out
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4: climb to path[0], the largest perfect subtree the old tree ends with
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            raise ProofError("consistency proof has more hashes than the trees need")
        if fn & 1 or fn == sn:  # c is on the left: part of both trees
            fr, sr = _node_hash(c, fr), _node_hash(c, sr)
            fn, sn = _climb_right_edge(fn, sn)
        else:  # c is on the right: only in the new tree
            sr = _node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:  # step 7, first part
        raise ProofError("consistency proof has fewer hashes than the trees need")
    return fr, sr


# --- state proofs (sparse radix-16 trie) ---

STATE_EMPTY_ROOT = bytes(32)


def state_key_hash(namespace: str, key: str) -> bytes:
    """Where a state key sits in the trie: SHA-256(namespace || 0x00 || key)."""
    return hashlib.sha256(namespace.encode() + b"\x00" + key.encode()).digest()


def state_value_hash(value: bytes) -> bytes:
    """The commitment to a state value: SHA-256 of its canonical bytes."""
    return hashlib.sha256(value).digest()


def _nibble(key: bytes, depth: int) -> int:
    byte = key[depth >> 1]
    return (byte >> 4) if depth % 2 == 0 else (byte & 0x0F)


def _internal_hash(bitmap: int, children: Sequence[bytes]) -> bytes:
    if bin(bitmap).count("1") != len(children) or not 0 < bitmap < 1 << 16:
        raise ProofError("internal node bitmap does not match its children")
    return hashlib.sha256(b"\x01" + bitmap.to_bytes(2, "big") + b"".join(children)).digest()


def _bitmap(value: Any) -> int:
    # JSON integers only: accepting "7" or true would give one proof several spellings.
    if type(value) is not int or not 0 < value < 1 << 16:
        raise ProofError("a bitmap is an integer in 1..65535")
    return value


def _hashes(values: Any) -> list[bytes]:
    hashes = [bytes.fromhex(v) for v in values]
    if any(len(h) != 32 for h in hashes):
        raise ProofError("a proof hash is not 32 bytes")
    return hashes


def verify_state_proof(
    root: bytes, key_hash: bytes, value_hash: bytes | None, proof: Mapping[str, Any]
) -> None:
    """Check that `key_hash` maps to `value_hash` (or, if None, is absent) under `root`."""
    try:
        steps = [(_bitmap(s["bitmap"]), _hashes(s["siblings"])) for s in proof["steps"]]
        terminal = proof["terminal"]
        kind = terminal["type"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ProofError(f"malformed state proof: {exc}") from exc
    if len(key_hash) != 32 or (value_hash is not None and len(value_hash) != 32):
        raise ProofError("key and value hashes are 32 bytes")
    depth = len(steps)
    if depth > 64:  # 64 internal nodes: two keys differing only in their last nibble
        raise ProofError("state proof is deeper than a key hash")
    current = _terminal_hash(kind, terminal, key_hash, value_hash, depth)
    if current is None:
        if steps or root != STATE_EMPTY_ROOT:
            raise ProofError("the trie is not empty")
        if value_hash is not None:
            raise ProofError("an empty trie holds no value")
        return
    for level in range(depth - 1, -1, -1):
        bitmap, siblings = steps[level]
        position = _nibble(key_hash, level)
        if not bitmap >> position & 1:
            raise ProofError("the key's path is not in the proof's node")
        rank = bin(bitmap & ((1 << position) - 1)).count("1")
        current = _internal_hash(bitmap, [*siblings[:rank], current, *siblings[rank:]])
    if current != root:
        raise ProofError("state proof does not lead to the state root")


def _terminal_hash(
    kind: str, terminal: Mapping[str, Any], key_hash: bytes, value_hash: bytes | None, depth: int
) -> bytes | None:
    if kind == "empty_tree":
        return None
    try:
        if kind == "leaf":
            leaf_key, leaf_value = _hashes([terminal["key_hash"], terminal["value_hash"]])
            _check_leaf(leaf_key, leaf_value, key_hash, value_hash, depth)
            return hashlib.sha256(b"\x00" + leaf_key + leaf_value).digest()
        if kind == "empty_slot":
            if value_hash is not None:
                raise ProofError("an empty slot proves absence, not a value")
            bitmap = _bitmap(terminal["bitmap"])
            if depth == 64 or bitmap >> _nibble(key_hash, depth) & 1:
                raise ProofError("the slot for the key is not empty")
            return _internal_hash(bitmap, _hashes(terminal["children"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProofError(f"malformed state proof terminal: {exc}") from exc
    raise ProofError(f"unknown state proof terminal {kind!r}")


def _check_leaf(
    leaf_key: bytes, leaf_value: bytes, key_hash: bytes, value_hash: bytes | None, depth: int
) -> None:
    if value_hash is not None:
        if leaf_key != key_hash or leaf_value != value_hash:
            raise ProofError("the leaf does not hold this key and value")
        return
    if leaf_key == key_hash:
        raise ProofError("the key is present, not absent")
    if any(_nibble(leaf_key, d) != _nibble(key_hash, d) for d in range(depth)):
        raise ProofError("the leaf proving absence is not on the key's path")
