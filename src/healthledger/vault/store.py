"""The off-chain vault: encrypted record blobs on disk, named by the hash of their ciphertext.

Layout under the vault root::

    blobs/<first 2 hex of blob id>/<blob id>   one finished ciphertext (envelope format)
    tmp/                                       ciphertexts being written (swept at start)
    vault.sqlite                               index: blob id, sizes, salted content hash;
                                               the ciphertext of small records inline;
                                               sealed notes (break-glass reasons); and the
                                               keyed fingerprints of stored resources

A blob is written to `tmp/` as ciphertext while its plaintext arrives (an upload
never touches the disk in the clear), fsynced, then renamed to its content
address, so a crash leaves either the whole blob or none of it under `blobs/`.
What a crash leaves in `tmp/` is ciphertext whose data key died with the process;
`sweep_tmp` removes it when the node starts. Small records
(FHIR resources, up to `INLINE_MAX` bytes) are stored in the index database
instead, many per SQLite transaction: one fsync for a batch rather than three per
record, which is what lets a node take in thousands of small records a second. The vault only
ever sees ciphertext and data keys handed in by the caller; it stores no key in the clear
(a note keeps its data key sealed to the organisation it belongs to).

A note is free text about a person that the chain must not hold, such as a break-glass
reason: encrypted in the same envelope format as a record, found by its salted
content hash, which is the only thing the chain holds of it.

A fingerprint lets the custodian recognise a resource it already holds (a Bundle imported
twice, or one carrying a resource added alone): content hashes on the chain are salted, so
they cannot. It is an HMAC-SHA256 under a secret key of this vault (made on first use, kept
in the index, never on the chain), so nobody without the vault can confirm a guessed
resource from it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from healthledger.crypto.envelope import Encryptor, Sealed, encrypt_bytes
from healthledger.errors import (
    AlreadyExists,
    ErrorCode,
    HashMismatch,
    InvalidState,
    LedgerError,
    MalformedInput,
    TooLarge,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    blob_id TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    ciphertext_size INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inline_blobs (
    blob_id TEXT PRIMARY KEY,
    ciphertext BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fingerprint_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    secret BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS fingerprints (
    custodian TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    record_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (custodian, fingerprint)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notes (
    content_hash TEXT PRIMARY KEY,
    ciphertext BLOB NOT NULL,
    wrapped_key TEXT NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
"""
NOTE_MAX = 4096
INLINE_MAX = 64 * 1024

BLOB_ID = re.compile(r"[0-9a-f]{64}")
SHRED_BLOCK = 256 * 1024


