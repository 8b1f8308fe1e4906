"""Read-side of governance: resolving a signing key to an actor, listing organisations."""

from __future__ import annotations

from healthledger.crypto.canonical import parse_json
from healthledger.domains.governance import state as st
from healthledger.domains.governance.messages import Limits
from healthledger.errors import NotFound, RevokedSender, UnknownSender
from healthledger.ledger.context import NEW_KEY, Actor, ReadFn


def resolve_actor(read: ReadFn, key_id: str, allow_new: bool) -> Actor:
    """Who holds `key_id`; raise UnknownSender or RevokedSender when they may not act."""
    raw = read(st.NAMESPACE, st.signing_key_key(key_id))
    if raw is None:
        if allow_new:
            return Actor(key_id=key_id, kind=NEW_KEY, id=key_id, org=None, role=NEW_KEY)
        raise UnknownSender(f"sender {key_id[:16]}… is not a known key on this ledger")
    record = parse_json(raw)
    if record["status"] != st.ACTIVE:
        raise RevokedSender(f"sender {key_id[:16]}… has been revoked")
    if record["org"] is not None and not _org_active(read, record["org"]):
        raise RevokedSender(f"organisation {record['org']} has been removed")
    return Actor(
        key_id=key_id,
        kind=record["kind"],
        id=record["id"],
        org=record["org"],
        role=record["role"],
    )


def _org_active(read: ReadFn, org_id: str) -> bool:
    raw = read(st.NAMESPACE, st.org_key(org_id))
    return raw is not None and parse_json(raw)["status"] == st.ACTIVE


def org_role(read: ReadFn, org_id: str | None) -> str | None:
    """An active organisation's role (hospital, insurer, ...); None if none or removed."""
    raw = None if org_id is None else read(st.NAMESPACE, st.org_key(org_id))
    if raw is None:
        return None
    record = parse_json(raw)
    return str(record["role"]) if record["status"] == st.ACTIVE else None


def limits(read: ReadFn) -> Limits:
    """The network's genesis limits (defaults for a chain whose genesis named none).

    Validated once, when genesis was; read on every registration, so not validated again.
    """
    raw = read(st.NAMESPACE, st.CONFIG_KEY)
    stored = parse_json(raw).get("limits") if raw is not None else None
    return Limits() if stored is None else Limits.model_construct(**stored)


# --- What other domains ask of governance (records: patients, members, persons, keys) ---


def patient_registered(read: ReadFn, patient_id: str) -> bool:
    """Whether a patient is registered (whatever their keys' state)."""
    return read(st.NAMESPACE, st.patient_key(patient_id)) is not None


def member_status(read: ReadFn, org_id: str, member_id: str) -> str | None:
    """A member's status (active, revoked), None if never enrolled."""
    raw = read(st.NAMESPACE, st.member_key(org_id, member_id))
    return None if raw is None else str(parse_json(raw)["status"])


def member_active(read: ReadFn, org_id: str, member_id: str) -> bool:
    """Whether a member is enrolled and not revoked."""
    return member_status(read, org_id, member_id) == st.ACTIVE


def person_registered(read: ReadFn, actor_id: str) -> bool:
    """Whether an actor id (`pat_…` or `org/member`) names a registered patient or member."""
    return read(st.NAMESPACE, st.person_record_key(actor_id)) is not None


def encryption_key(read: ReadFn, kind: str, actor_id: str) -> bytes:
    """The X25519 public key the ledger holds for an actor: where keys are sealed to."""
    key = st.actor_record_key(kind, actor_id)
    raw = read(st.NAMESPACE, key)
    if raw is None:
        raise NotFound(f"no {st.NAMESPACE}/{key}")
    return bytes.fromhex(parse_json(raw)["encryption_key"])
