"""Offline verification of a data folder: every link, signature and root, then a full replay.

`verify_store` re-checks each block's hash link, header bytes, transaction
signatures and Merkle roots, replays every block from genesis into a fresh
state and compares each header field, then compares the replayed state, trie
and log tables with the stored ones row for row. The first problem found is
raised as `Tampered(height, what)`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from healthledger.app.application import Application
from healthledger.app.genesis import Genesis
from healthledger.crypto.canonical import parse_json
from healthledger.errors import LedgerError, Tampered
from healthledger.ledger.block import Header, TxResult, genesis_hash, tx_leaf
from healthledger.ledger.context import BlockInfo
from healthledger.ledger.merkle import merkle_root
from healthledger.ledger.store import Store, StoredTx
from healthledger.ledger.transaction import Transaction, decode_and_verify

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    height: int
    transactions: int


def verify_store(db_path: Path, progress: Progress | None = None) -> VerifyReport:
    """Verify a node database offline; raise Tampered naming the first bad height."""
    source = Store(db_path, readonly=True)
    try:
        with tempfile.TemporaryDirectory(prefix="healthledger-verify-") as tmp:
            replay = Store(Path(tmp) / "replay.sqlite")
            try:
                # One read snapshot: a node may keep committing while we verify.
                with source.snapshot():
                    return _verify(source, replay, progress)
            finally:
                replay.close()
    finally:
        source.close()


def _verify(source: Store, replay: Store, progress: Progress | None) -> VerifyReport:
    raw_genesis = source.meta("genesis")
    if raw_genesis is None:
        raise Tampered(0, "the database has no genesis")
    app = Application(replay)
    try:
        root = app.init_chain(Genesis.from_dict(parse_json(raw_genesis)))
    except LedgerError as exc:
        raise Tampered(0, f"the stored genesis is invalid: {exc.message}") from exc
    if bytes.fromhex(root) != source.meta("genesis_state_root"):
        raise Tampered(0, "genesis state root differs from the replayed genesis")
    prev_hash = genesis_hash(raw_genesis)
    height = source.last_height()
    transactions = 0
    for current in range(1, height + 1):
        header, block_hash = _check_header(source, current, prev_hash)
        stored = _read_block_txs(source, current)
        txs = _check_transactions(current, header, stored)
        _replay_block(app, header, txs)
        transactions += len(txs)
        prev_hash = block_hash
        if progress is not None:
            progress(current, height)
    _compare_tables(source, replay, height)
    return VerifyReport(ok=True, height=height, transactions=transactions)


def _check_header(source: Store, height: int, prev_hash: str) -> tuple[Header, str]:
    stored_hash, raw = source.raw_header(height)
    try:
        header = Header.from_dict(parse_json(raw))
    except (LedgerError, KeyError) as exc:
        raise Tampered(height, f"header cannot be read: {exc}") from exc
    if header.canonical() != raw or header.hash() != stored_hash:
        raise Tampered(height, "header bytes do not match the stored block hash")
    if header.height != height:
        raise Tampered(height, f"header claims height {header.height}")
    if header.prev_hash != prev_hash:
        raise Tampered(height, "prev_hash does not link to the previous block")
    return header, stored_hash


def _read_block_txs(source: Store, height: int) -> list[StoredTx]:
    try:
        return source.block_txs(height)
    except (LedgerError, KeyError, TypeError, ValueError) as exc:
        raise Tampered(height, f"stored transactions cannot be read: {exc}") from exc


def _check_transactions(height: int, header: Header, stored: list[StoredTx]) -> list[Transaction]:
    if len(stored) != header.tx_count:
        raise Tampered(height, f"{len(stored)} transactions stored, header says {header.tx_count}")
    txs = []
    for position, item in enumerate(stored):
        try:
            tx = decode_and_verify(item.raw)
        except LedgerError as exc:
            raise Tampered(height, f"transaction {position}: {exc.message}") from exc
        if tx.raw != item.raw or tx.id != item.id:
            raise Tampered(height, f"transaction {position}: stored id or bytes altered")
        if (item.height, item.position) != (height, position):
            raise Tampered(height, f"transaction {position}: stored height or position altered")
        txs.append(tx)
    if merkle_root([tx_leaf(tx.raw) for tx in txs]).hex() != header.tx_root:
        raise Tampered(height, "transactions do not match the header's tx_root")
    results = [item.result for item in stored]
    if _result_root(txs, results) != header.result_root:
        raise Tampered(height, "stored results do not match the header's result_root")
    return txs


def _result_root(txs: list[Transaction], results: list[TxResult]) -> str:
    leaves = [result.leaf(tx.id) for tx, result in zip(txs, results, strict=True)]
    return merkle_root(leaves).hex()


def _replay_block(app: Application, header: Header, txs: list[Transaction]) -> None:
    pending = app.finalize_block(BlockInfo(header.height, header.time_ms, header.proposer), txs)
    replayed = pending.header.to_dict()
    for name, value in header.to_dict().items():
        if replayed[name] != value:
            raise Tampered(header.height, f"replay gives a different {name}")
    app.commit()


def _compare_tables(source: Store, replay: Store, height: int) -> None:
    for table in ("state", "trie", "log_nodes", "meta"):
        rows = zip_longest(source.table_rows(table), replay.table_rows(table))
        for stored_row, replayed_row in rows:
            if stored_row != replayed_row:
                where = (stored_row or replayed_row or ())[:2]
                raise Tampered(height, f"stored {table} row {where!r} differs from the replay")
