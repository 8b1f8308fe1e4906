"""Why a governance transaction fails, as typed errors carrying the offending values.

The messages are hashed into blocks as results: their text never changes.
"""

from __future__ import annotations

from healthledger.errors import (
    AlreadyExists,
    Conflict,
    InvalidField,
    InvalidState,
    MalformedInput,
    NotFound,
    RateLimited,
    RevokedSender,
    Unauthorized,
    UnknownSender,
)


def short(key_id: str) -> str:
    """A key as messages show it: its first 16 hex digits."""
    return f"{key_id[:16]}…"


# --- senders ---------------------------------------------------------------------------


class UnknownKey(UnknownSender):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"sender {short(key_id)} is not a known key on this ledger")
        self.key_id = key_id


class RevokedKey(RevokedSender):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"sender {short(key_id)} has been revoked")
        self.key_id = key_id


class OrgRemoved(RevokedSender):
    def __init__(self, org_id: str) -> None:
        super().__init__(f"organisation {org_id} has been removed")
        self.org_id = org_id


class OrgsOnly(Unauthorized):
    def __init__(self) -> None:
        super().__init__("only an organisation may do this")


# --- proposals -------------------------------------------------------------------------


class ProposalAlreadyOpen(Conflict):
    def __init__(self, proposer: str, proposal_id: str, target: str) -> None:
        super().__init__(f"{proposer} already has proposal {proposal_id} open on {target}")
        self.proposer, self.proposal_id, self.target = proposer, proposal_id, target


class NoProposal(NotFound):
    def __init__(self, proposal_id: str) -> None:
        super().__init__(f"no proposal {proposal_id}")
        self.proposal_id = proposal_id


class ProposalClosed(InvalidState):
    def __init__(self, proposal_id: str) -> None:
        super().__init__(f"proposal {proposal_id} is closed")
        self.proposal_id = proposal_id


class AlreadyApproved(Conflict):
    def __init__(self, voter: str, proposal_id: str) -> None:
        super().__init__(f"{voter} already approved {proposal_id}")
        self.voter, self.proposal_id = voter, proposal_id


class OwnRemovalVote(Unauthorized):
    def __init__(self) -> None:
        super().__init__("an organisation cannot vote on its own removal")


class OwnRemovalProposal(Unauthorized):
    def __init__(self) -> None:
        super().__init__("an organisation cannot propose its own removal")


class OwnCapabilityVote(Unauthorized):
    def __init__(self, org_id: str) -> None:
        super().__init__(f"{org_id} cannot propose or approve its own capabilities")
        self.org_id = org_id


class MisnamedTarget(MalformedInput):
    def __init__(self, action: str, field: str) -> None:
        where = "the new org" if action == "add" else "the org"
        super().__init__(f"an '{action}' proposal names {where} in '{field}'")
        self.action, self.field = action, field


class OrgExists(AlreadyExists):
    def __init__(self, org_id: str) -> None:
        super().__init__(f"organisation {org_id} exists")
        self.org_id = org_id


class NoOrg(NotFound):
    def __init__(self, org_id: str) -> None:
        super().__init__(f"no organisation {org_id}")
        self.org_id = org_id


class NoActiveOrg(NotFound):
    def __init__(self, org_id: str) -> None:
        super().__init__(f"no active organisation {org_id}")
        self.org_id = org_id


class ValidatorJustJoined(InvalidState):
    """CometBFT refuses two updates of one validator in a block: the chain would halt."""

    def __init__(self, org_id: str) -> None:
        super().__init__(f"{org_id} became a validator in this block: remove it in a later one")
        self.org_id = org_id


class KeyInUse(AlreadyExists):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"signing key {short(key_id)} is already in use")
        self.key_id = key_id


class ValidatorKeyInUse(AlreadyExists):
    def __init__(self, pub_key: str) -> None:
        super().__init__(f"validator key {short(pub_key)} already belongs to an organisation")
        self.pub_key = pub_key


# --- the directory ---------------------------------------------------------------------


class DuplicateEndpoint(InvalidField):
    def __init__(self, url: str) -> None:
        super().__init__(f"the endpoint {url} is listed twice")
        self.url = url


class OwnReplica(InvalidField):
    def __init__(self, org_id: str) -> None:
        super().__init__(f"{org_id} cannot be its own replica")
        self.org_id = org_id


# --- capabilities ----------------------------------------------------------------------


class UnknownCapability(InvalidField):
    def __init__(self, capability: str) -> None:
        super().__init__(f"no domain declares the capability {capability}")
        self.capability = capability


class CapabilityHeld(AlreadyExists):
    def __init__(self, holder: str, capability: str) -> None:
        super().__init__(f"{holder} already holds the capability {capability}")
        self.holder, self.capability = holder, capability


