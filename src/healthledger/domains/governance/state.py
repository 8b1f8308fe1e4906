"""Governance records and their keys in the `gov` namespace."""

from __future__ import annotations

from typing import Any

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
    """The open proposals naming one organisation (at most one per proposer)."""
    return f"open/{org_id}"


# How many patients registered in the latest block that registered any (the per-block cap).
REGISTRATIONS_KEY = "registrations"


def vouches_key(patient_id: str) -> str:
    """Block times of a patient's recent vouches for new patients (the daily cap)."""
    return f"vouches/{patient_id}"


def key_record(kind: str, actor_id: str, org: str | None, role: str) -> dict[str, Any]:
    """The `key/...` record that resolves a signing key to an actor."""
    return {"kind": kind, "id": actor_id, "org": org, "role": role, "status": ACTIVE}


def quorum_reached(approvals: int, electorate: int, numerator: int, denominator: int) -> bool:
    """Strictly more than numerator/denominator of the electorate approve (integers only)."""
    return electorate > 0 and approvals * denominator > numerator * electorate
