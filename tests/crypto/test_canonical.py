"""Canonical JSON: RFC 8785's own examples, and the fast path held to the reference."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthledger.crypto.canonical import (
    MAX_SAFE_INTEGER,
    canonical_bytes,
    parse_json,
    reference_canonical_bytes,
)
from healthledger.errors import ErrorCode, LedgerError


def test_rfc8785_sorting_example_on_strings_and_integers() -> None:
    # RFC 8785 §3.2.3 sorts by UTF-16 code units: "\r" < "1" < "€" < "😀" < "ö"-free keys.
    value = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "1": "One", "\U0001f600": "Emoji"}
    assert (
        canonical_bytes(value)
        == (
            '{"\\r":"Carriage Return","1":"One","\u20ac":"Euro Sign","\U0001f600":"Emoji"}'
        ).encode()
    )


def test_rfc8785_utf16_order_differs_from_codepoint_order() -> None:
    # U+FB33 sorts after U+1F600 in UTF-16 (0xD83D < 0xFB33) though its code point is smaller.
    value = {"\ufb33": 1, "\U0001f600": 2}
    assert canonical_bytes(value) == '{"\U0001f600":2,"\ufb33":1}'.encode()


def test_string_escaping_follows_ecmascript() -> None:
    value = {"s": '\u0000\b\t\n\f\r"\\/\u001f\u007f\u2028'}
    expected = '{"s":"\\u0000\\b\\t\\n\\f\\r\\"\\\\/\\u001f\u007f\u2028"}'.encode()
    assert canonical_bytes(value) == expected


def test_whitespace_is_removed_and_literals_kept() -> None:
    assert canonical_bytes({"b": [True, False, None], "a": -0}) == b'{"a":0,"b":[true,false,null]}'


@pytest.mark.parametrize("value", [1.5, {"a": [0.1]}, {"x": {"y": 2.0}}])
def test_floats_are_refused(value: object) -> None:
    with pytest.raises(LedgerError) as caught:
        canonical_bytes(value)
    assert caught.value.code == ErrorCode.FLOAT_NOT_ALLOWED


def test_unsafe_integers_are_refused() -> None:
    canonical_bytes(MAX_SAFE_INTEGER)
    with pytest.raises(LedgerError) as caught:
        canonical_bytes({"n": MAX_SAFE_INTEGER + 1})
    assert caught.value.code == ErrorCode.INTEGER_OUT_OF_RANGE


def test_parse_json_refuses_floats_and_garbage() -> None:
    assert parse_json(b'{"a": 1}') == {"a": 1}
    for bad in (b'{"a": 1.0}', b"{", b"", b"\xff"):
        with pytest.raises(LedgerError):
            parse_json(bad)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.text(alphabet=st.characters(exclude_categories=("Cs",)))
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.text(alphabet=st.characters(exclude_categories=("Cs",))), children, max_size=5
        )
    ),
    max_leaves=30,
)


@given(json_values)
def test_fast_encoder_is_byte_identical_to_the_reference(value: object) -> None:
    assert canonical_bytes(value) == reference_canonical_bytes(value)


@given(json_values)
def test_canonical_bytes_round_trip(value: object) -> None:
    encoded = canonical_bytes(value)
    assert canonical_bytes(parse_json(encoded)) == encoded
