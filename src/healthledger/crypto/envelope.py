"""Envelope encryption of clinical content: a fresh data key per record, wrapped per reader.

The record is encrypted once with a random 32-byte data key; that key is wrapped
(libsodium sealed box) to the X25519 public key of each reader, so granting access
adds a wrapped key and shredding a record destroys keys, never re-encrypts data.

Ciphertext format (all lengths in bytes; ABYTES = 17, HEADERBYTES = 24)::

    MAGIC "HLV1" (4) || secretstream header (24) || message_0 || ... || message_n

The messages are libsodium crypto_secretstream_xchacha20poly1305 over the stream
``salt (32) || plaintext``, cut into CHUNK_BYTES (64 KiB) pieces. Every message but
the last holds exactly CHUNK_BYTES of that stream (CHUNK_BYTES + ABYTES of
ciphertext) with TAG_MESSAGE; the last holds 1..CHUNK_BYTES bytes with TAG_FINAL,
so an empty plaintext is one FINAL message holding only the salt. A reader thus
knows every message boundary without length prefixes, and the FINAL tag makes
truncation at a boundary detectable.

The salt lives inside the ciphertext: the on-chain ``content_hash =
sha256(salt || plaintext)`` of a low-entropy record (a FHIR Observation) cannot be
confirmed by guessing, while whoever decrypts learns the salt and can recompute it.
The blob id is the sha256 of the whole ciphertext: the blob's content address.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

import nacl.bindings as sodium
import nacl.exceptions
import nacl.public

from healthledger.errors import (
    DecryptionFailed,
    InvalidState,
    LedgerError,
    MalformedInput,
)

DATA_KEY_BYTES = 32
CHUNK_BYTES = 64 * 1024
SALT_BYTES = 32
MAGIC = b"HLV1"

ABYTES: int = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
HEADER_BYTES: int = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
PREAMBLE_BYTES = len(MAGIC) + HEADER_BYTES
MESSAGE_BYTES = CHUNK_BYTES + ABYTES  # ciphertext length of every non-final message
TAG_MESSAGE: int = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL: int = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


@dataclass(frozen=True)
class Sealed:
    """What encrypting a record produced: its salted hash, sizes and content address."""

    content_hash: str
    size: int
    ciphertext_size: int
    blob_id: str


@dataclass(frozen=True)
class Opened:
    """What decrypting a record revealed besides the plaintext: its salt and salted hash."""

    salt: bytes
    content_hash: str
    size: int


def new_data_key() -> bytes:
    """A fresh random data key for one record."""
    return os.urandom(DATA_KEY_BYTES)


def wrap_key(data_key: bytes, recipient_public: bytes) -> str:
    """Seal `data_key` to a reader's X25519 public key, as standard base64 text."""
    _require_data_key(data_key)
    try:
        box = nacl.public.SealedBox(nacl.public.PublicKey(recipient_public))
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise MalformedInput("a recipient encryption key is 32 bytes of X25519 public key") from exc
    return base64.b64encode(box.encrypt(data_key)).decode("ascii")


def unwrap_key(wrapped: str, encryption_secret: bytes) -> bytes:
    """Open a wrapped data key with the reader's X25519 secret; any failure is DECRYPTION_FAILED."""
    try:
        sealed = base64.b64decode(wrapped, validate=True)
        data_key = nacl.public.SealedBox(nacl.public.PrivateKey(encryption_secret)).decrypt(sealed)
    except (ValueError, TypeError, nacl.exceptions.CryptoError) as exc:
        # nacl's ValueError and TypeError subclass CryptoError; binascii.Error is a ValueError.
        raise DecryptionFailed(
            "cannot unwrap the data key: not sealed to this reader's key, or damaged"
        ) from exc
    if len(data_key) != DATA_KEY_BYTES:
        raise DecryptionFailed("the unwrapped data key is not 32 bytes")
    return data_key


