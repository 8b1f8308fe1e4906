"""A vault backup: one passphrase-sealed stream of the index snapshot and every blob file.

File format (lengths big-endian)::

    MAGIC "HLVAULTBACKUP1\\n"
    u32 n || header JSON (n bytes): format, Argon2id parameters and salt, the key check,
                                    the secretstream header
    u32 n || message (n bytes)      libsodium crypto_secretstream_xchacha20poly1305 messages;
    ...                             the first authenticates the header JSON as additional
                                    data, the last is tagged FINAL (truncation is detected)

Inside the stream, entries one after the other, each ``u32 n || entry JSON || size bytes``:
``{"kind": "index", "size"}`` (a SQLite backup-API snapshot of `vault.sqlite`: every table,
inline ciphertexts and sealed notes included), then ``{"kind": "blob", "name": blob id,
"size"}`` per blob file, then ``{"kind": "end", "blobs"}``.

The key comes from the passphrase by Argon2id at the cost of protected key files
(crypto/keys.py), so a backup on a stolen disk is as hard to open as a key file. What
the stream carries is ciphertext already (records, notes sealed to their organisation),
so the passphrase guards the index's salted hashes and sizes; no key of any
organisation is ever in a backup. The key check (a keyed hash of a fixed label) tells a
wrong passphrase (DECRYPTION_FAILED) apart from an altered file (TAMPERED).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import struct
import tempfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import nacl.bindings as sodium
import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from healthledger.crypto.keys import (
    MAX_MEMLIMIT,
    MAX_OPSLIMIT,
    PROTECT_MEMLIMIT,
    PROTECT_OPSLIMIT,
)
from healthledger.errors import DecryptionFailed, ErrorCode, LedgerError, MalformedInput
from healthledger.vault.store import Vault

MAGIC = b"HLVAULTBACKUP1\n"
FORMAT = "healthledger-vault-backup/v1"
MESSAGE_PLAIN = 1024 * 1024  # plaintext per stream message: memory stays at about this
MAX_MESSAGE = MESSAGE_PLAIN + sodium.crypto_secretstream_xchacha20poly1305_ABYTES
MAX_HEADER = 4096
MAX_ENTRY_META = 1024
READ_BLOCK = 1024 * 1024
_CHECK_LABEL = b"healthledger vault backup key check"
_U32 = struct.Struct(">I")


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds: the index snapshot's size and the blob files written."""

    index_bytes: int
    blob_files: int
    blob_bytes: int
    vanished: int  # files shredded between the snapshot and their copy


@dataclass(frozen=True)
class Entry:
    """One entry of a backup being read: its bytes follow in `chunks` (read them first)."""

    kind: str
    name: str
    size: int
    chunks: Iterator[bytes]


# --- writing ------------------------------------------------------------------------


def write_backup(
    vault: Vault,
    out: BinaryIO,
    passphrase: str,
    opslimit: int = PROTECT_OPSLIMIT,
    memlimit: int = PROTECT_MEMLIMIT,
) -> BackupSummary:
    """Stream a consistent copy of `vault` into `out`, sealed under `passphrase`.

    The index is snapshotted first (SQLite's backup API: one committed state even while
    the node writes); the blob files it lists are immutable (content-addressed) and
    copied after it, a file shredded in between being skipped.
    """
    sink = _SealedWriter(out, passphrase, opslimit, memlimit)
    with tempfile.TemporaryDirectory(dir=vault.tmp_dir, prefix="backup-") as scratch:
        snapshot = Path(scratch) / "index.sqlite"
        vault.snapshot_index(snapshot)
        index_bytes = snapshot.stat().st_size
        _write_entry(sink, {"kind": "index"}, snapshot, index_bytes)
        files = blob_bytes = vanished = 0
        for blob_id in file_blob_ids(snapshot):
            path = vault.blob_path(blob_id)
            try:
                size = path.stat().st_size
                _write_entry(sink, {"kind": "blob", "name": blob_id}, path, size)
            except FileNotFoundError:
                vanished += 1
                continue
            files += 1
            blob_bytes += size
    sink.write_entry_meta({"kind": "end", "blobs": files})
    sink.close()
    return BackupSummary(index_bytes, files, blob_bytes, vanished)


