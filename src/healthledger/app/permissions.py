"""Who may send what: one check, reading what each domain declared.

Each transaction type names its senders (`domains/kit.py`): `kind:role`,
`kind:*`, `cap:<capability>` or `new:new`. A type no domain declared can be
sent by nobody; a sender is admitted by its role or by any capability it holds.
"""

from __future__ import annotations

from healthledger.app.registry import REGISTRY
from healthledger.domains.kit import CAPABILITY_PREFIX, NEW_KEY
from healthledger.errors import Unauthorized
from healthledger.ledger.context import Actor


def allowed_for(tx_type: str) -> frozenset[str]:
    entry = REGISTRY.get(tx_type)
    return frozenset() if entry is None else entry.tx.senders


def admits_new_keys(tx_type: str) -> bool:
    """Whether a never-seen key may send this type (it registers itself)."""
    return NEW_KEY in allowed_for(tx_type)


def check_permission(tx_type: str, actor: Actor) -> None:
    """Raise Unauthorized unless the actor's role, or a capability it holds, may send it."""
    allowed = allowed_for(tx_type)
    if actor.permission in allowed or f"{actor.kind}:*" in allowed:
        return
    if any(f"{CAPABILITY_PREFIX}{name}" in allowed for name in actor.capabilities):
        return
    raise Unauthorized(f"{actor.permission} may not send {tx_type}")
