"""A node's vault backed up, and restored under the chain's eye.

`backup_vault` streams a passphrase-sealed copy of a node's vault (vault/backup.py).
`restore_vault` reads one back into the node's vault and checks it against the
chain: every record on chain whose custodian is one of this node's organisations
must come back with the blob the chain names (the bytes hash to its id) and, where
this node holds the organisation's key, a plaintext whose salted hash is the chain's
`content_hash`. A blob that fails either check is not installed. The report says
which records were restored, which are still missing, which came back altered, and
which blobs the backup held that no record of ours names (`extra`: installed when
their bytes hash to their id, as replicas held for another custodian are).

`only_missing` is how a successor custodian takes the ciphertexts of records moved
to it from the old custodian's backup: only blobs of records it is now custodian
of and does not hold, nothing else of the old vault (its notes stay sealed to it).
"""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from healthledger.crypto.envelope import Decryptor, Sealed, decrypt_bytes, unwrap_with_keyring
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.domains.governance import queries as gov
from healthledger.domains.records import state as st
from healthledger.errors import (
    InvalidState,
    LedgerError,
    MalformedInput,
)
from healthledger.ledger.context import StateReader
from healthledger.ledger.store import Store
from healthledger.node.custodian.replicas import fetch_blob, push_replica, replica_of
from healthledger.node.home import Home
from healthledger.vault import Vault
from healthledger.vault.backup import BackupSummary, Entry, read_backup, write_backup

# Tables of the index the restore reads itself; any other table is copied as it is.
_BLOB_TABLES = frozenset({"blobs", "inline_blobs"})
_SCAN_PAGE = 1000
# The salted content hash of a blob, opened with its data key.
_Opener = Callable[[bytes], str]


@dataclass
class RestoreReport:
    """What a restore did, against the chain's records of this node's organisations."""

    restored: list[str] = field(default_factory=list)  # record ids back, hashes checked
    missing: list[str] = field(default_factory=list)  # record ids the vault still lacks
    mismatched: list[str] = field(default_factory=list)  # record ids whose backup was wrong
    extra: list[str] = field(default_factory=list)  # blob ids no record of ours names
    already_held: int = 0
    content_checked: int = 0  # records whose decrypted hash was compared with the chain's
    notes: int = 0
    other_rows: int = 0

    def wire(self) -> dict[str, object]:
        return {
            "ok": not self.mismatched,
            "restored": sorted(self.restored),
            "missing": sorted(self.missing),
            "mismatched": sorted(self.mismatched),
            "extra": sorted(self.extra),
            "already_held": self.already_held,
            "content_checked": self.content_checked,
            "notes": self.notes,
            "other_rows": self.other_rows,
        }


def vault_root(home: Home) -> Path:
    """Where a node keeps its vault (beside its ledger database)."""
    return home.db_path.parent / "vault"


def backup_vault(home: Home, out: BinaryIO, passphrase: str) -> BackupSummary:
    """Stream a consistent, sealed copy of the node's vault (the node may be running)."""
    root = vault_root(home)
    if not (root / "vault.sqlite").is_file():
        raise InvalidState(f"no vault at {root}")
    vault = Vault(root)
    try:
        return write_backup(vault, out, passphrase)
    finally:
        vault.close()


def restore_vault(
    home: Home,
    source: BinaryIO,
    passphrase: str,
    force: bool = False,
    only_missing: bool = False,
) -> RestoreReport:
    """Restore a backup into the node's vault, checked against the node's copy of the chain."""
    if not home.db_path.is_file():
        raise InvalidState(f"no ledger database at {home.db_path}: restore needs the chain")
    store = Store(home.db_path, readonly=True)
    vault = Vault(vault_root(home))
    try:
        if not (force or only_missing or vault.is_empty()):
            raise InvalidState(
                "the vault is not empty: restore into an empty vault, or give --force"
                " (or --only-missing to take only what it lacks)"
            )
        expected = _expected(store, home.keys_dir)
        restorer = _Restorer(vault, expected, only_missing)
        for entry in read_backup(source, passphrase):
            restorer.take(entry)
        return restorer.finish()
    finally:
        vault.close()
        store.close()


@dataclass(frozen=True)
class _Expected:
    """A record of ours as the chain names it, and the key that opens it if we hold one."""

    record: st.RecordMeta
    data_key: bytes | None


