"""The verdict on a presented credential document, against its anchor, at a date.

Pure: the caller supplies the anchor (read from state, or proven against a trust anchor
by the SDK), the date asked about (`at_ms`) and its own clock (`now_ms`, for the
future-dated-proof check). The API, the SDK's offline verify and the portal call this
one function, so they agree. Each check says what it was checked against (principle 8):

- `proof`: the `eddsa-jcs-2022` signature holds for the proof's did:key;
- `issuer_key`: that key is the anchor's `issuer_key` (the key the organisation held
  when it issued, so credentials issued before a key rotation still verify), and the
  document's `issuer.id` names it;
- `anchored`: the document's hash is the anchor's, and `anchor_of(document)` has the
  anchor's fields;
- `status`: the anchor's status history at `at_ms` (`queries.status_at`) is active;
- `validity`: `at_ms` lies within the document's validFrom / validUntil;
- `status_list` (only when decoded lists are given): the credential's bits are clear.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from healthledger.crypto import data_integrity as di
from healthledger.crypto import status_list as sl
from healthledger.domains.credentials import documents as docs
from healthledger.domains.credentials import queries
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.errors import MalformedCredential
from healthledger.domains.credentials.messages import CredentialIssue

# The anchor fields `anchored` compares with what `anchor_of` derives from the document.
_COMPARED_FIELDS = (
    "subject",
    "type",
    "scope",
    "jurisdiction",
    "valid_from_ms",
    "valid_until_ms",
    "ce_minutes",
    "ce_category",
    "depends_on",
    "status_list",
    "status_index",
)
# A status list bit set means this status (spec §2.1: the bit is 1 when it holds).
_BIT_STATUS: dict[str, str] = {"revocation": "revoked", "suspension": "suspended"}


class Outcome(BaseModel):
    """One check: whether it passed, a stable reason code, and a sentence for people."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    reason: str
    message: str


