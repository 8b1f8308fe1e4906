"""Signed transactions: ids, signatures, shape checks."""

from __future__ import annotations

import json

import pytest

from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.hashing import sha256_hex
from healthledger.crypto.keys import KeyPair
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.transaction import decode_and_verify, sign_transaction

KEYS = KeyPair.from_seed(bytes(range(32)))


def signed_dict() -> dict[str, object]:
    return sign_transaction(KEYS, "test-chain", "org.approve", 7, {"proposal_id": "x"}).to_dict()


def test_id_is_sha256_of_canonical_signed_bytes() -> None:
    tx = sign_transaction(KEYS, "test-chain", "org.approve", 7, {"proposal_id": "x"})
    assert tx.id == sha256_hex(canonical_bytes(tx.to_dict()))
    assert decode_and_verify(json.dumps(tx.to_dict(), indent=3).encode()).id == tx.id


def test_signature_covers_every_field() -> None:
    for field, value in [
        ("chain", "other-chain"),
        ("type", "org.propose"),
        ("nonce", 8),
        ("payload", {"proposal_id": "y"}),
    ]:
        tampered = {**signed_dict(), field: value}
        with pytest.raises(LedgerError) as caught:
            decode_and_verify(tampered)
        assert caught.value.code == ErrorCode.BAD_SIGNATURE, field


def test_another_key_cannot_sign_for_the_sender() -> None:
    other = sign_transaction(KeyPair.generate(), "test-chain", "org.approve", 7, {})
    forged = {**signed_dict(), "signature": other.signature.hex()}
    with pytest.raises(LedgerError) as caught:
        decode_and_verify(forged)
    assert caught.value.code == ErrorCode.BAD_SIGNATURE


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"nonce": -1}, ErrorCode.MALFORMED),
        ({"nonce": "7"}, ErrorCode.MALFORMED),
        ({"nonce": True}, ErrorCode.MALFORMED),
        ({"nonce": 1.0}, ErrorCode.FLOAT_NOT_ALLOWED),
        ({"payload": {"amount": 2.5}}, ErrorCode.FLOAT_NOT_ALLOWED),
        ({"payload": []}, ErrorCode.MALFORMED),
        ({"type": "NoDot"}, ErrorCode.MALFORMED),
        ({"sender": "abc"}, ErrorCode.MALFORMED),
        ({"signature": "zz" * 64}, ErrorCode.MALFORMED),
        ({"extra": 1}, ErrorCode.MALFORMED),
    ],
)
def test_bad_shapes_get_their_code(change: dict[str, object], code: ErrorCode) -> None:
    with pytest.raises(LedgerError) as caught:
        decode_and_verify({**signed_dict(), **change})
    assert caught.value.code == code


def test_missing_field_and_non_object() -> None:
    data = signed_dict()
    del data["nonce"]
    for bad in (data, [1, 2], b"not json", b'"a string"'):
        with pytest.raises(LedgerError) as caught:
            decode_and_verify(bad)  # type: ignore[arg-type]
        assert caught.value.code == ErrorCode.MALFORMED


def test_oversized_transaction_is_refused() -> None:
    with pytest.raises(LedgerError) as caught:
        decode_and_verify(b" " * (70 * 1024))
    assert caught.value.code == ErrorCode.TOO_LARGE
