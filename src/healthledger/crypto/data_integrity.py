"""W3C Data Integrity proofs with the `eddsa-jcs-2022` cryptosuite, and Ed25519 `did:key`.

Data Integrity EdDSA Cryptosuites v1.0 (W3C Recommendation, 2025), §3.3: the document
and the proof configuration are each canonicalised with JCS (RFC 8785), each hashed with
SHA-256, and the signature is Ed25519 over `hash(proof config) || hash(document)`. The
proof value is multibase base58btc (`z`). JCS needs no JSON-LD processing, so this module
is pure: no network, no document loader, no clock (callers pass `now_ms`).

Only `did:key` Ed25519 verification methods are resolved here (the key is in the
identifier); anything else is refused, so a verifier never fetches a key from a URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import nacl.bindings
import nacl.exceptions

from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.hashing import sha256
from healthledger.crypto.keys import KeyPair
from healthledger.errors import ErrorCode, LedgerError

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
ASSERTION_METHOD = "assertionMethod"
# A proof dated this far ahead of the verifier's clock is still accepted (clocks drift);
# beyond it the proof claims a time that has not come and is refused.
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000

# Multicodec `ed25519-pub` (0xed) as an unsigned varint: 0xed 0x01 (multicodec table).
ED25519_PUB_PREFIX = b"\xed\x01"
ED25519_PUBLIC_KEY_LEN = 32
ED25519_SIGNATURE_LEN = 64
DID_KEY_PREFIX = "did:key:"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {char: index for index, char in enumerate(_BASE58_ALPHABET)}
# A proof value or a key is short; refusing long input keeps the quadratic decode cheap.
_MAX_BASE58_LEN = 256

# XML Schema 1.1 dateTime (the `created` of a proof): a time zone is required here, so a
# proof's time is never read in the verifier's local zone.
_XML_DATETIME = re.compile(
    r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)


class DataIntegrityError(LedgerError):
    """A proof that cannot be made or does not hold; `reason` is a stable finer code."""

    code = ErrorCode.INVALID_PROOF
    reason = "invalid_proof"

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "reason": self.reason}


class MalformedDocument(DataIntegrityError):
    code = ErrorCode.MALFORMED
    reason = "malformed_document"


class MalformedProof(DataIntegrityError):
    code = ErrorCode.MALFORMED
    reason = "malformed_proof"


class UnsupportedProofType(DataIntegrityError):
    code = ErrorCode.INVALID_FIELD
    reason = "unsupported_proof_type"

    def __init__(self, proof_type: object) -> None:
        super().__init__(f"proof type {str(proof_type)[:64]!r} is not supported: use {PROOF_TYPE}")
        self.proof_type = proof_type


class UnsupportedCryptosuite(DataIntegrityError):
    code = ErrorCode.INVALID_FIELD
    reason = "unsupported_cryptosuite"

    def __init__(self, cryptosuite: object) -> None:
        super().__init__(
            f"cryptosuite {str(cryptosuite)[:64]!r} is not supported: use {CRYPTOSUITE}"
        )
        self.cryptosuite = cryptosuite


class BadVerificationMethod(DataIntegrityError):
    code = ErrorCode.INVALID_FIELD
    reason = "bad_verification_method"


class SignatureMismatch(DataIntegrityError):
    reason = "signature_mismatch"

    def __init__(self) -> None:
        super().__init__("the proof's signature does not verify for its verification method")


class WrongProofPurpose(DataIntegrityError):
    reason = "wrong_proof_purpose"

    def __init__(self, purpose: str, expected: str) -> None:
        super().__init__(f"the proof's purpose is {purpose[:64]!r}, not {expected!r}")
        self.purpose = purpose
        self.expected = expected


class FutureProof(DataIntegrityError):
    reason = "future_proof"

    def __init__(self, created_ms: int, now_ms: int) -> None:
        super().__init__(
            f"the proof was created {created_ms - now_ms} ms after now, more than the "
            f"{MAX_CLOCK_SKEW_MS} ms clock skew allowed"
        )
        self.created_ms = created_ms
        self.now_ms = now_ms


@dataclass(frozen=True)
class VerifiedProof:
    """What a verified proof established: which key signed, when it says, and for what."""

    public_key: bytes
    verification_method: str
    created_ms: int | None
    proof_purpose: str

    @property
    def key_id(self) -> str:
        """The signer as this ledger names keys: hex of the Ed25519 public key."""
        return self.public_key.hex()


# -- base58btc and did:key -------------------------------------------------------------


def base58_encode(data: bytes) -> str:
    """Bitcoin base58: leading zero bytes become '1', the rest a big-endian number."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(_BASE58_ALPHABET[remainder])
    return "1" * zeros + "".join(reversed(digits))


