"""eddsa-jcs-2022 against the W3C vc-di-eddsa test vectors (tests/crypto/vectors/SOURCE.md),
did:key and base58btc, and the ways a proof must fail."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthledger.crypto import data_integrity as di
from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.keys import KeyPair
from healthledger.errors import ErrorCode

VECTORS = Path(__file__).parent / "vectors" / "eddsa-jcs-2022"
CREATED = "2023-02-24T23:36:38Z"
NOW_MS = 1_800_000_000_000  # 2027: after every `created` in the vectors


def _text(name: str) -> str:
    return (VECTORS / name).read_text().strip()


def _vector_key() -> KeyPair:
    pair = json.loads(_text("keyPair.json"))
    secret = di.base58_decode(pair["privateKeyMultibase"][1:])
    assert secret[:2] == b"\x80\x26"  # multicodec ed25519-priv (0x1300) as a varint
    key = KeyPair.from_seed(secret[2:])
    assert di.ed25519_multikey(key.public_key) == pair["publicKeyMultibase"]
    return key


def _unsigned() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_text("canonDocJCS.txt"))
    return document


def _vector_method() -> str:
    return str(json.loads(_text("proofCanonJCS.txt"))["verificationMethod"])


def _signed() -> dict[str, Any]:
    return di.create_proof(
        _unsigned(), _vector_key(), di.parse_xml_datetime(CREATED, "created"), _vector_method()
    )


# -- the specification's vectors ------------------------------------------------------


def test_canonical_document_and_its_hash_match_the_vector() -> None:
    canonical = canonical_bytes(_unsigned())
    assert canonical == _text("canonDocJCS.txt").encode()
    assert hashlib.sha256(canonical).hexdigest() == _text("docHashJCS.txt")


def test_canonical_proof_config_and_its_hash_match_the_vector() -> None:
    proof = _signed()["proof"]
    config = {name: value for name, value in proof.items() if name != "proofValue"}
    assert canonical_bytes(config) == _text("proofCanonJCS.txt").encode()
    assert hashlib.sha256(canonical_bytes(config)).hexdigest() == _text("proofHashJCS.txt")


def test_hash_data_is_proof_hash_then_document_hash() -> None:
    proof = _signed()["proof"]
    config = {name: value for name, value in proof.items() if name != "proofValue"}
    assert di.hash_data(_unsigned(), config).hex() == _text("combinedHashJCS.txt")


def test_sign_reproduces_the_vector_signature_byte_for_byte() -> None:
    proof_value = _signed()["proof"]["proofValue"]
    assert proof_value == _text("sigBTC58JCS.txt")
    assert di.base58_decode(proof_value[1:]).hex() == _text("sigHexJCS.txt")


def test_the_vector_verifies_by_its_did_key() -> None:
    signed = {**_unsigned(), "proof": {**_signed()["proof"]}}
    verified = di.verify_proof(signed, NOW_MS)
    assert verified.public_key == _vector_key().public_key
    assert verified.created_ms == di.parse_xml_datetime(CREATED, "created")
    assert verified.proof_purpose == "assertionMethod"


def test_the_signed_vector_with_an_https_method_verifies_with_its_key() -> None:
    # The repository's signed credential names an https verification method: a resolved
    # key verifies it, and our signer with that method reproduces it exactly.
    signed = json.loads((VECTORS / "https-method" / "signedJCS.json").read_text())
    config = json.loads((VECTORS / "https-method" / "proofConfigJCS.json").read_text())
    di.verify_proof_with_key(signed, _vector_key().public_key)
    created_ms = di.parse_xml_datetime(CREATED, "c")
    ours = di.create_proof(_unsigned(), _vector_key(), created_ms, config["verificationMethod"])
    assert ours == signed
    assert (
        di.base58_decode(ours["proof"]["proofValue"][1:]).hex()
        == (VECTORS / "https-method" / "sigHexJCS.txt").read_text().strip()
    )
    # and it is refused by the did:key-only verifier: no key is fetched from a URL
    with pytest.raises(di.BadVerificationMethod):
        di.verify_proof(signed, NOW_MS)


# -- failures -------------------------------------------------------------------------


def _reason(document: object, now_ms: int = NOW_MS) -> str:
    with pytest.raises(di.DataIntegrityError) as caught:
        di.verify_proof(document, now_ms)  # type: ignore[arg-type]
    return caught.value.reason


def test_a_changed_document_field_fails() -> None:
    signed = _signed()
    signed["credentialSubject"]["alumniOf"] = "Another School"
    assert _reason(signed) == "signature_mismatch"


def test_an_added_document_field_fails() -> None:
    assert _reason({**_signed(), "extra": 1}) == "signature_mismatch"


@pytest.mark.parametrize(
    ("field", "value"),
    [("created", "2023-02-24T23:36:39Z"), ("proofPurpose", "authentication")],
)
def test_a_changed_proof_field_fails(field: str, value: str) -> None:
    signed = _signed()
    signed["proof"][field] = value
    assert _reason(signed) == "signature_mismatch"


def test_a_wrong_key_fails() -> None:
    signed = _signed()
    other = KeyPair.from_seed(b"\x07" * 32)
    signed["proof"]["verificationMethod"] = di.did_key_verification_method(other.public_key)
    assert _reason(signed) == "signature_mismatch"


def test_a_signature_by_another_key_fails() -> None:
    forged = di.create_proof(_unsigned(), KeyPair.from_seed(b"\x07" * 32), 0, _vector_method())
    assert _reason(forged) == "signature_mismatch"


def test_a_flipped_signature_byte_fails() -> None:
    signed = _signed()
    raw = bytearray(di.base58_decode(signed["proof"]["proofValue"][1:]))
    raw[10] ^= 1
    signed["proof"]["proofValue"] = di.multibase_base58btc(bytes(raw))
    assert _reason(signed) == "signature_mismatch"


def test_an_unsupported_cryptosuite_is_named() -> None:
    signed = _signed()
    signed["proof"]["cryptosuite"] = "eddsa-rdfc-2022"
    with pytest.raises(di.UnsupportedCryptosuite) as caught:
        di.verify_proof(signed, NOW_MS)
    assert "eddsa-rdfc-2022" in caught.value.message
    assert caught.value.code == ErrorCode.INVALID_FIELD


def test_an_unsupported_proof_type_is_named() -> None:
    signed = _signed()
    signed["proof"]["type"] = "Ed25519Signature2020"
    assert _reason(signed) == "unsupported_proof_type"


@pytest.mark.parametrize(
    "method",
    [
        "did:web:example.com#key-1",
        "did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169",  # a P-256 did:key
        "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#other",
        "did:key:z0OIl",
        42,
    ],
)
def test_a_verification_method_that_is_not_an_ed25519_did_key_fails(method: object) -> None:
    signed = _signed()
    signed["proof"]["verificationMethod"] = method
    assert _reason(signed) == "bad_verification_method"


def test_a_proof_from_the_future_fails_beyond_the_skew() -> None:
    created_ms = di.parse_xml_datetime(CREATED, "created")
    signed = _signed()
    di.verify_proof(signed, created_ms - di.MAX_CLOCK_SKEW_MS)  # within the skew
    assert _reason(signed, created_ms - di.MAX_CLOCK_SKEW_MS - 1) == "future_proof"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("proof"),
        lambda d: d.__setitem__("proof", [d["proof"]]),
        lambda d: d["proof"].__setitem__("proofValue", "uAAAA"),
        lambda d: d["proof"].__setitem__("proofValue", "z0OIl"),
        lambda d: d["proof"].__setitem__("proofValue", "z" + di.base58_encode(b"short")),
        lambda d: d["proof"].__setitem__("created", "yesterday"),
        lambda d: d["proof"].__setitem__("created", "2023-02-24T23:36:38"),
        lambda d: d["proof"].pop("proofPurpose"),
        lambda d: d["proof"].__setitem__("@context", ["https://example.org/other"]),
        lambda d: d.__setitem__("amount", 1.5),
    ],
)
def test_malformed_proofs_and_documents_fail_with_malformed(mutate: Any) -> None:
    signed = _signed()
    mutate(signed)
    with pytest.raises(di.DataIntegrityError) as caught:
        di.verify_proof(signed, NOW_MS)
    assert caught.value.code == ErrorCode.MALFORMED
    assert caught.value.reason in {"malformed_proof", "malformed_document"}


def test_a_document_that_is_not_an_object_is_malformed() -> None:
    assert _reason([1, 2]) == "malformed_document"


def test_a_document_with_a_proof_is_not_signed_again() -> None:
    with pytest.raises(di.MalformedDocument):
        di.create_proof(_signed(), _vector_key(), 0)


def test_sign_then_verify_with_the_default_did_key_method() -> None:
    key = KeyPair.from_seed(b"\x01" * 32)
    signed = di.create_proof({"@context": ["https://www.w3.org/ns/credentials/v2"], "a": 1}, key, 1)
    assert signed["proof"]["verificationMethod"] == di.did_key_verification_method(key.public_key)
    assert signed["proof"]["created"] == "1970-01-01T00:00:00.001Z"
    assert di.verify_proof(signed, NOW_MS).key_id == key.key_id


# -- encodings ------------------------------------------------------------------------


def test_did_key_of_the_vector_key() -> None:
    key = _vector_key()
    assert di.did_key(key.public_key) == "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    assert di.public_key_of_did_key(di.did_key(key.public_key)) == key.public_key


def test_base58_known_values() -> None:
    # Bitcoin's base58 test strings (draft-msporny-base58 §5).
    assert di.base58_encode(b"Hello World!") == "2NEpo7TZRRrLZSi2U"
    assert di.base58_encode(b"The quick brown fox jumps over the lazy dog.") == (
        "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z"
    )
    assert di.base58_encode(bytes.fromhex("0000287fb4cd")) == "11233QC4"
    assert di.base58_encode(b"") == ""


@given(st.binary(max_size=100))
def test_base58_round_trips(data: bytes) -> None:
    assert di.base58_decode(di.base58_encode(data)) == data


@given(st.text(max_size=40))
def test_base58_decode_refuses_or_round_trips(text: str) -> None:
    try:
        data = di.base58_decode(text)
    except di.MalformedProof:
        alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
        assert any(char not in alphabet for char in text)
    else:
        assert di.base58_encode(data) == text


@given(st.integers(min_value=0, max_value=253_402_300_799_999))
def test_xml_datetime_round_trips(time_ms: int) -> None:
    assert di.parse_xml_datetime(di.xml_datetime(time_ms), "t") == time_ms


def test_xml_datetime_with_an_offset_and_long_fraction() -> None:
    assert di.parse_xml_datetime("2023-02-24T23:36:38.1239+01:00", "t") == (
        di.parse_xml_datetime("2023-02-24T22:36:38.123Z", "t")
    )


def test_errors_carry_code_reason_and_message() -> None:
    error = di.FutureProof(10, 0)
    assert error.to_dict()["reason"] == "future_proof"
    assert error.to_dict()["code"] == "invalid_proof"
    assert copy.copy(error.message)


def test_a_proof_for_another_purpose_is_refused() -> None:
    key = KeyPair.from_seed(b"\x01" * 32)
    document = {"@context": ["https://www.w3.org/ns/credentials/v2"], "a": 1}
    signed = di.create_proof(document, key, 1, proof_purpose="authentication")
    assert _reason(signed) == "wrong_proof_purpose"
    assert di.verify_proof(signed, NOW_MS, expected_purpose="authentication").created_ms == 1


def test_an_unsupported_cryptosuite_is_named_before_the_method_is_resolved() -> None:
    signed = _signed()
    signed["proof"]["cryptosuite"] = "bbs-2023"
    signed["proof"]["verificationMethod"] = "https://example.com/key"
    assert _reason(signed) == "unsupported_cryptosuite"


def test_a_time_past_year_9999_is_malformed() -> None:
    with pytest.raises(di.MalformedDocument):
        di.xml_datetime(10**16)
