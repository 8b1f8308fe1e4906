"""The ledger-wide log: CT vectors, stored perfect subtrees, proofs that fail when altered."""

from __future__ import annotations

import pytest
from ct_vectors import CT_LEAVES, CT_ROOTS
from hypothesis import given, settings
from hypothesis import strategies as st

from healthledger.ledger import log
from healthledger.ledger.merkle import CompactRange, leaf_hash, merkle_root
from healthledger.ledger.proofs import ProofError, verify_consistency, verify_inclusion


class StoredLog:
    """A log built by appending, with its completed nodes kept as the store keeps them."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.frontier = CompactRange()
        self.nodes: dict[tuple[int, int], bytes] = {}
        for leaf in leaves:
            for level, index, digest in self.frontier.append(leaf):
                self.nodes[(level, index)] = digest

    def lookup(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]


@pytest.mark.parametrize("size", range(1, 9))
def test_ct_vector_roots(size: int) -> None:
    leaves = [leaf_hash(d) for d in CT_LEAVES[:size]]
    assert merkle_root(leaves).hex() == CT_ROOTS[size - 1]
    stored = StoredLog(leaves)
    assert stored.frontier.root().hex() == CT_ROOTS[size - 1]
    assert log.log_root(stored.lookup, size).hex() == CT_ROOTS[size - 1]


def test_empty_root_is_the_hash_of_nothing() -> None:
    assert merkle_root([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_frontier_survives_a_round_trip() -> None:
    stored = StoredLog([leaf_hash(bytes([i])) for i in range(13)])
    again = log.frontier_from_bytes(log.frontier_to_bytes(stored.frontier))
    assert again == stored.frontier


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=200), st.data())
def test_inclusion_and_consistency_proofs_verify(size: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    stored = StoredLog(leaves)
    root = merkle_root(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    path = log.inclusion_proof(stored.lookup, index, size)
    verify_inclusion(leaves[index], index, size, path, root)
    old = data.draw(st.integers(min_value=1, max_value=size))
    old_root = log.log_root(stored.lookup, old)
    assert old_root == merkle_root(leaves[:old])
    proof = log.consistency_proof(stored.lookup, old, size)
    verify_consistency(old, size, old_root, root, proof)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=2, max_value=120), st.data())
def test_altered_proofs_fail(size: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    stored = StoredLog(leaves)
    root = merkle_root(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    path = log.inclusion_proof(stored.lookup, index, size)
    if path:
        flip = data.draw(st.integers(min_value=0, max_value=len(path) - 1))
        bad = [*path]
        bad[flip] = bytes([bad[flip][0] ^ 1]) + bad[flip][1:]
        with pytest.raises(ProofError):
            verify_inclusion(leaves[index], index, size, bad, root)
        with pytest.raises(ProofError):
            verify_inclusion(leaves[index], index, size, path[:-1], root)
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], index, size, [*path, root], root)
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(b"other"), index, size, path, root)
    old = data.draw(st.integers(min_value=1, max_value=size - 1))
    proof = log.consistency_proof(stored.lookup, old, size)
    old_root = merkle_root(leaves[:old])
    with pytest.raises(ProofError):
        verify_consistency(old, size, leaf_hash(b"x"), root, proof)
    with pytest.raises(ProofError):
        verify_consistency(old, size, old_root, leaf_hash(b"x"), proof)
    if proof:
        with pytest.raises(ProofError):
            verify_consistency(old, size, old_root, root, proof[:-1])
