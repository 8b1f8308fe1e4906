"""A patient summary the patient holds: a signed, encrypted file and a short payload (QR).

`hold_summary` encrypts the summary with a fresh data key (the vault's envelope format,
crypto/envelope.py) after signing it with the patient's key, and returns the file and a
payload for a QR code: the file's name, its SHA-256 (the pointer) and the data key.
Whoever holds the payload and the file reads the summary; the file alone reveals nothing,
not even whose it is: the signature and the patient id are inside the encryption.

`open_held` is offline: it checks the pointer, decrypts, checks the Ed25519 signature over
the canonical statement (format, patient, signer key, time, SHA-256 of the exact summary
bytes), and that the Bundle's Patient is the patient signed for. Whether the signing key
is the patient's is then proven one of two ways, and `OpenedSummary.verified` says which:
offline, the patient id derives from the key (crypto/keys.derive_patient_id); online,
`confirm_patient_key` proves against the client's trust anchor that the ledger's key
directory holds the key as the patient's current one (after a key recovery the id no
longer derives from the key, and a key recovered away from is no longer current).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from dataclasses import dataclass

import orjson

from healthledger.client.sdk import Client
from healthledger.client.summary import PATIENT_URN, validate_bundle
from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.envelope import decrypt_bytes, encrypt_bytes, new_data_key
from healthledger.crypto.keys import KeyPair, derive_patient_id, verify_signature
from healthledger.domains.governance import state as gov
from healthledger.domains.records.fhir import require_depth
from healthledger.domains.records.replies import JsonObject, Reply
from healthledger.errors import (
    DecryptionFailed,
    HashMismatch,
    InvalidField,
    LedgerError,
    MalformedInput,
    TooLarge,
    Unauthorized,
)

HELD_FORMAT = "healthledger/held-summary-v1"
PAYLOAD_PREFIX = "HLIPS1"
# Domain separation: a held summary's signature can never pass for a transaction's or a
# signed request's, which sign other byte strings with the same key.
SIGNED_CONTEXT = b"healthledger/held-summary/v1\n"
MAX_HELD_BYTES = 64 * 1024 * 1024
MAX_NAME_CHARS = 200


class HeldStatement(Reply):
    """What the patient signs: who, with which key, when, and the hash of the summary."""

    format: str
    patient: str
    signer: str
    created_ms: int
    summary_sha256: str


@dataclass(frozen=True)
class HeldCopy:
    """The encrypted file to keep and the payload that opens it (for a QR code)."""

    name: str
    file: bytes
    payload: str


@dataclass(frozen=True)
class Payload:
    """A parsed QR payload: the held file's name, its SHA-256, the data key."""

    name: str
    sha256: str
    data_key: bytes

    def text(self) -> str:
        key = base64.urlsafe_b64encode(self.data_key).decode("ascii").rstrip("=")
        return f"{PAYLOAD_PREFIX}:{self.sha256}:{key}:{self.name}"

    @classmethod
    def parse(cls, text: str) -> Payload:
        parts = text.strip().split(":", 3)
        if len(parts) != 4 or parts[0] != PAYLOAD_PREFIX:
            raise MalformedInput(f"not a held-summary payload (expected {PAYLOAD_PREFIX}:...)")
        _prefix, digest, key, name = parts
        try:
            data_key = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        except (binascii.Error, ValueError) as exc:
            raise MalformedInput("the payload's key is not base64url") from exc
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise MalformedInput("the payload's pointer is not a SHA-256 in hex")
        return cls(name, digest, data_key)


class OpenedSummary(Reply):
    """A held summary opened and checked; `verified` names what each check was against."""

    patient: str
    signer: str
    created_ms: int
    name: str
    file_sha256: str
    bundle: JsonObject
    verified: list[str]


def _statement_bytes(statement: HeldStatement) -> bytes:
    return SIGNED_CONTEXT + canonical_bytes(statement.wire())


def hold_summary(
    bundle: JsonObject, patient: str, keys: KeyPair, name: str, created_ms: int | None = None
) -> HeldCopy:
    """Sign the summary with the patient's key and encrypt it with a fresh data key."""
    if derive_patient_id(keys.key_id) != patient:
        raise Unauthorized(f"only {patient} signs a held copy of their summary, with their key")
    if not 0 < len(name) <= MAX_NAME_CHARS or "/" in name or "\n" in name:
        raise InvalidField(f"a held file's name is 1 to {MAX_NAME_CHARS} characters, no '/'")
    summary = orjson.dumps(bundle)
    statement = HeldStatement(
        format=HELD_FORMAT,
        patient=patient,
        signer=keys.key_id,
        created_ms=created_ms if created_ms is not None else int(time.time() * 1000),
        summary_sha256=hashlib.sha256(summary).hexdigest(),
    )
    inner = {
        "statement": statement.wire(),
        "signature": keys.sign(_statement_bytes(statement)).hex(),
        "summary": base64.b64encode(summary).decode("ascii"),
    }
    data_key = new_data_key()
    ciphertext, _sealed = encrypt_bytes(data_key, orjson.dumps(inner))
    file = orjson.dumps(
        {"format": HELD_FORMAT, "ciphertext": base64.b64encode(ciphertext).decode("ascii")}
    )
    payload = Payload(name, hashlib.sha256(file).hexdigest(), data_key)
    return HeldCopy(name, file, payload.text())


