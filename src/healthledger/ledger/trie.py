"""The state trie: a radix-16 Merkle trie over key hashes, with Jellyfish-style path compression.

Every node's stored bytes are exactly the preimage of its hash, so a node is its
own commitment:

    leaf     = 0x00 || key_hash (32) || value_hash (32)
    internal = 0x01 || bitmap (2, big-endian; bit i set iff child nibble i exists)
                    || the present children's hashes in nibble order (32 each)

A leaf sits at the shallowest depth where its nibble prefix is unique; an
internal node exists exactly where two or more keys share a prefix. The shape,
hence the root, depends only on the set of (key, value) pairs, never on the
order of writes. Nodes are addressed by their nibble path (one byte per nibble),
and only the latest version is kept: see docs/state-tree.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

LEAF = 0x00
INTERNAL = 0x01
EMPTY_ROOT = bytes(32)
HASH_LEN = 32

Item = tuple[bytes, bytes | None]  # (key_hash, value_hash or None to delete)


class NodeReader(Protocol):
    def get(self, path: bytes) -> bytes | None: ...


def nibble(key: bytes, depth: int) -> int:
    """The depth-th hex digit of a key hash (high nibble first)."""
    byte = key[depth >> 1]
    return (byte >> 4) if depth % 2 == 0 else (byte & 0x0F)


def leaf_node(key_hash: bytes, value_hash: bytes) -> bytes:
    return b"\x00" + key_hash + value_hash


def internal_node(children: list[tuple[int, bytes]]) -> bytes:
    """An internal node from (nibble, child hash) pairs sorted by nibble."""
    bitmap = 0
    for position, _hash in children:
        bitmap |= 1 << position
    return b"\x01" + bitmap.to_bytes(2, "big") + b"".join(h for _p, h in children)


def node_hash(node: bytes) -> bytes:
    return hashlib.sha256(node).digest()


def child_slots(node: bytes) -> list[bytes | None]:
    """The 16 child slots of an internal node: a hash, or None where the bitmap is clear."""
    bitmap = int.from_bytes(node[1:3], "big")
    slots: list[bytes | None] = [None] * 16
    offset = 3
    for position in range(16):
        if bitmap >> position & 1:
            slots[position] = node[offset : offset + HASH_LEN]
            offset += HASH_LEN
    return slots


def node_from_slots(slots: list[bytes | None]) -> bytes:
    bitmap = 0
    for position, child in enumerate(slots):
        if child is not None:
            bitmap |= 1 << position
    return b"\x01" + bitmap.to_bytes(2, "big") + b"".join(c for c in slots if c is not None)


def internal_children(node: bytes) -> list[tuple[int, bytes]]:
    """(nibble, child hash) pairs of an internal node."""
    bitmap = int.from_bytes(node[1:3], "big")
    children = []
    offset = 3
    for position in range(16):
        if bitmap >> position & 1:
            children.append((position, node[offset : offset + HASH_LEN]))
            offset += HASH_LEN
    return children


@dataclass(frozen=True)
class StateProof:
    """The nodes on a key's path: membership, or absence, provable against a root."""

    steps: tuple[tuple[int, tuple[bytes, ...]], ...]  # per internal node: bitmap, siblings
    terminal: str  # "leaf", "empty_slot" or "empty_tree"
    leaf_key: bytes | None = None
    leaf_value: bytes | None = None
    slot_children: tuple[bytes, ...] = ()
    slot_bitmap: int = 0

    def to_dict(self) -> dict[str, Any]:
        terminal: dict[str, Any] = {"type": self.terminal}
        if self.terminal == "leaf":
            assert self.leaf_key is not None and self.leaf_value is not None
            terminal.update(key_hash=self.leaf_key.hex(), value_hash=self.leaf_value.hex())
        elif self.terminal == "empty_slot":
            terminal.update(bitmap=self.slot_bitmap, children=[c.hex() for c in self.slot_children])
        return {
            "steps": [
                {"bitmap": bitmap, "siblings": [s.hex() for s in siblings]}
                for bitmap, siblings in self.steps
            ],
            "terminal": terminal,
        }