class Vault:
    """Content-addressed encrypted blobs on disk plus a small SQLite index."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._blobs = self.root / "blobs"
        self._tmp = self.root / "tmp"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._db = _open_index(self.root / "vault.sqlite")
        # One connection behind one lock: index rows are tiny, file I/O runs outside it.
        self._lock = threading.Lock()
        self._fingerprint_secret: bytes | None = None  # read (or made) on first use

    def put_stream(self, data_key: bytes, chunks: Iterable[bytes]) -> Sealed:
        """Encrypt `chunks` into a new blob, holding one chunk at a time in memory."""
        writer = self.writer(data_key)
        try:
            for chunk in chunks:
                writer.write(chunk)
            return writer.commit()
        finally:
            writer.discard()

    def writer(self, data_key: bytes) -> BlobWriter:
        """A blob to be written piece by piece; `discard` it in `finally` unless committed."""
        return BlobWriter(self, data_key)

    def sweep_tmp(self) -> int:
        """Remove what earlier processes left in `tmp/`; call only before any write starts."""
        swept = 0
        for leftover in self._tmp.iterdir():
            if leftover.is_file() or leftover.is_symlink():
                leftover.unlink(missing_ok=True)
                swept += 1
        if swept:
            _fsync_dir(self._tmp)
        return swept

    def put_bytes(self, data_key: bytes, plaintext: bytes) -> Sealed:
        """Encrypt a record held in memory into a new blob."""
        if len(plaintext) <= INLINE_MAX:
            return self.put_small([(data_key, plaintext)])[0]
        return self.put_stream(data_key, [plaintext])

    def put_small(self, items: list[tuple[bytes, bytes]]) -> list[Sealed]:
        """Encrypt small records (data key, plaintext) and store them in one durable transaction."""
        if any(len(plaintext) > INLINE_MAX for _key, plaintext in items):
            raise TooLarge(f"inline records are at most {INLINE_MAX} bytes")
        sealed = [encrypt_bytes(key, plaintext) for key, plaintext in items]
        now = time.time_ns() // 1_000_000
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO inline_blobs (blob_id, ciphertext) VALUES (?, ?)",
                    [(info.blob_id, ciphertext) for ciphertext, info in sealed],
                )
                self._db.executemany(
                    "INSERT OR IGNORE INTO blobs"
                    " (blob_id, size, ciphertext_size, content_hash, created_ms)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [
                        (i.blob_id, i.size, i.ciphertext_size, i.content_hash, now)
                        for _c, i in sealed
                    ],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [info for _ciphertext, info in sealed]

    def put_note(
        self, data_key: bytes, text: bytes, wrapped_key: str, salt: bytes | None = None
    ) -> Sealed:
        """Seal a short note durably; its `content_hash` (salted) is what the chain may hold.

        The salt is the writer's when they committed to the note's hash themselves."""
        if len(text) > NOTE_MAX:
            raise TooLarge(f"a note is at most {NOTE_MAX} bytes")
        ciphertext, sealed = encrypt_bytes(data_key, text, salt)
        try:
            with self._lock:
                self._db.execute(
                    "INSERT INTO notes (content_hash, ciphertext, wrapped_key, created_ms)"
                    " VALUES (?, ?, ?, ?)",
                    (sealed.content_hash, ciphertext, wrapped_key, time.time_ns() // 1_000_000),
                )
        except sqlite3.IntegrityError as exc:
            # The same text and salt again (a retried request): its note, and the access
            # event it belongs to, exist already; a new event needs a new salt.
            raise AlreadyExists("this break-glass reason and salt were already used") from exc
        return sealed

    def note(self, content_hash: str) -> tuple[bytes, str] | None:
        """A note's ciphertext and its sealed data key, or None if this vault holds none."""
        _require_blob_id(content_hash)
        with self._lock:
            row = self._db.execute(
                "SELECT ciphertext, wrapped_key FROM notes WHERE content_hash = ?", (content_hash,)
            ).fetchone()
        return None if row is None else (bytes(row[0]), str(row[1]))

    def drop_note(self, content_hash: str) -> bool:
        """Remove a note whose transaction never committed (secure_delete zeroes its pages)."""
        _require_blob_id(content_hash)
        with self._lock:
            cursor = self._db.execute("DELETE FROM notes WHERE content_hash = ?", (content_hash,))
        return cursor.rowcount > 0

    def fingerprint(self, custodian: str, patient: str, resource_json: bytes) -> str:
        """The keyed fingerprint of a patient's resource at a custodian (hex HMAC-SHA256)."""
        message = b"\x00".join((custodian.encode(), patient.encode(), resource_json))
        return hmac.new(self._fingerprint_key(), message, hashlib.sha256).hexdigest()

    def fingerprinted(self, custodian: str, fingerprints: Iterable[str]) -> dict[str, str]:
        """The record id each already known fingerprint was stored as, at this custodian."""
        wanted = sorted(set(fingerprints))
        found: dict[str, str] = {}
        with self._lock:
            for fingerprint in wanted:
                row = self._db.execute(
                    "SELECT record_id FROM fingerprints WHERE custodian = ? AND fingerprint = ?",
                    (custodian, fingerprint),
                ).fetchone()
                if row is not None:
                    found[fingerprint] = str(row[0])
        return found

    def remember_fingerprints(self, custodian: str, pairs: Iterable[tuple[str, str]]) -> None:
        """Keep (fingerprint, record id) pairs in one transaction (trusted only while the chain
        shows the record held)."""
        now = time.time_ns() // 1_000_000
        rows = [(custodian, fingerprint, record_id, now) for fingerprint, record_id in pairs]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO fingerprints"
                    " (custodian, fingerprint, record_id, created_ms) VALUES (?, ?, ?, ?)",
                    rows,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _fingerprint_key(self) -> bytes:
        if self._fingerprint_secret is not None:
            return self._fingerprint_secret
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO fingerprint_key (id, secret) VALUES (1, ?)",
                (secrets.token_bytes(32),),
            )
            row = self._db.execute("SELECT secret FROM fingerprint_key WHERE id = 1").fetchone()
        self._fingerprint_secret = bytes(row[0])
        return self._fingerprint_secret

    def has(self, blob_id: str) -> bool:
        """Whether the blob is indexed and its ciphertext is present."""
        if self._row(blob_id) is None:
            return False
        return self._inline(blob_id) is not None or self._path(blob_id).is_file()

    def info(self, blob_id: str) -> Sealed:
        """The index entry of a blob: sizes and salted content hash."""
        row = self._row(blob_id)
        if row is None:
            raise _missing(blob_id)
        size, ciphertext_size, content_hash = row
        return Sealed(
            content_hash=str(content_hash),
            size=int(size),
            ciphertext_size=int(ciphertext_size),
            blob_id=blob_id,
        )

    def read_chunks(self, blob_id: str, chunk_size: int = 256 * 1024) -> Iterator[bytes]:
        """Stream a blob's ciphertext; HASH_MISMATCH after the last chunk if it is not its id.

        BLOB_MISSING is raised by the call itself, before any chunk, so an API can
        still answer 404 instead of starting a response.
        """
        path = self._path(blob_id)
        if chunk_size <= 0:
            raise MalformedInput("chunk_size must be positive")
        inline = self._inline(blob_id)
        if inline is not None:
            return _verified_inline(inline, blob_id, chunk_size)
        if not path.is_file():
            raise _missing(blob_id)
        return _verified_chunks(path, blob_id, chunk_size)

    def shred(self, blob_id: str) -> bool:
        """Zero, fsync and unlink a blob's file and drop its index row; True if anything went.

        The local half of crypto-shredding: on SSDs and copy-on-write file systems the
        old bytes may survive overwriting, so destroying every wrapped data key is what
        makes the record unreadable; this removes the ciphertext as well as it can.
        """
        path = self._path(blob_id)
        removed_file = _zero_and_unlink(path)
        with self._lock:
            # secure_delete (set at open) overwrites the freed pages with zeros.
            inline = self._db.execute("DELETE FROM inline_blobs WHERE blob_id = ?", (blob_id,))
            cursor = self._db.execute("DELETE FROM blobs WHERE blob_id = ?", (blob_id,))
        return removed_file or cursor.rowcount > 0 or inline.rowcount > 0

    # --- backup and restore (vault/backup.py, node/continuity.py) -------------------

    @property
    def tmp_dir(self) -> Path:
        """Scratch space on the vault's own disk, swept when the node starts."""
        return self._tmp

    def blob_path(self, blob_id: str) -> Path:
        """Where a blob file lives (whether or not it is there)."""
        return self._path(blob_id)

    def snapshot_index(self, target: Path) -> None:
        """Copy the index, as of one committed transaction, to `target` (SQLite backup API)."""
        copy = sqlite3.connect(target)
        try:
            with self._lock:
                self._db.backup(copy)
        finally:
            copy.close()

    def is_empty(self) -> bool:
        """Whether the vault holds no blob, note or file at all (a restore's target)."""
        with self._lock:
            indexed = self._db.execute(
                "SELECT EXISTS (SELECT 1 FROM blobs) OR EXISTS (SELECT 1 FROM notes)"
            ).fetchone()[0]
        return not indexed and not any(p.is_file() for p in self._blobs.rglob("*"))

    def adopt_inline(self, sealed: Sealed, ciphertext: bytes) -> None:
        """Install a small record's ciphertext restored from elsewhere (it must hash to its id)."""
        _require_blob_id(sealed.blob_id)
        _check_inline(ciphertext, sealed.blob_id)
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO inline_blobs (blob_id, ciphertext) VALUES (?, ?)",
                (sealed.blob_id, ciphertext),
            )
        self._index(sealed)

    def adopt_file(self, sealed: Sealed, tmp: Path) -> None:
        """Install a ciphertext file written (and checked against its id) under `tmp_dir`."""
        if tmp.parent != self._tmp:
            raise InvalidState("only a file written in the vault's tmp/ can be adopted")
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        self._move_into_place(tmp, sealed.blob_id)
        self._index(sealed)

    def scratch_file(self) -> Path:
        """A new empty file under `tmp_dir` (ciphertext only ever goes there)."""
        fd, name = tempfile.mkstemp(dir=self._tmp, suffix=".part")
        os.close(fd)
        return Path(name)

    def restore_rows(self, create_sql: str, table: str, rows: Iterable[tuple[object, ...]]) -> int:
        """Copy a table of a backed-up index (one this version may not know) row by row.

        Rows already present are kept: a restore never overwrites what the vault holds.
        """
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", table) is None:
            raise MalformedInput(f"not a table name: {table!r:.60}")
        if re.match(r"\s*CREATE\s+TABLE\s", create_sql, re.IGNORECASE) is None:
            raise MalformedInput(f"not a table definition for {table}")
        copied = 0
        with self._lock:
            exists = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
            if exists is None:
                self._db.execute(create_sql)
            for row in rows:
                marks = ", ".join("?" * len(row))
                cursor = self._db.execute(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", row)
                copied += cursor.rowcount
        return copied

    def close(self) -> None:
        """Close the index, so SQLite checkpoints its WAL into the main file."""
        with self._lock:
            self._db.close()

    def _path(self, blob_id: str) -> Path:
        """Where a blob lives; refuses anything but a blob id before touching the disk."""
        _require_blob_id(blob_id)
        return self._blobs / blob_id[:2] / blob_id

    def _row(self, blob_id: str) -> tuple[int, int, str] | None:
        _require_blob_id(blob_id)
        with self._lock:
            row: tuple[int, int, str] | None = self._db.execute(
                "SELECT size, ciphertext_size, content_hash FROM blobs WHERE blob_id = ?",
                (blob_id,),
            ).fetchone()
        return row

    def inline_ciphertext(self, blob_id: str) -> bytes | None:
        """A small record's whole ciphertext, checked against its id (None if stored as a file)."""
        ciphertext = self._inline(blob_id)
        if ciphertext is not None:
            _check_inline(ciphertext, blob_id)
        return ciphertext

    def _inline(self, blob_id: str) -> bytes | None:
        _require_blob_id(blob_id)
        with self._lock:
            row = self._db.execute(
                "SELECT ciphertext FROM inline_blobs WHERE blob_id = ?", (blob_id,)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def _move_into_place(self, tmp: Path, blob_id: str) -> None:
        target = self._path(blob_id)
        target.parent.mkdir(exist_ok=True)
        os.replace(tmp, target)
        _fsync_dir(target.parent)

    def _index(self, sealed: Sealed) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO blobs"
                " (blob_id, size, ciphertext_size, content_hash, created_ms)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    sealed.blob_id,
                    sealed.size,
                    sealed.ciphertext_size,
                    sealed.content_hash,
                    time.time_ns() // 1_000_000,
                ),
            )


