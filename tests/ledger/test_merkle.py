"""Building RFC 9162 Merkle trees: published CT vectors, a literal reference, the compact range."""

from __future__ import annotations

import hashlib

import pytest
from ct_vectors import CT_LEAVES, CT_ROOTS
from hypothesis import given, settings
from hypothesis import strategies as st

from healthledger.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
)

CT_HASHES = [leaf_hash(leaf) for leaf in CT_LEAVES]

# (index, size, PATH): transparency-dev/merkle proof/verify_test.go `inclusionProofs`,
# whose leaf numbers are 1-based; the indexes here are the 0-based RFC ones.
CT_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# (old size, new size, PROOF): transparency-dev/merkle proof/verify_test.go `consistencyProofs`.
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

# Distinct leaf hashes for the property tests, built once.
LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(600)]


# --- a literal, slow reference: RFC 9162 §2.1 as written, recursion and slices ---------


def _ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _ref_split(len(d))
    return _ref_node(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _ref_split(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], whole: bool) -> list[bytes]:
    if m == len(d):
        return [] if whole else [ref_mth(d)]
    k = _ref_split(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], whole), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


# --- hashes and published vectors -----------------------------------------------------


def test_hash_prefixes_and_empty_root() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()
    assert merkle_root([]) == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_ct_roots(size: int) -> None:
    assert merkle_root(CT_HASHES[:size]).hex() == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion_proofs(index: int, size: int, path: list[str]) -> None:
    assert [h.hex() for h in inclusion_proof(index, CT_HASHES[:size])] == path


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
def test_ct_consistency_proofs(old: int, new: int, proof: list[str]) -> None:
    assert [h.hex() for h in consistency_proof(old, CT_HASHES[:new])] == proof


# --- against the reference --------------------------------------------------------------


def test_roots_match_reference_for_every_small_size() -> None:
    for size in range(0, 130):
        assert merkle_root(LEAVES[:size]) == ref_mth(LEAVES[:size]), size


def test_every_small_inclusion_proof_matches_reference() -> None:
    for size in range(1, 40):
        for index in range(size):
            expected = ref_path(index, LEAVES[:size])
            assert inclusion_proof(index, LEAVES[:size]) == expected, (index, size)


def test_every_small_consistency_proof_matches_reference() -> None:
    for size in range(1, 40):
        for old in range(1, size + 1):
            expected = ref_subproof(old, LEAVES[:size], True)
            assert consistency_proof(old, LEAVES[:size]) == expected, (old, size)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_proofs_match_reference(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 300), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(1, size), label="old")
    assert merkle_root(LEAVES[:size]) == ref_mth(LEAVES[:size])
    assert inclusion_proof(index, LEAVES[:size]) == ref_path(index, LEAVES[:size])
    assert consistency_proof(old, LEAVES[:size]) == ref_subproof(old, LEAVES[:size], True)


def test_proof_inputs_outside_the_tree_are_rejected() -> None:
    for index in (-1, 5, 6):
        with pytest.raises(ValueError, match="outside"):
            inclusion_proof(index, LEAVES[:5])
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(0, [])
    # RFC 9162 §2.1.4.1 defines PROOF(m, D[n]) only for 0 < m <= n.
    for old in (0, -1, 6):
        with pytest.raises(ValueError, match="no consistency proof"):
            consistency_proof(old, LEAVES[:5])
    assert consistency_proof(5, LEAVES[:5]) == []


def test_proofs_accept_any_sequence() -> None:
    leaves = tuple(LEAVES[:13])
    assert merkle_root(leaves) == merkle_root(list(leaves))
    assert inclusion_proof(7, leaves) == inclusion_proof(7, list(leaves))
    assert consistency_proof(7, leaves) == consistency_proof(7, list(leaves))


def test_a_large_tree_matches_the_compact_range() -> None:
    # Correctness at scale only: speed belongs in `healthledger bench`, not in tests.
    leaves = [i.to_bytes(32, "big") for i in range(100_003)]
    compact = CompactRange()
    compact.extend(leaves)
    assert compact.root() == merkle_root(leaves)


# --- the compact range (Merkle frontier) -----------------------------------------------


def test_compact_range_equals_merkle_root_at_every_size() -> None:
    compact = CompactRange()
    assert compact.size == 0
    assert compact.root() == EMPTY_ROOT
    for size in range(1, len(LEAVES) + 1):
        compact.append(LEAVES[size - 1])
        assert compact.size == size
        assert compact.root() == merkle_root(LEAVES[:size]), size
        # One perfect subtree per set bit of the size: O(log n) state.
        assert len(compact.to_list()) == size.bit_count()


def test_compact_range_matches_ct_roots() -> None:
    compact = CompactRange()
    for size, leaf in enumerate(CT_HASHES, start=1):
        compact.append(leaf)
        assert compact.root().hex() == CT_ROOTS[size - 1]


def test_compact_range_peaks_are_the_perfect_subtree_roots() -> None:
    compact = CompactRange()
    compact.extend(LEAVES[:13])  # 13 = 8 + 4 + 1
    assert compact.to_list() == [
        merkle_root(LEAVES[0:8]),
        merkle_root(LEAVES[8:12]),
        LEAVES[12],
    ]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 300), st.integers(0, 300))
def test_compact_range_round_trips_and_keeps_growing(size: int, more: int) -> None:
    compact = CompactRange()
    compact.extend(LEAVES[:size])
    restored = CompactRange.from_list(compact.size, compact.to_list())
    assert restored == compact
    assert restored.root() == merkle_root(LEAVES[:size])
    restored.extend(LEAVES[size : size + more])
    assert restored.root() == merkle_root(LEAVES[: size + more])


def test_compact_range_to_list_is_a_copy() -> None:
    compact = CompactRange()
    compact.extend(LEAVES[:3])
    compact.to_list().clear()
    assert compact.root() == merkle_root(LEAVES[:3])


def test_compact_range_rejects_inconsistent_state() -> None:
    with pytest.raises(ValueError, match="peaks"):
        CompactRange.from_list(3, [LEAVES[0]])  # 3 leaves are 2 perfect subtrees
    with pytest.raises(ValueError, match="32-byte"):
        CompactRange.from_list(1, [b"short"])
    with pytest.raises(ValueError, match="cannot have"):
        CompactRange.from_list(-1, [])
    assert CompactRange.from_list(0, []) == CompactRange()


def test_compact_range_equality_and_repr() -> None:
    one, other = CompactRange(), CompactRange()
    one.append(LEAVES[0])
    assert one != other
    other.append(LEAVES[0])
    assert one == other
    assert one != object()
    assert repr(one) == f"CompactRange(size=1, root={LEAVES[0].hex()})"
