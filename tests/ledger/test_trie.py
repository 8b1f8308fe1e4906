"""The state trie against a slow, obvious reference, and its proofs."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthledger.ledger.proofs import ProofError, verify_state_proof
from healthledger.ledger.trie import EMPTY_ROOT, StateTrie, nibble


class DictReader:
    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}

    def get(self, path: bytes) -> bytes | None:
        return self.nodes.get(path)

    def persist(self, writes: dict[bytes, bytes | None]) -> None:
        for path, node in writes.items():
            if node is None:
                self.nodes.pop(path, None)
            else:
                self.nodes[path] = node


def reference_root(model: dict[bytes, bytes]) -> bytes:
    """Build the canonical trie from scratch, recursively, with no cleverness."""
    if not model:
        return EMPTY_ROOT

    def build(items: list[tuple[bytes, bytes]], depth: int) -> bytes:
        if len(items) == 1:
            key, value = items[0]
            return hashlib.sha256(b"\x00" + key + value).digest()
        bitmap, children = 0, b""
        for position in range(16):
            group = [(k, v) for k, v in items if nibble(k, depth) == position]
            if group:
                bitmap |= 1 << position
                children += build(group, depth + 1)
        return hashlib.sha256(b"\x01" + bitmap.to_bytes(2, "big") + children).digest()

    return build(sorted(model.items()), 0)


def key(n: int) -> bytes:
    return hashlib.sha256(b"k" + n.to_bytes(4, "big")).digest()


def value(n: int) -> bytes:
    return hashlib.sha256(b"v" + n.to_bytes(4, "big")).digest()


def near_key(prefix_nibbles: int, n: int) -> bytes:
    """Keys that share their first `prefix_nibbles` nibbles, to force deep paths."""
    base = bytearray(key(0))
    tail = key(n)
    for depth in range(prefix_nibbles, 64):
        byte_index = depth >> 1
        high = depth % 2 == 0
        new = nibble(tail, depth)
        base[byte_index] = (
            (base[byte_index] & 0x0F) | (new << 4) if high else (base[byte_index] & 0xF0) | new
        )
    return bytes(base)


batches = st.lists(
    st.dictionaries(
        st.integers(min_value=0, max_value=60),
        st.one_of(st.none(), st.integers(min_value=0, max_value=1000)),
        max_size=25,
    ),
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(batches)
def test_root_matches_reference_after_every_batch(history: list[dict[int, int | None]]) -> None:
    reader = DictReader()
    trie = StateTrie(reader)
    model: dict[bytes, bytes] = {}
    for batch in history:
        writes = {key(k): None if v is None else value(v) for k, v in batch.items()}
        reader.persist(trie.update(writes))
        for k, v in writes.items():
            if v is None:
                model.pop(k, None)
            else:
                model[k] = v
        assert trie.root() == reference_root(model)
        reloaded = StateTrie(reader)
        assert reloaded.root() == trie.root()
        for k in list(model)[:5]:
            assert reloaded.get(k) == model[k]
    # Stale nodes are deleted: a fresh build of the same set stores the same node table.
    fresh_reader = DictReader()
    fresh_reader.persist(StateTrie(fresh_reader).update(dict(model)))
    assert fresh_reader.nodes == reader.nodes


@settings(max_examples=100, deadline=None)
@given(batches, st.integers(min_value=0, max_value=80))
def test_every_proof_verifies_and_lies_fail(
    history: list[dict[int, int | None]], probe: int
) -> None:
    reader = DictReader()
    trie = StateTrie(reader)
    model: dict[bytes, bytes] = {}
    for batch in history:
        writes = {key(k): None if v is None else value(v) for k, v in batch.items()}
        reader.persist(trie.update(writes))
        model.update({k: v for k, v in writes.items() if v is not None})
        for k, v in writes.items():
            if v is None:
                model.pop(k, None)
    root = trie.root()
    target = key(probe)
    proof = trie.prove(target).to_dict()
    actual = model.get(target)
    verify_state_proof(root, target, actual, proof)
    wrong = value(9999) if actual is None else None
    with pytest.raises(ProofError):
        verify_state_proof(root, target, wrong, proof)
    with pytest.raises(ProofError):
        verify_state_proof(hashlib.sha256(root).digest(), target, actual, proof)


def test_absence_proofs_for_keys_sharing_long_prefixes() -> None:
    reader = DictReader()
    trie = StateTrie(reader)
    keys = [near_key(20, n) for n in range(5)]
    reader.persist(trie.update({k: value(i) for i, k in enumerate(keys)}))
    assert trie.root() == reference_root({k: value(i) for i, k in enumerate(keys)})
    for i, k in enumerate(keys):
        verify_state_proof(trie.root(), k, value(i), trie.prove(k).to_dict())
    absent = near_key(20, 77)
    proof = trie.prove(absent).to_dict()
    assert len(proof["steps"]) >= 20
    verify_state_proof(trie.root(), absent, None, proof)
    # Deleting down to one key collapses the whole path back to a root leaf.
    reader.persist(trie.update({k: None for k in keys[1:]}))
    assert reader.nodes == {b"": b"\x00" + keys[0] + value(0)}


def test_tampered_proofs_fail() -> None:
    reader = DictReader()
    trie = StateTrie(reader)
    reader.persist(trie.update({key(n): value(n) for n in range(300)}))
    proof = trie.prove(key(7)).to_dict()
    verify_state_proof(trie.root(), key(7), value(7), proof)
    step = proof["steps"][0]
    first = {**step, "siblings": ["00" * 32, *step["siblings"][1:]]}
    bad_sibling = {**proof, "steps": [first, *proof["steps"][1:]]}
    bad_bitmap = {**proof, "steps": [{**step, "bitmap": step["bitmap"] ^ 1}, *proof["steps"][1:]]}
    truncated = {**proof, "steps": proof["steps"][:-1]}
    for forged in (bad_sibling, bad_bitmap, truncated, {"steps": "x"}, {}):
        with pytest.raises(ProofError):
            verify_state_proof(trie.root(), key(7), value(7), forged)
    # Claiming a present key absent, with its own leaf as "another leaf", fails.
    with pytest.raises(ProofError):
        verify_state_proof(trie.root(), key(7), None, proof)


def test_empty_trie() -> None:
    trie = StateTrie(DictReader())
    assert trie.root() == EMPTY_ROOT
    verify_state_proof(EMPTY_ROOT, key(1), None, trie.prove(key(1)).to_dict())
    with pytest.raises(ProofError):
        verify_state_proof(EMPTY_ROOT, key(1), value(1), trie.prove(key(1)).to_dict())
