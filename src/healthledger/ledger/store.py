"""The SQLite store of one node: blocks, transactions, results, state, trie nodes, log nodes.

One block is one SQLite transaction (WAL, synchronous=FULL): a crash at any
instant leaves either the whole block or none of it. Readers open their own
connections and see the last committed block as a consistent snapshot.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from healthledger.crypto.canonical import canonical_bytes, parse_json
from healthledger.errors import MalformedInput, NotFound
from healthledger.ledger.block import Header, TxResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    header BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS txs (
    log_index INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    height INTEGER NOT NULL,
    position INTEGER NOT NULL,
    sender TEXT NOT NULL,
    raw BLOB NOT NULL,
    result BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS txs_by_id ON txs (id);
CREATE INDEX IF NOT EXISTS txs_by_sender ON txs (sender, log_index);
CREATE TABLE IF NOT EXISTS state (
    ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trie (path BLOB PRIMARY KEY, node BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_nodes (
    level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)
) WITHOUT ROWID;
"""

# Every table of SCHEMA; `verify` compares each of them, column for column, with a replay.
TABLES = ("meta", "blocks", "txs", "state", "trie", "log_nodes")

# Column names in SCHEMA's order, and how many of the first ones form the primary key
# (what `verify` names when a row differs); kept beside SCHEMA so the two change together.
TABLE_LAYOUT: dict[str, tuple[tuple[str, ...], int]] = {
    "meta": (("name", "value"), 1),
    "blocks": (("height", "hash", "header"), 1),
    "txs": (("log_index", "id", "height", "position", "sender", "raw", "result"), 1),
    "state": (("ns", "key", "value"), 2),
    "trie": (("path", "node"), 1),
    "log_nodes": (("level", "idx", "hash"), 2),
}

StateKey = tuple[str, str]


class StoreFault(Exception):
    """The store itself failed (a disk, a lock, a corrupt page): a fault of this node.

    Never a transaction's fault, so never a transaction's result: another node
    would not share it. The application lets it through, and the node stops.
    """


@dataclass(frozen=True)
class StoredTx:
    """A transaction as committed: where it sits, its bytes and its outcome."""

    id: str
    height: int
    position: int
    log_index: int
    raw: bytes
    result: TxResult


@dataclass(frozen=True)
class BlockWrite:
    """Everything one block changes, written in one SQLite transaction."""

    header: Header
    txs: list[tuple[str, str, bytes, TxResult]]  # (id, sender, raw, result)
    state: Mapping[StateKey, bytes | None]
    trie_nodes: Mapping[bytes, bytes | None]
    log_nodes: Iterable[tuple[int, int, bytes]]
    meta: Mapping[str, bytes]


