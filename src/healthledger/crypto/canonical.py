"""Canonical JSON (RFC 8785, JCS): the only byte form that is signed or hashed.

`rfc8785` is the reference encoder. The hot path uses orjson with sorted keys,
which is byte-identical to JCS for the values we allow (integers within the
IEEE-754 safe range, strings, booleans, null, lists and objects with ASCII
keys); the property tests in tests/crypto/test_canonical.py hold it to that.
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

from healthledger.errors import (
    FloatNotAllowed,
    IntegerOutOfRange,
    MalformedInput,
)

# JCS serialises numbers as IEEE-754 doubles (RFC 8785 §3.2.2.3); beyond 2^53 an
# integer would silently lose precision, so we refuse it instead.
MAX_SAFE_INTEGER = 2**53 - 1

JsonValue = Any


def _scan(value: JsonValue) -> bool:
    """Refuse what JCS cannot carry exactly; True if keys need the reference sort.

    Iterative, with exact type tests: this runs on every payload and state write,
    so it stays cheap; the path of a bad value is only worked out on failure.
    """
    needs_reference = False
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                _raise_at(value)
            continue
        if kind is dict:
            for key, child in item.items():
                if type(key) is not str:
                    _raise_at(value)
                # orjson sorts keys by UTF-8 bytes, JCS by UTF-16 code units; they agree on ASCII.
                if not key.isascii():
                    needs_reference = True
                stack.append(child)
            continue
        if kind is list or kind is tuple:
            stack.extend(item)
            continue
        _raise_at(value)
    return needs_reference


def _raise_at(value: JsonValue) -> None:
    """Find the first offending value again, this time keeping its path, and raise."""
    _check_value(value, "")
    raise MalformedInput("value cannot be encoded canonically")


def _check_value(value: JsonValue, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return
        raise IntegerOutOfRange(f"integer at {path or '$'} is outside ±(2^53-1)")
    if isinstance(value, float):
        raise FloatNotAllowed(
            f"float at {path or '$'}: payloads use integers (cents, micro-units) and strings"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise MalformedInput(f"object key at {path or '$'} is not a string")
            _check_value(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_value(item, f"{path}[{index}]")
        return
    raise MalformedInput(f"value at {path or '$'} has unsupported type {type(value).__name__}")


def canonical_bytes(value: JsonValue) -> bytes:
    """Encode a JSON value canonically (RFC 8785), refusing floats and unsafe integers."""
    if _scan(value):
        return reference_canonical_bytes(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:  # lone surrogates and the like
        raise MalformedInput(f"cannot encode value: {exc}") from exc


def reference_canonical_bytes(value: JsonValue) -> bytes:
    """Encode with the pure-Python reference implementation of RFC 8785."""
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:
        raise MalformedInput(f"cannot encode value: {exc}") from exc


def parse_json(data: bytes | str) -> JsonValue:
    """Parse untrusted JSON, refusing floats anywhere in it."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedInput(f"malformed JSON: {exc}") from exc
    _scan(value)
    return value
