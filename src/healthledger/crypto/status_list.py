"""W3C Bitstring Status List v1.0: the raw bitstring, its published encoding, its hash.

A list holds at least 131,072 entries (16 KiB), for herd privacy (spec §3.2 step 2).
Bit `i` is the `i`-th bit from the left: the most significant bit of byte `i // 8`
(spec §2.2 `encodedList`: index 0 is the left-most bit). The published `encodedList` is
multibase base64url without padding (`u`) of the GZIP of the bytes (spec §3.3).

GZIP output is not pinned across zlib versions, so the chain commits only
`bitstring_hash` (SHA-256 of the raw bytes); `encode_list` runs off the consensus path.
"""

from __future__ import annotations

import base64
import binascii
import zlib

from healthledger.crypto.hashing import sha256_hex
from healthledger.errors import ErrorCode, LedgerError

MIN_ENTRIES = 131_072
MIN_BYTES = MIN_ENTRIES // 8
# The largest list this software expands: 128 times the minimum (16.7 M entries, 2 MiB).
# A few hundred bytes of GZIP can claim gigabytes; decoding stops at this bound.
MAX_BYTES = 128 * MIN_BYTES
# The largest encodedList accepted before decoding (a list at MAX_BYTES of random bits
# does not compress; base64 adds a third).
MAX_ENCODED_LEN = MAX_BYTES * 4 // 3 + 64
MULTIBASE_BASE64URL = "u"
# GZIP framing (wbits 16 + 15) at zlib's default level: for the all-zero minimum list this
# gives the spec's own example bytes (tests/crypto/vectors/bitstring-status-list).
_GZIP_WBITS = 31
_GZIP_LEVEL = 6
_GZIP_MAGIC = b"\x1f\x8b"


class StatusListError(LedgerError):
    """A bitstring or encodedList that is not a valid status list; `reason` is stable."""

    code = ErrorCode.MALFORMED
    reason = "malformed_status_list"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "reason": self.reason}


class StatusListTooLarge(StatusListError):
    code = ErrorCode.TOO_LARGE
    reason = "status_list_too_large"


def empty_list(entries: int = MIN_ENTRIES) -> bytes:
    """A list of `entries` unset bits (a multiple of 8, at least the minimum)."""
    if entries % 8:
        raise StatusListError(f"a list's {entries} entries are not whole bytes", "not_bytes")
    _check_length(entries // 8)
    return bytes(entries // 8)


def encode_list(bits: bytes) -> str:
    """`encodedList` of a raw bitstring: 'u' + base64url-no-padding(GZIP(bits))."""
    _check_length(len(bits))
    compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
    gzipped = compressor.compress(bits) + compressor.flush()
    return MULTIBASE_BASE64URL + base64.urlsafe_b64encode(gzipped).rstrip(b"=").decode("ascii")


def decode_list(encoded: str) -> bytes:
    """The raw bitstring of an `encodedList` (spec §3.4), refusing what is not one.

    Errors name the fault: the multibase prefix, the base64url, the GZIP framing, a
    list shorter than 131,072 entries, or one that expands past `MAX_BYTES`.
    """
    if not isinstance(encoded, str) or not encoded.startswith(MULTIBASE_BASE64URL):
        raise StatusListError(
            "encodedList must be multibase base64url: a string starting with 'u'", "bad_prefix"
        )
    if len(encoded) > MAX_ENCODED_LEN:
        raise StatusListTooLarge(f"encodedList is longer than {MAX_ENCODED_LEN} characters")
    gzipped = _base64url_decode(encoded[1:])
    if not gzipped.startswith(_GZIP_MAGIC):
        raise StatusListError("encodedList does not hold GZIP data", "not_gzip")
    bits = _gunzip_bounded(gzipped)
    _check_length(len(bits))
    return bits


def bit_at(bits: bytes, index: int) -> bool:
    """Whether entry `index` is set: bit `7 - index % 8` of byte `index // 8`."""
    _check_index(bits, index)
    return bool(bits[index // 8] >> (7 - index % 8) & 1)


def with_bit(bits: bytes, index: int, value: bool) -> bytes:
    """A copy of `bits` with entry `index` set to `value`."""
    _check_index(bits, index)
    mask = 1 << (7 - index % 8)
    changed = bytearray(bits)
    changed[index // 8] = changed[index // 8] | mask if value else changed[index // 8] & ~mask
    return bytes(changed)


def set_indices(bits: bytes) -> tuple[int, ...]:
    """Every set entry, in order (for tests and views; linear in the list's size)."""
    return tuple(
        byte_index * 8 + offset
        for byte_index, byte in enumerate(bits)
        if byte
        for offset in range(8)
        if byte >> (7 - offset) & 1
    )


def bitstring_hash(bits: bytes) -> str:
    """SHA-256 hex of the raw bitstring: what the chain commits for a list."""
    return sha256_hex(bits)


def _check_length(size: int) -> None:
    if size < MIN_BYTES:
        raise StatusListError(
            f"a status list holds at least {MIN_ENTRIES} entries ({MIN_BYTES} bytes)",
            "too_short",
        )
    if size > MAX_BYTES:
        raise StatusListTooLarge(f"a status list holds at most {MAX_BYTES * 8} entries here")


def _check_index(bits: bytes, index: int) -> None:
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(bits) * 8:
        raise StatusListError(
            f"status index {index!r} is outside the list of {len(bits) * 8} entries",
            "index_out_of_range",
        )


def _base64url_decode(text: str) -> bytes:
    if "=" in text or not text.isascii():
        raise StatusListError("encodedList must be base64url without padding", "bad_base64url")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise StatusListError(f"encodedList is not base64url: {exc}", "bad_base64url") from exc


def _gunzip_bounded(gzipped: bytes) -> bytes:
    """GZIP-decompress at most MAX_BYTES + 1 bytes: a bomb is refused, never expanded."""
    decompressor = zlib.decompressobj(_GZIP_WBITS)
    try:
        bits = decompressor.decompress(gzipped, MAX_BYTES + 1)
    except zlib.error as exc:
        raise StatusListError(f"encodedList is not valid GZIP: {exc}", "not_gzip") from exc
    if len(bits) < MAX_BYTES + 1 and decompressor.unconsumed_tail:
        bits += decompressor.decompress(decompressor.unconsumed_tail, MAX_BYTES + 1 - len(bits))
    if len(bits) > MAX_BYTES:
        raise StatusListTooLarge(f"encodedList expands past {MAX_BYTES} bytes")
    if not decompressor.eof or decompressor.unused_data:
        raise StatusListError(
            "encodedList's GZIP stream is truncated or has trailing data", "not_gzip"
        )
    return bits