def open_connection(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """Open the node database with the pragmas every connection needs."""
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
    else:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a block acknowledged as committed survives power loss, not only kill -9.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA cache_size=-65536")
    # Readers lose their page cache whenever another connection commits; a memory map
    # makes re-reading those pages cheap (no read() copies).
    conn.execute("PRAGMA mmap_size=4294967296")
    return conn


class Store:
    """Read and write access to one node's database."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.exists():
            raise NotFound(f"no ledger database at {self.path}")
        self._writer = open_connection(self.path, readonly=readonly)
        if not readonly:
            self._writer.executescript(SCHEMA)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []

    def close(self) -> None:
        """Close every connection, so SQLite checkpoints the WAL into the main file."""
        with self._write_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self._writer.close()

    def _reader(self) -> sqlite3.Connection:
        """One read connection per thread (sqlite3 connections are not shared across threads)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_connection(self.path, readonly=True)
            self._local.conn = conn
            with self._write_lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def snapshot(self) -> Iterator[Store]:
        """Run several reads against one committed block, even while a new one commits."""
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            yield self
        finally:
            conn.execute("COMMIT")

    # --- meta -------------------------------------------------------------

    def meta(self, name: str) -> bytes | None:
        row = self._reader().execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    # --- blocks and transactions ----------------------------------------------

    def last_height(self) -> int:
        row = self._reader().execute("SELECT MAX(height) FROM blocks").fetchone()
        return int(row[0] or 0)

    def header(self, height: int) -> Header:
        row = (
            self._reader()
            .execute("SELECT header FROM blocks WHERE height = ?", (height,))
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no block at height {height}")
        return Header.from_dict(parse_json(bytes(row[0])))

    def raw_header(self, height: int) -> tuple[str, bytes]:
        """The stored hash and header bytes, as written (for offline verification)."""
        row = (
            self._reader()
            .execute("SELECT hash, header FROM blocks WHERE height = ?", (height,))
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no block at height {height}")
        return str(row[0]), bytes(row[1])

    def block_txs(self, height: int) -> list[StoredTx]:
        """A block's transactions in order: a primary-key range of the ledger-wide log.

        The header says where the block ends in the log (`log_size`) and how many it
        holds, so this never scans the table, however long the ledger grows.
        """
        try:
            header = self.header(height)
        except NotFound:
            return []
        rows = (
            self._reader()
            .execute(
                "SELECT id, height, position, log_index, raw, result FROM txs"
                " WHERE log_index >= ? AND log_index < ? ORDER BY log_index",
                (header.log_size - header.tx_count, header.log_size),
            )
            .fetchall()
        )
        return [_stored_tx(row) for row in rows]

    def tx(self, tx_id: str) -> StoredTx:
        row = (
            self._reader()
            .execute(
                "SELECT id, height, position, log_index, raw, result FROM txs"
                " WHERE id = ? ORDER BY log_index LIMIT 1",
                (tx_id,),
            )
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no committed transaction {tx_id}")
        return _stored_tx(row)

    def txs_by_sender(self, sender: str, limit: int = 100) -> list[StoredTx]:
        rows = (
            self._reader()
            .execute(
                "SELECT id, height, position, log_index, raw, result FROM txs"
                " WHERE sender = ? ORDER BY log_index DESC LIMIT ?",
                (sender, limit),
            )
            .fetchall()
        )
        return [_stored_tx(row) for row in rows]

    # --- state ----------------------------------------------------------------

    def state_get(self, ns: str, key: str) -> bytes | None:
        try:
            row = (
                self._reader()
                .execute("SELECT value FROM state WHERE ns = ? AND key = ?", (ns, key))
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise StoreFault(f"reading state {ns}/{key}: {exc}") from exc
        return None if row is None else bytes(row[0])

    def state_scan(
        self,
        ns: str,
        prefix: str = "",
        limit: int = 1000,
        newest_first: bool = False,
        after: str | None = None,
    ) -> list[tuple[str, bytes]]:
        """Keys of a namespace starting with `prefix`, in key order (or reverse).

        `after` (ascending scans) resumes strictly after that key: paging.
        """
        order = "DESC" if newest_first else "ASC"
        lower, strict = (prefix, "=") if after is None else (max(prefix, after), "")
        rows = (
            self._reader()
            .execute(
                f"SELECT key, value FROM state WHERE ns = ? AND key >{strict} ? AND key < ?"
                f" ORDER BY key {order} LIMIT ?",
                (ns, lower, prefix + "\U0010ffff", limit),
            )
            .fetchall()
        )
        return [(str(key), bytes(value)) for key, value in rows]

    def table_rows(self, table: str) -> Iterator[tuple[object, ...]]:
        """Every row of a table, every column, in key order, for offline verification."""
        if table not in TABLES:
            raise ValueError(f"not a ledger table: {table}")
        cursor = self._reader().execute(f"SELECT * FROM {table} ORDER BY 1, 2")
        while rows := cursor.fetchmany(1000):
            yield from rows

    def schema(self) -> list[tuple[str, str, str, str | None]]:
        """Tables, indexes and triggers as SQLite records them (without their page numbers)."""
        rows = (
            self._reader()
            .execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
            .fetchall()
        )
        return [(str(kind), str(name), str(table), sql) for kind, name, table, sql in rows]

    def integrity_problems(self, limit: int = 5) -> list[str]:
        """SQLite's own check: every index (txs by id, by sender) agrees with its table."""
        try:
            rows = self._reader().execute(f"PRAGMA integrity_check({int(limit)})").fetchall()
        except sqlite3.DatabaseError as exc:  # not a database at all, or pages unreadable
            return [str(exc)]
        problems = [str(row[0]) for row in rows]
        return [] if problems == ["ok"] else problems

    def trie_node(self, path: bytes) -> bytes | None:
        """Node lookup for the state trie (the trie's NodeReader)."""
        row = self._reader().execute("SELECT node FROM trie WHERE path = ?", (path,)).fetchone()
        return None if row is None else bytes(row[0])

    def log_node(self, level: int, index: int) -> bytes:
        """A perfect subtree root of the ledger-wide log (level 0 = leaf hashes)."""
        row = (
            self._reader()
            .execute("SELECT hash FROM log_nodes WHERE level = ? AND idx = ?", (level, index))
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no log node at level {level} index {index}")
        return bytes(row[0])

    # --- commit ---------------------------------------------------------------

    def commit_block(self, write: BlockWrite) -> None:
        """Persist a whole block atomically: all of it, or (after a crash) none of it."""
        header = write.header
        first_log_index = header.log_size - len(write.txs)
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self._writer_last_height() != header.height - 1:
                    raise MalformedInput(f"block {header.height} does not follow the stored chain")
                conn.execute(
                    "INSERT INTO blocks (height, hash, header) VALUES (?, ?, ?)",
                    (header.height, header.hash(), header.canonical()),
                )
                conn.executemany(
                    "INSERT INTO txs (log_index, id, height, position, sender, raw, result)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            first_log_index + position,
                            tx_id,
                            header.height,
                            position,
                            sender,
                            raw,
                            canonical_bytes(result.to_dict()),
                        )
                        for position, (tx_id, sender, raw, result) in enumerate(write.txs)
                    ],
                )
                _write_state(conn, write.state)
                _write_trie(conn, write.trie_nodes)
                conn.executemany(
                    "INSERT OR REPLACE INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)",
                    list(write.log_nodes),
                )
                conn.executemany(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                    list(write.meta.items()),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def commit_genesis(
        self,
        state: Mapping[StateKey, bytes | None],
        trie_nodes: Mapping[bytes, bytes | None],
        meta: Mapping[str, bytes],
    ) -> None:
        """Persist the founding state and the genesis document in one transaction."""
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("SELECT 1 FROM meta WHERE name = 'genesis'").fetchone():
                    raise MalformedInput("this store already has a genesis")
                _write_state(conn, state)
                _write_trie(conn, trie_nodes)
                conn.executemany(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", list(meta.items())
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _writer_last_height(self) -> int:
        row = self._writer.execute("SELECT MAX(height) FROM blocks").fetchone()
        return int(row[0] or 0)


def _write_state(conn: sqlite3.Connection, writes: Mapping[StateKey, bytes | None]) -> None:
    puts = [(ns, key, value) for (ns, key), value in writes.items() if value is not None]
    deletes = [(ns, key) for (ns, key), value in writes.items() if value is None]
    conn.executemany("INSERT OR REPLACE INTO state (ns, key, value) VALUES (?, ?, ?)", puts)
    conn.executemany("DELETE FROM state WHERE ns = ? AND key = ?", deletes)


def _write_trie(conn: sqlite3.Connection, nodes: Mapping[bytes, bytes | None]) -> None:
    puts = [(path, node) for path, node in nodes.items() if node is not None]
    deletes = [(path,) for path, node in nodes.items() if node is None]
    conn.executemany("INSERT OR REPLACE INTO trie (path, node) VALUES (?, ?)", puts)
    conn.executemany("DELETE FROM trie WHERE path = ?", deletes)


def _blob(value: object) -> bytes:
    """A BLOB column as bytes (SQLite hands back bytes; memoryview from some builds)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"expected a BLOB, got {type(value).__name__}")


def _stored_tx(row: tuple[object, ...]) -> StoredTx:
    tx_id, height, position, log_index, raw, result = row
    return StoredTx(
        id=str(tx_id),
        height=int(str(height)),
        position=int(str(position)),
        log_index=int(str(log_index)),
        raw=_blob(raw),
        result=TxResult.from_dict(parse_json(_blob(result))),
    )