def _expected(store: Store, keys_dir: Path) -> dict[str, _Expected]:
    """Blob id -> each live record on chain whose custodian is one of this node's orgs."""
    state = StateReader(store.state_get)
    keyrings = org_keyrings(state, keys_dir)
    found: dict[str, _Expected] = {}
    for record in _records(store):
        keyring = keyrings.get(record.custodian)
        if keyring is None or record.wrapped_keys is None:
            continue  # not ours, or shredded: nothing should come back
        found[record.blob_id] = _Expected(record, _data_key(record, keyring))
    return found


def org_keyrings(state: StateReader, keys_dir: Path) -> dict[str, tuple[bytes, ...]]:
    """The encryption keyrings of the organisations whose (plain) key files the node holds."""
    rings: dict[str, tuple[bytes, ...]] = {}
    for path in sorted(keys_dir.glob("*.json")):
        try:
            keys: KeyPair = load_keypair(path)
        except LedgerError:
            continue  # a protected or foreign file: the node cannot use it either
        holder = gov.signing_key(state, keys.key_id)
        if holder is not None and holder.kind == "org":
            # Files of one organisation before and after a rotation: every secret counts.
            known = rings.get(holder.id, ())
            rings[holder.id] = known + tuple(k for k in keys.encryption_keyring if k not in known)
    return rings


def _records(store: Store) -> Iterator[st.RecordMeta]:
    after: str | None = None
    while page := store.state_scan(st.NAMESPACE, "record/", limit=_SCAN_PAGE, after=after):
        for key, raw in page:
            yield st.RecordMeta.model_validate_json(raw)
            after = key


def _data_key(record: st.RecordMeta, keyring: tuple[bytes, ...]) -> bytes | None:
    assert record.wrapped_keys is not None
    try:
        return unwrap_with_keyring(record.wrapped_keys.custodian, keyring)
    except LedgerError:
        return None  # a key file without the secret it was sealed to: hash checks only