def file_blob_ids(index: Path) -> Iterator[str]:
    """Blob ids an index snapshot lists whose ciphertext is a file (not inline)."""
    conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        cursor = conn.execute(
            "SELECT blob_id FROM blobs WHERE blob_id NOT IN (SELECT blob_id FROM inline_blobs)"
            " ORDER BY blob_id"
        )
        while rows := cursor.fetchmany(1000):
            for (blob_id,) in rows:
                yield str(blob_id)
    finally:
        conn.close()


def _write_entry(sink: _SealedWriter, meta: dict[str, Any], path: Path, size: int) -> None:
    """An entry's header then exactly `size` bytes of the file (it must not change size)."""
    with path.open("rb") as handle:
        sink.write_entry_meta({**meta, "size": size})
        remaining = size
        while remaining > 0:
            block = handle.read(min(READ_BLOCK, remaining))
            if not block:
                raise MalformedInput(f"{path.name} shrank while it was backed up")
            sink.write(block)
            remaining -= len(block)


class _SealedWriter:
    """Plaintext in, secretstream messages out, one message buffered at a time."""

    def __init__(self, out: BinaryIO, passphrase: str, opslimit: int, memlimit: int) -> None:
        if not passphrase:
            raise MalformedInput("a backup needs a non-empty passphrase")
        salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
        key = _derive(passphrase, salt, opslimit, memlimit)
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        stream_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(self._state, key)
        header = {
            "format": FORMAT,
            "kdf": {
                "name": "argon2id13",
                "opslimit": opslimit,
                "memlimit": memlimit,
                "salt": salt.hex(),
            },
            "key_check": _key_check(key),
            "stream_header": stream_header.hex(),
        }
        self._header = json.dumps(header, sort_keys=True).encode()
        self._out = out
        self._buffer = bytearray()
        self._first = True
        out.write(MAGIC + _U32.pack(len(self._header)) + self._header)

    def write_entry_meta(self, meta: dict[str, Any]) -> None:
        encoded = json.dumps(meta, sort_keys=True).encode()
        self.write(_U32.pack(len(encoded)) + encoded)

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) > MESSAGE_PLAIN:
            self._push(bytes(self._buffer[:MESSAGE_PLAIN]), final=False)
            del self._buffer[:MESSAGE_PLAIN]

    def close(self) -> None:
        self._push(bytes(self._buffer), final=True)
        self._buffer.clear()
        self._out.flush()

    def _push(self, plain: bytes, final: bool) -> None:
        tag = (
            sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
            if final
            else sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
        )
        extra = self._header if self._first else None
        self._first = False
        message = sodium.crypto_secretstream_xchacha20poly1305_push(self._state, plain, extra, tag)
        self._out.write(_U32.pack(len(message)) + message)


# --- reading ------------------------------------------------------------------------


def read_backup(source: BinaryIO, passphrase: str) -> Iterator[Entry]:
    """The entries of a backup, each authenticated before it is yielded.

    A wrong passphrase is DECRYPTION_FAILED before anything is yielded; an altered or
    truncated file is TAMPERED where it is found (at the latest after the last entry),
    so act on what was read only once the iterator is exhausted, or check each piece
    by its own hash as `vault restore` does.
    """
    stream = _SealedReader(source, passphrase)
    blobs = 0
    while True:
        meta = _entry_meta(stream)
        kind = meta.get("kind")
        if kind == "end":
            if meta.get("blobs") != blobs:
                raise _tampered("the backup's entry count does not match its end marker")
            stream.require_end()
            return
        size = meta.get("size")
        if kind not in {"index", "blob"} or not isinstance(size, int) or size < 0:
            raise _tampered(f"unexpected backup entry {meta!r:.120}")
        blobs += kind == "blob"
        entry = Entry(str(kind), str(meta.get("name", "")), size, stream.chunks(size))
        yield entry
        deque(entry.chunks, maxlen=0)  # drain whatever the consumer left unread


def _entry_meta(stream: _SealedReader) -> dict[str, Any]:
    (length,) = _U32.unpack(stream.read_exact(_U32.size))
    if length > MAX_ENTRY_META:
        raise _tampered("a backup entry header is too long")
    try:
        meta = json.loads(stream.read_exact(length))
    except ValueError as exc:
        raise _tampered("a backup entry header is not JSON") from exc
    if not isinstance(meta, dict):
        raise _tampered("a backup entry header is not an object")
    return meta


