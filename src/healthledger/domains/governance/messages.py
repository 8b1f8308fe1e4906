"""Payloads of the governance transactions: organisations, members, keys, patients."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
    model_validator,
)

from healthledger.crypto.canonical import canonical_bytes
from healthledger.domains.governance.countries import CountryCode
from healthledger.domains.shared.gln import check_gln
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
# Organisations that give care: they vouch for new patients, their clinicians may break glass.
CARE_GIVING_ROLES = frozenset({"hospital", "clinic"})
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
    "coordinator",  # a transplant coordinator: asks for organ-donation decisions
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


# --- GS1 identifiers: the GLNs an organisation holds --------------------------------

# Location GLNs one organisation may hold: every walk over them (release, removal) stays small.
MAX_LOCATION_GLNS = 64
Gln = Annotated[str, StringConstraints(min_length=1, max_length=40), AfterValidator(check_gln)]


def first_repeat(values: list[str]) -> str | None:
    """The first value named twice, if any."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


class GlnSet(Payload):
    """An organisation's GS1 Global Location Numbers: its party GLN (who it is, EPCIS
    `pgln` / Digital Link AI 417) and the GLNs of its sites (`sgln` / AI 414)."""

    party: Gln | None = None
    locations: Annotated[list[Gln], Field(max_length=MAX_LOCATION_GLNS)] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _each_once(self) -> GlnSet:
        named = [*([] if self.party is None else [self.party]), *self.locations]
        if not named:
            raise ValueError("name a party GLN or at least one location GLN")
        repeat = first_repeat(named)
        if repeat is not None:
            raise ValueError(f"GLN {repeat} is named twice")
        return self

    def all(self) -> list[str]:
        """Every GLN named, the party GLN first."""
        return [*([] if self.party is None else [self.party]), *self.locations]


class GlnClaim(GlnSet):
    """The sender organisation claims GLNs as its own; they become its when a quorum of
    the other organisations approves (`org.approve`), no one else holding them then."""


