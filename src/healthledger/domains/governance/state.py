"""Governance records and their keys in the `gov` namespace.

Every record is a frozen model that dumps exactly the JSON object governance has always
written (canonical JSON of the same fields), so the state root does not depend on the
models. Fields that older records never carried (a proposal's `executed_height`, a
patient's `guardians`) are left out while they are None: see `Record.OMIT_IF_NONE`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, RootModel, SerializerFunctionWrapHandler, model_serializer

from healthledger.domains.governance.messages import Limits, OrgSpec
from healthledger.ledger.context import StateModel

NAMESPACE = "gov"
ACTIVE = "active"
REVOKED = "revoked"
REMOVED = "removed"
OPEN = "open"
EXECUTED = "executed"
# A proposal whose target was settled by a sibling proposal that executed first.
SUPERSEDED = "superseded"

CONFIG_KEY = "config"
# Emitted when an admission or a removal changes a consensus validator's power; a
# consensus engine that has validators (CometBFT) applies it, the solo engine ignores it.
VALIDATOR_UPDATE = "validator.update"
STATS_KEY = "stats"
# How many patients registered in the latest block that registered any (the per-block cap).
REGISTRATIONS_KEY = "registrations"
# Governance records anyone known to the ledger may read: the consortium's directory.
# What any person may read of governance: whom to consent to, and who holds a signing key
# (a patient's audit names its readers by key; the key record is what proves the name).
# Nothing here is secret: member and org records already carry their signing keys, and
# a patient's pseudonym derives from their key.
# An organisation's endpoint entry (where its node serves, the key it answers with) too:
# a reader needs it, proven, to reach the custodian of a record.
# Which organisation holds a GLN, and an organisation's GLNs: a partner must resolve a GLN
# of an EPCIS event to an organisation, proven, before it knows whom it deals with.
DIRECTORY_PREFIXES = ("org/", "member/", "key/", "endpoint/", "gln/", "glns/")

ActorKind = Literal["org", "member", "patient"]
ProposalAction = Literal["add", "remove", "grant", "withdraw", "claim_gln", "release_gln"]
GLN_ACTIONS = frozenset({"claim_gln", "release_gln"})
GlnKind = Literal["party", "location"]


# --- keys ------------------------------------------------------------------------------


def org_key(org_id: str) -> str:
    return f"org/{org_id}"


def member_key(org_id: str, member_id: str) -> str:
    return f"member/{org_id}/{member_id}"


def patient_key(patient_id: str) -> str:
    return f"patient/{patient_id}"


def actor_record_key(kind: str, actor_id: str) -> str:
    """Where an actor's record (keys, status) lives: `org`, `member` (org/member) or `patient`."""
    if kind == "org":
        return org_key(actor_id)
    if kind == "member":
        org_id, member_id = actor_id.split("/", 1)
        return member_key(org_id, member_id)
    return patient_key(actor_id)


def person_record_key(actor_id: str) -> str:
    """A person's record from their actor id: `pat_…` is a patient, `org/member` a member."""
    return actor_record_key("patient" if actor_id.startswith("pat_") else "member", actor_id)


def signing_key_key(key_id: str) -> str:
    """Index from a signing key to the actor holding it: how a sender is resolved."""
    return f"key/{key_id}"


def recovery_key(patient_id: str) -> str:
    """The pending key recovery of a patient (at most one candidate key at a time)."""
    return f"recovery/{patient_id}"


def validator_key(pub_key: str) -> str:
    """Which organisation validates with a consensus key (one organisation per key)."""
    return f"validator/{pub_key}"


def proposal_key(proposal_id: str) -> str:
    return f"proposal/{proposal_id}"


def open_proposals_key(org_id: str) -> str:
    """The open admission or removal proposals naming one organisation (one per proposer)."""
    return f"open/{org_id}"


def open_capability_proposals_key(org_id: str, capability: str) -> str:
    """The open proposals to grant or withdraw one capability of one organisation."""
    return f"open-cap/{org_id}/{capability}"


def org_capabilities_key(org_id: str) -> str:
    """The capabilities governance granted an organisation (absent while it holds none).

    A key of its own, not a field of the organisation's record: records of organisations
    that hold no capability stay byte for byte what they were.
    """
    return f"cap/{org_id}"


def member_capabilities_key(org_id: str, member_id: str) -> str:
    """The capabilities an organisation passed on to one of its members."""
    return f"cap/{org_id}/{member_id}"


def vouches_key(patient_id: str) -> str:
    """Block times of a patient's recent vouches for new patients (the daily cap)."""
    return f"vouches/{patient_id}"


def endpoint_key(org_id: str) -> str:
    """Where an organisation's node serves its data (absent until it publishes one)."""
    return f"endpoint/{org_id}"


def gln_key(gln: str) -> str:
    """Which organisation holds a GLN (absent while no one does)."""
    return f"gln/{gln}"


def org_glns_key(org_id: str) -> str:
    """An organisation's GLNs (absent while it holds none)."""
    return f"glns/{org_id}"


def open_gln_claim_key(org_id: str) -> str:
    """An organisation's open GLN claim (at most one: a new claim replaces it)."""
    return f"open-gln/{org_id}"


def open_gln_release_key(gln: str) -> str:
    """The open proposals to release one GLN from its holder (one per proposer)."""
    return f"open-gln-release/{gln}"


def directory_key(key: str) -> bool:
    """Whether a governance key is part of the consortium's directory (whom to consent to)."""
    return key.startswith(DIRECTORY_PREFIXES)


# --- records ---------------------------------------------------------------------------


