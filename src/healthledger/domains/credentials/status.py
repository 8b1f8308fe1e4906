"""Credential status: the issuer's status lists, status changes, cascade and expiry.

Each issuer keeps two Bitstring Status Lists per list number (revocation, suspension),
131,072 bits each; a credential takes one slot, the same index in both. The raw
bitstring is stored base64 in one state value with its SHA-256, so the state root
commits to the hash in every block where a bit changes; the spec's published form
(GZIP, multibase base64url) is produced off the consensus path, never in `apply`
(GZIP's bytes are not pinned across zlib versions).

Bits follow status: the revocation bit is set when a credential is revoked; the
suspension bit is set on suspension and cleared on reinstatement (and on revocation,
where revoked says all). Expiry touches no bit: a document's `validUntil` carries it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from healthledger.crypto import status_list
from healthledger.crypto.status_list import bitstring_hash, with_bit
from healthledger.domains.credentials import errors as e
from healthledger.domains.credentials import messages as m
from healthledger.domains.credentials import queries
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.exclusions import flag_if_excluded
from healthledger.domains.shared.schedule import DueQueue
from healthledger.ledger.context import TxContext

# Expiry is swept in buckets of an hour: an expired change is recorded by the first
# block of the hour after `valid_until_ms` at the latest, with `valid_until_ms` as the
# time it took effect; an idle year costs the sweep 8,760 units, a few dozen blocks.
EXPIRY_BUCKET_MS = 3_600_000
EXPIRY_QUEUE = DueQueue(st.EXPIRY_QUEUE_PREFIX, EXPIRY_BUCKET_MS)
# Credentials marked expired per block (each costs a read and a write of its anchor).
EXPIRY_SWEEP_BUDGET = 128
EXPIRY = "expiry"
CASCADE = "cascade:"
LIST_BYTES = st.STATUS_LIST_SIZE // 8


def cleared_list(
    issuer: str, purpose: st.StatusPurpose, number: int, height: int
) -> st.StatusListRecord:
    raw = status_list.empty_list(st.STATUS_LIST_SIZE)
    return _list_record(issuer, purpose, number, raw, height, bitstring_hash(raw))


def _list_record(
    issuer: str, purpose: st.StatusPurpose, number: int, raw: bytes, height: int, hashed: str
) -> st.StatusListRecord:
    return st.StatusListRecord(
        issuer=issuer,
        purpose=purpose,
        list=number,
        size=st.STATUS_LIST_SIZE,
        bits=base64.b64encode(raw).decode("ascii"),
        bits_hash=hashed,
        height=height,
    )


# --- allocating a slot --------------------------------------------------------------------


def allocate_slot(ctx: TxContext, issuer: str, payload: m.CredentialIssue) -> st.StatusSlot:
    """The issuer's next free slot, taken; one the payload names must be that slot, so two
    issuances in flight never share bits (the client rebuilds and signs again)."""
    if (payload.status_list is None) != (payload.status_index is None):
        raise e.HalfASlot()
    slot = queries.next_status_slot(ctx.reader, issuer)
    if payload.status_list is not None and payload.status_index is not None:
        named = (payload.status_list, payload.status_index)
        if named != (slot.list, slot.index):
            raise e.SlotTaken(named, (slot.list, slot.index))
    if slot.index == 0:  # the first slot of a list: its two bitstrings begin, all clear
        for purpose in st.STATUS_PURPOSES:
            record = cleared_list(issuer, purpose, slot.list, ctx.block.height)
            ctx.store(st.status_list_key(issuer, purpose, slot.list), record)
    following = (
        st.StatusSlot(list=slot.list, index=slot.index + 1)
        if slot.index + 1 < st.STATUS_LIST_SIZE
        else st.StatusSlot(list=slot.list + 1, index=0)
    )
    ctx.store(st.status_next_key(issuer), following)
    return slot


# --- bits, batched per list within one transaction -----------------------------------------


ListRef = tuple[str, st.StatusPurpose, int]  # issuer, purpose, list number


@dataclass
class BitChanges:
    """Bits to set in the issuers' lists, each list read and written once per transaction
    (a cascade may touch several credentials of one hospital's list)."""

    lists: dict[ListRef, tuple[str, bytes]] = field(default_factory=dict)  # -> (hash before, bits)

    def set(
        self, ctx: TxContext, anchor: st.CredentialAnchor, purpose: st.StatusPurpose, value: bool
    ) -> None:
        if anchor.status_list is None or anchor.status_index is None:
            return  # an external credential: no list on this ledger
        where: ListRef = (anchor.issuer, purpose, anchor.status_list)
        if where not in self.lists:
            record = ctx.load(st.status_list_key(*where), st.StatusListRecord)
            # A list exists from its first slot's issuance on; were it missing, a clear one
            # stands in (apply never raises on a state it made itself).
            raw = bytes(LIST_BYTES) if record is None else record.raw_bits()
            self.lists[where] = ("" if record is None else record.bits_hash, raw)
        before, raw = self.lists[where]
        self.lists[where] = (before, with_bit(raw, anchor.status_index, value))

    def write(self, ctx: TxContext) -> None:
        """Store each list whose bits changed, with its new hash and this block's height."""
        for (issuer, purpose, number), (before, raw) in self.lists.items():
            after = bitstring_hash(raw)
            if after == before:
                continue  # no bit changed (it was set already): the list keeps its height
            record = _list_record(issuer, purpose, number, raw, ctx.block.height, after)
            ctx.store(st.status_list_key(issuer, purpose, number), record)


# --- status changes -----------------------------------------------------------------------


def _changed(
    ctx: TxContext,
    anchor: st.CredentialAnchor,
    status: st.Status,
    reason: str,
    by: str,
    time_ms: int,
) -> st.CredentialAnchor:
    change = st.StatusChange(
        height=ctx.block.height, time_ms=time_ms, status=status, reason=reason, by=by
    )
    updated = anchor.model_copy(update={"history": (*anchor.history, change)})
    ctx.store(st.credential_key(anchor.id), updated)
    ctx.emit("credential.status", credential=anchor.id, status=status, by=by)
    return updated


def may_change(ctx: TxContext, anchor: st.CredentialAnchor) -> str:
    """Who, this sender, speaks for the credential's issuer (its org id); raise if no one.

    An organisation's own credential: that organisation. An external one: the regulator
    that registered its issuer (the issuer has no key on this ledger)."""
    actor = ctx.actor
    if actor.kind != "org":
        raise e.OrganisationKeyOnly("credential.status")
    if anchor.external:
        issuer = ctx.load(st.external_issuer_key(anchor.issuer), st.ExternalIssuer)
        if issuer is None or issuer.registered_by != actor.id:
            raise e.NotTheIssuer(anchor.id, actor.id)
    elif anchor.issuer != actor.id:
        raise e.NotTheIssuer(anchor.id, actor.id)
    return actor.id


def change_status(ctx: TxContext, payload: m.CredentialStatus) -> None:
    """`credential.status`: suspend, reinstate or revoke, with the cascade and the bits."""
    anchor = ctx.load(st.credential_key(payload.credential_id), st.CredentialAnchor)
    if anchor is None:
        raise e.UnknownCredential(payload.credential_id)
    by = may_change(ctx, anchor)
    status = _next_status(ctx, anchor, payload.action)
    if status == st.ACTIVE and anchor.type == "privilege":
        # Reinstating is issuing again: what issue requires of a privilege holds here too,
        # or a hospital would restore a privilege its cascade suspended while the licence
        # under it stays suspended (at most MAX_DEPENDS_ON point reads).
        for dependency_id in anchor.depends_on:
            in_force_dependency(ctx, dependency_id)
    # A revocation may take the reserved places: nothing is ever appended after it.
    room = st.MAX_STATUS_CHANGES - (0 if status == st.REVOKED else st.RESERVED_CHANGES)
    if len(anchor.history) >= room:
        raise e.StatusHistoryFull(anchor.id, len(anchor.history))
    bits = BitChanges()
    _changed(ctx, anchor, status, payload.reason, by, ctx.block.time_ms)
    if status == st.REVOKED:
        bits.set(ctx, anchor, "revocation", True)
        bits.set(ctx, anchor, "suspension", False)
    else:
        bits.set(ctx, anchor, "suspension", status == st.SUSPENDED)
    if status != st.ACTIVE:
        _cascade(ctx, anchor.id, payload.action, bits)
    elif anchor.type == "privilege" and not anchor.external:
        # Held again: an exclusion that stands flags its issuer, as at issue.
        flag_if_excluded(ctx, anchor.subject, anchor.issuer)
    bits.write(ctx)


def in_force_dependency(ctx: TxContext, dependency_id: str) -> st.CredentialAnchor:
    """A credential a privilege depends on, which must exist, be active and be within its
    validity now: checked at issue and again at reinstatement."""
    dependency = ctx.load(st.credential_key(dependency_id), st.CredentialAnchor)
    if dependency is None:
        raise e.UnknownCredential(dependency_id)
    if dependency.status != st.ACTIVE:
        raise e.DependencyNotInForce(dependency_id, dependency.status)
    until = dependency.valid_until_ms
    if until is not None and until <= ctx.block.time_ms:
        raise e.DependencyNotInForce(dependency_id, "past its validity")
    return dependency


def _next_status(ctx: TxContext, anchor: st.CredentialAnchor, action: str) -> st.Status:
    """The status `action` leads to from the anchor's, or refused: revoked is final, only
    a suspension is reinstated, and past its validity only revocation remains."""
    current = anchor.status
    past_date = anchor.valid_until_ms is not None and anchor.valid_until_ms <= ctx.block.time_ms
    if current == st.REVOKED or (current == st.EXPIRED and action != "revoke"):
        raise e.StatusStep(anchor.id, current, action)
    if past_date and action != "revoke":
        raise e.StatusStep(anchor.id, st.EXPIRED, action)
    if action == "revoke":
        return st.REVOKED
    if action == "suspend":
        if current != st.ACTIVE:
            raise e.StatusStep(anchor.id, current, action)
        return st.SUSPENDED
    if current != st.SUSPENDED:
        raise e.StatusStep(anchor.id, current, action)
    return st.ACTIVE


def _cascade(ctx: TxContext, credential_id: str, action: str, bits: BitChanges) -> None:
    """Suspend every active privilege that depends on this credential (at most
    MAX_DEPENDENTS, the bound on its `dependents/` list); restore nothing, ever."""
    dependents = ctx.load(st.dependents_key(credential_id), st.CredentialIds)
    if dependents is None:
        return
    reason = f"{credential_id} was {'revoked' if action == 'revoke' else 'suspended'}"
    for dependent_id in dependents.root[: st.MAX_DEPENDENTS]:
        dependent = ctx.load(st.credential_key(dependent_id), st.CredentialAnchor)
        if dependent is None or dependent.status != st.ACTIVE:
            continue
        until = dependent.valid_until_ms
        if until is not None and until <= ctx.block.time_ms:
            continue  # past its validity: the sweep records it expired, at `valid_until_ms`
        if len(dependent.history) >= st.MAX_STATUS_CHANGES:
            continue  # never reached: its issuer stops RESERVED_CHANGES short of the bound
        _changed(ctx, dependent, st.SUSPENDED, reason, CASCADE + credential_id, ctx.block.time_ms)
        bits.set(ctx, dependent, "suspension", True)


# --- expiry at block time ------------------------------------------------------------------


def schedule_expiry(ctx: TxContext, anchor: st.CredentialAnchor) -> None:
    if anchor.valid_until_ms is not None:
        EXPIRY_QUEUE.schedule(ctx, anchor.valid_until_ms, anchor.id, _mark_expired)


def expire_credentials(ctx: TxContext, budget: int) -> None:
    """End of block: credentials past `valid_until_ms` become expired, `budget` at most."""
    EXPIRY_QUEUE.sweep(ctx, budget, _mark_expired)


def _mark_expired(ctx: TxContext, credential_id: str) -> None:
    """Append `expired` (by "expiry") at `valid_until_ms`; revoked ones stay revoked.

    Must not raise (a failing item would stall the queue): it re-checks and skips."""
    anchor = ctx.load(st.credential_key(credential_id), st.CredentialAnchor)
    if anchor is None or anchor.valid_until_ms is None:
        return
    if anchor.status in (st.REVOKED, st.EXPIRED) or len(anchor.history) >= st.MAX_STATUS_CHANGES:
        return
    if anchor.valid_until_ms > ctx.block.time_ms:
        return
    # Only a revocation may follow the validity's end, and it stops the sweep: the history
    # stays in time order with the expiry at the moment it took effect.
    effective = max(anchor.valid_until_ms, anchor.history[-1].time_ms)
    _changed(ctx, anchor, st.EXPIRED, "validity ended", EXPIRY, effective)
