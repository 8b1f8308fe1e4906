"""Bitstring Status List: the spec's example encodedList, bit order, round trips, and
refusals (prefix, base64url, GZIP, length, bombs)."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthledger.crypto import status_list as sl
from healthledger.errors import ErrorCode

VECTORS = Path(__file__).parent / "vectors" / "bitstring-status-list"


def _spec_encoded_list() -> str:
    example = json.loads((VECTORS / "example3-status-list-credential.json").read_text())
    return str(example["credentialSubject"]["encodedList"])


def _u(data: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_spec_example_is_an_all_zero_list_of_the_minimum_size() -> None:
    bits = sl.decode_list(_spec_encoded_list())
    assert len(bits) * 8 == sl.MIN_ENTRIES == 131_072
    assert sl.set_indices(bits) == ()


def test_encoding_the_empty_minimum_list_gives_the_spec_example_exactly() -> None:
    assert sl.encode_list(sl.empty_list()) == _spec_encoded_list()


def test_the_spec_example_entries_read_from_a_list() -> None:
    # Example 1's revocation entry is index 94567 (as a string, per spec §2.1).
    entries = json.loads((VECTORS / "example1-status-entries.json").read_text())
    index = int(entries["credentialStatus"][0]["statusListIndex"])
    bits = sl.with_bit(sl.decode_list(_spec_encoded_list()), index, True)
    assert sl.bit_at(bits, index) and sl.set_indices(bits) == (94_567,)
    assert sl.decode_list(sl.encode_list(bits)) == bits


def test_bit_zero_is_the_most_significant_bit_of_byte_zero() -> None:
    bits = sl.with_bit(sl.empty_list(), 0, True)
    assert bits[0] == 0x80
    bits = sl.with_bit(bits, 9, True)
    assert bits[1] == 0x40
    last = sl.with_bit(sl.empty_list(), sl.MIN_ENTRIES - 1, True)
    assert last[-1] == 0x01


def test_bitstring_hash_is_sha256_of_the_raw_bytes() -> None:
    assert sl.bitstring_hash(bytes(16_384)) == (
        "4fe7b59af6de3b665b67788cc2f99892ab827efae3a467342b3bb4e3bc8e5bfe"
    )


@given(st.sets(st.integers(min_value=0, max_value=sl.MIN_ENTRIES - 1), max_size=40))
def test_set_bits_round_trip_through_the_encoding(indices: set[int]) -> None:
    bits = sl.empty_list()
    for index in indices:
        bits = sl.with_bit(bits, index, True)
    assert sl.set_indices(bits) == tuple(sorted(indices))
    assert sl.decode_list(sl.encode_list(bits)) == bits


@given(
    st.integers(min_value=0, max_value=sl.MIN_ENTRIES - 1),
    st.integers(min_value=0, max_value=sl.MIN_ENTRIES - 1),
    st.booleans(),
)
def test_setting_one_bit_changes_only_that_bit(index: int, other: int, value: bool) -> None:
    base = sl.with_bit(sl.empty_list(), other, True)
    changed = sl.with_bit(base, index, value)
    assert sl.bit_at(changed, index) is value
    if other != index:
        assert sl.bit_at(changed, other)
    assert sl.with_bit(changed, index, sl.bit_at(base, index)) == base


@pytest.mark.parametrize("index", [-1, sl.MIN_ENTRIES, True])
def test_an_index_outside_the_list_is_refused(index: int) -> None:
    with pytest.raises(sl.StatusListError) as caught:
        sl.bit_at(sl.empty_list(), index)
    assert caught.value.reason == "index_out_of_range"


@pytest.mark.parametrize(
    ("encoded", "reason"),
    [
        ("zH4sIAAAA", "bad_prefix"),
        ("H4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA", "bad_prefix"),
        ("u!!!!", "bad_base64url"),
        ("uH4sI=", "bad_base64url"),
        (_u(zlib.compress(bytes(16_384))), "not_gzip"),  # zlib framing, not GZIP
        (_u(b"\x1f\x8b" + b"garbage"), "not_gzip"),
        (_u(gzip.compress(bytes(16_384))[:-12]), "not_gzip"),  # truncated
        (_u(gzip.compress(bytes(16_384)) + b"tail"), "not_gzip"),
        (_u(gzip.compress(bytes(16_383))), "too_short"),
    ],
)
def test_malformed_encoded_lists_are_refused_with_a_reason(encoded: str, reason: str) -> None:
    with pytest.raises(sl.StatusListError) as caught:
        sl.decode_list(encoded)
    assert caught.value.reason == reason
    assert caught.value.code == ErrorCode.MALFORMED


def test_a_gzip_bomb_is_refused_without_expanding_it() -> None:
    bomb = _u(gzip.compress(bytes(sl.MAX_BYTES * 64)))  # 128 MiB of zeros in ~130 KB
    with pytest.raises(sl.StatusListTooLarge) as caught:
        sl.decode_list(bomb)
    assert caught.value.code == ErrorCode.TOO_LARGE


def test_the_largest_list_decodes() -> None:
    bits = bytes(sl.MAX_BYTES)
    assert sl.decode_list(sl.encode_list(bits)) == bits


def test_an_over_long_encoded_list_is_refused_before_decoding() -> None:
    with pytest.raises(sl.StatusListTooLarge):
        sl.decode_list("u" + "A" * (sl.MAX_ENCODED_LEN + 1))


@pytest.mark.parametrize("size", [0, 16_383, sl.MAX_BYTES + 1])
def test_encode_refuses_lists_of_the_wrong_size(size: int) -> None:
    with pytest.raises(sl.StatusListError):
        sl.encode_list(bytes(size))


def test_empty_list_sizes() -> None:
    assert len(sl.empty_list(2 * sl.MIN_ENTRIES)) == 2 * sl.MIN_BYTES
    with pytest.raises(sl.StatusListError):
        sl.empty_list(sl.MIN_ENTRIES - 8)


def test_a_list_size_that_is_not_whole_bytes_is_refused() -> None:
    with pytest.raises(sl.StatusListError) as caught:
        sl.empty_list(sl.MIN_ENTRIES + 3)
    assert caught.value.reason == "not_bytes"