class Record(StateModel):
    """A governance record; the fields named in OMIT_IF_NONE are written only when set."""

    OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.OMIT_IF_NONE:
            return data
        return {k: v for k, v in data.items() if v is not None or k not in self.OMIT_IF_NONE}


class ValidatorPower(Record):
    """The consensus key an organisation validates with, and its power."""

    pub_key: str
    power: int


class OrgRecord(Record):
    """An organisation: its admission spec, its status and when it joined."""

    OMIT_IF_NONE = frozenset({"country"})

    id: str
    name: str
    role: str
    signing_key: str
    encryption_key: str
    validator: ValidatorPower | None
    status: str
    joined_height: int
    country: str | None = None

    @classmethod
    def admitted(cls, spec: OrgSpec, height: int) -> OrgRecord:
        # GLNs live under keys of their own (`gln/`, `glns/`): the record keeps its bytes.
        fields = spec.model_dump(exclude={"glns"})
        return cls.model_validate({**fields, "status": ACTIVE, "joined_height": height})

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


class GlnHolder(Record):
    """Who holds a GLN, as what, and since when (`proposal` is None for a founder's or an
    admission's GLNs, which the admission itself carried)."""

    OMIT_IF_NONE = frozenset({"proposal"})

    gln: str
    org: str
    kind: GlnKind
    height: int
    proposal: str | None = None


class OrgGlns(Record):
    """An organisation's GLNs: its party GLN and its location GLNs (sorted)."""

    org: str
    party: str | None
    locations: tuple[str, ...]

    def all(self) -> tuple[str, ...]:
        return (*(() if self.party is None else (self.party,)), *self.locations)


class OrgEndpoint(Record):
    """An organisation's directory entry: its node's API endpoints, the Ed25519 key its node
    signs answers with, and the organisation that keeps replicas of its ciphertexts.

    `height` and `time_ms` are those of the block that published this version.
    """

    OMIT_IF_NONE = frozenset({"replica_for"})

    org: str
    endpoints: tuple[str, ...]
    node_key: str
    replica: str | None
    height: int
    time_ms: int
    # The organisations whose replicas its node agrees to keep (written only when given).
    replica_for: tuple[str, ...] | None = None


class MemberRecord(Record):
    """A person an organisation enrolled, with their own keys."""

    member_id: str
    name: str
    role: str
    signing_key: str
    encryption_key: str
    org: str
    status: str

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


class PatientRecord(Record):
    """A registered patient: keys, who vouched, and the guardians who can restore them."""

    OMIT_IF_NONE = frozenset({"guardians", "guardian_threshold"})

    id: str
    signing_key: str
    encryption_key: str
    registered_height: int
    vouched_by: str
    voucher_kind: str
    guardians: tuple[str, ...] | None = None
    guardian_threshold: int | None = None


class KeyRecord(Record):
    """The `key/...` index entry that resolves a signing key to an actor."""

    kind: str
    id: str
    org: str | None
    role: str
    status: str = ACTIVE

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


class ValidatorOwner(Record):
    """Which organisation validates with a consensus key."""

    org: str


class Proposal(Record):
    """A proposal the organisations vote on: admit or remove an organisation, grant or
    withdraw one of its capabilities, register GLNs it claims (`party_gln`, `glns`: its
    locations) or release one of its GLNs (`glns`). `approvals` stay sorted."""

    OMIT_IF_NONE = frozenset(
        {"capability", "executed_height", "superseded_by", "party_gln", "glns"}
    )

    id: str
    action: ProposalAction
    org: OrgSpec | None
    org_id: str
    proposer: str
    approvals: tuple[str, ...]
    status: str
    opened_height: int
    capability: str | None = None
    executed_height: int | None = None
    superseded_by: str | None = None
    party_gln: str | None = None
    glns: tuple[str, ...] | None = None

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    @property
    def about_capability(self) -> bool:
        return self.action in ("grant", "withdraw")

    @property
    def about_glns(self) -> bool:
        return self.action in GLN_ACTIONS


class ProposalIds(RootModel[tuple[str, ...]]):
    """The open proposals on one target, sorted."""

    model_config = ConfigDict(frozen=True)


class Config(Record):
    """The network's rules fixed at genesis: the admission quorum and the limits."""

    quorum_numerator: int = 2
    quorum_denominator: int = 3
    limits: Limits | None = None


class Stats(Record):
    active_orgs: int = 0


class Registrations(Record):
    """Patients registered in the latest block that registered any."""

    height: int = 0
    count: int = 0


class CandidateKeys(Record):
    signing_key: str
    encryption_key: str


class Recovery(Record):
    """A patient's pending recovery: the candidate keys and the guardians who vouched."""

    candidate: CandidateKeys
    approvals: tuple[str, ...] = ()


class VouchTimes(RootModel[tuple[int, ...]]):
    """Block times (ms) of a patient's recent vouches, oldest first."""

    model_config = ConfigDict(frozen=True)


class Capabilities(Record):
    """Capabilities held, each with the proposal that granted it to the organisation.

    A member's grant names the organisation's grant it derives from: if the organisation
    loses the capability and gains it again later, that is a new grant, and the member's
    old one does not come back with it.
    """

    granted: dict[str, str]


def key_record(kind: str, actor_id: str, org: str | None, role: str) -> KeyRecord:
    """The `key/...` record that resolves a signing key to an actor."""
    return KeyRecord(kind=kind, id=actor_id, org=org, role=role, status=ACTIVE)


def quorum_reached(approvals: int, electorate: int, numerator: int, denominator: int) -> bool:
    """Strictly more than numerator/denominator of the electorate approve (integers only)."""
    return electorate > 0 and approvals * denominator > numerator * electorate
