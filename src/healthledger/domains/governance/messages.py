"""Payloads of the governance transactions: organisations, members, keys, patients."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, StringConstraints

from healthledger.ledger.context import Payload

OrgRole = Literal[
    "hospital",
    "clinic",
    "laboratory",
    "insurer",
    "manufacturer",
    "distributor",
    "pharmacy",
    "regulator",
    "board",
    "university",
    "sponsor",
    "charity",
]
MemberRole = Literal[
    "practitioner",
    "nurse",
    "pharmacist",
    "researcher",
    "auditor",
    "admin",
    "courier",
    "technician",
    "staff",
]
ORG_ROLES: tuple[str, ...] = get_args(OrgRole)
MEMBER_ROLES: tuple[str, ...] = get_args(MemberRole)
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$")]
PublicKeyHex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ProposalId = Annotated[str, StringConstraints(pattern=r"^prop-[0-9a-f]{16}$")]


class ValidatorSpec(Payload):
    """The consensus key an organisation validates with (a CometBFT Ed25519 key) and its power."""

    pub_key: PublicKeyHex
    power: Annotated[int, Field(ge=1, le=1_000_000)] = 10


class OrgSpec(Payload):
    """An organisation as named in genesis or in an admission proposal.

    `validator`, when given, makes the organisation a consensus validator once
    admitted (and removes that validator with the organisation), so the validator
    set changes only by the same quorum that admits members.
    """

    id: Identifier
    name: Name
    role: OrgRole
    signing_key: PublicKeyHex
    encryption_key: PublicKeyHex
    validator: ValidatorSpec | None = None


class OrgPropose(Payload):
    """Propose admitting (`add`) or removing (`remove`) an organisation."""

    action: Literal["add", "remove"]
    org: OrgSpec | None = None
    org_id: Identifier | None = None


class OrgApprove(Payload):
    proposal_id: ProposalId


class MemberEnroll(Payload):
    """An organisation enrols one of its people with their own keys."""

    member_id: Identifier
    name: Name
    role: MemberRole
    signing_key: PublicKeyHex
    encryption_key: PublicKeyHex


class MemberRevoke(Payload):
    member_id: Identifier
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class KeyRotate(Payload):
    """The sender replaces its own keys; the old signing key is revoked."""

    signing_key: PublicKeyHex
    encryption_key: PublicKeyHex


class PatientRegister(Payload):
    """A patient registers their own key; the patient id is derived from it."""

    encryption_key: PublicKeyHex


PersonRef = Annotated[
    str,
    StringConstraints(
        pattern=r"^(pat_[0-9a-f]{32}|[a-z0-9][a-z0-9_-]{1,62}/[a-z0-9][a-z0-9_-]{1,62})$"
    ),
]
MAX_GUARDIANS = 7


class PatientGuardians(Payload):
    """A patient names the people who, together, can restore their control if a key is lost."""

    guardians: Annotated[list[PersonRef], Field(min_length=1, max_length=MAX_GUARDIANS)]
    threshold: Annotated[int, Field(ge=1, le=MAX_GUARDIANS)]


class PatientRecover(Payload):
    """A guardian vouches for a patient's new keys; enough guardians make them current."""

    patient: Annotated[str, StringConstraints(pattern=r"^pat_[0-9a-f]{32}$")]
    signing_key: PublicKeyHex
    encryption_key: PublicKeyHex