class _Restorer:
    """Takes the backup's entries in order: the index first, then each blob file."""

    def __init__(self, vault: Vault, expected: dict[str, _Expected], only_missing: bool) -> None:
        self.vault = vault
        self.expected = expected
        self.only_missing = only_missing
        self.report = RestoreReport()
        self._scratch = tempfile.TemporaryDirectory(dir=vault.tmp_dir, prefix="restore-")
        self._index: sqlite3.Connection | None = None

    def take(self, entry: Entry) -> None:
        if entry.kind == "index":
            self._take_index(entry)
        elif self._index is None:
            raise MalformedInput("a backup's blobs come after its index")
        else:
            self._take_file(entry)

    def finish(self) -> RestoreReport:
        if self._index is not None:
            self._index.close()
        self._scratch.cleanup()
        restored = set(self.report.restored) | set(self.report.mismatched)
        for blob_id, wanted in self.expected.items():
            if wanted.record.id not in restored and not self.vault.has(blob_id):
                self.report.missing.append(wanted.record.id)
        return self.report

    # --- the index: inline ciphertexts, notes, any other table ----------------------

    def _take_index(self, entry: Entry) -> None:
        path = Path(self._scratch.name) / "index.sqlite"
        with path.open("wb") as handle:
            for chunk in entry.chunks:
                handle.write(chunk)
        self._index = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        cursor = self._index.execute(
            "SELECT b.blob_id, b.size, b.ciphertext_size, b.content_hash, i.ciphertext"
            " FROM blobs b JOIN inline_blobs i USING (blob_id) ORDER BY b.blob_id"
        )
        while rows := cursor.fetchmany(500):
            for blob_id, size, ciphertext_size, content_hash, ciphertext in rows:
                sealed = Sealed(str(content_hash), int(size), int(ciphertext_size), str(blob_id))
                self._take_inline(sealed, bytes(ciphertext))
        if not self.only_missing:
            self._copy_other_tables(self._index)

    def _take_inline(self, sealed: Sealed, ciphertext: bytes) -> None:
        if not self._wanted(sealed.blob_id):
            return
        intact = hashlib.sha256(ciphertext).hexdigest() == sealed.blob_id
        if intact and self._content_matches(sealed, lambda key: _opened_hash(key, ciphertext)):
            self.vault.adopt_inline(sealed, ciphertext)
            self._installed(sealed.blob_id)
        else:
            self._refused(sealed.blob_id)

    def _copy_other_tables(self, index: sqlite3.Connection) -> None:
        tables = index.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall()
        for name, sql in tables:
            if name in _BLOB_TABLES or name.startswith("sqlite_"):
                continue
            copied = self.vault.restore_rows(str(sql), str(name), _rows(index, str(name)))
            if name == "notes":
                self.report.notes += copied
            else:
                self.report.other_rows += copied

    # --- blob files -------------------------------------------------------------------

    def _take_file(self, entry: Entry) -> None:
        blob_id = entry.name
        row = self._row(blob_id)
        if row is None or not self._wanted(blob_id):
            return  # the reader drains what is left unread
        wanted = self.expected.get(blob_id)
        key = None if wanted is None else wanted.data_key
        decryptor = None if key is None else Decryptor(key)
        hasher = hashlib.sha256()
        tmp = self.vault.scratch_file()
        try:
            with tmp.open("wb") as handle:
                for chunk in entry.chunks:
                    hasher.update(chunk)
                    handle.write(chunk)
                    decryptor = _fed(decryptor, chunk)
            if hasher.hexdigest() == blob_id and self._content_matches(
                row, lambda _key: _finished(decryptor)
            ):
                self.vault.adopt_file(row, tmp)
                self._installed(blob_id)
            else:
                self._refused(blob_id)
        finally:
            tmp.unlink(missing_ok=True)

    def _row(self, blob_id: str) -> Sealed | None:
        assert self._index is not None
        found = self._index.execute(
            "SELECT size, ciphertext_size, content_hash FROM blobs WHERE blob_id = ?", (blob_id,)
        ).fetchone()
        if found is None:
            return None
        size, ciphertext_size, content_hash = found
        return Sealed(str(content_hash), int(size), int(ciphertext_size), blob_id)

    # --- deciding -----------------------------------------------------------------------

    def _wanted(self, blob_id: str) -> bool:
        """Whether to consider this blob at all; counts what the vault holds already."""
        if self.vault.has(blob_id):
            self.report.already_held += blob_id in self.expected
            return False
        return not (self.only_missing and blob_id not in self.expected)

    def _content_matches(self, sealed: Sealed, opened_hash: _Opener) -> bool:
        """The index's and (with the key) the plaintext's salted hash are the chain's."""
        wanted = self.expected.get(sealed.blob_id)
        if wanted is None:
            return True  # not ours: its hash against its id is all there is to check
        if sealed.content_hash != wanted.record.content_hash:
            return False
        if wanted.data_key is None:
            return True
        try:
            content_hash = opened_hash(wanted.data_key)
        except LedgerError:
            return False
        self.report.content_checked += 1
        return content_hash == wanted.record.content_hash

    def _installed(self, blob_id: str) -> None:
        wanted = self.expected.get(blob_id)
        if wanted is None:
            self.report.extra.append(blob_id)
        else:
            self.report.restored.append(wanted.record.id)

    def _refused(self, blob_id: str) -> None:
        wanted = self.expected.get(blob_id)
        if wanted is not None:  # an altered blob of no record of ours is simply left out
            self.report.mismatched.append(wanted.record.id)


def _opened_hash(data_key: bytes, ciphertext: bytes) -> str:
    return decrypt_bytes(data_key, ciphertext)[1].content_hash


def _fed(decryptor: Decryptor | None, chunk: bytes) -> Decryptor | None:
    """Decrypt on as the blob streams in; None from the first message that does not open."""
    if decryptor is None:
        return None
    try:
        decryptor.update(chunk)
    except LedgerError:
        return None
    return decryptor


def _finished(decryptor: Decryptor | None) -> str:
    if decryptor is None:
        raise InvalidState("this blob does not decrypt with the key the chain wraps for us")
    return decryptor.finish()[1].content_hash


def _rows(index: sqlite3.Connection, table: str) -> Iterator[tuple[object, ...]]:
    cursor = index.execute(f'SELECT * FROM "{table}"')
    while rows := cursor.fetchmany(500):
        yield from rows


# --- fetching ciphertexts from another node (a successor's old custodian, a replica) --------