def base58_decode(text: str) -> bytes:
    """Inverse of `base58_encode`; a character outside the alphabet is MALFORMED."""
    if len(text) > _MAX_BASE58_LEN:
        raise MalformedProof(f"base58 value longer than {_MAX_BASE58_LEN} characters")
    number = 0
    for char in text:
        digit = _BASE58_INDEX.get(char)
        if digit is None:
            raise MalformedProof(f"{char[:1]!r} is not a base58btc character")
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def multibase_base58btc(data: bytes) -> str:
    return "z" + base58_encode(data)


def decode_multibase_base58btc(value: object, field: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z"):
        raise MalformedProof(f"{field} must be multibase base58btc (a string starting with 'z')")
    return base58_decode(value[1:])


def ed25519_multikey(public_key: bytes) -> str:
    """The multibase form of an Ed25519 public key: `z6Mk...`."""
    if len(public_key) != ED25519_PUBLIC_KEY_LEN:
        raise MalformedProof("an Ed25519 public key is 32 bytes")
    return multibase_base58btc(ED25519_PUB_PREFIX + public_key)


def did_key(public_key: bytes) -> str:
    """`did:key:z6Mk...` of an Ed25519 public key."""
    return DID_KEY_PREFIX + ed25519_multikey(public_key)


def did_key_verification_method(public_key: bytes) -> str:
    """The verification method of a did:key: the DID, '#', and the key's multibase again."""
    multikey = ed25519_multikey(public_key)
    return f"{DID_KEY_PREFIX}{multikey}#{multikey}"


def public_key_of_multikey(multikey: str) -> bytes:
    """The 32-byte Ed25519 key of `z6Mk...`; any other multicodec is refused (spec §2.1.1)."""
    try:
        raw = decode_multibase_base58btc(multikey, "the key")
    except MalformedProof as exc:
        raise BadVerificationMethod(f"not an Ed25519 multikey: {exc.message}") from exc
    if len(raw) != len(ED25519_PUB_PREFIX) + ED25519_PUBLIC_KEY_LEN or not raw.startswith(
        ED25519_PUB_PREFIX
    ):
        raise BadVerificationMethod("not an Ed25519 multikey (multicodec 0xed01, 32 bytes)")
    return raw[len(ED25519_PUB_PREFIX) :]


def public_key_of_did_key(value: object) -> bytes:
    """The Ed25519 key named by `did:key:z6Mk...` or `did:key:z6Mk...#z6Mk...`.

    A fragment, when present, must repeat the key (the did:key method's only key id).
    """
    if not isinstance(value, str) or not value.startswith(DID_KEY_PREFIX):
        raise BadVerificationMethod(
            f"verification method {str(value)[:100]!r} is not an Ed25519 did:key"
        )
    did, _, fragment = value.partition("#")
    multikey = did[len(DID_KEY_PREFIX) :]
    if fragment and fragment != multikey:
        raise BadVerificationMethod("a did:key verification method's fragment repeats its key")
    return public_key_of_multikey(multikey)


# -- dates ----------------------------------------------------------------------------


def xml_datetime(time_ms: int) -> str:
    """UTC XML Schema dateTime of ms since epoch; whole seconds print without a fraction."""
    try:
        moment = _EPOCH + timedelta(milliseconds=time_ms)  # exact: no float seconds
    except OverflowError as exc:
        raise MalformedDocument(f"time {time_ms} ms is outside years 1 to 9999") from exc
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{time_ms % 1000:03d}Z" if time_ms % 1000 else f"{text}Z"


def parse_xml_datetime(value: object, field: str) -> int:
    """Ms since epoch of an XML Schema dateTime with a time zone; MALFORMED otherwise."""
    if not isinstance(value, str) or not _XML_DATETIME.fullmatch(value):
        raise MalformedDocument(f"{field} must be an XML Schema dateTime with a time zone")
    text = value
    fraction = re.search(r"\.([0-9]+)", text)
    if fraction:
        # fromisoformat takes at most microseconds; milliseconds are all we keep
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:3].ljust(3, "0"))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedDocument(f"{field} is not a valid date and time: {exc}") from exc
    return (moment - _EPOCH) // timedelta(milliseconds=1)


# -- the cryptosuite ------------------------------------------------------------------


def hash_data(document: Mapping[str, Any], proof_config: Mapping[str, Any]) -> bytes:
    """SHA-256(JCS(proof config)) || SHA-256(JCS(document)) (spec §3.3.4, in that order)."""
    return sha256(_canonical(proof_config, "proof")) + sha256(_canonical(document, "document"))


def proof_config(
    document: Mapping[str, Any],
    verification_method: str,
    created_ms: int | None,
    proof_purpose: str = ASSERTION_METHOD,
) -> dict[str, Any]:
    """The proof options a signer commits to (spec §3.3.1 and §3.3.5): with the
    document's `@context` copied in, when it has one."""
    config: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if created_ms is not None:
        config["created"] = xml_datetime(created_ms)
    if "@context" in document:
        config["@context"] = document["@context"]
    return config


