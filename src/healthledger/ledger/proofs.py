"""Pure proof verifiers: vendor this one file to check HealthLedger proofs without trusting a node.

Imports only hashlib. Log proofs follow RFC 9162 §2.1.3.2 (inclusion) and
§2.1.4.2 (consistency); state proofs follow docs/state-tree.md. Every function
returns None on success and raises ProofError on any mismatch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any


class ProofError(ValueError):
    """A proof that does not verify."""


def _leaf_hash(data: bytes) -> bytes:
    # Leaf prefix 0x00 so a leaf can never be read as a node: RFC 9162 §2.1.1.
    return hashlib.sha256(b"\x00" + data).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash of `data`."""
    return _leaf_hash(data)


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2 steps 1-6)."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = _node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf` (a leaf hash) is at `index` in the tree of `size` with `root`."""
    if root_from_inclusion(leaf, index, size, proof) != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the log of `old_size` is a prefix of the log of `new_size` (RFC 9162 §2.1.4.2)."""
    if not 0 < old_size <= new_size:
        raise ProofError(f"no consistency between sizes {old_size} and {new_size}")
    if old_size == new_size:
        if proof:
            raise ProofError("equal sizes take an empty proof")
        if old_root != new_root:
            raise ProofError("equal sizes with different roots")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    if not path:
        raise ProofError("empty consistency proof")
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = _node_hash(c, fr)
            sr = _node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root")


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
        steps = [(int(s["bitmap"]), _hashes(s["siblings"])) for s in proof["steps"]]
        terminal = proof["terminal"]
        kind = terminal["type"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ProofError(f"malformed state proof: {exc}") from exc
    depth = len(steps)
    if depth >= 64:
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
            bitmap = int(terminal["bitmap"])
            if bitmap >> _nibble(key_hash, depth) & 1:
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
