"""Who may send what: the one permission table, enforced in one place by `check`.

An entry names actor kinds and roles as `kind:role`; `kind:*` allows every role
of that kind. `new:new` is a key the ledger has never seen (self-registration).
A transaction type missing from this table can be sent by nobody.
"""

from __future__ import annotations

from types import MappingProxyType

from healthledger.errors import Unauthorized
from healthledger.ledger.context import Actor

ANY_ORG = "org:*"
ANY_MEMBER = "member:*"
PATIENT = "patient:patient"
NEW_KEY = "new:new"

TRADING = frozenset(
    {"org:manufacturer", "org:distributor", "org:pharmacy", "org:hospital", "org:clinic"}
)
DISPENSING = frozenset({"org:pharmacy", "org:hospital", "org:clinic", "member:pharmacist"})
REGULATOR = "org:regulator"
CUSTODIANS = frozenset({"org:hospital", "org:clinic", "org:laboratory", "org:pharmacy"})
PERSONS = frozenset({PATIENT, ANY_MEMBER})

PERMISSIONS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "org.propose": frozenset({ANY_ORG}),
        "org.approve": frozenset({ANY_ORG}),
        "member.enroll": frozenset({ANY_ORG}),
        "member.revoke": frozenset({ANY_ORG}),
        "key.rotate": frozenset({ANY_ORG, ANY_MEMBER, PATIENT}),
        "patient.register": frozenset({NEW_KEY}),
        "patient.guardians": frozenset({PATIENT}),
        "patient.recover": PERSONS,
        "record.add": CUSTODIANS,
        "record.shred": CUSTODIANS | PERSONS,
        "record.access": frozenset({ANY_ORG}),
        "consent.grant": PERSONS,
        "consent.revoke": PERSONS,
        "representative.appoint": frozenset({PATIENT}),
        "representative.end": PERSONS,
        "supply.commission": frozenset({"org:manufacturer"}),
        "supply.aggregate": TRADING,
        "supply.disaggregate": TRADING,
        "supply.ship": TRADING,
        "supply.receive": TRADING,
        "supply.return": TRADING,
        "supply.dispense": DISPENSING,
        "supply.destroy": TRADING | {REGULATOR},
        "supply.export": frozenset({"org:manufacturer", "org:distributor"}),
        "supply.verify": TRADING | DISPENSING | {REGULATOR},
        "supply.quarantine": frozenset({REGULATOR}),
        "supply.clear": frozenset({REGULATOR}),
        "supply.recall": frozenset({"org:manufacturer", REGULATOR}),
        "supply.recall_ack": TRADING,
    }
)


def allowed_for(tx_type: str) -> frozenset[str]:
    return PERMISSIONS.get(tx_type, frozenset())


def admits_new_keys(tx_type: str) -> bool:
    """Whether a never-seen key may send this type (it registers itself)."""
    return NEW_KEY in allowed_for(tx_type)


def check_permission(tx_type: str, actor: Actor) -> None:
    """Raise Unauthorized unless the actor's role may send `tx_type`."""
    allowed = allowed_for(tx_type)
    if actor.permission in allowed or f"{actor.kind}:*" in allowed:
        return
    raise Unauthorized(f"{actor.permission} may not send {tx_type}")
