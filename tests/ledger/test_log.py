"""The ledger-wide log: CT vectors, stored perfect subtrees, proofs that fail when altered."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthledger.ledger import log
from healthledger.ledger.merkle import CompactRange, leaf_hash, merkle_root
from healthledger.ledger.proofs import ProofError, verify_consistency, verify_inclusion

# The eight leaves and roots used by Certificate Transparency implementations' tests.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


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
