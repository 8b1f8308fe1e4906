"""Read-side queries that come with proofs a client can check against a header.

Each query runs inside one store snapshot, so the value, the proof and the
header it verifies against all describe the same committed block.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from healthledger.app.application import state_key_hash
from healthledger.app.views import (
    BlockInclusion,
    BlockTx,
    BlockView,
    ConsistencyView,
    HeaderView,
    LedgerInclusion,
    SignedTx,
    StateView,
    TxProof,
    TxView,
)
from healthledger.crypto.canonical import parse_json
from healthledger.errors import InvalidField, NotFound
from healthledger.ledger import log
from healthledger.ledger.block import tx_leaf
from healthledger.ledger.merkle import inclusion_proof
from healthledger.ledger.store import Store
from healthledger.ledger.trie import StateTrie


class _SnapshotReader:
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, path: bytes) -> bytes | None:
        return self._store.trie_node(path)


def latest_height(store: Store) -> int:
    height = store.last_height()
    if height == 0:
        raise NotFound("no block has been committed yet")
    return height


def block_view(store: Store, height: int | None = None) -> BlockView:
    """A block: header, hash and its transactions with their results."""
    with store.snapshot():
        height = latest_height(store) if height is None else height
        header = store.header(height)
        txs = store.block_txs(height)
    return BlockView(
        hash=header.hash(),
        header=header,
        txs=[BlockTx(id=tx.id, tx=_signed_tx(tx.raw), result=tx.result) for tx in txs],
    )


def _signed_tx(raw: bytes) -> SignedTx:
    return SignedTx.model_validate(parse_json(raw))


def header_view(store: Store, height: int | None = None) -> HeaderView:
    """A block's header and its transactions' ids: what a light client pins, nothing more.

    Ids are hashes of signed bytes: they let CometBFT's data hash be recomputed
    and reveal nothing of a transaction to someone who cannot read it.
    """
    with store.snapshot():
        height = latest_height(store) if height is None else height
        header = store.header(height)
        ids = [tx.id for tx in store.block_txs(height)]
    return HeaderView(height=height, hash=header.hash(), header=header, tx_ids=ids)


def tx_view(store: Store, tx_id: str, prove: bool = False) -> TxView:
    """A committed transaction, its result and (optionally) its inclusion proofs."""
    with store.snapshot():
        stored = store.tx(tx_id)
        header = store.header(stored.height)
        proof = (
            _tx_proof(store, stored.height, stored.position, stored.log_index) if prove else None
        )
    fields = {"proof": proof} if proof is not None else {}
    return TxView(
        id=stored.id,
        height=stored.height,
        position=stored.position,
        log_index=stored.log_index,
        tx=_signed_tx(stored.raw),
        result=stored.result,
        header=header,
        **fields,
    )


_LEAF_CACHE: OrderedDict[tuple[Path, int], tuple[list[bytes], list[bytes]]] = OrderedDict()
_LEAF_CACHE_BLOCKS = 64
_leaf_lock = threading.Lock()


def _block_leaves(store: Store, height: int) -> tuple[list[bytes], list[bytes]]:
    """A committed block's tx and result leaves, computed once per block.

    Committed blocks never change, and every audited read of a busy block asks
    for a proof in the same block: hashing it once keeps a proof O(log n), not O(n).
    """
    key = (store.path, height)
    with _leaf_lock:
        if key in _LEAF_CACHE:
            _LEAF_CACHE.move_to_end(key)
            return _LEAF_CACHE[key]
    block_txs = store.block_txs(height)
    leaves = ([tx_leaf(tx.raw) for tx in block_txs], [tx.result.leaf(tx.id) for tx in block_txs])
    with _leaf_lock:
        _LEAF_CACHE[key] = leaves
        while len(_LEAF_CACHE) > _LEAF_CACHE_BLOCKS:
            _LEAF_CACHE.popitem(last=False)
    return leaves


def _tx_proof(store: Store, height: int, position: int, log_index: int) -> TxProof:
    leaves, results = _block_leaves(store, height)
    latest = store.header(latest_height(store))
    ledger_path = log.inclusion_proof(store.log_node, log_index, latest.log_size)
    return TxProof(
        block=BlockInclusion(
            height=height,
            index=position,
            size=len(leaves),
            path=[h.hex() for h in inclusion_proof(position, leaves)],
            result_path=[h.hex() for h in inclusion_proof(position, results)],
        ),
        ledger=LedgerInclusion(
            index=log_index,
            size=latest.log_size,
            path=[h.hex() for h in ledger_path],
            header=latest,
        ),
    )


def state_view(store: Store, ns: str, key: str, prove: bool = False) -> StateView:
    """A state value at the latest block, with a membership or absence proof if asked."""
    with store.snapshot():
        return state_in_snapshot(store, ns, key, prove)


def state_in_snapshot(store: Store, ns: str, key: str, prove: bool) -> StateView:
    """`state_view` inside a snapshot the caller holds."""
    height = store.last_height()
    raw = store.state_get(ns, key)
    value = None if raw is None else parse_json(raw)
    if not prove:
        return StateView(namespace=ns, key=key, height=height, value=value)
    proof = StateTrie(_SnapshotReader(store)).prove(state_key_hash(ns, key))
    raw_value = None if raw is None else raw.decode()
    # Before the first block there is no header to prove against: the field stays absent.
    at = {"header": store.header(height)} if height else {}
    return StateView(
        namespace=ns, key=key, height=height, value=value, proof=proof, raw_value=raw_value, **at
    )


def consistency_view(store: Store, old_size: int, new_size: int | None = None) -> ConsistencyView:
    """RFC 9162 consistency proof between two sizes of the ledger-wide log."""
    with store.snapshot():
        latest = store.header(latest_height(store))
        new_size = latest.log_size if new_size is None else new_size
        if not 0 < old_size <= new_size <= latest.log_size:
            raise InvalidField(
                f"sizes must satisfy 0 < old ({old_size}) <= new ({new_size}) <= {latest.log_size}"
            )
        path = log.consistency_proof(store.log_node, old_size, new_size)
        return ConsistencyView(
            old_size=old_size,
            new_size=new_size,
            old_root=log.log_root(store.log_node, old_size).hex(),
            new_root=log.log_root(store.log_node, new_size).hex(),
            path=[h.hex() for h in path],
        )
