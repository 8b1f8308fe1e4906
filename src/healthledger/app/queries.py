"""Read-side queries that come with proofs a client can check against a header.

Each query runs inside one store snapshot, so the value, the proof and the
header it verifies against all describe the same committed block.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from healthledger.domains.supply import queries as supply_queries
from healthledger.domains.supply import state as supply_state
from healthledger.domains.supply.events import ACTIONS, CustodyEvent, package_id
from healthledger.errors import ErrorCode, LedgerError
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
        raise LedgerError("no block has been committed yet", ErrorCode.NOT_FOUND)
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
        return _state_model(store, ns, key, prove)


def _state_view(store: Store, ns: str, key: str, prove: bool) -> dict[str, Any]:
    """`state_view` inside a snapshot the caller holds, as its JSON (the supply views embed it)."""
    return _state_model(store, ns, key, prove).wire()


def _state_model(store: Store, ns: str, key: str, prove: bool) -> StateView:
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


def supply_verify_view(
    store: Store, gtin: str, serial: str, lot: str, expiry: str
) -> dict[str, Any]:
    """DSCSA verification: the verdict, owner and status, and state proofs of the records used.

    The package record and the GTIN's recalls are proven against the same header, so
    a pharmacy can recompute the verdict without trusting the node it asked.
    """
    with store.snapshot():
        package = _state_view(
            store, supply_state.NAMESPACE, supply_state.package_key(gtin, serial), True
        )
        recalls = _state_view(store, supply_state.NAMESPACE, supply_state.recalls_key(gtin), True)
    return {
        "gtin": gtin,
        "serial": serial,
        "lot": lot,
        "expiry": expiry,
        "verdict": supply_queries.verdict(package["value"], recalls["value"], lot, expiry),
        "package": supply_queries.custody_summary(package["value"]),
        "proofs": {"package": package, "recalls": recalls},
    }


def supply_history_view(store: Store, gtin: str, serial: str) -> dict[str, Any]:
    """A package's full chain of custody, oldest step first."""
    view = state_view(store, supply_state.NAMESPACE, supply_state.package_key(gtin, serial))
    if view.value is None:
        raise LedgerError(f"unknown package {gtin}:{serial}", ErrorCode.NOT_FOUND)
    record = view.value
    steps = [
        {"height": height, "action": action, "org": org, "detail": detail}
        for height, action, org, detail in record["history"]
    ]
    return {
        "gtin": gtin,
        "serial": serial,
        "lot": record["lot"],
        "expiry": record["expiry"],
        "custody": supply_queries.custody_summary(record),
        "history": steps,
    }


def supply_custody_events(store: Store, gtin: str, serial: str) -> list[CustodyEvent]:
    """A package's custody steps as `CustodyEvent`s, with the block times they happened at."""
    key = supply_state.package_key(gtin, serial)
    with store.snapshot():
        record = _state_view(store, supply_state.NAMESPACE, key, False)["value"]
        if record is None:
            raise LedgerError(f"unknown package {gtin}:{serial}", ErrorCode.NOT_FOUND)
        return _package_events(record, _block_times(store, [record]))


# Package records of a GTIN one lot page may scan: bounds a request's work whatever the lot's size.
LOT_SCAN_ROWS = 20_000


@dataclass(frozen=True)
class LotPage:
    """One page of a lot's custody events; `cursor` continues after it (None: the lot is done)."""

    events: list[CustodyEvent]
    packages: int
    cursor: str | None


def supply_lot_events(
    store: Store, gtin: str, lot: str, limit: int, cursor: str | None = None
) -> LotPage:
    """The custody steps of up to `limit` packages of a lot, after `cursor`, in time order.

    Packages are keyed by GTIN and serial, not by lot, so one page scans at most
    LOT_SCAN_ROWS package records of the GTIN; the cursor is the last serial scanned.
    """
    prefix = supply_state.package_key(gtin, "")
    with store.snapshot():
        if store.state_get(supply_state.NAMESPACE, supply_state.lot_key(gtin, lot)) is None:
            raise LedgerError(f"unknown lot {lot} of {gtin}", ErrorCode.NOT_FOUND)
        after = None if cursor is None else prefix + cursor
        rows = store.state_scan(supply_state.NAMESPACE, prefix, LOT_SCAN_ROWS, after=after)
        records, last_key = [], None
        for key, value in rows:
            last_key = key
            record = parse_json(value)
            if record["lot"] == lot:
                records.append(record)
                if len(records) == limit:
                    break
        times = _block_times(store, records)
    more = len(records) == limit or len(rows) == LOT_SCAN_ROWS
    next_cursor = last_key.removeprefix(prefix) if more and last_key is not None else None
    events = [event for record in records for event in _package_events(record, times)]
    return LotPage(sorted(events, key=lambda event: event.time_ms), len(records), next_cursor)


def _block_times(store: Store, records: list[Any]) -> dict[int, int]:
    heights = {step[0] for record in records for step in record["history"] if step[0]}
    return {height: store.header(height).time_ms for height in heights}


def _package_events(record: Any, times: dict[int, int]) -> list[CustodyEvent]:
    item = package_id(record["gtin"], record["serial"])
    events = []
    for height, action, org, detail in record["history"]:
        if action not in ACTIONS:
            continue  # quarantine and clear are regulatory flags, not custody steps
        events.append(
            CustodyEvent(
                action=action,
                time_ms=times.get(height, 0),
                org=org,
                items=(item,),
                counterparty=detail if action in ("ship", "receive", "return") else None,
                lot=record["lot"] if action == "commission" else None,
                expiry=record["expiry"] if action == "commission" else None,
                reason=detail if action in ("destroy", "export") else None,
            )
        )
    return events


def supply_alerts_view(store: Store, limit: int = 100) -> list[Any]:
    """Counterfeit and diversion alerts, newest first (manufacturers and regulators watch these)."""
    rows = store.state_scan(supply_state.NAMESPACE, "alert/", limit=limit, newest_first=True)
    return [parse_json(value) for _key, value in rows]


def consistency_view(store: Store, old_size: int, new_size: int | None = None) -> ConsistencyView:
    """RFC 9162 consistency proof between two sizes of the ledger-wide log."""
    with store.snapshot():
        latest = store.header(latest_height(store))
        new_size = latest.log_size if new_size is None else new_size
        if not 0 < old_size <= new_size <= latest.log_size:
            raise LedgerError(
                f"sizes must satisfy 0 < old ({old_size}) <= new ({new_size}) <= {latest.log_size}",
                ErrorCode.INVALID_FIELD,
            )
        path = log.consistency_proof(store.log_node, old_size, new_size)
        return ConsistencyView(
            old_size=old_size,
            new_size=new_size,
            old_root=log.log_root(store.log_node, old_size).hex(),
            new_root=log.log_root(store.log_node, new_size).hex(),
            path=[h.hex() for h in path],
        )
