"""A replica keeps a ciphertext only if it is exactly the blob the chain names."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from healthledger.crypto.envelope import encrypt_bytes, new_data_key
from healthledger.crypto.keys import KeyPair
from healthledger.domains.records.state import RecordKeys, RecordMeta
from healthledger.errors import BodyMismatch, HashMismatch, TooLarge
from healthledger.node.custodian.replicas import ReplicaInbox, ciphertext_size, fetch_blob
from healthledger.vault import Vault
from healthledger.vault.store import INLINE_MAX


@pytest.mark.parametrize("size", [0, 1, 65_504, 65_505, INLINE_MAX, 300_000])
def test_the_ciphertext_size_follows_from_the_plaintext_size(size: int) -> None:
    ciphertext, sealed = encrypt_bytes(new_data_key(), b"x" * size)
    assert ciphertext_size(size) == len(ciphertext) == sealed.ciphertext_size


def _record(size: int) -> tuple[RecordMeta, bytes]:
    ciphertext, sealed = encrypt_bytes(new_data_key(), b"y" * size)
    record = RecordMeta(
        id="rec-" + "1" * 24,
        patient="pat_" + "2" * 32,
        custodian="st-marys",
        author=None,
        resource_type="Observation",
        code="",
        date="",
        media_type="application/fhir+json",
        content_hash=sealed.content_hash,
        blob_id=sealed.blob_id,
        size=size,
        wrapped_keys=RecordKeys(patient="p", custodian="c"),
        replaces=None,
        superseded_by=None,
        status="active",
        added_height=1,
        added_ms=1,
    )
    return record, ciphertext


@pytest.mark.parametrize("size", [100, INLINE_MAX + 1])
def test_the_exact_blob_is_kept_inline_or_as_a_file(tmp_path: Path, size: int) -> None:
    vault = Vault(tmp_path / "vault")
    record, ciphertext = _record(size)
    inbox = ReplicaInbox(vault, record)
    for start in range(0, len(ciphertext), 10_000):
        inbox.feed(ciphertext[start : start + 10_000])
    inbox.finish()
    inbox.discard()
    assert vault.has(record.blob_id)
    assert b"".join(vault.read_chunks(record.blob_id)) == ciphertext
    assert (vault.inline_ciphertext(record.blob_id) is not None) == (size <= INLINE_MAX)
    assert not list(vault.tmp_dir.iterdir())


def test_altered_short_or_long_bodies_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    record, ciphertext = _record(1000)
    altered = bytearray(ciphertext)
    altered[50] ^= 1
    cases: list[tuple[bytes, type[Exception]]] = [
        (bytes(altered), HashMismatch),
        (ciphertext[:-1], BodyMismatch),
        (ciphertext + b"!", TooLarge),
    ]
    for body, refusal in cases:
        inbox = ReplicaInbox(vault, record)
        with pytest.raises(refusal):
            inbox.feed(body)
            inbox.finish()
        inbox.discard()
    assert not vault.has(record.blob_id)
    assert not list(vault.tmp_dir.iterdir())


FLOOD_BYTES = 256 * 1024 * 1024


class _Flood(BaseHTTPRequestHandler):
    """A replica (or a leaving custodian's node) that answers a blob fetch without end."""

    sent = 0

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/octet-stream")
        self.end_headers()  # no length: the body runs until the connection closes
        chunk = b"z" * 65536
        try:
            while _Flood.sent < FLOOD_BYTES:
                self.wfile.write(chunk)
                _Flood.sent += len(chunk)
        except OSError:
            return  # the fetching node hung up, as it should

    def log_message(self, *_args: object) -> None:
        return


def test_a_flooding_source_cannot_fill_the_custodians_disk(tmp_path: Path) -> None:
    """A fetch stops at the blob's exact ciphertext size the chain implies; nothing stays."""
    vault = Vault(tmp_path / "vault")
    record, _ciphertext = _record(1000)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flood)
    server.protocol_version = "HTTP/1.0"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    keys = KeyPair.generate()
    try:
        with pytest.raises(TooLarge):
            fetch_blob(
                vault,
                f"http://127.0.0.1:{server.server_port}",
                keys,
                "chain",
                "replica-org",
                record,
                keys.encryption_keyring,
            )
        assert _Flood.sent < FLOOD_BYTES
    finally:
        server.shutdown()
        server.server_close()
    assert not vault.has(record.blob_id)
    assert not list(vault.tmp_dir.iterdir())