def unwrap_with_keyring(wrapped: str, keyring: Sequence[bytes]) -> bytes:
    """Open a wrapped data key with whichever of an actor's secrets it was sealed to.

    A sealed box does not name its recipient, so each secret is tried, the current
    one first; a wrong secret fails the box's Poly1305 check, never yields a key.
    """
    for secret in keyring:
        try:
            return unwrap_key(wrapped, secret)
        except LedgerError:
            continue
    raise DecryptionFailed(
        "cannot unwrap the data key with any key this reader has held, or it is damaged"
    )


def content_hash(salt: bytes, plaintext: bytes) -> str:
    """The on-chain commitment to a record: hex sha256(salt || plaintext)."""
    return hashlib.sha256(salt + plaintext).hexdigest()


class Encryptor:
    """Streaming encryption of one record; holds at most one chunk plus the latest input."""

    def __init__(self, data_key: bytes, salt: bytes | None = None) -> None:
        _require_data_key(data_key)
        salt = os.urandom(SALT_BYTES) if salt is None else salt
        if len(salt) != SALT_BYTES:
            raise MalformedInput(f"a salt is {SALT_BYTES} bytes")
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        header = sodium.crypto_secretstream_xchacha20poly1305_init_push(self._state, data_key)
        self._preamble = MAGIC + header
        self._pending = bytearray(salt)
        self._plain_hash = hashlib.sha256(salt)
        self._cipher_hash = hashlib.sha256()
        self._size = 0
        self._ciphertext_size = 0
        self._sealed: Sealed | None = None

    def update(self, plaintext: bytes) -> bytes:
        """Feed plaintext; return the ciphertext ready so far (the first piece opens with MAGIC)."""
        self._require_open()
        self._plain_hash.update(plaintext)
        self._size += len(plaintext)
        self._pending += plaintext
        parts = [self._take_preamble()]
        # Strictly more than a chunk: the last chunk is held back to be tagged FINAL.
        while len(self._pending) > CHUNK_BYTES:
            parts.append(self._push(bytes(self._pending[:CHUNK_BYTES]), TAG_MESSAGE))
            del self._pending[:CHUNK_BYTES]
        return self._emit(b"".join(parts))

    def finish(self) -> bytes:
        """Return the last message, tagged FINAL; afterwards `sealed` describes the result."""
        self._require_open()
        tail = self._take_preamble() + self._push(bytes(self._pending), TAG_FINAL)
        self._pending.clear()
        out = self._emit(tail)
        self._sealed = Sealed(
            content_hash=self._plain_hash.hexdigest(),
            size=self._size,
            ciphertext_size=self._ciphertext_size,
            blob_id=self._cipher_hash.hexdigest(),
        )
        return out

    @property
    def sealed(self) -> Sealed:
        """The hashes and sizes of the finished ciphertext."""
        if self._sealed is None:
            raise InvalidState("the encryption is not finished yet")
        return self._sealed

    def _require_open(self) -> None:
        if self._sealed is not None:
            raise InvalidState("the encryption is already finished")

    def _take_preamble(self) -> bytes:
        preamble, self._preamble = self._preamble, b""
        return preamble

    def _push(self, message: bytes, tag: int) -> bytes:
        return sodium.crypto_secretstream_xchacha20poly1305_push(self._state, message, tag=tag)

    def _emit(self, ciphertext: bytes) -> bytes:
        self._cipher_hash.update(ciphertext)
        self._ciphertext_size += len(ciphertext)
        return ciphertext