def _ciphertext(file: bytes) -> bytes:
    try:
        outer = orjson.loads(file)
        if outer.get("format") != HELD_FORMAT:
            raise MalformedInput(f"not a held summary (format {HELD_FORMAT} expected)")
        return base64.b64decode(outer["ciphertext"], validate=True)
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, binascii.Error) as exc:
        raise MalformedInput("not a held summary file") from exc


def _inner(plaintext: bytes) -> tuple[HeldStatement, bytes, bytes]:
    try:
        inner = orjson.loads(plaintext)
        statement = HeldStatement.model_validate(inner["statement"])
        signature = bytes.fromhex(inner["signature"])
        summary = base64.b64decode(inner["summary"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedInput("the held summary's content is not in the held format") from exc
    return statement, signature, summary


def _bundle_patient(bundle: object) -> str | None:
    """The pseudonym the document's Patient carries (the identifier the SDK writes)."""
    if not isinstance(bundle, dict):
        return None
    for entry in bundle.get("entry") or ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
            continue
        for identifier in resource.get("identifier") or ():
            if isinstance(identifier, dict) and identifier.get("system") == PATIENT_URN:
                return str(identifier.get("value"))
    return None


def open_held(file: bytes, payload_text: str) -> OpenedSummary:
    """Check the pointer, decrypt, check the signature and whose summary it is; offline.

    The signing key must derive the patient id; a summary signed by a recovered key
    passes only `confirm_patient_key` (see `open_held_with`)."""
    opened = open_held_unchecked_key(file, payload_text)
    if derive_patient_id(opened.signer) != opened.patient:
        raise Unauthorized(
            f"the summary is signed by key {opened.signer[:16]}…, which is not the key"
            f" {opened.patient} derives from (check it against the ledger with a node)"
        )
    derived = f"the signing key derives the patient id {opened.patient} (offline)"
    return opened.model_copy(update={"verified": [*opened.verified, derived]})


def open_held_unchecked_key(file: bytes, payload_text: str) -> OpenedSummary:
    """Every check of `open_held` but whose key signed: for a caller about to prove it."""
    payload = Payload.parse(payload_text)
    if len(file) > MAX_HELD_BYTES:
        raise TooLarge(f"a held summary is at most {MAX_HELD_BYTES} bytes")
    digest = hashlib.sha256(file).hexdigest()
    if digest != payload.sha256:
        raise HashMismatch("this file is not the one the payload points to, or it was altered")
    ciphertext = _ciphertext(file)
    try:
        plaintext, _opened = decrypt_bytes(payload.data_key, ciphertext)
    except LedgerError as exc:  # a key of the wrong size is malformed, not just wrong
        raise DecryptionFailed("the payload's key does not open this summary") from exc
    statement, signature, summary = _inner(plaintext)
    if statement.format != HELD_FORMAT:
        raise MalformedInput(f"unknown held-summary format {statement.format!r}")
    verify_signature(statement.signer, _statement_bytes(statement), signature)
    if hashlib.sha256(summary).hexdigest() != statement.summary_sha256:
        raise HashMismatch("the summary inside differs from the one signed")
    try:
        bundle = orjson.loads(summary)
    except orjson.JSONDecodeError as exc:
        raise MalformedInput("the signed summary is not JSON") from exc
    require_depth(bundle)  # before the R4B models recurse into it
    if _bundle_patient(bundle) != statement.patient:
        raise Unauthorized("the summary inside is not about the patient who signed it")
    validate_bundle(bundle)
    return OpenedSummary(
        patient=statement.patient,
        signer=statement.signer,
        created_ms=statement.created_ms,
        name=payload.name,
        file_sha256=digest,
        bundle=bundle,
        verified=[
            f"the file's SHA-256 is the payload's pointer ({digest[:16]}…)",
            "the payload's key decrypts it (authenticated encryption)",
            f"an Ed25519 signature by key {statement.signer[:16]}… over the summary",
            f"a FHIR R4 document Bundle (R4B models) about {statement.patient}",
        ],
    )


def confirm_patient_key(client: Client, opened: OpenedSummary, keys: KeyPair) -> str:
    """Prove, against `client`'s trust anchor, that the ledger holds the signing key as the
    patient's current key; the answer names the anchor. `keys` sign the read (a member's:
    the key directory is read by those the ledger knows)."""
    key = gov.signing_key_key(opened.signer)
    view = client.state(gov.NAMESPACE, key, proof=True, keys=keys)
    anchor = client.prove_state(view, gov.NAMESPACE, key)
    record = None if view.value is None else gov.KeyRecord.model_validate(view.value)
    if record is None or (record.kind, record.id) != ("patient", opened.patient):
        raise Unauthorized(f"the ledger does not hold the signing key as {opened.patient}'s")
    if not record.active:
        raise Unauthorized(f"the signing key is no longer {opened.patient}'s current key")
    return anchor


def open_held_with(file: bytes, payload_text: str, client: Client, keys: KeyPair) -> OpenedSummary:
    """`open_held`, with the signing key proven on the ledger (and needed to derive nothing)."""
    opened = open_held_unchecked_key(file, payload_text)
    anchor = confirm_patient_key(client, opened, keys)
    proven = (
        f"the ledger holds the signing key as {opened.patient}'s current key,"
        f" proven against {anchor}"
    )
    checks = [*opened.verified, proven]
    if derive_patient_id(opened.signer) == opened.patient:
        checks.append(f"the signing key derives the patient id {opened.patient}")
    return opened.model_copy(update={"verified": checks})


__all__ = [
    "HeldCopy",
    "OpenedSummary",
    "Payload",
    "confirm_patient_key",
    "hold_summary",
    "open_held",
    "open_held_with",
]