class StateTrie:
    """The latest version of the trie, with a write-through cache of nodes by path."""

    def __init__(self, reader: NodeReader) -> None:
        self._reader = reader
        self._cache: dict[bytes, bytes | None] = {}

    def _node(self, path: bytes) -> bytes | None:
        if path in self._cache:
            return self._cache[path]
        node = self._reader.get(path)
        self._cache[path] = node
        return node

    def root(self) -> bytes:
        node = self._node(b"")
        return EMPTY_ROOT if node is None else node_hash(node)

    def get(self, key_hash: bytes) -> bytes | None:
        """The value hash stored for `key_hash`, or None."""
        path = b""
        for depth in range(64):
            node = self._node(path)
            if node is None:
                return None
            if node[0] == LEAF:
                return node[33:65] if node[1:33] == key_hash else None
            position = nibble(key_hash, depth)
            if not int.from_bytes(node[1:3], "big") >> position & 1:
                return None
            path += bytes((position,))
        return None

    def update(self, writes: Mapping[bytes, bytes | None]) -> dict[bytes, bytes | None]:
        """Apply a batch of writes; return the node writes (None = delete) to persist."""
        if not writes:
            return {}
        items = sorted(writes.items())
        out: dict[bytes, bytes | None] = {}
        self._update(b"", 0, items, out)
        self._cache.update(out)
        return out

    # --- batch update -------------------------------------------------------------

    def _update(
        self, path: bytes, depth: int, items: list[Item], out: dict[bytes, bytes | None]
    ) -> bytes | None:
        """Rewrite the subtree at `path`; return its new node bytes (None if now empty)."""
        current = self._node(path)
        if current is None:
            inserts = [(k, v) for k, v in items if v is not None]
            return self._build(path, depth, inserts, out) if inserts else None
        if current[0] == LEAF:
            merged = {current[1:33]: current[33:65]}
            for key, value in items:
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            if not merged:
                out[path] = None
                return None
            return self._build(path, depth, sorted(merged.items()), out)
        return self._update_internal(path, depth, current, items, out)

    def _update_internal(
        self,
        path: bytes,
        depth: int,
        current: bytes,
        items: list[Item],
        out: dict[bytes, bytes | None],
    ) -> bytes | None:
        slots = child_slots(current)
        new_nodes: dict[int, bytes] = {}
        for position, group in _groups(items, depth):
            child_path = path + bytes((position,))
            if slots[position] is not None:
                child = self._update(child_path, depth + 1, group, out)
            else:  # the bitmap says the slot is empty: no need to look it up
                inserts = [(k, v) for k, v in group if v is not None]
                child = self._build(child_path, depth + 1, inserts, out) if inserts else None
            if child is None:
                slots[position] = None
            else:
                slots[position] = node_hash(child)
                new_nodes[position] = child
        present = [position for position in range(16) if slots[position] is not None]
        if not present:
            out[path] = None
            return None
        if len(present) == 1:
            position = present[0]
            child_path = path + bytes((position,))
            child = new_nodes.get(position) or self._node(child_path)
            if child is not None and child[0] == LEAF:
                # The last key under this prefix moves up: the shape stays canonical.
                out[child_path] = None
                out[path] = child
                return child
        node = node_from_slots(slots)
        out[path] = node
        return node

    def _build(
        self,
        path: bytes,
        depth: int,
        items: list[tuple[bytes, bytes]],
        out: dict[bytes, bytes | None],
    ) -> bytes:
        """A fresh subtree holding exactly `items` (sorted, non-empty) at `path`."""
        if len(items) == 1:
            key, value = items[0]
            node = leaf_node(key, value)
        else:
            children = []
            for position, group in _groups(items, depth):  # type: ignore[arg-type]
                child = self._build(path + bytes((position,)), depth + 1, group, out)  # type: ignore[arg-type]
                children.append((position, node_hash(child)))
            node = internal_node(children)
        out[path] = node
        return node

    # --- proofs -------------------------------------------------------------------

    def prove(self, key_hash: bytes) -> StateProof:
        """The proof of `key_hash`'s value, or of its absence."""
        steps: list[tuple[int, tuple[bytes, ...]]] = []
        path = b""
        for depth in range(64):
            node = self._node(path)
            if node is None:
                return StateProof(tuple(steps), "empty_tree")
            if node[0] == LEAF:
                return StateProof(tuple(steps), "leaf", node[1:33], node[33:65])
            bitmap = int.from_bytes(node[1:3], "big")
            position = nibble(key_hash, depth)
            children = internal_children(node)
            if not bitmap >> position & 1:
                return StateProof(
                    tuple(steps),
                    "empty_slot",
                    slot_children=tuple(h for _p, h in children),
                    slot_bitmap=bitmap,
                )
            siblings = tuple(h for p, h in children if p != position)
            steps.append((bitmap, siblings))
            path += bytes((position,))
        raise ValueError("trie deeper than a key hash")


def _groups(items: list[Item], depth: int) -> list[tuple[int, list[Item]]]:
    """Split sorted items into runs sharing the nibble at `depth`."""
    groups: list[tuple[int, list[Item]]] = []
    start = 0
    while start < len(items):
        position = nibble(items[start][0], depth)
        end = start + 1
        while end < len(items) and nibble(items[end][0], depth) == position:
            end += 1
        groups.append((position, items[start:end]))
        start = end
    return groups