class BlobWriter:
    """One blob in the making: each piece is encrypted before it reaches `tmp/`.

    `commit` moves the finished ciphertext to its content address and indexes it;
    `discard` (idempotent, a no-op after `commit`) removes the partial file, so a
    caller that puts it in `finally` leaves nothing behind on any failure.
    """

    def __init__(self, vault: Vault, data_key: bytes) -> None:
        self._vault = vault
        self._encryptor = Encryptor(data_key)
        fd, name = tempfile.mkstemp(dir=vault._tmp, suffix=".part")
        self._path = Path(name)
        self._handle: BinaryIO | None = os.fdopen(fd, "wb")
        self._committed = False

    def write(self, plaintext: bytes) -> None:
        self._open_handle().write(self._encryptor.update(plaintext))

    def commit(self) -> Sealed:
        handle = self._open_handle()
        handle.write(self._encryptor.finish())
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        self._handle = None
        sealed = self._encryptor.sealed
        self._vault._move_into_place(self._path, sealed.blob_id)
        self._committed = True
        self._vault._index(sealed)
        return sealed

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if not self._committed:
            self._path.unlink(missing_ok=True)

    def _open_handle(self) -> BinaryIO:
        if self._handle is None:
            raise InvalidState("this blob is already finished")
        return self._handle