class Decryptor:
    """Streaming decryption of one record; holds at most one message plus the latest input.

    Each message is authenticated before its plaintext is returned, but truncation
    is only known at `finish()`, which also returns the final message's plaintext
    (its end is only known when the input ends): act on the plaintext only once
    `finish()` returned.
    """

    def __init__(self, data_key: bytes) -> None:
        _require_data_key(data_key)
        self._key = data_key
        self._state: sodium.crypto_secretstream_xchacha20poly1305_state | None = None
        self._buffer = bytearray()
        self._salt = bytearray()
        self._hash = hashlib.sha256()
        self._stream_size = 0
        self._final_seen = False
        self._done = False

    def update(self, ciphertext: bytes) -> bytes:
        """Feed ciphertext split anywhere; return the plaintext ready so far, salt stripped."""
        if self._done:
            raise InvalidState("the decryption is already finished")
        self._buffer += ciphertext
        if self._state is None and len(self._buffer) >= PREAMBLE_BYTES:
            self._start()
        parts: list[bytes] = []
        while self._can_pull_whole_message():
            parts.append(self._pull(bytes(self._buffer[:MESSAGE_BYTES])))
            del self._buffer[:MESSAGE_BYTES]
        if self._final_seen and self._buffer:
            _fail("bytes follow the final message")
        return self._strip_salt(b"".join(parts))

    def finish(self) -> tuple[bytes, Opened]:
        """Decrypt the final message and check the stream ends there; return its plaintext."""
        if self._done:
            raise InvalidState("the decryption is already finished")
        self._done = True
        tail = b"" if self._final_seen else self._strip_salt(self._pull_final())
        if len(self._salt) < SALT_BYTES:
            # Only reachable by a stream encrypted with the key but not by an Encryptor.
            _fail("the ciphertext does not hold a whole salt")
        opened = Opened(
            salt=bytes(self._salt),
            content_hash=self._hash.hexdigest(),
            size=self._stream_size - SALT_BYTES,
        )
        return tail, opened

    def _start(self) -> None:
        if self._buffer[: len(MAGIC)] != MAGIC:
            _fail("not a HealthLedger vault ciphertext (bad magic)")
        header = bytes(self._buffer[len(MAGIC) : PREAMBLE_BYTES])
        del self._buffer[:PREAMBLE_BYTES]
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, self._key)
        self._state = state

    def _can_pull_whole_message(self) -> bool:
        ready = self._state is not None and not self._final_seen
        return ready and len(self._buffer) >= MESSAGE_BYTES

    def _pull_final(self) -> bytes:
        """The buffered remainder, which must be a whole message tagged FINAL."""
        if self._state is None:
            _fail("the ciphertext is shorter than its header")
        if not self._buffer:
            _fail("the ciphertext is truncated: its final message is missing")
        if len(self._buffer) < ABYTES:
            _fail("the ciphertext is truncated inside a message")
        plain = self._pull(bytes(self._buffer))
        self._buffer.clear()
        if not self._final_seen:
            _fail("the ciphertext is truncated: its last message is not tagged final")
        return plain

    def _pull(self, message: bytes) -> bytes:
        if self._state is None:
            _fail("the ciphertext is shorter than its header")
        try:
            plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(self._state, message)
        except nacl.exceptions.CryptoError as exc:
            raise DecryptionFailed(
                "cannot decrypt: wrong data key, or the ciphertext was altered"
            ) from exc
        if tag not in (TAG_MESSAGE, TAG_FINAL):
            _fail(f"unexpected secretstream tag {tag}")
        self._final_seen = tag == TAG_FINAL
        self._hash.update(plain)
        self._stream_size += len(plain)
        return plain

    def _strip_salt(self, plain: bytes) -> bytes:
        missing = SALT_BYTES - len(self._salt)
        if missing > 0:
            self._salt += plain[:missing]
            plain = plain[missing:]
        return plain


def encrypt_bytes(
    data_key: bytes, plaintext: bytes, salt: bytes | None = None
) -> tuple[bytes, Sealed]:
    """Encrypt a whole record held in memory."""
    encryptor = Encryptor(data_key, salt)
    ciphertext = encryptor.update(plaintext) + encryptor.finish()
    return ciphertext, encryptor.sealed


def decrypt_bytes(data_key: bytes, ciphertext: bytes) -> tuple[bytes, Opened]:
    """Decrypt a whole record held in memory; raises DECRYPTION_FAILED unless it is intact."""
    decryptor = Decryptor(data_key)
    plaintext = decryptor.update(ciphertext)
    tail, opened = decryptor.finish()
    return plaintext + tail, opened


def _require_data_key(data_key: bytes) -> None:
    if not isinstance(data_key, bytes) or len(data_key) != DATA_KEY_BYTES:
        raise MalformedInput(f"a data key is {DATA_KEY_BYTES} bytes")


def _fail(reason: str) -> NoReturn:
    raise DecryptionFailed(f"cannot decrypt: {reason}")
