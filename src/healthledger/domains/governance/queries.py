"""Read-side of governance: resolving a signing key to an actor, listing organisations."""

from __future__ import annotations

from healthledger.crypto.canonical import parse_json
from healthledger.domains.governance import state as st
from healthledger.domains.governance.messages import Limits
from healthledger.errors import RevokedSender, UnknownSender
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
