"""What the node's credential routes answer: verdicts on presented credentials and
published status lists, each with the state proofs a client checks against its own
trust anchor (the REST edge in api/credentials.py fills them; the SDK parses them).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, JsonValue

from healthledger.domains.credentials.documents import VC_CONTEXT, status_list_credential
from healthledger.domains.credentials.verify import CredentialCheck
from healthledger.domains.kit import ProvenValue


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


class CheckedCredential(_Answer):
    """One presented credential's verdict; its anchor with its proof when the presented
    document's hash is the anchor's (the caller holds the credential), else none."""

    id: str | None
    valid: bool
    checks: list[dict[str, JsonValue]]
    anchor: ProvenValue | None = None


class VerifyReport(_Answer):
    """Every presented credential's verdict at `at`, all read at one height; valid only
    if every one is."""

    at: str
    height: int
    valid: bool
    holder: JsonValue = None
    credentials: list[CheckedCredential]


class StatusListAnswer(_Answer):
    """A BitstringStatusListCredential (unsigned: the node holds no issuer's key) and the
    list's record on chain (raw bits and their SHA-256) with its state proof."""

    credential: dict[str, JsonValue]
    bits_hash: str
    record: ProvenValue


CHECK_NAMES = ("proof", "issuer_key", "anchored", "status", "validity", "status_list")


def checks_of(verdict: CredentialCheck) -> list[dict[str, JsonValue]]:
    """A verdict's checks as a list, in the order they are made (one line each for a
    person): `{"check", "ok", "reason", "message"}`."""
    checks: list[dict[str, JsonValue]] = []
    for name in CHECK_NAMES:
        outcome = getattr(verdict, name)
        if outcome is not None:
            checks.append({"check": name, **outcome.model_dump(mode="json")})
    return checks


def status_list_document(
    issuer: str, purpose: str, number: int, encoded: str, issuer_id: str | None = None
) -> dict[str, JsonValue]:
    """The spec's BitstringStatusListCredential (VC 2.0 shape) of one issuer's list.

    As the node publishes it, unsigned: its issuer is named by the organisation's id
    (`issuer_id` absent); the issuer's own client may sign one with its did:key as
    `issuer_id` (the CLI's `status-list --sign`)."""
    list_id = status_list_credential(issuer, purpose, number)
    return {
        "@context": [VC_CONTEXT],
        "id": list_id,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": {"id": issuer_id or f"urn:healthledger:org:{issuer}", "healthledgerOrg": issuer},
        "credentialSubject": {
            "id": f"{list_id}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encoded,
        },
    }
