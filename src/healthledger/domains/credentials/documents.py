"""Credential documents: W3C VC 2.0 JSON signed with `eddsa-jcs-2022`, and their anchors.

The holder keeps the document; the ledger keeps its anchor (`CredentialIssue` in, a
`CredentialAnchor` out). `anchor_of` derives every field of the anchor from the document,
so the issuer's client, the handler's checks and a verifier agree on every field by
construction. Pure: no state, no clock; times are ms since epoch on chain and UTC XML
dateTimes in documents.

Shape (common to every type; `T` is Licence, Degree, Certification, ContinuingEducation
or Privilege)::

    {"@context": [VC 2.0, HealthLedger credentials v1],
     "id": "urn:healthledger:credential:{issuer}:{local_id}",
     "type": ["VerifiableCredential", "<T>Credential"],
     "issuer": {"id": did:key, "name": ..., "healthledgerOrg": issuer},
     "validFrom": ..., "validUntil": ... (absent if none),
     "credentialSubject": {"id": "urn:healthledger:member:{org}/{member}",
         "credentialType", "scope", "jurisdiction", "name"?, "ceMinutes"?, "ceCategory"?,
         "dependsOn"?},
     "credentialStatus": [revocation entry, suspension entry] (absent without a list),
     "proof": {eddsa-jcs-2022 DataIntegrityProof}}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from healthledger.crypto import data_integrity as di
from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.hashing import sha256_hex
from healthledger.crypto.keys import KeyPair
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.errors import MalformedCredential, WrongSigningKey
from healthledger.domains.credentials.messages import CredentialIssue
from healthledger.domains.kit import validation_problem
from healthledger.errors import LedgerError

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
HEALTHLEDGER_CONTEXT = "https://w3id.org/healthledger/credentials/v1"
CONTEXT: tuple[str, ...] = (VC_CONTEXT, HEALTHLEDGER_CONTEXT)
VERIFIABLE_CREDENTIAL = "VerifiableCredential"
TYPE_NAMES: dict[str, str] = {
    "licence": "LicenceCredential",
    "degree": "DegreeCredential",
    "certification": "CertificationCredential",
    "ce": "ContinuingEducationCredential",
    "privilege": "PrivilegeCredential",
}
STATUS_ENTRY_TYPE = "BitstringStatusListEntry"
STATUS_LIST_PREFIX = "urn:healthledger:status-list:"
MAX_NAME_LEN = 200
# A holder's document never needs more; refusing larger ones bounds every walk below.
MAX_DOCUMENT_BYTES = 64 * 1024

# Where each payload field comes from in the document: errors name the document's field.
_DOCUMENT_FIELD = {
    "local_id": "id",
    "subject": "credentialSubject.id",
    "type": "credentialSubject.credentialType",
    "scope": "credentialSubject.scope",
    "jurisdiction": "credentialSubject.jurisdiction",
    "valid_from_ms": "validFrom",
    "valid_until_ms": "validUntil",
    "ce_minutes": "credentialSubject.ceMinutes",
    "ce_category": "credentialSubject.ceCategory",
    "depends_on": "credentialSubject.dependsOn",
    "hash": "proof",
    "status_list": "credentialStatus",
    "status_index": "credentialStatus",
}
_ORG_ID = re.compile(r"[a-z0-9][a-z0-9_-]{1,62}")
_STATUS_LIST_ID = re.compile(
    r"urn:healthledger:status-list:([a-z0-9][a-z0-9_-]{1,62}):([a-z]+):([0-9]{1,7})"
)
_LOCAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # messages.LocalId
_INDEX = re.compile(r"[0-9]{1,7}")
_PLACEHOLDER_HASH = "0" * 64


# -- ids ------------------------------------------------------------------------------


def document_id(credential_id: str) -> str:
    """The document `id` of a ledger credential id `{issuer}:{local}`."""
    return st.ID_PREFIX + credential_id


def subject_id(member: str) -> str:
    """The `credentialSubject.id` of a member `org/member`."""
    return st.SUBJECT_PREFIX + member


def status_list_credential(issuer: str, purpose: str, list_number: int) -> str:
    """The `statusListCredential` id of one of an issuer's lists."""
    return f"{STATUS_LIST_PREFIX}{issuer}:{purpose}:{list_number}"


