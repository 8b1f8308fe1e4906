"""Read-side of governance: who holds a key, organisations, members, patients, capabilities.

Every other layer and domain reads governance state through these functions, over a
read-only `StateReader` (a handler's `ctx.reader`, or a committed snapshot's).
"""

from __future__ import annotations

from healthledger.domains.governance import state as st
from healthledger.domains.governance.errors import OrgRemoved, RevokedKey, UnknownKey
from healthledger.domains.governance.messages import Limits
from healthledger.domains.governance.state import OrgEndpoint
from healthledger.ledger.context import NEW_KEY, Actor, StateReader


def resolve_actor(state: StateReader, key_id: str, allow_new: bool) -> Actor:
    """Who holds `key_id`, with the capabilities they hold now; raise UnknownSender or
    RevokedSender when they may not act."""
    record = state.load(st.NAMESPACE, st.signing_key_key(key_id), st.KeyRecord)
    if record is None:
        if allow_new:
            return Actor(key_id=key_id, kind=NEW_KEY, id=key_id, org=None, role=NEW_KEY)
        raise UnknownKey(key_id)
    if not record.active:
        raise RevokedKey(key_id)
    if record.org is not None and active_org(state, record.org) is None:
        raise OrgRemoved(record.org)
    return Actor(
        key_id=key_id,
        kind=record.kind,
        id=record.id,
        org=record.org,
        role=record.role,
        capabilities=_capabilities_of(state, record),
    )


def _capabilities_of(reader: StateReader, record: st.KeyRecord) -> frozenset[str]:
    """An organisation's capabilities; a member's, those its organisation still holds
    under the same grant (one more read, and only when the organisation holds any)."""
    if record.org is None:
        return frozenset()
    held = org_capabilities(reader, record.org)
    if not held or record.kind != "member":
        return frozenset(held)
    member_id = record.id.split("/", 1)[1]
    passed = _granted(reader, st.member_capabilities_key(record.org, member_id))
    return frozenset(name for name, grant in passed.items() if held.get(name) == grant)


def _granted(reader: StateReader, key: str) -> dict[str, str]:
    record = reader.load(st.NAMESPACE, key, st.Capabilities)
    return {} if record is None else record.granted


def org_capabilities(state: StateReader, org_id: str) -> dict[str, str]:
    """The capabilities governance granted an organisation, each with the granting proposal."""
    return _granted(state, st.org_capabilities_key(org_id))


def member_capabilities(state: StateReader, org_id: str, member_id: str) -> dict[str, str]:
    """What an organisation passed to a member, as stored (the organisation may since have
    lost some: `resolve_actor` gives what the member holds now)."""
    return _granted(state, st.member_capabilities_key(org_id, member_id))


def org(state: StateReader, org_id: str) -> st.OrgRecord | None:
    """An organisation's record, active or removed."""
    return state.load(st.NAMESPACE, st.org_key(org_id), st.OrgRecord)


def active_org(state: StateReader, org_id: str | None) -> st.OrgRecord | None:
    """An organisation's record if it is active now."""
    record = None if org_id is None else org(state, org_id)
    return record if record is not None and record.active else None


def org_role(state: StateReader, org_id: str | None) -> str | None:
    """An active organisation's role (hospital, insurer, ...); None if none or removed."""
    record = active_org(state, org_id)
    return None if record is None else record.role


def org_country(state: StateReader, org_id: str | None) -> str | None:
    """An active organisation's ISO 3166-1 alpha-2 country (None if it named none)."""
    record = active_org(state, org_id)
    return None if record is None else record.country


def org_endpoint(state: StateReader, org_id: str) -> OrgEndpoint | None:
    """Where an organisation's node serves its data and the key its answers are signed
    with; None if it published none, or was removed (its entry ended with it)."""
    return state.load(st.NAMESPACE, st.endpoint_key(org_id), OrgEndpoint)


