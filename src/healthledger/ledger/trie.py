"""The state trie: a radix-16 Merkle trie over key hashes, with Jellyfish-style path compression.

Every node's stored bytes are exactly the preimage of its hash, so a node is its
own commitment and hashing a node is one hashlib call:

    leaf     = 0x00 || key_hash (32) || value_hash (32)
    internal = 0x01 || bitmap (2, big-endian; bit i set iff child nibble i exists)
                    || the present children's hashes in nibble order (32 each)

A leaf sits at the shallowest depth where its nibble prefix is unique; an internal
node exists exactly where two or more keys share a prefix. The shape, hence the
root, depends only on the set of (key, value) pairs, never on the order of writes.
Nodes are addressed by their nibble path (one byte 0..15 per nibble, root = b""),
and only the latest version is kept. See docs/state-tree.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

LEAF = 0x00
INTERNAL = 0x01
HASH_LEN = 32
EMPTY_ROOT = bytes(HASH_LEN)  # the root of the empty trie: no node hashes to it

NodeWrites = dict[bytes, bytes | None]
TerminalKind = Literal["leaf", "empty_slot", "empty_tree"]

_sha256 = hashlib.sha256
_HEX_TO_NIBBLE = bytes.maketrans(b"0123456789abcdef", bytes(range(16)))
_STEP = tuple(bytes((n,)) for n in range(16))  # one-byte path steps, never reallocated
_LEAF_TAG = b"\x00"
_INTERNAL_TAG = b"\x01"


class NodeReader(Protocol):
    """Where persisted nodes are read from, by nibble path; the trie knows nothing else."""

    def get(self, path: bytes) -> bytes | None:
        """The node stored at `path`, or None."""
        ...


def key_path(key_hash: bytes) -> bytes:
    """The 64 nibbles of a key hash, one byte each: every prefix is the path of a node."""
    return key_hash.hex().encode().translate(_HEX_TO_NIBBLE)


def node_hash(node: bytes) -> bytes:
    """A node's hash: its stored bytes are already the domain-separated preimage."""
    return _sha256(node).digest()


# --- proofs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProofStep:
    """One internal node on the key's path: its bitmap and every child hash but the key's."""

    bitmap: int
    siblings: tuple[bytes, ...]


