"""Replicas: a second organisation's node keeps copies of a custodian's ciphertexts.

A custodian names its replica organisation in its directory entry (`org.endpoint`
`replica`). Once a `record.add` of one of this node's organisations commits, the
`Replicator` sends the record's ciphertext to the replica organisation's node, signed
by the custodian organisation for that organisation (its audience), the signed body
hash being the blob id itself. The replica (`ReplicaInbox`) takes it only if the chain
says a record of that custodian names the blob and the custodian names this node's
organisation as its replica, and only if the bytes hash to the blob id and have the
exact length the record's size implies. It stores ciphertext alone: no key is ever
sent, so a replica can keep a record but never read it, and it never decides a read.
When the record's tombstone commits, the replica shreds its copy too.

A custodian whose vault lost a blob fetches it back from its replica
(`GET /v1/vault/blobs/{id}`, served to the record's custodian only), checks it
against the chain and restores it, then serves the read as always: its own vault
decides and audits.

Sending is best effort after the commit (a few tries, then a log line): a replica
that was down misses those blobs until `healthledger vault replicate` sends the
rest again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import httpx

from healthledger.crypto.envelope import (
    ABYTES,
    CHUNK_BYTES,
    PREAMBLE_BYTES,
    SALT_BYTES,
    Decryptor,
    Sealed,
    unwrap_with_keyring,
)
from healthledger.crypto.keys import KeyPair
from healthledger.crypto.signed_request import sign_request
from healthledger.domains.governance import queries as gov
from healthledger.domains.records import state as st
from healthledger.errors import (
    BodyMismatch,
    ErrorCode,
    HashMismatch,
    LedgerError,
    TooLarge,
    Unavailable,
)
from healthledger.ledger.context import StateReader
from healthledger.vault import Vault
from healthledger.vault.store import INLINE_MAX

log = logging.getLogger(__name__)

QUEUE_LIMIT = 10_000
TRIES = 3
RETRY_S = 1.0
SEND_TIMEOUT_S = 60.0


def ciphertext_size(size: int) -> int:
    """The exact length of a record's ciphertext in the vault's envelope format."""
    stream = SALT_BYTES + size
    messages = -(-stream // CHUNK_BYTES)
    return PREAMBLE_BYTES + stream + ABYTES * messages


def replica_of(state: StateReader, org: str) -> tuple[str, tuple[str, ...]] | None:
    """The organisation keeping `org`'s replicas and the endpoints of its node, if named."""
    entry = gov.org_endpoint(state, org)
    if entry is None or entry.replica is None:
        return None
    target = gov.org_endpoint(state, entry.replica)
    return entry.replica, (() if target is None else target.endpoints)


class ReplicaInbox:
    """One ciphertext arriving at the replica, written under tmp/ until it checks out."""

    def __init__(self, vault: Vault, record: st.RecordMeta) -> None:
        self._vault = vault
        self._record = record
        self._expected = ciphertext_size(record.size)
        self._path: Path | None = vault.scratch_file()
        self._handle = self._path.open("wb")
        self._hasher = hashlib.sha256()
        self._received = 0

    @property
    def expected_size(self) -> int:
        return self._expected

    def feed(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received > self._expected:
            raise TooLarge(f"blob {self._record.blob_id} is {self._expected} bytes")
        self._hasher.update(chunk)
        self._handle.write(chunk)

    def finish(self) -> None:
        self._handle.close()
        if self._received != self._expected:
            raise BodyMismatch(f"blob {self._record.blob_id} is {self._expected} bytes")
        if self._hasher.hexdigest() != self._record.blob_id:
            raise HashMismatch(f"the body is not blob {self._record.blob_id}")
        assert self._path is not None
        record = self._record
        sealed = Sealed(record.content_hash, record.size, self._received, record.blob_id)
        if record.size <= INLINE_MAX:
            self._vault.adopt_inline(sealed, self._path.read_bytes())
        else:
            self._vault.adopt_file(sealed, self._path)
            self._path = None  # moved into place

    def discard(self) -> None:
        self._handle.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)


class Replicator:
    """Sends committed ciphertexts of this node's organisations to their replica's node."""

    def __init__(
        self,
        vault: Vault,
        state: Callable[[], StateReader],
        org_keys: Callable[[str], KeyPair],
        chain_id: str,
    ) -> None:
        self._vault = vault
        self._state = state
        self._org_keys = org_keys
        self._chain_id = chain_id
        self._queue: queue.Queue[str | None] = queue.Queue(QUEUE_LIMIT)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="replicator", daemon=True)
        self._thread.start()

    def enqueue(self, record_id: str) -> None:
        try:
            self._queue.put_nowait(record_id)
        except queue.Full:
            log.warning("replication queue full: %s waits for `vault replicate`", record_id)

    def close(self) -> None:
        """Stop after the blob in hand; what is still queued waits for `vault replicate`."""
        self._stopping.set()
        # A full queue: the worker sees `_stopping` after its current blob instead.
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while (record_id := self._queue.get()) is not None and not self._stopping.is_set():
            for attempt in range(TRIES):
                try:
                    self.send(record_id)
                    break
                except LedgerError as exc:
                    if attempt + 1 == TRIES:
                        log.warning("could not replicate %s: %s", record_id, exc.message)
                    elif self._stopping.wait(RETRY_S * (attempt + 1)):
                        return

    def send(self, record_id: str) -> str | None:
        return push_replica(self._vault, self._state(), self._org_keys, self._chain_id, record_id)