def credential_id_of(document: Mapping[str, Any]) -> str:
    """The ledger id `{issuer}:{local}` of a document (its `id` without the URN prefix)."""
    value = _object(document, "document").get("id")
    if not isinstance(value, str) or not value.startswith(st.ID_PREFIX):
        raise MalformedCredential("id", f"must be a string starting with {st.ID_PREFIX}")
    credential_id = value[len(st.ID_PREFIX) :]
    issuer, sep, local = credential_id.partition(":")
    if not sep or not _ORG_ID.fullmatch(issuer) or not _LOCAL_ID.fullmatch(local):
        raise MalformedCredential("id", "must name the issuer and its own id: {issuer}:{local}")
    return credential_id


# -- building and signing -------------------------------------------------------------


def ce_minutes_of_hours(hours: str | int | Decimal) -> int:
    """CE hours (e.g. "1.5") as whole minutes (90): documents and the chain hold no floats."""
    try:
        minutes = Decimal(str(hours)) * 60
    except InvalidOperation as exc:
        raise MalformedCredential("ceMinutes", "hours must be a decimal number") from exc
    if not minutes.is_finite() or minutes != minutes.to_integral_value() or minutes <= 0:
        raise MalformedCredential("ceMinutes", "hours must come to a positive whole minute")
    return int(minutes)


def build_credential(
    *,
    issuer: str,
    issuer_name: str,
    issuer_key: str,
    local_id: str,
    subject: str,
    type: st.CredentialType,
    scope: str,
    jurisdiction: str,
    valid_from_ms: int,
    valid_until_ms: int | None = None,
    name: str | None = None,
    ce_minutes: int | None = None,
    ce_category: str | None = None,
    depends_on: Sequence[str] = (),
    status_list: int | None = None,
    status_index: int | None = None,
) -> dict[str, Any]:
    """The unsigned VC 2.0 document of a credential (sign it with `sign_credential`).

    `issuer_key` is the issuing organisation's current Ed25519 key (hex); `name` is
    holder-only data (the anchor never holds it); a status slot is a list and an index
    together, or neither (credentials without status lists).
    """
    if not isinstance(issuer_name, str) or not 0 < len(issuer_name) <= MAX_NAME_LEN:
        raise MalformedCredential("issuer.name", f"must be 1 to {MAX_NAME_LEN} characters")
    subject_fields: dict[str, Any] = {
        "id": subject_id(subject),
        "credentialType": type,
        "scope": scope,
        "jurisdiction": jurisdiction,
    }
    if name is not None:
        subject_fields["name"] = name
    if ce_minutes is not None:
        subject_fields["ceMinutes"] = ce_minutes
    if ce_category is not None:
        subject_fields["ceCategory"] = ce_category
    if depends_on:
        subject_fields["dependsOn"] = [document_id(dependency) for dependency in depends_on]
    document: dict[str, Any] = {
        "@context": list(CONTEXT),
        "id": document_id(f"{issuer}:{local_id}"),
        "type": [VERIFIABLE_CREDENTIAL, TYPE_NAMES.get(type, "")],
        "issuer": {
            "id": _did_key_of_hex(issuer_key),
            "name": issuer_name,
            "healthledgerOrg": issuer,
        },
        "validFrom": _xml_datetime(valid_from_ms, "validFrom"),
        "credentialSubject": subject_fields,
    }
    if valid_until_ms is not None:
        document["validUntil"] = _xml_datetime(valid_until_ms, "validUntil")
    if status_list is not None or status_index is not None:
        document["credentialStatus"] = _status_entries(issuer, status_list, status_index)
    _issue_fields(document, _PLACEHOLDER_HASH)  # the same rules a verifier applies
    return document


def sign_credential(document: Mapping[str, Any], key: KeyPair, created_ms: int) -> dict[str, Any]:
    """The document with the issuer's `eddsa-jcs-2022` proof (its did:key) added.

    The document must be one `anchor_of` will accept: nothing malformed gets signed.
    """
    if "proof" in _object(document, "document"):
        raise MalformedCredential("proof", "is already there: sign an unsigned document")
    _issue_fields(document, _PLACEHOLDER_HASH)
    named = _issuer(document).get("id")
    offered = di.did_key(key.public_key)
    if named != offered:
        raise WrongSigningKey(str(named), offered)
    try:
        return di.create_proof(document, key, created_ms)
    except di.DataIntegrityError as exc:
        raise MalformedCredential("document", exc.message) from exc


