"""`healthledger bench trie`: state-root cost per block on a large state (trie alone, in memory)."""

from __future__ import annotations

import hashlib
import statistics
import time

from healthledger.bench.harness import Figures
from healthledger.ledger.trie import StateTrie


class _MemoryNodes:
    """Trie nodes held in a dict: isolates the trie's own cost from SQLite."""

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


def _h(prefix: bytes, n: int) -> bytes:
    return hashlib.sha256(prefix + n.to_bytes(8, "big")).digest()


def run_trie(keys: int, batch: int, rounds: int) -> Figures:
    """State-root cost per written key on a trie already holding `keys` keys."""
    nodes = _MemoryNodes()
    trie = StateTrie(nodes)
    for start in range(0, keys, 50_000):
        end = min(keys, start + 50_000)
        nodes.persist(trie.update({_h(b"k", n): _h(b"v", n) for n in range(start, end)}))
    timings = []
    for round_index in range(rounds):
        # Half updates of existing keys, half new keys, as a block of registrations would.
        writes = {
            _h(b"k", (round_index * batch + i) * 7919 % keys): _h(b"u", i)
            for i in range(batch // 2)
        }
        writes.update({_h(b"new", round_index * batch + i): _h(b"v", i) for i in range(batch // 2)})
        started = time.perf_counter()
        nodes.persist(trie.update(writes))
        timings.append(time.perf_counter() - started)
    per_batch = statistics.median(timings)
    return {
        "state_keys": keys,
        "keys_per_block": batch,
        "state_root_ms_per_block": round(per_batch * 1000, 1),
        "us_per_key": round(per_batch * 1e6 / batch, 2),
    }
