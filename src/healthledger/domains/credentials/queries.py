"""Read side of credentials: anchors, a member's file, status at a time.

Other domains (research, claims) ask "is this practitioner licensed on that date?"
through these functions, over a read-only `StateReader`.
"""

from __future__ import annotations

from healthledger.domains.credentials import state as st
from healthledger.ledger.context import StateReader


def credential(state: StateReader, credential_id: str) -> st.CredentialAnchor | None:
    return state.load(st.NAMESPACE, st.credential_key(credential_id), st.CredentialAnchor)


def credential_ids_of(state: StateReader, member: str) -> tuple[str, ...]:
    """The member's credentials' ids, in the order they were anchored."""
    ids = state.load(st.NAMESPACE, st.member_credentials_key(member), st.CredentialIds)
    return () if ids is None else ids.root


def status_at(anchor: st.CredentialAnchor, time_ms: int) -> st.Status | None:
    """The credential's status at `time_ms` (block time of its history), or None before it
    was anchored. Validity dates are separate: see `valid_at`."""
    current: st.Status | None = None
    for change in anchor.history:
        if change.time_ms > time_ms:
            break
        current = change.status
    return current


def valid_at(anchor: st.CredentialAnchor, time_ms: int) -> bool:
    """Whether the credential was in force at `time_ms`: anchored and active then, and
    within its validity period."""
    if time_ms < anchor.valid_from_ms:
        return False
    if anchor.valid_until_ms is not None and time_ms >= anchor.valid_until_ms:
        return False
    return status_at(anchor, time_ms) == st.ACTIVE


# --- core: status lists, issuers' keys, external issuers -------------------------------------


def status_list(
    state: StateReader, issuer: str, purpose: st.StatusPurpose, number: int
) -> st.StatusListRecord | None:
    """One of an issuer's status lists as the chain holds it (bits base64, their hash)."""
    key = st.status_list_key(issuer, purpose, number)
    return state.load(st.NAMESPACE, key, st.StatusListRecord)


def status_list_bits(
    state: StateReader, issuer: str, purpose: st.StatusPurpose, number: int
) -> bytes | None:
    """The raw bitstring of a list (what the published `encodedList` GZIPs), or None."""
    record = status_list(state, issuer, purpose, number)
    return None if record is None else record.raw_bits()


def next_status_slot(state: StateReader, issuer: str) -> st.StatusSlot:
    """The slot the issuer's next credential takes (list 0, index 0 before its first)."""
    slot = state.load(st.NAMESPACE, st.status_next_key(issuer), st.StatusSlot)
    return slot or st.StatusSlot(list=0, index=0)


def issuer_keys(state: StateReader, issuer: str) -> tuple[st.IssuerKeyPeriod, ...]:
    """The keys an issuer signed credentials with, oldest first, with their periods."""
    record = state.load(st.NAMESPACE, st.issuer_keys_key(issuer), st.IssuerKeys)
    return () if record is None else record.keys


def external_issuer(state: StateReader, handle: str) -> st.ExternalIssuer | None:
    return state.load(st.NAMESPACE, st.external_issuer_key(handle), st.ExternalIssuer)