class CapabilityNotHeld(NotFound):
    def __init__(self, holder: str, capability: str) -> None:
        super().__init__(f"{holder} does not hold the capability {capability}")
        self.holder, self.capability = holder, capability


class OrgLacksCapability(Unauthorized):
    def __init__(self, org_id: str, capability: str) -> None:
        super().__init__(
            f"{org_id} does not hold the capability {capability}, so cannot pass it on"
        )
        self.org_id, self.capability = org_id, capability


# --- members ---------------------------------------------------------------------------


class MemberExists(AlreadyExists):
    def __init__(self, member_id: str) -> None:
        super().__init__(f"member {member_id} already enrolled")
        self.member_id = member_id


class NoMember(NotFound):
    def __init__(self, member_id: str, org_id: str) -> None:
        super().__init__(f"no member {member_id} in {org_id}")
        self.member_id, self.org_id = member_id, org_id


class MemberRevoked(Conflict):
    def __init__(self, member_id: str) -> None:
        super().__init__(f"member {member_id} is already revoked")
        self.member_id = member_id


class NoActorRecord(NotFound):
    def __init__(self, actor_id: str) -> None:
        super().__init__(f"no record for {actor_id}")
        self.actor_id = actor_id


# --- patients --------------------------------------------------------------------------


class RegistrationsFull(RateLimited):
    def __init__(self, cap: int) -> None:
        super().__init__(f"this block already registered {cap} patients: try the next one")
        self.cap = cap


class VoucherRefused(Unauthorized):
    def __init__(self, reason: str) -> None:
        super().__init__(f"voucher: {reason}")
        self.reason = reason


class NotCareVoucher(Unauthorized):
    def __init__(self) -> None:
        super().__init__(
            "a patient is vouched for by a hospital, a clinic, their staff, or a registered "
            "patient acting as representative"
        )


class NotCareVouched(Unauthorized):
    def __init__(self, patient_id: str) -> None:
        super().__init__(f"{patient_id} was not vouched for by care, so may not vouch for others")
        self.patient_id = patient_id


class PatientsOnly(Unauthorized):
    def __init__(self) -> None:
        super().__init__("only a patient names guardians")


class SelfGuardian(InvalidField):
    def __init__(self) -> None:
        super().__init__("a patient cannot be their own guardian")


class ThresholdTooHigh(InvalidField):
    def __init__(self) -> None:
        super().__init__("the threshold exceeds the number of guardians")


class NoPerson(InvalidField):
    def __init__(self, person: str) -> None:
        super().__init__(f"no registered person {person}")
        self.person = person


class NoPatient(NotFound):
    def __init__(self, patient_id: str) -> None:
        super().__init__(f"no patient {patient_id}")
        self.patient_id = patient_id


class NotGuardian(Unauthorized):
    def __init__(self, guardian: str, patient_id: str) -> None:
        super().__init__(f"{guardian} is not a guardian of {patient_id}")
        self.guardian, self.patient_id = guardian, patient_id


class AlreadyVouched(Conflict):
    def __init__(self, guardian: str) -> None:
        super().__init__(f"{guardian} already vouched for these keys")
        self.guardian = guardian


# --- GS1 identifiers (GLNs) -----------------------------------------------------------


class GlnHeld(AlreadyExists):
    """A GLN is registered to one organisation only: no one claims another's."""

    def __init__(self, gln: str, holder: str) -> None:
        super().__init__(f"GLN {gln} is already registered to {holder}")
        self.gln, self.holder = gln, holder


class PartyGlnHeld(InvalidState):
    def __init__(self, org_id: str, party: str) -> None:
        super().__init__(f"{org_id} already has the party GLN {party}: release it first")
        self.org_id, self.party = org_id, party


class TooManyGlns(InvalidField):
    def __init__(self, org_id: str, count: int, limit: int) -> None:
        super().__init__(
            f"{org_id} would hold {count} location GLNs; an organisation holds at most {limit}"
        )
        self.org_id, self.count, self.limit = org_id, count, limit


class GlnNotHeld(NotFound):
    def __init__(self, gln: str, org_id: str) -> None:
        super().__init__(f"GLN {gln} is not registered to {org_id}")
        self.gln, self.org_id = gln, org_id


class OwnGlnVote(Unauthorized):
    def __init__(self, org_id: str) -> None:
        super().__init__(f"{org_id} cannot approve proposals about its own GLNs")
        self.org_id = org_id


class OneGlnPerRelease(InvalidField):
    def __init__(self) -> None:
        super().__init__("a proposal to release another organisation's GLN names one GLN")
