"""RFC 9162 §2.1.3.2 and §2.1.4.2 verifiers: published vectors, every corruption, edge sizes."""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from ct_vectors import CT_CONSISTENCY, CT_INCLUSION, CT_LEAVES
from ct_vectors import CT_ROOTS as CT_ROOT_HEXES
from hypothesis import given, settings
from hypothesis import strategies as st

from healthledger.ledger import merkle, proofs
from healthledger.ledger.merkle import consistency_proof, inclusion_proof, merkle_root
from healthledger.ledger.proofs import (
    ProofError,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)

CT_ROOTS = [bytes.fromhex(root) for root in CT_ROOT_HEXES]
EMPTY_TREE = hashlib.sha256(b"").digest()
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
LEAVES = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(600)]


def _hexes(values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def _flip(proof: Sequence[bytes], position: int, bit: int) -> list[bytes]:
    altered = list(proof)
    node = bytearray(altered[position])
    node[bit // 8] ^= 1 << (bit % 8)
    altered[position] = bytes(node)
    return altered


def _rejects(check: Callable[..., None], args: tuple[Any, ...]) -> bool:
    try:
        check(*args)
    except ProofError:
        return True
    return False


# --- the file stands alone --------------------------------------------------------------


def test_proofs_module_imports_only_the_standard_library_it_names() -> None:
    tree = ast.parse(Path(proofs.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= {"__future__", "hashlib", "typing", "collections.abc"}


def test_local_hashes_agree_with_the_builder() -> None:
    for data in CT_LEAVES:
        assert proofs.leaf_hash(data) == merkle.leaf_hash(data)
    assert proofs._node_hash(LEAVES[0], LEAVES[1]) == merkle.node_hash(LEAVES[0], LEAVES[1])


def test_proof_error_is_a_value_error() -> None:
    assert issubclass(ProofError, ValueError)


# --- published vectors and the corruptions transparency-dev probes --------------------


def _inclusion_probes(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> dict[str, tuple[bytes, int, int, list[bytes], bytes]]:
    probes = {
        "index - 1": (leaf, index - 1, size, proof, root),
        "index + 1": (leaf, index + 1, size, proof, root),
        "index ^ 2": (leaf, index ^ 2, size, proof, root),
        "size * 2": (leaf, index, size * 2, proof, root),
        "size // 2": (leaf, index, size // 2, proof, root),
        "wrong leaf": (merkle.leaf_hash(b"WrongLeaf"), index, size, proof, root),
        "empty-tree root": (leaf, index, size, proof, EMPTY_TREE),
        "random root": (leaf, index, size, proof, SOME_HASH),
        "trailing garbage": (leaf, index, size, [*proof, b""], root),
        "trailing root": (leaf, index, size, [*proof, root], root),
        "preceding garbage": (leaf, index, size, [b"", *proof], root),
        "preceding root": (leaf, index, size, [root, *proof], root),
    }
    for position in range(len(proof)):
        probes[f"proof[{position}] bit 3"] = (leaf, index, size, _flip(proof, position, 3), root)
    if proof:
        probes["removed last"] = (leaf, index, size, proof[:-1], root)
    if len(proof) > 1:
        probes["inserted"] = (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root)
    return probes


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion_vectors_verify_and_every_probe_fails(
    index: int, size: int, path: list[str]
) -> None:
    leaf, proof, root = proofs.leaf_hash(CT_LEAVES[index]), _hexes(path), CT_ROOTS[size - 1]
    assert root_from_inclusion(leaf, index, size, proof) == root
    verify_inclusion(leaf, index, size, proof, root)
    accepted = [
        name
        for name, args in _inclusion_probes(index, size, proof, root, leaf).items()
        if not _rejects(verify_inclusion, args)
    ]
    assert accepted == []


def _consistency_probes(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> dict[str, tuple[int, int, bytes, bytes, list[bytes]]]:
    probes = {
        "old - 1": (old - 1, new, old_root, new_root, proof),
        "old + 1": (old + 1, new, old_root, new_root, proof),
        "old ^ 2": (old ^ 2, new, old_root, new_root, proof),
        "new * 2": (old, new * 2, old_root, new_root, proof),
        "new // 2": (old, new // 2, old_root, new_root, proof),
        "wrong old root": (old, new, SOME_HASH, new_root, proof),
        "wrong new root": (old, new, old_root, SOME_HASH, proof),
        "swapped roots": (old, new, new_root, old_root, proof),
        "empty proof": (old, new, old_root, new_root, []),
        "trailing garbage": (old, new, old_root, new_root, [*proof, b""]),
        "trailing old root": (old, new, old_root, new_root, [*proof, old_root]),
        "trailing new root": (old, new, old_root, new_root, [*proof, new_root]),
        "preceding garbage": (old, new, old_root, new_root, [b"", *proof]),
        "preceding old root": (old, new, old_root, new_root, [old_root, *proof]),
        "preceding new root": (old, new, old_root, new_root, [new_root, *proof]),
        "preceding proof[0]": (old, new, old_root, new_root, [proof[0], *proof]),
        "truncated": (old, new, old_root, new_root, proof[:-1]),
    }
    for position in range(len(proof)):
        probes[f"proof[{position}] bit 4"] = (
            old,
            new,
            old_root,
            new_root,
            _flip(proof, position, 4),
        )
    return probes


@pytest.mark.parametrize(("old", "new", "path"), CT_CONSISTENCY)
def test_ct_consistency_vectors_verify_and_every_probe_fails(
    old: int, new: int, path: list[str]
) -> None:
    proof, old_root, new_root = _hexes(path), CT_ROOTS[old - 1], CT_ROOTS[new - 1]
    verify_consistency(old, new, old_root, new_root, proof)
    if not proof:  # old == new: nothing to corrupt but the roots (see the edge-case tests)
        return
    accepted = [
        name
        for name, args in _consistency_probes(old, new, old_root, new_root, proof).items()
        if not _rejects(verify_consistency, args)
    ]
    assert accepted == []


# --- edge cases -------------------------------------------------------------------------


def test_single_leaf_tree() -> None:
    leaf = proofs.leaf_hash(b"data")
    verify_inclusion(leaf, 0, 1, [], leaf)  # the root of one leaf is that leaf
    with pytest.raises(ProofError, match="32-byte"):
        verify_inclusion(leaf, 0, 1, [], b"")
    with pytest.raises(ProofError, match="32-byte"):
        verify_inclusion(b"", 0, 1, [], leaf)
    with pytest.raises(ProofError, match="32-byte"):
        verify_inclusion(b"", 0, 1, [], b"")  # equal, but not hashes at all


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (1, 1), (2, 1), (-1, 4), (4, 4)])
def test_inclusion_outside_the_tree_is_rejected(index: int, size: int) -> None:
    with pytest.raises(ProofError, match="outside"):
        verify_inclusion(SOME_HASH, index, size, [], EMPTY_TREE)


def test_inclusion_proof_with_a_short_hash_names_it() -> None:
    proof = inclusion_proof(3, LEAVES[:8])
    proof[1] = proof[1][:31]
    with pytest.raises(ProofError, match="proof hash 1 is 31 bytes"):
        verify_inclusion(LEAVES[3], 3, 8, proof, merkle_root(LEAVES[:8]))


def test_inclusion_proof_length_errors_are_explicit() -> None:
    root = merkle_root(LEAVES[:8])
    proof = inclusion_proof(3, LEAVES[:8])
    with pytest.raises(ProofError, match="more hashes"):
        verify_inclusion(LEAVES[3], 3, 8, [*proof, SOME_HASH], root)
    with pytest.raises(ProofError, match="fewer hashes"):
        verify_inclusion(LEAVES[3], 3, 8, proof[:-1], root)
    with pytest.raises(ProofError, match="does not lead to the root"):
        verify_inclusion(LEAVES[4], 3, 8, proof, root)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 8])
def test_consistency_between_equal_sizes_takes_an_empty_proof(size: int) -> None:
    root = merkle_root(LEAVES[:size])
    verify_consistency(size, size, root, root, [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(size, size, root, root, [root])
    with pytest.raises(ProofError, match="different roots"):
        verify_consistency(size, size, root, SOME_HASH, [])


@pytest.mark.parametrize(("old", "new"), [(0, 0), (0, 1), (0, 8), (-1, 3), (2, 1), (9, 8)])
def test_consistency_from_nothing_or_backwards_is_rejected(old: int, new: int) -> None:
    # RFC 9162 §2.1.4.1 defines PROOF(m, D[n]) for 0 < m <= n only; an empty old log
    # would otherwise "prove" any pair of roots consistent.
    with pytest.raises(ProofError, match="no consistency proof exists"):
        verify_consistency(old, new, EMPTY_TREE, merkle_root(LEAVES[:3]), [])


def test_consistency_between_different_sizes_needs_a_proof() -> None:
    # §2.1.4.2 step 1, including when the old size is a power of two (step 2 would
    # otherwise make a path from the old root alone).
    for old, new in [(1, 2), (2, 4), (3, 5)]:
        old_root, new_root = merkle_root(LEAVES[:old]), merkle_root(LEAVES[:new])
        with pytest.raises(ProofError, match="empty but the sizes differ"):
            verify_consistency(old, new, old_root, new_root, [])


def test_consistency_errors_are_explicit() -> None:
    old_root, new_root = merkle_root(LEAVES[:3]), merkle_root(LEAVES[:7])
    proof = consistency_proof(3, LEAVES[:7])
    with pytest.raises(ProofError, match="more hashes"):
        verify_consistency(3, 7, old_root, new_root, [*proof, SOME_HASH])
    with pytest.raises(ProofError, match="fewer hashes"):
        verify_consistency(3, 7, old_root, new_root, proof[:-1])
    with pytest.raises(ProofError, match="root of size 3"):
        verify_consistency(3, 7, SOME_HASH, new_root, proof)
    with pytest.raises(ProofError, match="root of size 7"):
        verify_consistency(3, 7, old_root, SOME_HASH, proof)
    with pytest.raises(ProofError, match="old root is 0 bytes"):
        verify_consistency(3, 7, b"", new_root, proof)


# --- exhaustive over small trees, random over larger ones --------------------------------


def test_every_small_proof_verifies() -> None:
    for size in range(1, 33):
        leaves, root = LEAVES[:size], merkle_root(LEAVES[:size])
        for index in range(size):
            verify_inclusion(leaves[index], index, size, inclusion_proof(index, leaves), root)
        for old in range(1, size + 1):
            old_root = merkle_root(LEAVES[:old])
            verify_consistency(old, size, old_root, root, consistency_proof(old, leaves))


def _path_length(index: int, size: int) -> int:
    """How many hashes PATH(index, D[size]) has: one per RFC split on the way down."""
    length = 0
    while size > 1:
        k = 1 << ((size - 1).bit_length() - 1)
        index, size = (index, k) if index < k else (index - k, size - k)
        length += 1
    return length


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_inclusion_proofs_verify_and_any_alteration_fails(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 300), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    leaves, root = LEAVES[:size], merkle_root(LEAVES[:size])
    proof = inclusion_proof(index, leaves)
    assert len(proof) == _path_length(index, size)
    verify_inclusion(leaves[index], index, size, proof, root)

    def fails(leaf: bytes, at: int, of: int, path: list[bytes], top: bytes) -> None:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, at, of, path, top)

    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="position")
        bit = data.draw(st.integers(0, 255), label="bit")
        fails(leaves[index], index, size, _flip(proof, position, bit), root)
        fails(leaves[index], index, size, proof[:position] + proof[position + 1 :], root)
    extra = data.draw(st.integers(0, len(proof)), label="insert at")
    fails(leaves[index], index, size, [*proof[:extra], SOME_HASH, *proof[extra:]], root)
    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other")
        fails(leaves[index], other, size, proof, root)  # wrong index
        fails(leaves[other], index, size, proof, root)  # wrong leaf
    fails(merkle.leaf_hash(b"not in the log"), index, size, proof, root)
    fails(leaves[index], index, size, proof, merkle_root(LEAVES[: size + 1]))
    # A wrong size fails whenever it changes the path's shape; size * 2 always does. (A
    # size with the same shape can still verify against this root: RFC 9162 proofs bind
    # a root to a size only through the signed tree head that carries both.)
    wrong_size = data.draw(st.integers(0, 600).filter(lambda s: s != size), label="wrong size")
    if index >= wrong_size or _path_length(index, wrong_size) != len(proof):
        fails(leaves[index], index, wrong_size, proof, root)
    fails(leaves[index], index, size * 2, proof, root)


def _consistency_length(old: int, new: int) -> int:
    """How many hashes PROOF(old, D[new]) has, by RFC 9162 §2.1.4.1's recursion."""
    length, whole = 0, True
    while old != new:
        k = 1 << ((new - 1).bit_length() - 1)
        old, new, whole = (old, k, whole) if old <= k else (old - k, new - k, False)
        length += 1
    return length + (0 if whole else 1)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_consistency_proofs_verify_and_any_alteration_fails(data: st.DataObject) -> None:
    new = data.draw(st.integers(1, 300), label="new size")
    old = data.draw(st.integers(1, new), label="old size")
    old_root, new_root = merkle_root(LEAVES[:old]), merkle_root(LEAVES[:new])
    proof = consistency_proof(old, LEAVES[:new])
    assert len(proof) == _consistency_length(old, new)
    verify_consistency(old, new, old_root, new_root, proof)

    def fails(m: int, n: int, first: bytes, second: bytes, path: list[bytes]) -> None:
        with pytest.raises(ProofError):
            verify_consistency(m, n, first, second, path)

    if proof:
        position = data.draw(st.integers(0, len(proof) - 1), label="position")
        bit = data.draw(st.integers(0, 255), label="bit")
        fails(old, new, old_root, new_root, _flip(proof, position, bit))
        fails(old, new, old_root, new_root, proof[:position] + proof[position + 1 :])
    extra = data.draw(st.integers(0, len(proof)), label="insert at")
    fails(old, new, old_root, new_root, [*proof[:extra], SOME_HASH, *proof[extra:]])
    fails(old, new, SOME_HASH, new_root, proof)
    fails(old, new, old_root, SOME_HASH, proof)
    if old != new:
        fails(old, new, new_root, old_root, proof)
        # Any other old size claims another old root: it fails against these roots.
        other = data.draw(st.integers(1, new).filter(lambda m: m != old), label="other old")
        fails(other, new, old_root, new_root, proof)
    # As with inclusion, a new size fails whenever it changes the proof's shape.
    wrong_new = data.draw(st.integers(1, 600).filter(lambda n: n != new), label="wrong new")
    if wrong_new < old or _consistency_length(old, wrong_new) != len(proof):
        fails(old, wrong_new, old_root, new_root, proof)
    fails(0, new, old_root, new_root, proof)