class _SealedReader:
    """Secretstream messages in, plaintext out, one message held at a time."""

    def __init__(self, source: BinaryIO, passphrase: str) -> None:
        self._source = source
        if source.read(len(MAGIC)) != MAGIC:
            raise MalformedInput("not a HealthLedger vault backup (bad magic)")
        self._header = self._frame(MAX_HEADER, "header")
        key = _key_from_header(self._header, passphrase)
        header = json.loads(self._header)
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        try:
            stream_header = bytes.fromhex(header["stream_header"])
            sodium.crypto_secretstream_xchacha20poly1305_init_pull(self._state, stream_header, key)
        except (KeyError, ValueError, TypeError, nacl.exceptions.CryptoError) as exc:
            raise _tampered("the backup's stream header is damaged") from exc
        self._buffer = b""
        self._offset = 0
        self._first = True
        self._final = False

    def read_exact(self, size: int) -> bytes:
        parts = []
        while size > 0:
            piece = self._take(size)
            parts.append(piece)
            size -= len(piece)
        return b"".join(parts)

    def chunks(self, size: int) -> Iterator[bytes]:
        while size > 0:
            piece = self._take(min(size, READ_BLOCK))
            size -= len(piece)
            yield piece

    def require_end(self) -> None:
        if self._offset < len(self._buffer) or not self._final:
            raise _tampered("the backup continues after its end marker")
        if self._source.read(1):
            raise _tampered("bytes follow the backup's final message")

    def _take(self, wanted: int) -> bytes:
        if self._offset >= len(self._buffer):
            self._pull()
        piece = self._buffer[self._offset : self._offset + wanted]
        self._offset += len(piece)
        return piece

    def _pull(self) -> None:
        if self._final:
            raise _tampered("the backup ends inside an entry")
        message = self._frame(MAX_MESSAGE, "message")
        extra = self._header if self._first else None
        self._first = False
        try:
            plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                self._state, message, extra
            )
        except nacl.exceptions.CryptoError as exc:
            raise _tampered("the backup was altered: a message does not authenticate") from exc
        self._final = tag == sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
        self._buffer, self._offset = plain, 0

    def _frame(self, limit: int, what: str) -> bytes:
        raw = self._source.read(_U32.size)
        if len(raw) != _U32.size:
            raise _tampered(f"the backup is truncated before a {what}")
        (length,) = _U32.unpack(raw)
        if length > limit:
            raise _tampered(f"a backup {what} is longer than any this format writes")
        data = self._source.read(length)
        if len(data) != length:
            raise _tampered(f"the backup is truncated inside a {what}")
        return data


def _key_from_header(raw: bytes, passphrase: str) -> bytes:
    try:
        header = json.loads(raw)
        if header["format"] != FORMAT:
            raise MalformedInput(f"unknown backup format {header['format']!r:.60}")
        kdf = header["kdf"]
        if kdf["name"] != "argon2id13":
            raise MalformedInput(f"unknown backup key derivation {kdf['name']!r:.60}")
        opslimit, memlimit = int(kdf["opslimit"]), int(kdf["memlimit"])
        salt = bytes.fromhex(kdf["salt"])
        check = str(header["key_check"])
    except (KeyError, ValueError, TypeError) as exc:
        raise _tampered("the backup's header is damaged") from exc
    if not (1 <= opslimit <= MAX_OPSLIMIT and 8192 <= memlimit <= MAX_MEMLIMIT):
        raise MalformedInput("the backup asks for a passphrase cost outside the bounds")
    key = _derive(passphrase, salt, opslimit, memlimit)
    if not hmac.compare_digest(_key_check(key), check):
        raise DecryptionFailed("wrong passphrase for this backup")
    return key


def _derive(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    if len(salt) != nacl.pwhash.argon2id.SALTBYTES:
        raise _tampered("the backup's salt has the wrong length")
    return nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE, passphrase.encode(), salt, opslimit, memlimit
    )


def _key_check(key: bytes) -> str:
    """A keyed hash of a fixed label: confirms the passphrase, reveals nothing of the key."""
    return hashlib.blake2b(_CHECK_LABEL, key=key, digest_size=16).hexdigest()


def _tampered(message: str) -> LedgerError:
    """An altered or truncated backup (TAMPERED: the data is not what was written)."""
    return LedgerError(message, ErrorCode.TAMPERED)