def _open_index(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA secure_delete=ON")
    conn.executescript(SCHEMA)
    return conn


def _require_blob_id(blob_id: str) -> None:
    """Refuse anything but 64 lowercase hex characters (no path can hide in a blob id)."""
    if not isinstance(blob_id, str) or BLOB_ID.fullmatch(blob_id) is None:
        raise MalformedInput(f"a blob id is 64 lowercase hex characters, not {blob_id!r:.80}")


def _verified_chunks(path: Path, blob_id: str, chunk_size: int) -> Iterator[bytes]:
    """Yield a file's bytes, then check they hash to the blob id they are stored under."""
    hasher = hashlib.sha256()
    with _open_blob(path, blob_id) as handle:
        while chunk := handle.read(chunk_size):
            hasher.update(chunk)
            yield chunk
    if hasher.hexdigest() != blob_id:
        raise HashMismatch(f"blob {blob_id} on disk does not hash to its id: the file was altered")


def _check_inline(ciphertext: bytes, blob_id: str) -> None:
    if hashlib.sha256(ciphertext).hexdigest() != blob_id:
        raise HashMismatch(f"inline blob {blob_id} does not hash to its id: it was altered")


def _verified_inline(ciphertext: bytes, blob_id: str, chunk_size: int) -> Iterator[bytes]:
    _check_inline(ciphertext, blob_id)
    for start in range(0, len(ciphertext), chunk_size):
        yield ciphertext[start : start + chunk_size]


def _open_blob(path: Path, blob_id: str) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise _missing(blob_id) from None


def _zero_and_unlink(path: Path) -> bool:
    """Overwrite a file with zeros, fsync, unlink; False if there was no file."""
    try:
        handle = path.open("r+b")
    except FileNotFoundError:
        return False
    with handle:
        remaining = os.fstat(handle.fileno()).st_size
        zeros = bytes(SHRED_BLOCK)
        while remaining > 0:
            remaining -= handle.write(zeros[: min(remaining, SHRED_BLOCK)])
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return True


def _fsync_dir(path: Path) -> None:
    """Make a rename or unlink in `path` durable (POSIX keeps it in the directory's inode)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _missing(blob_id: str) -> LedgerError:
    return LedgerError(f"no blob {blob_id} in the vault", ErrorCode.BLOB_MISSING)