class GlnRelease(Payload):
    """Free GLNs. The holder releases its own at once (`org_id` absent or its own); any
    organisation may propose releasing one GLN of another (`org_id`), done at quorum."""

    glns: Annotated[list[Gln], Field(min_length=1, max_length=MAX_LOCATION_GLNS + 1)]
    org_id: Identifier | None = None

    @model_validator(mode="after")
    def _each_once(self) -> GlnRelease:
        repeat = first_repeat(self.glns)
        if repeat is not None:
            raise ValueError(f"GLN {repeat} is named twice")
        return self


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
    # ISO 3166-1 alpha-2; optional so that genesis files and proposals written before
    # organisations had countries read as they did (and dump the bytes they did).
    country: CountryCode | None = None
    # GS1 GLNs it holds from admission (genesis, or approved with the admission itself);
    # optional, and left out of the dump when absent, like `country`.
    glns: GlnSet | None = None

    @model_serializer(mode="wrap")
    def _without_unset_country(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for optional in ("country", "glns"):
            if data.get(optional) is None:
                data.pop(optional, None)
        return data


class OrgPropose(Payload):
    """Propose admitting (`add`) or removing (`remove`) an organisation."""

    action: Literal["add", "remove"]
    org: OrgSpec | None = None
    org_id: Identifier | None = None


class OrgApprove(Payload):
    proposal_id: ProposalId


# A capability's name, as a domain declares it (`domains/kit.py`).
CapabilityName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class CapabilityPropose(Payload):
    """Propose granting an organisation a capability some domain declared, or withdrawing it.

    Approved by `org.approve` like an admission, executed at the same quorum.
    """

    action: Literal["grant", "withdraw"]
    org_id: Identifier
    capability: CapabilityName


class MemberCapability(Payload):
    """An organisation passes one of its own capabilities to a member, or takes it back."""

    action: Literal["grant", "withdraw"]
    member_id: Identifier
    capability: CapabilityName


class MemberEnroll(Payload):
    """An organisation enrols one of its people with their own keys."""

    member_id: Identifier
    name: Name
    role: MemberRole
    signing_key: PublicKeyHex
    encryption_key: PublicKeyHex


# Why a member's enrolment ends, as a code: free text about a person stays off the chain.
RevokeMemberReason = Literal["left", "contract_ended", "suspended", "key_compromised", "other"]


class MemberRevoke(Payload):
    member_id: Identifier
    reason: RevokeMemberReason = "left"


class KeyRotate(Payload):
    """The sender replaces its own keys; the old signing key is revoked."""

    signing_key: PublicKeyHex
    encryption_key: PublicKeyHex


SignatureHex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{128}$")]


class Voucher(Payload):
    """Who vouches for a new patient: a care-giving organisation, its staff, or a patient
    acting as representative, by an Ed25519 signature over `voucher_message`."""

    key: PublicKeyHex
    signature: SignatureHex


def voucher_message(chain_id: str, patient_key: str, encryption_key: str) -> bytes:
    """The exact bytes a voucher signs: bound to the chain and to the new patient's keys."""
    return canonical_bytes(
        {
            "chain": chain_id,
            "purpose": "patient.register",
            "patient_key": patient_key,
            "encryption_key": encryption_key,
        }
    )


class PatientRegister(Payload):
    """A patient registers their own key, vouched for; the patient id is derived from the key."""

    encryption_key: PublicKeyHex
    voucher: Voucher


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


# --- the directory: where an organisation's data is served --------------------------

MAX_ENDPOINTS = 4
MAX_REPLICA_FOR = 16
MAX_URL_CHARS = 200


def check_endpoint_url(url: str) -> str:
    """An http(s) URL a node answers at: a host, no credentials, query or fragment.

    Pure and deterministic (no name resolution): it is checked inside `apply` too.
    """
    if not url.isascii() or not url.isprintable() or " " in url:
        raise ValueError("an endpoint is printable ASCII without spaces")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("an endpoint is an http or https URL")
    if "@" in parts.netloc or parts.username is not None:
        raise ValueError("an endpoint carries no credentials")
    if parts.query or parts.fragment or "#" in url or "?" in url:
        raise ValueError("an endpoint has no query and no fragment")
    try:
        port = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise ValueError("an endpoint's port is a number from 1 to 65535") from exc
    if not parts.hostname or port == 0:
        raise ValueError("an endpoint names a host (and a port from 1 to 65535)")
    return url


EndpointUrl = Annotated[
    str,
    StringConstraints(min_length=10, max_length=MAX_URL_CHARS),
    AfterValidator(check_endpoint_url),
]


class OrgEndpointPublish(Payload):
    """An organisation says where its node serves its data and the key its node answers with.

    Sent by the organisation's own key; a change is a new transaction. `replica` names
    another organisation whose node keeps replicas of this one's ciphertexts.
    """

    endpoints: Annotated[list[EndpointUrl], Field(min_length=1, max_length=MAX_ENDPOINTS)]
    node_key: PublicKeyHex
    replica: Identifier | None = None
    # The organisations whose replicas this one's node agrees to keep: a replica named
    # without its agreement would let any organisation fill another's disk.
    replica_for: Annotated[list[Identifier], Field(max_length=MAX_REPLICA_FOR)] | None = None

    @model_serializer(mode="wrap")
    def _without_unset_replica_for(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("replica_for") is None:
            data.pop("replica_for", None)
        return data


class Limits(Payload):
    """Bounds the whole network agrees on, fixed at genesis and enforced at `apply`."""

    # Break-glass reads one practitioner may make in any 24 hours of block time.
    break_glass_per_day: Annotated[int, Field(ge=0, le=1000)] = 5
    # `patient.register` transactions one block may apply; the rest fail `rate_limited`.
    registrations_per_block: Annotated[int, Field(ge=1, le=100_000)] = 1000
    # Patients one registered patient (a representative) may vouch for in 24 hours.
    vouches_per_patient_per_day: Annotated[int, Field(ge=0, le=100)] = 5
