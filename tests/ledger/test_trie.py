"""The state trie against a slow, obvious reference builder, and its proofs."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthledger.ledger.proofs import (
    ProofError,
    state_key_hash,
    state_value_hash,
    verify_state_proof,
)
from healthledger.ledger.trie import EMPTY_ROOT, StateProof, StateTrie

HEX = "0123456789abcdef"


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class DictReader:
    """A node store in a dict, fed only with what `StateTrie.update` returns."""

    def __init__(self, nodes: dict[bytes, bytes] | None = None) -> None:
        self.nodes: dict[bytes, bytes] = dict(nodes or {})
        self.reads = 0

    def get(self, path: bytes) -> bytes | None:
        self.reads += 1
        return self.nodes.get(path)

    def persist(self, writes: dict[bytes, bytes | None]) -> None:
        for path, node in writes.items():
            if node is None:
                # A node made and unmade within one batch is "deleted" too: a no-op.
                self.nodes.pop(path, None)
            else:
                self.nodes[path] = node


# --- the reference: build the whole trie from scratch, on hex strings, no cleverness ---


def reference_nodes(model: dict[bytes, bytes]) -> dict[bytes, bytes]:
    """Every node of the canonical trie for `model`, by path (one byte per nibble)."""
    nodes: dict[bytes, bytes] = {}

    def build(prefix: str, items: dict[str, bytes]) -> bytes:
        if len(items) == 1:
            ((key, value),) = items.items()
            node = b"\x00" + bytes.fromhex(key) + value
        else:
            bitmap, hashes = 0, b""
            for index, digit in enumerate(HEX):
                group = {k: v for k, v in items.items() if k.startswith(prefix + digit)}
                if group:
                    bitmap |= 1 << index
                    hashes += build(prefix + digit, group)
            node = b"\x01" + bitmap.to_bytes(2, "big") + hashes
        nodes[bytes(HEX.index(c) for c in prefix)] = node
        return sha(node)

    if model:
        build("", {k.hex(): v for k, v in model.items()})
    return nodes


def reference_root(model: dict[bytes, bytes]) -> bytes:
    return sha(reference_nodes(model)[b""]) if model else bytes(32)


# --- keys: random ones, and clusters sharing long prefixes (deep paths, collapses) -----

BASE = sha(b"base").hex()


def near(shared: int, tail: int) -> bytes:
    """A key equal to BASE on its first `shared` nibbles and different on the next one."""
    digit = HEX[(HEX.index(BASE[shared]) + 1 + tail % 15) % 16]
    rest = sha(b"tail" + bytes((shared, tail))).hex()
    return bytes.fromhex(BASE[:shared] + digit + rest[shared + 1 :])


def key(n: int) -> bytes:
    return sha(b"k" + n.to_bytes(4, "big"))


def value(n: int) -> bytes:
    return sha(b"v" + n.to_bytes(4, "big"))


UNIVERSE = (
    [key(n) for n in range(24)]
    + [bytes.fromhex(BASE)]
    + [near(shared, tail) for shared in (0, 1, 2, 5, 20, 62, 63) for tail in (0, 1)]
)

Batch = dict[int, int | None]
batches = st.lists(
    st.dictionaries(
        st.integers(0, len(UNIVERSE) - 1),
        st.one_of(st.none(), st.integers(0, 5)),
        max_size=14,
    ),
    max_size=7,
)


def writes_of(batch: Batch) -> dict[bytes, bytes | None]:
    return {UNIVERSE[k]: None if v is None else value(v) for k, v in batch.items()}


def apply_model(model: dict[bytes, bytes], writes: dict[bytes, bytes | None]) -> None:
    for k, v in writes.items():
        if v is None:
            model.pop(k, None)
        else:
            model[k] = v


def run(history: list[Batch]) -> tuple[StateTrie, DictReader, dict[bytes, bytes]]:
    reader = DictReader()
    trie = StateTrie(reader)
    model: dict[bytes, bytes] = {}
    for batch in history:
        writes = writes_of(batch)
        reader.persist(trie.update(writes))
        apply_model(model, writes)
    return trie, reader, model


# --- the trie against the reference ---------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(batches)
def test_matches_reference_after_every_batch(history: list[Batch]) -> None:
    reader = DictReader()
    trie = StateTrie(reader)
    model: dict[bytes, bytes] = {}
    for batch in history:
        writes = writes_of(batch)
        reader.persist(trie.update(writes))
        apply_model(model, writes)
        # The persisted table is exactly the canonical trie: no stale or missing node.
        assert reader.nodes == reference_nodes(model)
        assert trie.root() == reference_root(model)
        reloaded = StateTrie(DictReader(reader.nodes))
        assert reloaded.root() == trie.root()
        for k in UNIVERSE:
            assert trie.get(k) == reloaded.get(k) == model.get(k)
            assert trie.prove(k) == reloaded.prove(k)


@settings(max_examples=60, deadline=None)
@given(batches, st.randoms(use_true_random=False))
def test_root_is_independent_of_history(history: list[Batch], rnd: random.Random) -> None:
    trie, reader, model = run(history)
    # The same final pairs: in one batch, one key at a time in a shuffled order, and
    # after inserting then deleting every other key of the universe.
    at_once = StateTrie(DictReader())
    at_once_nodes = DictReader()
    at_once_nodes.persist(at_once.update(model))
    one_by_one = StateTrie(DictReader())
    items = list(model.items())
    rnd.shuffle(items)
    for k, v in items:
        one_by_one.update({k: v})
    detour_reader = DictReader()
    detour = StateTrie(detour_reader)
    noise = [k for k in UNIVERSE if k not in model]
    detour_reader.persist(detour.update({k: value(9) for k in noise}))
    for k, v in items:
        detour_reader.persist(detour.update({k: v, **({noise.pop(): None} if noise else {})}))
    detour_reader.persist(detour.update(dict.fromkeys(noise)))
    roots = {trie.root(), at_once.root(), one_by_one.root(), detour.root()}
    assert roots == {reference_root(model)}
    assert reader.nodes == at_once_nodes.nodes == detour_reader.nodes


def test_large_batches_match_reference() -> None:
    rnd = random.Random(7)
    reader = DictReader()
    trie = StateTrie(reader)
    model: dict[bytes, bytes] = {}
    keys = [rnd.randbytes(32) for _ in range(3000)]
    for round_index in range(4):
        writes: dict[bytes, bytes | None] = {k: rnd.randbytes(32) for k in rnd.sample(keys, 1200)}
        writes.update(dict.fromkeys(rnd.sample(keys, 300 * round_index)))
        reader.persist(trie.update(writes))
        apply_model(model, writes)
        assert trie.root() == reference_root(model)
    assert reader.nodes == reference_nodes(model)


def test_one_write_touches_only_its_path() -> None:
    reader = DictReader()
    trie = StateTrie(reader)
    reader.persist(trie.update({key(n): value(n) for n in range(500)}))
    depth = len(trie.prove(key(3)).steps)
    writes = trie.update({key(3): value(1000)})
    assert len(writes) == depth + 1  # the leaf and each internal node above it, once
    reader.persist(writes)
    # The cache is write-through: the next block's update reads nothing from the store.
    reader.reads = 0
    reader.persist(trie.update({key(n): value(n + 1) for n in range(0, 500, 7)}))
    assert reader.reads == 0


def test_preloaded_trie_never_reads_the_store() -> None:
    trie, reader, _ = run([{k: k % 4 for k in range(len(UNIVERSE))}])
    empty = DictReader()
    preloaded = StateTrie(empty)
    preloaded.preload(reader.nodes.items())
    assert preloaded.root() == trie.root()
    writes = writes_of({0: None, 1: 5, 30: None})
    assert preloaded.update(writes) == trie.update(writes)
    assert preloaded.root() == trie.root()
    assert empty.reads == 0


def test_unchanged_writes_write_nothing() -> None:
    trie, _, _ = run([{0: 1, 1: 2, 30: 3}])
    assert trie.update({UNIVERSE[0]: value(1), key(999): None}) == {}
    assert trie.update({}) == {}


def test_deleting_everything_empties_the_store() -> None:
    trie, reader, _ = run([{k: 1 for k in range(len(UNIVERSE))}])
    assert len(reader.nodes) > len(UNIVERSE)
    reader.persist(trie.update(dict.fromkeys(UNIVERSE)))
    assert reader.nodes == {}
    assert trie.root() == EMPTY_ROOT == bytes(32)


def test_collapse_moves_the_last_leaf_to_the_root() -> None:
    keys = [near(20, tail) for tail in range(3)]
    trie, reader, _ = run([{UNIVERSE.index(keys[0]): 0}])
    reader.persist(trie.update({keys[1]: value(1), keys[2]: value(2)}))
    reader.persist(trie.update({keys[1]: None, keys[2]: None}))
    assert reader.nodes == {b"": b"\x00" + keys[0] + value(0)}


def test_rejects_malformed_writes() -> None:
    trie = StateTrie(DictReader())
    with pytest.raises(ValueError):
        trie.update({b"short": value(1)})
    with pytest.raises(ValueError):
        trie.update({key(1): b"short"})
    with pytest.raises(ValueError):
        trie.prove(b"short")


def test_missing_node_in_store_is_an_error_and_the_trie_recovers() -> None:
    trie, reader, _ = run([{k: 1 for k in range(10)}])
    broken = DictReader({p: n for p, n in reader.nodes.items() if len(p) != 1})
    with pytest.raises(LookupError):
        StateTrie(broken).update({key(1): value(3)})
    fresh = StateTrie(DictReader(reader.nodes))
    assert fresh.root() == trie.root()


# --- proofs --------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(batches)
def test_every_proof_verifies_and_lies_fail(history: list[Batch]) -> None:
    trie, _, model = run(history)
    root = trie.root()
    for k in [*UNIVERSE, key(777), near(63, 7)]:
        proof = trie.prove(k).to_dict()
        actual = model.get(k)
        verify_state_proof(root, k, actual, proof)
        assert StateProof.from_dict(json.loads(json.dumps(proof))) == trie.prove(k)
        for lie in (value(99), None if actual is not None else value(0)):
            with pytest.raises(ProofError):
                verify_state_proof(root, k, lie, proof)
        with pytest.raises(ProofError):
            verify_state_proof(sha(root), k, actual, proof)


def test_absence_proofs_of_both_kinds_with_long_shared_prefixes() -> None:
    keys = [near(20, tail) for tail in range(4)] + [bytes.fromhex(BASE)]
    trie, _, _ = run([{UNIVERSE.index(k): 0 for k in keys if k in UNIVERSE}])
    trie.update({k: value(5) for k in keys})
    root = trie.root()
    for k in keys:
        proof = trie.prove(k).to_dict()
        assert len(proof["steps"]) == 21  # 20 shared nibbles, then the splitting node
        verify_state_proof(root, k, value(5), proof)
    # Shares 20 nibbles and lands on an empty slot of the node that splits the cluster.
    empty_slot = near(20, 9)
    proof = trie.prove(empty_slot).to_dict()
    assert proof["terminal"]["type"] == "empty_slot"
    assert len(proof["steps"]) == 20
    verify_state_proof(root, empty_slot, None, proof)
    # Shares 21 nibbles with BASE: its slot holds BASE's leaf, a different key.
    other_leaf = bytes.fromhex(BASE[:21] + HEX[(HEX.index(BASE[21]) + 1) % 16] + BASE[22:])
    proof = trie.prove(other_leaf).to_dict()
    assert proof["terminal"] == {
        "type": "leaf",
        "key_hash": BASE,
        "value_hash": value(5).hex(),
    }
    verify_state_proof(root, other_leaf, None, proof)
    with pytest.raises(ProofError):
        verify_state_proof(root, other_leaf, value(5), proof)
    # The same leaf cannot prove the absence of a key off its path.
    with pytest.raises(ProofError):
        verify_state_proof(root, key(1), None, proof)


def test_keys_differing_only_in_the_last_nibble() -> None:
    a, b = bytes.fromhex(BASE), near(63, 0)
    trie, reader, model = run([{UNIVERSE.index(a): 1, UNIVERSE.index(b): 2}])
    assert reader.nodes == reference_nodes(model)
    proof = trie.prove(b).to_dict()
    assert len(proof["steps"]) == 64
    verify_state_proof(trie.root(), b, value(2), proof)
    verify_state_proof(trie.root(), near(63, 1), None, trie.prove(near(63, 1)).to_dict())


def forgeries(proof: dict[str, Any]) -> list[Any]:
    """Each field of a proof altered in turn, plus shapes that are not proofs at all."""
    steps, terminal = proof["steps"], proof["terminal"]
    out: list[Any] = [
        {"steps": steps[:-1], "terminal": terminal},
        {"steps": [*steps, steps[-1]], "terminal": terminal},
        {"steps": steps, "terminal": {"type": "empty_tree"}},
        {"steps": steps, "terminal": {**terminal, "type": "nonsense"}},
        {"steps": "x", "terminal": terminal},
        {"steps": steps},
        {},
        [],
        None,
    ]
    for i, step in enumerate(steps):
        for j in range(len(step["siblings"])):
            siblings = list(step["siblings"])
            siblings[j] = "00" * 32
            out.append({"steps": _replace(steps, i, {**step, "siblings": siblings}), **_t(proof)})
        for bit in range(16):
            forged = {**step, "bitmap": step["bitmap"] ^ 1 << bit}
            out.append({"steps": _replace(steps, i, forged), **_t(proof)})
        out.append({"steps": _replace(steps, i, {**step, "bitmap": True}), **_t(proof)})
        out.append({"steps": _replace(steps, i, {**step, "siblings": ["ab"]}), **_t(proof)})
    for field in ("key_hash", "value_hash"):
        out.append({"steps": steps, "terminal": {**terminal, field: "11" * 32}})
        out.append({"steps": steps, "terminal": {**terminal, field: "zz"}})
    return out


def _replace(steps: list[Any], index: int, step: Any) -> list[Any]:
    return [*steps[:index], step, *steps[index + 1 :]]


def _t(proof: dict[str, Any]) -> dict[str, Any]:
    return {"terminal": proof["terminal"]}


def test_altered_proofs_fail_with_proof_error() -> None:
    trie, _, model = run([{k: k % 3 for k in range(len(UNIVERSE))}])
    for k in (key(3), UNIVERSE[-1]):
        proof = trie.prove(k).to_dict()
        verify_state_proof(trie.root(), k, model[k], proof)
        for forged in forgeries(proof):
            with pytest.raises(ProofError):
                verify_state_proof(trie.root(), k, model[k], forged)
    absent = key(500)
    proof = trie.prove(absent).to_dict()
    verify_state_proof(trie.root(), absent, None, proof)
    slot = {**proof["terminal"], "bitmap": proof["terminal"]["bitmap"] | 0xFFFF}
    for forged in ({"steps": proof["steps"], "terminal": slot}, {"steps": proof["steps"][:-1]}):
        with pytest.raises(ProofError):
            verify_state_proof(trie.root(), absent, None, forged)


def test_empty_trie() -> None:
    trie = StateTrie(DictReader())
    assert trie.root() == EMPTY_ROOT == bytes(32)
    assert trie.get(key(1)) is None
    proof = trie.prove(key(1)).to_dict()
    assert proof == {"steps": [], "terminal": {"type": "empty_tree"}}
    verify_state_proof(EMPTY_ROOT, key(1), None, proof)
    with pytest.raises(ProofError):
        verify_state_proof(EMPTY_ROOT, key(1), value(1), proof)
    with pytest.raises(ProofError):
        verify_state_proof(sha(b"x"), key(1), None, proof)


def test_malformed_proof_dicts_are_value_errors() -> None:
    for bad in ({}, {"steps": [], "terminal": {"type": "?"}}, {"steps": [{"bitmap": 0}]}):
        with pytest.raises(ValueError):
            StateProof.from_dict(bad)


def test_client_hash_helpers() -> None:
    assert state_key_hash("patients", "p-1") == sha(b"patients\x00p-1")
    assert state_value_hash(b'{"a":1}') == sha(b'{"a":1}')