def org_of_gln(state: StateReader, gln: str) -> str | None:
    """The organisation a GLN (party or location) is registered to; None if no one's."""
    holder = gln_holder(state, gln)
    return None if holder is None else holder.org


def gln_holder(state: StateReader, gln: str) -> st.GlnHolder | None:
    """Who holds a GLN, as its party or one of its locations, and since when."""
    return state.load(st.NAMESPACE, st.gln_key(gln), st.GlnHolder)


def glns_of(state: StateReader, org_id: str) -> st.OrgGlns:
    """An organisation's party GLN and location GLNs (an empty set if it holds none)."""
    stored = state.load(st.NAMESPACE, st.org_glns_key(org_id), st.OrgGlns)
    return stored or st.OrgGlns(org=org_id, party=None, locations=())


def member(state: StateReader, org_id: str, member_id: str) -> st.MemberRecord | None:
    """A member's record, active or revoked."""
    key = st.member_key(org_id, member_id)
    return state.load(st.NAMESPACE, key, st.MemberRecord)


def active_member(state: StateReader, actor_id: str) -> st.MemberRecord | None:
    """A member (`org/member`) whose enrolment is active, in an active organisation."""
    org_id, _, member_id = actor_id.partition("/")
    record = member(state, org_id, member_id) if member_id else None
    if record is None or not record.active or active_org(state, org_id) is None:
        return None
    return record


def patient(state: StateReader, patient_id: str) -> st.PatientRecord | None:
    return state.load(st.NAMESPACE, st.patient_key(patient_id), st.PatientRecord)


def patient_exists(state: StateReader, patient_id: str) -> bool:
    return state.raw(st.NAMESPACE, st.patient_key(patient_id)) is not None


def person_exists(state: StateReader, actor_id: str) -> bool:
    """A registered patient (`pat_…`) or an enrolled member (`org/member`), in any status."""
    return state.raw(st.NAMESPACE, st.person_record_key(actor_id)) is not None


def signing_key(state: StateReader, key_id: str) -> st.KeyRecord | None:
    """Who a signing key belongs (or belonged, before a rotation) to."""
    return state.load(st.NAMESPACE, st.signing_key_key(key_id), st.KeyRecord)


def same_holder(state: StateReader, actor: Actor, key_id: str) -> bool:
    """Whether `key_id` is (or was, before a rotation) a key of this actor."""
    record = signing_key(state, key_id)
    return record is not None and (record.kind, record.id) == (actor.kind, actor.id)


def encryption_key(state: StateReader, kind: str, actor_id: str) -> str | None:
    """The X25519 public key (hex) the ledger holds for an org, member or patient."""
    key = st.actor_record_key(kind, actor_id)
    if kind == "org":
        record: st.OrgRecord | st.MemberRecord | st.PatientRecord | None = org(state, actor_id)
    elif kind == "member":
        record = state.load(st.NAMESPACE, key, st.MemberRecord)
    else:
        record = state.load(st.NAMESPACE, key, st.PatientRecord)
    return None if record is None else record.encryption_key


def readable_by_self(actor: Actor, signing_key_id: str, key: str) -> bool:
    """Governance records a person may read without being a member organisation: their
    own key record, their patient and recovery records, and the directory."""
    own = {st.signing_key_key(signing_key_id)}
    if actor.kind == "patient":
        own |= {st.patient_key(actor.id), st.recovery_key(actor.id)}
    return key in own or st.directory_key(key)


def proposal(state: StateReader, proposal_id: str) -> st.Proposal | None:
    return state.load(st.NAMESPACE, st.proposal_key(proposal_id), st.Proposal)


def config(state: StateReader) -> st.Config | None:
    return state.load(st.NAMESPACE, st.CONFIG_KEY, st.Config)


def limits(state: StateReader) -> Limits:
    """The network's genesis limits (defaults for a chain whose genesis named none)."""
    stored = config(state)
    return Limits() if stored is None or stored.limits is None else stored.limits
