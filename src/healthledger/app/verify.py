"""Offline verification of a data folder: every link, signature and root, then a full replay.

`verify_store` re-checks each block's hash link, header bytes, transaction
signatures and Merkle roots, replays every block from genesis into a fresh
state and compares each header field, then compares every stored table with
the replayed one, every column of every row: what no hash covers (a
transaction's `sender`, its log index, the state rows beside the trie, the log
frontier in meta) must equal what the replay wrote. SQLite's integrity check
covers the derived lookups (the indexes by transaction id and by sender), and
the schema must be the one this code creates (no extra triggers or tables).
The first problem found is raised as `Tampered(height, what)`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from healthledger.app.application import Application
from healthledger.app.genesis import Genesis, check_rules_version
from healthledger.crypto.canonical import parse_json
from healthledger.errors import LedgerError, Tampered
from healthledger.ledger.block import Header, TxResult, genesis_hash, tx_leaf
from healthledger.ledger.context import BlockInfo
from healthledger.ledger.merkle import merkle_root
from healthledger.ledger.store import TABLE_LAYOUT, TABLES, Store, StoredTx
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
            app = Application(replay)
            try:
                # One read snapshot: a node may keep committing while we verify.
                with source.snapshot():
                    return _verify(source, app, progress)
            finally:
                app.close()
                replay.close()
    finally:
        source.close()


def _verify(source: Store, app: Application, progress: Progress | None) -> VerifyReport:
    # First, so that a damaged file is reported as such before other reads trip over it.
    _check_integrity(source)
    raw_genesis = source.meta("genesis")
    if raw_genesis is None:
        raise Tampered(0, "the database has no genesis")
    # A folder of other rules may have another schema too: say which it is, not "tampered".
    check_rules_version(raw_genesis, "this data folder's chain")
    _check_schema(source, app.store)
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
    for table in TABLES:
        _compare_table(source, app.store, table, height)
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


def _check_integrity(source: Store) -> None:
    """The lookups SQLite derives (indexes by id and by sender) agree with their tables.

    SQLite does not say which block an index entry belongs to: the last height is named.
    """
    problems = source.integrity_problems()
    if problems:
        raise Tampered(source.last_height(), f"SQLite integrity check: {'; '.join(problems)}")


def _check_schema(source: Store, replay: Store) -> None:
    """Tables, indexes and triggers are exactly the ones this code creates."""
    stored, expected = source.schema(), replay.schema()
    if stored != expected:
        differing = sorted({row[:2] for row in set(stored) ^ set(expected)})
        raise Tampered(
            source.last_height(), f"the database schema differs from this code's at {differing}"
        )


def _compare_table(source: Store, replay: Store, table: str, height: int) -> None:
    """Every column of every row equals the replay's, derived columns included."""
    columns, key_width = TABLE_LAYOUT[table]
    rows = zip_longest(source.table_rows(table), replay.table_rows(table))
    for stored_row, replayed_row in rows:
        if stored_row == replayed_row:
            continue
        stored_key = None if stored_row is None else stored_row[:key_width]
        replayed_key = None if replayed_row is None else replayed_row[:key_width]
        if stored_row is None or replayed_row is None or stored_key != replayed_key:
            raise Tampered(
                height, f"stored {table} row {stored_key!r} where the replay has {replayed_key!r}"
            )
        differing = [
            name
            for name, got, want in zip(columns, stored_row, replayed_row, strict=True)
            if got != want
        ]
        raise Tampered(
            _row_height(table, replayed_row, height),
            f"stored {table} row {replayed_key!r}: {', '.join(differing)} differs from the replay",
        )


def _row_height(table: str, replayed_row: tuple[object, ...], height: int) -> int:
    """The block a blocks or txs row belongs to (read from the replay, which is trusted)."""
    position = {"blocks": 0, "txs": 2}.get(table)
    if position is None:
        return height  # state, trie, log nodes and meta hold the state after the last block
    value = replayed_row[position]
    return value if isinstance(value, int) else height