def push_replica(
    vault: Vault,
    state: StateReader,
    org_keys: Callable[[str], KeyPair],
    chain_id: str,
    record_id: str,
) -> str | None:
    """Send one record's ciphertext to its custodian's replica; the replica's name, or
    None when the custodian names no replica (or the record is gone)."""
    record = state.load(st.NAMESPACE, st.record_key(record_id), st.RecordMeta)
    if record is None or record.status == st.SHREDDED:
        return None
    replica = replica_of(state, record.custodian)
    if replica is None:
        return None
    org, endpoints = replica
    keys = org_keys(record.custodian)
    last: LedgerError = Unavailable(f"{org}, the replica of {record.custodian}, has no endpoint")
    for url in endpoints:
        try:
            _put(vault, url, org, keys, chain_id, record)
            return org
        except LedgerError as exc:
            last = exc
    raise last


def _put(
    vault: Vault, url: str, audience: str, keys: KeyPair, chain_id: str, record: st.RecordMeta
) -> None:
    target = f"/v1/vault/replicas/{record.blob_id}"
    headers = sign_request(keys, chain_id, "PUT", target, record.blob_id, audience=audience)
    headers["content-length"] = str(ciphertext_size(record.size))
    try:
        response = httpx.put(
            f"{url.rstrip('/')}{target}",
            content=iter(vault.read_chunks(record.blob_id)),
            headers=headers,
            timeout=SEND_TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot reach {audience} at {url}: {exc}") from exc
    if response.status_code >= 400:
        raise _remote_error(response)


# --- fetching a ciphertext back (from a replica, or a successor's old custodian) ----------


def fetch_blob(
    vault: Vault,
    url: str,
    keys: KeyPair,
    chain_id: str,
    audience: str,
    record: st.RecordMeta,
    keyring: tuple[bytes, ...],
    timeout: float = 60.0,
) -> None:
    """Fetch a record's ciphertext from another node into `vault`, checked before it lands.

    The request is signed by the custodian (`keys`) for `audience`, the organisation of
    the node at `url`; the bytes must hash to the chain's blob id and decrypt, with the
    data key the chain seals for the custodian, to the chain's content hash.
    """
    target = f"/v1/vault/blobs/{record.blob_id}"
    headers = sign_request(keys, chain_id, "GET", target, audience=audience)
    tmp = vault.scratch_file()
    try:
        with tmp.open("wb") as handle:
            written = _stream_into(
                handle,
                f"{url.rstrip('/')}{target}",
                headers,
                timeout,
                ciphertext_size(record.size),
            )
        _require_blob(tmp, record, keyring)
        sealed = Sealed(record.content_hash, record.size, written, record.blob_id)
        if record.size <= INLINE_MAX:  # small records live in the index, as when added
            vault.adopt_inline(sealed, tmp.read_bytes())
        else:
            vault.adopt_file(sealed, tmp)
    finally:
        tmp.unlink(missing_ok=True)


def _stream_into(
    handle: BinaryIO, url: str, headers: dict[str, str], timeout: float, expected: int
) -> int:
    """The answer's bytes into `handle`, cut off past the `expected` size (the chain's):
    the node asked cannot fill this one's disk."""
    written = 0
    try:
        with httpx.stream("GET", url, headers=headers, timeout=timeout) as response:
            if response.status_code != 200:
                response.read()
                raise _remote_error(response)
            for chunk in response.iter_bytes(1024 * 1024):
                written += len(chunk)
                if written > expected:
                    raise TooLarge(f"{url} sent more than the blob's {expected} bytes")
                handle.write(chunk)
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot fetch from {url}: {exc}") from exc
    return written


def _remote_error(response: httpx.Response) -> LedgerError:
    try:
        error = response.json().get("error", {})
        code = ErrorCode.parse(str(error.get("code")), ErrorCode.UNAVAILABLE)
        return LedgerError(f"the other node: {error.get('message', '')}", code)
    except ValueError:
        return Unavailable(f"the other node answered {response.status_code}")


def _require_blob(path: Path, record: st.RecordMeta, keyring: tuple[bytes, ...]) -> None:
    """The file is the chain's blob, and opens to the chain's content hash."""
    assert record.wrapped_keys is not None
    hasher = hashlib.sha256()
    decryptor = Decryptor(unwrap_with_keyring(record.wrapped_keys.custodian, keyring))
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            hasher.update(chunk)
            decryptor.update(chunk)
    if hasher.hexdigest() != record.blob_id:
        raise HashMismatch(f"the ciphertext fetched for {record.id} is not blob {record.blob_id}")
    if decryptor.finish()[1].content_hash != record.content_hash:
        raise HashMismatch(f"the ciphertext fetched for {record.id} is not the chain's content")