@dataclass(frozen=True)
class StateProof:
    """The internal nodes on a key's path, root first, and what ends the path.

    `leaf`: a leaf, the key's own (membership) or another key's sharing the prefix
    (absence). `empty_slot`: an internal node (`slot_bitmap`, `slot_children`) with
    no child for the key's next nibble (absence). `empty_tree`: the trie is empty.
    """

    steps: tuple[ProofStep, ...]
    terminal: TerminalKind
    leaf_key: bytes = b""
    leaf_value: bytes = b""
    slot_bitmap: int = 0
    slot_children: tuple[bytes, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (hex strings): the input of `proofs.verify_state_proof`."""
        terminal: dict[str, Any] = {"type": self.terminal}
        if self.terminal == "leaf":
            terminal["key_hash"] = self.leaf_key.hex()
            terminal["value_hash"] = self.leaf_value.hex()
        elif self.terminal == "empty_slot":
            terminal["bitmap"] = self.slot_bitmap
            terminal["children"] = [c.hex() for c in self.slot_children]
        steps = [
            {"bitmap": s.bitmap, "siblings": [h.hex() for h in s.siblings]} for s in self.steps
        ]
        return {"steps": steps, "terminal": terminal}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StateProof:
        """Parse `to_dict` output, raising ValueError if malformed (this does not verify it)."""
        try:
            if not isinstance(data["steps"], list):
                raise ValueError("steps must be a list")
            steps = tuple(
                ProofStep(_bitmap(s["bitmap"]), _hashes(s["siblings"])) for s in data["steps"]
            )
            terminal = data["terminal"]
            kind = terminal["type"]
            if kind == "leaf":
                key, value = _hashes([terminal["key_hash"], terminal["value_hash"]])
                return cls(steps, "leaf", leaf_key=key, leaf_value=value)
            if kind == "empty_slot":
                bitmap, children = _bitmap(terminal["bitmap"]), _hashes(terminal["children"])
                return cls(steps, "empty_slot", slot_bitmap=bitmap, slot_children=children)
            if kind == "empty_tree":
                return cls(steps, "empty_tree")
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed state proof: {exc!r}") from exc
        raise ValueError(f"unknown state proof terminal {kind!r}")


def _bitmap(value: object) -> int:
    """A child bitmap from JSON: an integer with at least one of its 16 bits set."""
    if type(value) is not int or not 0 < value < 1 << 16:
        raise ValueError("a bitmap is an integer in 1..65535")
    return value


def _hashes(values: object) -> tuple[bytes, ...]:
    """A JSON list of hex strings to 32-byte hashes."""
    if not isinstance(values, list):
        raise ValueError("hashes come as a list of hex strings")
    hashes = tuple(bytes.fromhex(v) for v in values)
    if any(len(h) != HASH_LEN for h in hashes):
        raise ValueError("a hash is 32 bytes")
    return hashes


def _checked_path(key_hash: bytes) -> bytes:
    """The nibble path of a key hash given by a caller, refusing anything but 32 bytes."""
    if len(key_hash) != HASH_LEN:
        raise ValueError("a key hash is 32 bytes")
    return key_path(key_hash)


def _children(node: bytes) -> list[bytes]:
    """The child hashes of an internal node, in nibble order."""
    return [node[i : i + HASH_LEN] for i in range(3, len(node), HASH_LEN)]


# --- the trie ---------------------------------------------------------------------------


class StateTrie:
    """The latest version of the trie, with a write-through cache of every node it has seen.

    The cache is an unbounded dict path -> node bytes (about 300 bytes per key at
    1M keys, dict slots included); it holds only bytes, so the garbage collector
    never scans it. The reader is asked only for nodes not seen yet.
    """

    def __init__(self, reader: NodeReader) -> None:
        self._reader = reader
        self._cache: dict[bytes, bytes] = {}
        self._root: bytes | None = None  # memoized root hash; None until computed
        # The batch being applied: sorted parallel lists, and the node writes so far.
        self._paths: list[bytes] = []
        self._keys: list[bytes] = []
        self._values: list[bytes | None] = []
        self._out: NodeWrites = {}

    def preload(self, nodes: Iterable[tuple[bytes, bytes]]) -> None:
        """Fill the cache in bulk (path, node), e.g. from one table scan at start-up."""
        self._cache.update(nodes)
        self._root = None

    def root(self) -> bytes:
        """The state root: the root node's hash, or 32 zero bytes for the empty trie."""
        if self._root is None:
            node = self._node(b"")
            self._root = EMPTY_ROOT if node is None else node_hash(node)
        return self._root

    def get(self, key_hash: bytes) -> bytes | None:
        """The value hash stored for `key_hash`, or None if the key is absent."""
        path = _checked_path(key_hash)
        node = self._node(b"")
        depth = 0
        while node is not None and node[0] == INTERNAL:
            if not (node[1] << 8 | node[2]) >> path[depth] & 1:
                return None
            depth += 1
            node = self._child(path[:depth])
        if node is None or node[1:33] != key_hash:
            return None
        return node[33:]

    def prove(self, key_hash: bytes) -> StateProof:
        """A proof of `key_hash`'s value, or of its absence, against the current root."""
        path = _checked_path(key_hash)
        node = self._node(b"")
        if node is None:
            return StateProof((), "empty_tree")
        steps: list[ProofStep] = []
        while node[0] == INTERNAL:
            bitmap = node[1] << 8 | node[2]
            position = path[len(steps)]
            children = _children(node)
            if not bitmap >> position & 1:
                return StateProof(
                    tuple(steps), "empty_slot", slot_bitmap=bitmap, slot_children=tuple(children)
                )
            del children[(bitmap & ((1 << position) - 1)).bit_count()]
            steps.append(ProofStep(bitmap, tuple(children)))
            node = self._child(path[: len(steps)])
        return StateProof(tuple(steps), "leaf", leaf_key=node[1:33], leaf_value=node[33:])

    def update(self, writes: Mapping[bytes, bytes | None]) -> NodeWrites:
        """Apply a batch (key hash -> value hash, None deletes); return the node writes.

        The batch is sorted once and walked top-down, so each touched node is
        rewritten and hashed exactly once however many keys lie under it. The result
        maps node paths to new node bytes, or to None where a node is gone (possibly
        one made and unmade within this batch: deleting it is a no-op); persist it
        in the same database transaction as the block.
        """
        if not writes:
            return {}
        keys = sorted(writes)
        values = [writes[k] for k in keys]
        if {len(k) for k in keys} != {HASH_LEN} or not {
            len(v) for v in values if v is not None
        } <= {HASH_LEN}:
            raise ValueError("state trie keys and values must be 32-byte hashes")
        self._paths, self._keys, self._values = [key_path(k) for k in keys], keys, values
        out = self._out = {}
        try:
            root = self._node(b"")
            new_root = self._apply(b"", 0, 0, len(keys), root)
        except BaseException:
            # The cache is written as the batch goes; a batch that failed halfway is
            # never returned, hence never persisted: forget the cache, re-read later.
            self._cache, self._root = {}, None
            raise
        finally:
            self._paths, self._keys, self._values, self._out = [], [], [], {}
        if new_root is not root:
            self._root = EMPTY_ROOT if new_root is None else node_hash(new_root)
        return out

    # --- node access -------------------------------------------------------------------

    def _node(self, path: bytes) -> bytes | None:
        """The node at `path`, from the cache or else the reader."""
        node = self._cache.get(path)
        if node is None:
            node = self._reader.get(path)
            if node is not None:
                self._cache[path] = node
        return node

    def _child(self, path: bytes) -> bytes:
        """A node its parent's bitmap says exists; a miss means the store is corrupt."""
        node = self._node(path)
        if node is None:
            raise LookupError(f"state trie node {path.hex()} is missing from the store")
        return node

    def _put(self, path: bytes, node: bytes) -> None:
        """Record a new node: in the output for the store, and in the cache."""
        self._out[path] = self._cache[path] = node

    def _drop(self, path: bytes) -> None:
        """Record that the node at `path` is gone."""
        self._out[path] = None
        self._cache.pop(path, None)

    # --- the batch walk ----------------------------------------------------------------
    #
    # Each step takes the writes lo..hi of the sorted batch (all under `path`) and the
    # node now at `path`, records every node it rewrites, and returns the new node at
    # `path`: the very same object when nothing changed (so callers skip rehashing),
    # or None when the subtree became empty.

    def _apply(self, path: bytes, depth: int, lo: int, hi: int, node: bytes | None) -> bytes | None:
        """Apply writes lo..hi to the subtree `node` at `path`; return its new root node."""
        if hi - lo == 1:
            return self._apply_one(depth, lo, node)
        if node is None:
            return self._build_inserts(path, depth, lo, hi)
        if node[0] == INTERNAL:
            return self._apply_internal(path, depth, lo, hi, node)
        return self._merge_leaf(path, depth, lo, hi, node)

    def _apply_internal(
        self, path: bytes, depth: int, lo: int, hi: int, node: bytes
    ) -> bytes | None:
        """Several writes under an internal node: recurse per child, splice the new hashes."""
        cache = self._cache
        bitmap = node[1] << 8 | node[2]
        body = node[3:]  # the child hashes, spliced in place: no list of 16 slots
        changed = False
        for position, run_lo, run_hi in _runs(self._paths, depth, lo, hi):
            bit = 1 << position
            offset = (bitmap & (bit - 1)).bit_count() * HASH_LEN
            child_path = path + _STEP[position]
            child = (cache.get(child_path) or self._child(child_path)) if bitmap & bit else None
            if run_hi - run_lo == 1:
                new = self._apply_one(depth + 1, run_lo, child)
            else:
                new = self._apply(child_path, depth + 1, run_lo, run_hi, child)
            if new is child:
                continue
            changed = True
            if new is None:
                body = body[:offset] + body[offset + HASH_LEN :]
                bitmap ^= bit
            elif child is None:
                body = body[:offset] + _sha256(new).digest() + body[offset:]
                bitmap |= bit
            else:
                body = body[:offset] + _sha256(new).digest() + body[offset + HASH_LEN :]
        if not changed:
            return node
        return self._finish_internal(path, bitmap, body)

    def _apply_one(self, depth: int, index: int, node: bytes | None) -> bytes | None:
        """The single write `index` into the subtree `node` at its path's depth `depth`.

        Below the top few levels almost every write of a batch is alone, so this is
        the hot path: a loop down the key's internal nodes, one change at the bottom,
        then a loop back up splicing each new child hash; no recursion.
        """
        path, key, value = self._paths[index], self._keys[index], self._values[index]
        cache, out = self._cache, self._out
        top, above = node, []  # `above`: the internal nodes passed on the way down
        while node is not None and node[0] == INTERNAL:
            above.append(node)
            depth += 1
            if not (node[1] << 8 | node[2]) >> path[depth - 1] & 1:
                node = None  # the key's slot is empty
                break
            child_path = path[:depth]
            node = cache.get(child_path) or self._child(child_path)
        # `node`, a leaf or None, sits at path[:depth]: replace it by `new`.
        if node is None:
            if value is None:
                return top  # deleting a key that is not there
            new: bytes | None = _LEAF_TAG + key + value
        elif node[1:33] == key:
            new = None if value is None else _LEAF_TAG + key + value
            if new == node:
                return top  # the same value again
        elif value is None:
            return top  # another key holds the slot: nothing to delete
        else:
            new = self._pair(path, depth, node, key, value)
        if new is None:
            self._drop(path[:depth])
        else:
            here = path[:depth]
            out[here] = cache[here] = new
        for parent in reversed(above):
            depth -= 1
            bitmap = parent[1] << 8 | parent[2]
            if node is None or new is None or (new[0] == LEAF and not bitmap & (bitmap - 1)):
                new = self._splice(path, depth, parent, node, new)
            else:  # the common case, inlined: the same slot gets a new child hash
                offset = 3 + (bitmap & ((1 << path[depth]) - 1)).bit_count() * HASH_LEN
                new = parent[:offset] + _sha256(new).digest() + parent[offset + HASH_LEN :]
                here = path[:depth]
                out[here] = cache[here] = new
            node = parent
        return new

    def _splice(
        self, path: bytes, depth: int, parent: bytes, old: bytes | None, new: bytes | None
    ) -> bytes | None:
        """The internal `parent` at path[:depth] with its child on `path` changed old -> new."""
        bitmap = parent[1] << 8 | parent[2]
        bit = 1 << path[depth]
        offset = 3 + (bitmap & (bit - 1)).bit_count() * HASH_LEN
        if new is None:
            body = parent[3:offset] + parent[offset + HASH_LEN :]
            return self._finish_internal(path[:depth], bitmap ^ bit, body)
        if old is None:
            bitmap |= bit
            body = parent[3:offset] + _sha256(new).digest() + parent[offset:]
            node = _INTERNAL_TAG + bitmap.to_bytes(2, "big") + body
        elif new[0] == LEAF and not bitmap & (bitmap - 1):
            # The only child collapsed into a leaf: that leaf moves up here too.
            self._drop(path[: depth + 1])
            node = new
        else:
            node = parent[:offset] + _sha256(new).digest() + parent[offset + HASH_LEN :]
        self._put(path[:depth], node)
        return node

    def _finish_internal(self, path: bytes, bitmap: int, body: bytes) -> bytes | None:
        """Store a rewritten internal node, or collapse it if nothing or a lone leaf is left."""
        if not bitmap:
            self._drop(path)
            return None
        if not bitmap & (bitmap - 1):
            # A single child. If it is a leaf, its prefix is now unique one level up,
            # so it moves here: the shape must never depend on the history of writes.
            child_path = path + _STEP[bitmap.bit_length() - 1]
            out = self._out
            child = out[child_path] if child_path in out else self._child(child_path)
            if child is not None and child[0] == LEAF:
                self._drop(child_path)
                self._put(path, child)
                return child
        node = _INTERNAL_TAG + bitmap.to_bytes(2, "big") + body
        self._put(path, node)
        return node

    def _pair(self, path: bytes, depth: int, leaf: bytes, key: bytes, value: bytes) -> bytes:
        """The subtree at path[:depth], now holding `leaf` (of another key) and the new key."""
        other = key_path(leaf[1:33])
        split = depth
        while other[split] == path[split]:
            split += 1  # a shared nibble: an internal node with that one child
        new_leaf = _LEAF_TAG + key + value
        self._put(path[: split + 1], new_leaf)
        self._put(other[: split + 1], leaf)
        ours, theirs = _sha256(new_leaf).digest(), _sha256(leaf).digest()
        pair = ours + theirs if path[split] < other[split] else theirs + ours
        bitmap = 1 << path[split] | 1 << other[split]
        node = _INTERNAL_TAG + bitmap.to_bytes(2, "big") + pair
        self._put(path[:split], node)
        while split > depth:
            split -= 1
            node = _INTERNAL_TAG + (1 << path[split]).to_bytes(2, "big") + _sha256(node).digest()
            self._put(path[:split], node)
        return node

    def _merge_leaf(self, path: bytes, depth: int, lo: int, hi: int, node: bytes) -> bytes | None:
        """Several writes reaching one leaf: merge them with it and rebuild the subtree."""
        before = {node[1:33]: node[33:]}
        merged = dict(before)
        for key, value in zip(self._keys[lo:hi], self._values[lo:hi], strict=True):
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        if merged == before:
            return node  # only deletes of absent keys, or rewrites of the same value
        if not merged:
            self._drop(path)
            return None
        keys = sorted(merged)
        return self._build(
            path, depth, [key_path(k) for k in keys], keys, [merged[k] for k in keys]
        )

    def _build_inserts(self, path: bytes, depth: int, lo: int, hi: int) -> bytes | None:
        """Several writes reaching an empty slot: a fresh subtree of those that insert."""
        kept = [i for i in range(lo, hi) if self._values[i] is not None]
        if not kept:
            return None  # only deletes of keys that were never there
        paths, keys, values = self._paths, self._keys, self._values
        return self._build(
            path,
            depth,
            [paths[i] for i in kept],
            [keys[i] for i in kept],
            [values[i] for i in kept],
        )

    def _build(
        self,
        path: bytes,
        depth: int,
        paths: list[bytes],
        keys: list[bytes],
        values: list[bytes | None],
    ) -> bytes:
        """The canonical subtree at `path` holding exactly these sorted, non-deleted pairs."""
        if len(keys) == 1:
            value = values[0]
            assert value is not None, "deletes never reach a build"
            node = _LEAF_TAG + keys[0] + value
        else:
            bitmap, hashes = 0, []
            for position, lo, hi in _runs(paths, depth, 0, len(paths)):
                child_path = path + _STEP[position]
                child = self._build(child_path, depth + 1, paths[lo:hi], keys[lo:hi], values[lo:hi])
                bitmap |= 1 << position
                hashes.append(_sha256(child).digest())
            node = _INTERNAL_TAG + bitmap.to_bytes(2, "big") + b"".join(hashes)
        self._put(path, node)
        return node


def _runs(paths: list[bytes], depth: int, lo: int, hi: int) -> list[tuple[int, int, int]]:
    """Split sorted paths lo..hi into runs (nibble, start, end) sharing the nibble at `depth`."""
    runs = []
    start = lo
    while start < hi:
        position = paths[start][depth]
        end = start + 1
        while end < hi and paths[end][depth] == position:
            end += 1
        runs.append((position, start, end))
        start = end
    return runs