def document_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 hex of the document's JCS bytes, proof included: the anchor's `hash`."""
    return sha256_hex(_canonical(_object(document, "document")))


# -- reading --------------------------------------------------------------------------


def anchor_of(document: Mapping[str, Any]) -> CredentialIssue:
    """The `credential.issue` payload of a signed document, every field derived from it.

    Refuses (MalformedCredential, naming the field) a document that is not of the
    shape above, or whose proof is missing; the proof's signature is checked by
    `verify.check_credential`, not here.
    """
    if "proof" not in _object(document, "document"):
        raise MalformedCredential("proof", "is required: anchor a signed document")
    return _issue_fields(document, document_hash(document))


def issuer_org_of(document: Mapping[str, Any]) -> str:
    """The issuing organisation the document names (`issuer.healthledgerOrg`)."""
    org = _issuer(document).get("healthledgerOrg")
    if not isinstance(org, str) or not _ORG_ID.fullmatch(org):
        raise MalformedCredential("issuer.healthledgerOrg", "must be an organisation id")
    return org


def issuer_key_of(document: Mapping[str, Any]) -> str:
    """The hex Ed25519 key the document names as its issuer (`issuer.id`, a did:key)."""
    try:
        return di.public_key_of_did_key(_issuer(document).get("id")).hex()
    except di.DataIntegrityError as exc:
        raise MalformedCredential("issuer.id", "must be an Ed25519 did:key") from exc


def _issue_fields(document: Mapping[str, Any], hash_hex: str) -> CredentialIssue:
    if len(_canonical(document)) > MAX_DOCUMENT_BYTES:
        raise MalformedCredential("document", f"is larger than {MAX_DOCUMENT_BYTES} bytes")
    credential_id = credential_id_of(document)
    issuer, _, local_id = credential_id.partition(":")
    if issuer_org_of(document) != issuer:
        raise MalformedCredential("issuer.healthledgerOrg", "must be the issuer named in id")
    issuer_key_of(document)
    _check_context(document)
    subject = _object(document.get("credentialSubject"), "credentialSubject")
    credential_type = _check_types(document, subject.get("credentialType"))
    _check_subject_extras(subject, credential_type)
    status_list, status_index = status_slot_of(document, issuer) or (None, None)
    fields: dict[str, Any] = {
        "local_id": local_id,
        "subject": _strip(subject.get("id"), st.SUBJECT_PREFIX, "credentialSubject.id"),
        "type": credential_type,
        "scope": subject.get("scope"),
        "jurisdiction": subject.get("jurisdiction"),
        "valid_from_ms": _date(document, "validFrom", required=True),
        "valid_until_ms": _date(document, "validUntil", required=False),
        "ce_minutes": subject.get("ceMinutes"),
        "ce_category": subject.get("ceCategory"),
        "depends_on": _depends_on(subject),
        "hash": hash_hex,
        "status_list": status_list,
        "status_index": status_index,
    }
    try:
        payload = CredentialIssue.model_validate(fields)
    except ValidationError as exc:
        where, problem = validation_problem(exc)
        field = where.split(".")[0]
        raise MalformedCredential(_DOCUMENT_FIELD.get(field, where), problem) from exc
    _check_validity_order(payload)
    return payload


def _canonical(document: Mapping[str, Any]) -> bytes:
    try:
        return canonical_bytes(document)
    except LedgerError as exc:
        raise MalformedCredential("document", exc.message) from exc


def _check_context(document: Mapping[str, Any]) -> None:
    if document.get("@context") != list(CONTEXT):
        raise MalformedCredential("@context", f"must be {list(CONTEXT)}")


def _check_types(document: Mapping[str, Any], credential_type: object) -> str:
    if not isinstance(credential_type, str) or credential_type not in TYPE_NAMES:
        raise MalformedCredential(
            "credentialSubject.credentialType", f"must be one of {', '.join(TYPE_NAMES)}"
        )
    expected = [VERIFIABLE_CREDENTIAL, TYPE_NAMES[credential_type]]
    if document.get("type") != expected:
        raise MalformedCredential("type", f"must be {expected}")
    return credential_type


def _check_subject_extras(subject: Mapping[str, Any], credential_type: str) -> None:
    """CE certificates carry minutes and a category, and only they do; only privileges
    name the credentials they depend on; `name` is a short string when present."""
    is_ce = credential_type == "ce"
    for field in ("ceMinutes", "ceCategory"):
        if (field in subject) != is_ce:
            problem = "is required for a CE certificate" if is_ce else "is only for CE"
            raise MalformedCredential(f"credentialSubject.{field}", problem)
    if "dependsOn" in subject and credential_type != "privilege":
        raise MalformedCredential("credentialSubject.dependsOn", "is only for privileges")
    name = subject.get("name")
    if "name" in subject and (not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LEN):
        raise MalformedCredential(
            "credentialSubject.name", f"must be 1 to {MAX_NAME_LEN} characters"
        )


def _depends_on(subject: Mapping[str, Any]) -> list[Any]:
    value = subject.get("dependsOn", [])
    if not isinstance(value, list) or len(value) > st.MAX_DEPENDS_ON:
        raise MalformedCredential(
            "credentialSubject.dependsOn", f"must be a list of at most {st.MAX_DEPENDS_ON} ids"
        )
    ids = [_strip(item, st.ID_PREFIX, "credentialSubject.dependsOn") for item in value]
    if len(set(ids)) != len(ids):
        raise MalformedCredential("credentialSubject.dependsOn", "names a credential twice")
    return ids


def _status_entries(
    issuer: str, status_list: int | None, status_index: int | None
) -> list[dict[str, str]]:
    if status_list is None or status_index is None:
        raise MalformedCredential("credentialStatus", "needs both a list and an index, or neither")
    return [
        {
            "id": f"{status_list_credential(issuer, purpose, status_list)}#{status_index}",
            "type": STATUS_ENTRY_TYPE,
            "statusPurpose": purpose,
            "statusListIndex": str(status_index),
            "statusListCredential": status_list_credential(issuer, purpose, status_list),
        }
        for purpose in st.STATUS_PURPOSES
    ]


def status_slot_of(document: Mapping[str, Any], issuer: str) -> tuple[int, int] | None:
    """(list, index) of the two status entries, which must be exactly the ones
    `build_credential` writes: revocation then suspension, one slot in both; None when
    the document has no `credentialStatus`."""
    if "credentialStatus" not in document:
        return None
    entries = document["credentialStatus"]
    if not isinstance(entries, list) or len(entries) != len(st.STATUS_PURPOSES):
        raise MalformedCredential("credentialStatus", "must be the two status list entries")
    first = _object(entries[0], "credentialStatus[0]")
    match = _STATUS_LIST_ID.fullmatch(str(first.get("statusListCredential", "")))
    index_text = first.get("statusListIndex")
    if not match or not isinstance(index_text, str) or not _INDEX.fullmatch(index_text):
        raise MalformedCredential("credentialStatus", "does not name a list and an index")
    list_number, index = int(match.group(3)), int(index_text)
    if entries != _status_entries(issuer, list_number, index):
        raise MalformedCredential(
            "credentialStatus",
            "must be a revocation and a suspension entry of one slot in the issuer's lists",
        )
    return list_number, index


def _check_validity_order(payload: CredentialIssue) -> None:
    if payload.valid_until_ms is not None and payload.valid_until_ms <= payload.valid_from_ms:
        raise MalformedCredential("validUntil", "must be after validFrom")


def _date(document: Mapping[str, Any], field: str, *, required: bool) -> int | None:
    if field not in document:
        if required:
            raise MalformedCredential(field, "is required")
        return None
    try:
        return di.parse_xml_datetime(document[field], field)
    except di.DataIntegrityError as exc:
        raise MalformedCredential(field, "must be an XML Schema dateTime with a zone") from exc


def _xml_datetime(time_ms: int, field: str) -> str:
    if not isinstance(time_ms, int) or isinstance(time_ms, bool) or time_ms < 0:
        raise MalformedCredential(field, "must be a time in ms since the epoch")
    try:
        return di.xml_datetime(time_ms)
    except di.DataIntegrityError as exc:
        raise MalformedCredential(field, "is past the year 9999") from exc


def _did_key_of_hex(key_hex: str) -> str:
    try:
        return di.did_key(bytes.fromhex(key_hex))
    except (ValueError, TypeError, di.DataIntegrityError) as exc:
        raise MalformedCredential("issuer.id", "the issuer key must be 64 hex characters") from exc


def _issuer(document: Mapping[str, Any]) -> Mapping[str, Any]:
    return _object(_object(document, "document").get("issuer"), "issuer")


def _strip(value: object, prefix: str, field: str) -> str:
    if not isinstance(value, str) or not value.startswith(prefix):
        raise MalformedCredential(field, f"must start with {prefix}")
    return value[len(prefix) :]


def _object(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedCredential(field, "must be a JSON object")
    return value