class CredentialCheck(BaseModel):
    """Every check of one presented credential; `ok` only if all of them passed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    credential_id: str | None
    at_ms: int
    ok: bool
    proof: Outcome
    issuer_key: Outcome
    anchored: Outcome
    status: Outcome
    validity: Outcome
    status_list: Outcome | None = None


def check_credential(
    document: Mapping[str, Any],
    anchor: st.CredentialAnchor | None,
    at_ms: int,
    now_ms: int,
    status_lists: Mapping[st.StatusPurpose, bytes] | None = None,
) -> CredentialCheck:
    """Check a presented document against its anchor (None: not on the ledger) at `at_ms`.

    A document that is not a JSON object raises MalformedCredential; anything else
    wrong with it (malformed fields, an unsupported cryptosuite, a future-dated proof)
    is a failed check with a stable reason. `status_lists` maps a purpose to that
    list's decoded bits as published now (not at `at_ms`).
    """
    if not isinstance(document, Mapping):
        raise MalformedCredential("document", "must be a JSON object")
    proof, signer = _check_proof(document, now_ms)
    outcomes = {
        "proof": proof,
        "issuer_key": _check_issuer_key(document, anchor, signer),
        "anchored": _check_anchored(document, anchor),
        "status": _check_status(anchor, at_ms),
        "validity": _check_validity(document, at_ms),
    }
    listed = None if status_lists is None else _check_status_lists(document, status_lists)
    return CredentialCheck(
        credential_id=_credential_id(document),
        at_ms=at_ms,
        ok=all(outcome.ok for outcome in outcomes.values()) and (listed is None or listed.ok),
        status_list=listed,
        **outcomes,
    )


def _check_proof(document: Mapping[str, Any], now_ms: int) -> tuple[Outcome, str | None]:
    try:
        verified = di.verify_proof(document, now_ms)
    except di.DataIntegrityError as exc:
        return _fail(exc.reason, exc.message), None
    return _pass("valid", f"signed by {verified.verification_method[:120]}"), verified.key_id


def _check_issuer_key(
    document: Mapping[str, Any], anchor: st.CredentialAnchor | None, signer: str | None
) -> Outcome:
    if signer is None:
        return _fail("proof_invalid", "no verified signer to compare with the issuer's key")
    if anchor is None:
        return _fail("not_anchored", "no anchor on the ledger to name the issuer's key")
    if signer != anchor.issuer_key:
        return _fail("key_mismatch", "the proof's key is not the key the issuer anchored with")
    try:
        named = docs.issuer_key_of(document)
    except MalformedCredential as exc:
        return _fail("malformed", exc.message)
    if named != anchor.issuer_key:
        return _fail("issuer_mismatch", "the document's issuer.id is not the signing key")
    return _pass("anchored_key", "signed by the key the issuer held when it anchored this")


def _check_anchored(document: Mapping[str, Any], anchor: st.CredentialAnchor | None) -> Outcome:
    if anchor is None:
        return _fail("not_anchored", "this credential is not on the ledger")
    try:
        derived = docs.anchor_of(document)
        credential_id = docs.credential_id_of(document)
        issuer = docs.issuer_org_of(document)
    except MalformedCredential as exc:
        return _fail("malformed", exc.message)
    if derived.hash != anchor.hash:
        return _fail("hash_mismatch", "the document's hash is not the anchored hash")
    differing = _differing_fields(derived, credential_id, issuer, anchor)
    if differing:
        return _fail("field_mismatch", f"the anchor differs in {', '.join(differing)}")
    return _pass("anchored", f"hash and fields match the anchor of {anchor.id}")


def _differing_fields(
    derived: CredentialIssue, credential_id: str, issuer: str, anchor: st.CredentialAnchor
) -> list[str]:
    differing = [] if credential_id == anchor.id else ["id"]
    if issuer != anchor.issuer:
        differing.append("issuer")
    for field in _COMPARED_FIELDS:
        mine, theirs = getattr(derived, field), getattr(anchor, field)
        if field == "depends_on":
            mine, theirs = tuple(mine), tuple(theirs)
        if mine != theirs:
            differing.append(field)
    return differing


def _check_status(anchor: st.CredentialAnchor | None, at_ms: int) -> Outcome:
    if anchor is None:
        return _fail("not_anchored", "no status: this credential is not on the ledger")
    status = queries.status_at(anchor, at_ms)
    if status is None:
        return _fail("not_yet_anchored", "the credential was anchored after that time")
    if status != st.ACTIVE:
        return _fail(status, f"the credential was {status} at that time")
    return _pass(status, "active at that time, by the anchor's status history")


def _check_validity(document: Mapping[str, Any], at_ms: int) -> Outcome:
    try:
        valid_from = di.parse_xml_datetime(document.get("validFrom"), "validFrom")
        until = document.get("validUntil")
        valid_until = None if until is None else di.parse_xml_datetime(until, "validUntil")
    except di.DataIntegrityError as exc:
        return _fail("malformed", exc.message)
    if at_ms < valid_from:
        return _fail("not_yet_valid", "the time is before the credential's validFrom")
    if valid_until is not None and at_ms >= valid_until:
        return _fail("expired", "the time is at or after the credential's validUntil")
    return _pass("valid", "within the credential's validity period")


def _check_status_lists(
    document: Mapping[str, Any], status_lists: Mapping[st.StatusPurpose, bytes]
) -> Outcome:
    try:
        issuer = docs.issuer_org_of(document)
        slot = docs.status_slot_of(document, issuer)
    except MalformedCredential as exc:
        return _fail("malformed", exc.message)
    if slot is None:
        return _fail("no_status_entry", "the credential names no status list")
    _, index = slot
    for purpose, bits in status_lists.items():
        try:
            if sl.bit_at(bits, index):
                reason = _BIT_STATUS.get(purpose, "listed")
                return _fail(reason, f"the {purpose} list has this credential's bit set")
        except sl.StatusListError as exc:
            return _fail(exc.reason, exc.message)
    return _pass("clear", f"clear in the {' and '.join(status_lists)} list(s) given")


def _credential_id(document: Mapping[str, Any]) -> str | None:
    try:
        return docs.credential_id_of(document)
    except MalformedCredential:
        return None


def _pass(reason: str, message: str) -> Outcome:
    return Outcome(ok=True, reason=reason, message=message)


def _fail(reason: str, message: str) -> Outcome:
    return Outcome(ok=False, reason=reason, message=message)
