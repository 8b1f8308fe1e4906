"""Envelope encryption: the byte format, streaming round trips, tampering, key wrapping."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthledger.crypto.envelope import (
    ABYTES,
    CHUNK_BYTES,
    MAGIC,
    MESSAGE_BYTES,
    PREAMBLE_BYTES,
    SALT_BYTES,
    Decryptor,
    Encryptor,
    content_hash,
    decrypt_bytes,
    encrypt_bytes,
    new_data_key,
    unwrap_key,
    wrap_key,
)
from healthledger.crypto.keys import KeyPair
from healthledger.errors import ErrorCode, LedgerError

SIZES = [0, 1, CHUNK_BYTES - SALT_BYTES, CHUNK_BYTES, 2 * CHUNK_BYTES - SALT_BYTES, 200_003]
KEY = bytes(range(32))


def pseudo_random(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def message_count(size: int) -> int:
    """Messages in the stream salt || plaintext: full chunks, the last one tagged FINAL."""
    return max(1, -(-(SALT_BYTES + size) // CHUNK_BYTES))


def decrypt_in_pieces(key: bytes, ciphertext: bytes, cuts: list[int]) -> bytes:
    decryptor = Decryptor(key)
    pieces, start = [], 0
    for cut in [*sorted(cuts), len(ciphertext)]:
        pieces.append(decryptor.update(ciphertext[start:cut]))
        start = cut
    tail, _opened = decryptor.finish()
    return b"".join(pieces) + tail


def refused(key: bytes, ciphertext: bytes) -> LedgerError:
    with pytest.raises(LedgerError) as caught:
        decrypt_bytes(key, ciphertext)
    return caught.value


# --- format -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_and_ciphertext_layout(size: int) -> None:
    plaintext = pseudo_random(size)
    ciphertext, sealed = encrypt_bytes(KEY, plaintext)
    assert ciphertext.startswith(MAGIC)
    overhead = PREAMBLE_BYTES + SALT_BYTES + message_count(size) * ABYTES
    assert len(ciphertext) == size + overhead == sealed.ciphertext_size
    assert sealed.size == size
    assert sealed.blob_id == hashlib.sha256(ciphertext).hexdigest()
    decrypted, opened = decrypt_bytes(KEY, ciphertext)
    assert decrypted == plaintext
    assert opened.size == size
    assert opened.content_hash == sealed.content_hash == content_hash(opened.salt, plaintext)


def test_empty_plaintext_is_one_final_message_holding_the_salt() -> None:
    ciphertext, _sealed = encrypt_bytes(KEY, b"", salt=b"s" * SALT_BYTES)
    assert len(ciphertext) == PREAMBLE_BYTES + SALT_BYTES + ABYTES
    assert decrypt_bytes(KEY, ciphertext)[1].salt == b"s" * SALT_BYTES


def test_every_message_but_the_last_is_a_full_chunk() -> None:
    # 3 full chunks of stream and 10 bytes over: messages of 64 KiB, 64 KiB, 64 KiB, 10.
    size = 3 * CHUNK_BYTES - SALT_BYTES + 10
    ciphertext, _sealed = encrypt_bytes(KEY, pseudo_random(size))
    assert len(ciphertext) == PREAMBLE_BYTES + 3 * MESSAGE_BYTES + 10 + ABYTES


def test_encryptor_output_does_not_depend_on_how_the_input_is_split() -> None:
    plaintext = pseudo_random(3 * CHUNK_BYTES + 999)
    salt = b"\x01" * SALT_BYTES
    whole, sealed = encrypt_bytes(KEY, plaintext, salt=salt)
    encryptor = Encryptor(KEY, salt=salt)
    # The secretstream header is random, so compare the decryption and the message sizes.
    first = encryptor.update(plaintext[:5])
    assert first.startswith(MAGIC) and len(first) == PREAMBLE_BYTES
    pieces = [first] + [
        encryptor.update(plaintext[i : i + 1000]) for i in range(5, len(plaintext), 1000)
    ]
    split = b"".join(pieces) + encryptor.finish()
    assert len(split) == len(whole)
    assert encryptor.sealed.content_hash == sealed.content_hash
    assert decrypt_bytes(KEY, split)[0] == plaintext


@settings(max_examples=40, deadline=None)
@given(
    size=st.sampled_from(SIZES) | st.integers(0, 3 * CHUNK_BYTES),
    data=st.data(),
)
def test_decryptor_accepts_any_split_points(size: int, data: st.DataObject) -> None:
    plaintext = pseudo_random(size, seed=size)
    ciphertext, _sealed = encrypt_bytes(KEY, plaintext)
    cuts = data.draw(st.lists(st.integers(0, len(ciphertext)), max_size=12))
    assert decrypt_in_pieces(KEY, ciphertext, cuts) == plaintext


# --- salted content hash ------------------------------------------------------------------


def test_content_hash_is_sha256_of_salt_and_plaintext() -> None:
    plaintext = b'{"resourceType":"Observation","status":"final"}'
    salt = b"\x42" * SALT_BYTES
    _ciphertext, sealed = encrypt_bytes(KEY, plaintext, salt=salt)
    assert sealed.content_hash == hashlib.sha256(salt + plaintext).hexdigest()
    assert content_hash(salt, plaintext) == sealed.content_hash


def test_same_plaintext_gets_a_fresh_salt_and_hash_each_time() -> None:
    plaintext = b'{"resourceType":"Observation","valueQuantity":{"value":120}}'
    (first, a), (second, b) = encrypt_bytes(KEY, plaintext), encrypt_bytes(KEY, plaintext)
    assert a.content_hash != b.content_hash
    assert a.content_hash != hashlib.sha256(plaintext).hexdigest()
    assert decrypt_bytes(KEY, first)[1].salt != decrypt_bytes(KEY, second)[1].salt


@pytest.mark.parametrize(("key", "salt"), [(b"short", None), (KEY, b"x"), (KEY, bytes(33))])
def test_bad_data_key_or_salt_is_malformed(key: bytes, salt: bytes | None) -> None:
    with pytest.raises(LedgerError) as caught:
        Encryptor(key, salt=salt)
    assert caught.value.code == ErrorCode.MALFORMED


# --- refusals -----------------------------------------------------------------------------

TWO_MESSAGES = pseudo_random(CHUNK_BYTES + 100)


def test_wrong_key_is_refused() -> None:
    ciphertext, _sealed = encrypt_bytes(KEY, TWO_MESSAGES)
    assert refused(new_data_key(), ciphertext).code == ErrorCode.DECRYPTION_FAILED


@settings(max_examples=60, deadline=None)
@given(position=st.integers(0, PREAMBLE_BYTES + SALT_BYTES + len(TWO_MESSAGES) + 2 * ABYTES - 1))
def test_a_flipped_byte_anywhere_is_refused(position: int) -> None:
    ciphertext = bytearray(encrypt_bytes(KEY, TWO_MESSAGES)[0])
    ciphertext[position] ^= 0x01
    assert refused(KEY, bytes(ciphertext)).code == ErrorCode.DECRYPTION_FAILED


def test_dropping_the_last_message_is_refused() -> None:
    ciphertext, _sealed = encrypt_bytes(KEY, TWO_MESSAGES)
    truncated = ciphertext[: PREAMBLE_BYTES + MESSAGE_BYTES]
    error = refused(KEY, truncated)
    assert error.code == ErrorCode.DECRYPTION_FAILED
    assert "final message is missing" in error.message


@pytest.mark.parametrize("keep", [0, 3, PREAMBLE_BYTES, PREAMBLE_BYTES + 10, -1])
def test_truncation_anywhere_else_is_refused(keep: int) -> None:
    ciphertext, _sealed = encrypt_bytes(KEY, TWO_MESSAGES)
    assert refused(KEY, ciphertext[:keep]).code == ErrorCode.DECRYPTION_FAILED


@pytest.mark.parametrize("extra", [b"\x00", b"garbage" * 20_000])
def test_bytes_after_the_final_message_are_refused(extra: bytes) -> None:
    for size in (10, CHUNK_BYTES - SALT_BYTES):  # short final message, full-size final message
        ciphertext, _sealed = encrypt_bytes(KEY, pseudo_random(size))
        assert refused(KEY, ciphertext + extra).code == ErrorCode.DECRYPTION_FAILED


def test_a_second_stream_appended_is_refused() -> None:
    first, _ = encrypt_bytes(KEY, b"first record")
    second, _ = encrypt_bytes(KEY, b"second record")
    assert refused(KEY, first + second).code == ErrorCode.DECRYPTION_FAILED


def test_a_finished_decryptor_cannot_be_fed() -> None:
    decryptor = Decryptor(KEY)
    decryptor.update(encrypt_bytes(KEY, b"x")[0])
    decryptor.finish()
    with pytest.raises(LedgerError) as caught:
        decryptor.update(b"more")
    assert caught.value.code == ErrorCode.INVALID_STATE


# --- key wrapping -------------------------------------------------------------------------


def test_wrap_and_unwrap_round_trip() -> None:
    reader = KeyPair.generate()
    data_key = new_data_key()
    wrapped = wrap_key(data_key, reader.encryption_public)
    assert isinstance(wrapped, str) and data_key.hex() not in wrapped
    assert unwrap_key(wrapped, reader.encryption_secret) == data_key
    # Sealed boxes are randomised: wrapping twice gives two different texts.
    assert wrap_key(data_key, reader.encryption_public) != wrapped


@pytest.mark.parametrize(
    "mangle",
    [
        lambda wrapped: wrapped,  # right text, another reader's key
        lambda wrapped: wrapped[:-4],
        lambda wrapped: "not base64!",
        lambda wrapped: "",
        lambda wrapped: "é" + wrapped,
    ],
)
def test_unwrap_by_anyone_else_or_of_garbage_fails(mangle: Callable[[str], str]) -> None:
    reader, other = KeyPair.generate(), KeyPair.generate()
    wrapped = wrap_key(new_data_key(), reader.encryption_public)
    with pytest.raises(LedgerError) as caught:
        unwrap_key(mangle(wrapped), other.encryption_secret)
    assert caught.value.code == ErrorCode.DECRYPTION_FAILED


def test_unwrap_of_a_tampered_wrapped_key_fails() -> None:
    reader = KeyPair.generate()
    wrapped = wrap_key(new_data_key(), reader.encryption_public)
    tampered = ("A" if wrapped[0] != "A" else "B") + wrapped[1:]
    with pytest.raises(LedgerError) as caught:
        unwrap_key(tampered, reader.encryption_secret)
    assert caught.value.code == ErrorCode.DECRYPTION_FAILED


def test_wrap_to_a_bad_public_key_is_malformed() -> None:
    with pytest.raises(LedgerError) as caught:
        wrap_key(new_data_key(), b"\x01" * 31)
    assert caught.value.code == ErrorCode.MALFORMED
