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

from healthledger.errors import ErrorCode, FloatNotAllowed, LedgerError, MalformedInput

# JCS serialises numbers as IEEE-754 doubles (RFC 8785 §3.2.2.3); beyond 2^53 an
# integer would silently lose precision, so we refuse it instead.
MAX_SAFE_INTEGER = 2**53 - 1

JsonValue = Any


def _check_value(value: JsonValue, path: str) -> bool:
    """Reject what JCS cannot carry exactly; return True if keys need the reference sort."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, str):
        return False
    if isinstance(value, int):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return False
        raise LedgerError(
            f"integer at {path or '$'} is outside ±(2^53-1)", ErrorCode.INTEGER_OUT_OF_RANGE
        )
    if isinstance(value, float):
        raise FloatNotAllowed(
            f"float at {path or '$'}: payloads use integers (cents, micro-units) and strings"
        )
    if isinstance(value, dict):
        return _check_object(value, path)
    if isinstance(value, list | tuple):
        needs_reference = False
        for index, item in enumerate(value):
            needs_reference |= _check_value(item, f"{path}[{index}]")
        return needs_reference
    raise MalformedInput(f"value at {path or '$'} has unsupported type {type(value).__name__}")


def _check_object(value: dict[Any, JsonValue], path: str) -> bool:
    needs_reference = False
    for key, item in value.items():
        if not isinstance(key, str):
            raise MalformedInput(f"object key at {path or '$'} is not a string")
        # orjson sorts keys by UTF-8 bytes, JCS by UTF-16 code units; they agree on ASCII.
        needs_reference |= not key.isascii()
        needs_reference |= _check_value(item, f"{path}.{key}")
    return needs_reference


def canonical_bytes(value: JsonValue) -> bytes:
    """Encode a JSON value canonically (RFC 8785), refusing floats and unsafe integers."""
    needs_reference = _check_value(value, "")
    if needs_reference:
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
    _check_value(value, "")
    return value