@dataclass
class PullReport:
    """What `pull_missing` fetched: record ids taken in, and why others were not."""

    pulled: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # record id -> error code: message

    def wire(self) -> dict[str, object]:
        return {"ok": not self.failed, "pulled": sorted(self.pulled), "failed": self.failed}


def pull_missing(home: Home, url: str | None = None, audience: str | None = None) -> PullReport:
    """Fetch every ciphertext of our records that our vault lacks from another node.

    From the node at `url`, serving `audience` (by default each record's previous
    custodian: a successor pulling from the node it took records from); or, without
    `url`, from each custodian's replica named in the directory on chain. Each blob
    is checked against the chain before it is kept (see `fetch_blob`).
    """
    report = PullReport()
    with _our_records(home) as ours:
        for blob_id, wanted in ours.expected.items():
            record = wanted.record
            if ours.vault.has(blob_id):
                continue
            keys = ours.org_keys.get(record.custodian)
            sources = _sources(ours.state, record, url, audience)
            if keys is None or not sources:
                report.failed[record.id] = "not_found: no key, or no node to ask"
                continue
            failure = _fetch_first(ours.vault, sources, keys, ours.chain_id, record)
            if failure is None:
                report.pulled.append(record.id)
            else:
                report.failed[record.id] = failure
    return report


@dataclass(frozen=True)
class _OurRecords:
    """A stopped or running node's records, as pulling and replicating walk them."""

    vault: Vault
    state: StateReader
    chain_id: str
    org_keys: dict[str, KeyPair]  # the organisations whose current key file the node holds
    expected: dict[str, _Expected]  # blob id -> our live record naming it


@contextmanager
def _our_records(home: Home) -> Iterator[_OurRecords]:
    """The node's chain (read-only) and vault, open for one walk over its records."""
    store = Store(home.db_path, readonly=True)
    vault = Vault(vault_root(home))
    try:
        state = StateReader(store.state_get)
        yield _OurRecords(
            vault,
            state,
            home.genesis().chain_id,
            _org_keys(state, home.keys_dir),
            _expected(store, home.keys_dir),
        )
    finally:
        vault.close()
        store.close()


def _sources(
    state: StateReader, record: st.RecordMeta, url: str | None, audience: str | None
) -> list[tuple[str, str]]:
    """(endpoint, organisation it serves) to ask for a record's ciphertext, in order."""
    if url is None:
        named = replica_of(state, record.custodian)
        return [] if named is None else [(endpoint, named[0]) for endpoint in named[1]]
    to = audience or (record.custody[-1].custodian if record.custody else None)
    return [] if to is None else [(url, to)]


def _fetch_first(
    vault: Vault,
    sources: list[tuple[str, str]],
    keys: KeyPair,
    chain_id: str,
    record: st.RecordMeta,
) -> str | None:
    """None once one source gave the blob; else what the last one said."""
    failure = "unavailable: nothing asked"
    for endpoint, org in sources:
        try:
            fetch_blob(vault, endpoint, keys, chain_id, org, record, keys.encryption_keyring)
        except LedgerError as exc:
            failure = f"{exc.code}: {exc.message}"
            continue
        return None
    return failure


def _org_keys(state: StateReader, keys_dir: Path) -> dict[str, KeyPair]:
    """The current key pair of each organisation whose plain key file the node holds."""
    found: dict[str, KeyPair] = {}
    for path in sorted(keys_dir.glob("*.json")):
        try:
            keys = load_keypair(path)
        except LedgerError:
            continue
        holder = gov.signing_key(state, keys.key_id)
        if holder is not None and holder.kind == "org" and holder.active:
            found[holder.id] = keys
    return found


def replicate_all(home: Home) -> PullReport:
    """Send every ciphertext of our records to its custodian's replica (what the node's
    best-effort sending missed); `pulled` lists the records a replica now holds."""
    report = PullReport()
    with _our_records(home) as ours:
        for blob_id, wanted in ours.expected.items():
            record = wanted.record
            if record.custodian not in ours.org_keys or not ours.vault.has(blob_id):
                continue
            try:
                sent = push_replica(
                    ours.vault, ours.state, ours.org_keys.__getitem__, ours.chain_id, record.id
                )
            except LedgerError as exc:
                report.failed[record.id] = f"{exc.code}: {exc.message}"
                continue
            if sent is not None:
                report.pulled.append(record.id)
    return report