def create_proof(
    document: Mapping[str, Any],
    key: KeyPair,
    created_ms: int | None,
    verification_method: str | None = None,
    proof_purpose: str = ASSERTION_METHOD,
) -> dict[str, Any]:
    """The document with an `eddsa-jcs-2022` proof by `key` added (spec §3.3.1).

    The verification method defaults to the key's did:key; a document that already
    carries a proof is refused (proof sets and chains are not supported here).
    """
    unsecured = _document_object(document)
    if "proof" in unsecured:
        raise MalformedDocument("the document already has a proof")
    method = verification_method or did_key_verification_method(key.public_key)
    config = proof_config(unsecured, method, created_ms, proof_purpose)
    signature = key.sign(hash_data(unsecured, config))
    return {**unsecured, "proof": {**config, "proofValue": multibase_base58btc(signature)}}


def verify_proof(
    document: Mapping[str, Any],
    now_ms: int,
    max_skew_ms: int = MAX_CLOCK_SKEW_MS,
    expected_purpose: str | None = ASSERTION_METHOD,
) -> VerifiedProof:
    """Verify a document's `eddsa-jcs-2022` proof by an Ed25519 did:key (spec §3.3.2).

    Raises a `DataIntegrityError` naming what failed: the shape, the type or cryptosuite,
    the verification method, the signature, a proof purpose other than the one expected
    (Data Integrity §4.3: a credential is asserted, `assertionMethod`), or a `created`
    time beyond `now_ms` + skew.
    """
    proof = _proof_object(document)
    _check_suite(proof)
    public_key = public_key_of_did_key(proof.get("verificationMethod"))
    verified = verify_proof_with_key(document, public_key)
    if expected_purpose is not None and verified.proof_purpose != expected_purpose:
        raise WrongProofPurpose(verified.proof_purpose, expected_purpose)
    if verified.created_ms is not None and verified.created_ms > now_ms + max_skew_ms:
        raise FutureProof(verified.created_ms, now_ms)
    return verified


def verify_proof_with_key(document: Mapping[str, Any], public_key: bytes) -> VerifiedProof:
    """Verify the proof against a key the caller already resolved (any verification
    method; the W3C test vectors use an https one). No clock check here."""
    proof = _proof_object(document)
    _check_suite(proof)
    method = proof.get("verificationMethod")
    purpose = proof.get("proofPurpose")
    if not isinstance(method, str) or not method:
        raise MalformedProof("proof.verificationMethod must be a non-empty string")
    if not isinstance(purpose, str) or not purpose:
        raise MalformedProof("proof.proofPurpose must be a non-empty string")
    created_ms = None
    if "created" in proof:  # optional (Data Integrity §2.1), but a date when present
        created_ms = parse_xml_datetime(proof["created"], "proof.created")
    signature = decode_multibase_base58btc(proof.get("proofValue"), "proof.proofValue")
    if len(signature) != ED25519_SIGNATURE_LEN:
        raise MalformedProof("proof.proofValue must hold a 64-byte Ed25519 signature")
    options = {name: value for name, value in proof.items() if name != "proofValue"}
    unsecured = {name: value for name, value in document.items() if name != "proof"}
    _check_context_prefix(unsecured, options)
    _check_signature(public_key, hash_data(unsecured, options), signature)
    return VerifiedProof(public_key, method, created_ms, purpose)


def _check_suite(proof: Mapping[str, Any]) -> None:
    if proof.get("type") != PROOF_TYPE:
        raise UnsupportedProofType(proof.get("type"))
    if proof.get("cryptosuite") != CRYPTOSUITE:
        raise UnsupportedCryptosuite(proof.get("cryptosuite"))


def _check_context_prefix(unsecured: dict[str, Any], options: Mapping[str, Any]) -> None:
    """Spec §3.3.2 step 5: the proof's `@context` must begin the document's, in order;
    the document is then hashed with the proof's `@context`."""
    if "@context" not in options:
        return
    proof_context = _as_list(options["@context"])
    document_context = _as_list(unsecured.get("@context", []))
    if document_context[: len(proof_context)] != proof_context:
        raise MalformedProof("the proof's @context does not begin the document's @context")
    unsecured["@context"] = options["@context"]


def _check_signature(public_key: bytes, message: bytes, signature: bytes) -> None:
    if len(public_key) != ED25519_PUBLIC_KEY_LEN:
        raise BadVerificationMethod("an Ed25519 public key is 32 bytes")
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError) as exc:
        raise SignatureMismatch() from exc


def _as_list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _document_object(document: object) -> dict[str, Any]:
    if not isinstance(document, Mapping):
        raise MalformedDocument("a secured document is a JSON object")
    return dict(document)


def _proof_object(document: object) -> Mapping[str, Any]:
    proof = _document_object(document).get("proof")
    if proof is None:
        raise MalformedProof("the document has no proof")
    if not isinstance(proof, Mapping):
        raise MalformedProof("the document's proof must be one JSON object (no proof sets)")
    return proof


def _canonical(value: Mapping[str, Any], what: str) -> bytes:
    try:
        return canonical_bytes(value)
    except LedgerError as exc:
        raise MalformedDocument(f"the {what} cannot be canonicalised: {exc.message}") from exc
