"""Apply the credential transactions: issue, accept an external one, register issuers.

Who may send each type is declared once (`__init__.py`); handlers check what a
declaration cannot say: which roles issue which type (`ISSUER_ROLES`), that only the
organisation's own key issues, the subject, the validity, the dependencies of a
privilege, and the bounds (principle 6). Status changes, cascade and expiry are in
`status.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from healthledger.crypto.data_integrity import public_key_of_did_key
from healthledger.domains.credentials import errors as e
from healthledger.domains.credentials import messages as m
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials import status
from healthledger.domains.credentials.exclusions import flag_if_excluded
from healthledger.domains.governance import queries as gov
from healthledger.errors import LedgerError
from healthledger.ledger.context import Actor, TxContext

CE_PROVIDER = "ce_provider"
# Which organisations issue which type (a CE certificate also by holders of CE_PROVIDER).
ISSUER_ROLES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "licence": frozenset({"board", "regulator"}),
        "degree": frozenset({"university"}),
        "certification": frozenset({"board"}),
        "ce": frozenset({"university"}),
        "privilege": frozenset({"hospital", "clinic"}),
    }
)
# Types a privilege may depend on.
FOUNDATIONS = frozenset({"licence", "certification", "degree"})


def may_issue(actor: Actor, credential_type: str) -> bool:
    """Whether this organisation's role (or, for CE, a capability) lets it issue the type."""
    if actor.role in ISSUER_ROLES[credential_type]:
        return True
    return credential_type == "ce" and CE_PROVIDER in actor.capabilities


# --- credential.issue ------------------------------------------------------------------------


def issue(ctx: TxContext, payload: m.CredentialIssue) -> None:
    """An organisation anchors a credential it signed with its current key."""
    actor = ctx.actor
    if actor.kind != "org":
        raise e.OrganisationKeyOnly("credential.issue")
    if not may_issue(actor, payload.type):
        raise e.NotAnIssuerOf(f"a {actor.role} ({actor.id})", payload.type)
    credential_id = f"{actor.id}:{payload.local_id}"
    _check_new(ctx, credential_id, actor.id, payload)
    record_key_period(ctx, actor.id, actor.key_id)
    slot = status.allocate_slot(ctx, actor.id, payload)
    _anchor(ctx, credential_id, actor.id, actor.key_id, False, slot, payload)
    if payload.type == "privilege":  # an excluded member's new privilege: flag its issuer
        flag_if_excluded(ctx, payload.subject, actor.id)


def _check_new(ctx: TxContext, credential_id: str, issuer: str, payload: m.CredentialIssue) -> None:
    """The rules every new anchor meets, whoever issued it."""
    if gov.active_member(ctx.reader, payload.subject) is None:
        raise e.UnknownSubject(payload.subject)
    _check_validity(ctx, payload)
    _check_ce(payload)
    if ctx.read_raw(ctx.namespace, st.credential_key(credential_id)) is not None:
        raise e.CredentialExists(credential_id)
    held = _ids(ctx, st.member_credentials_key(payload.subject))
    if len(held) >= st.MAX_CREDENTIALS_PER_MEMBER:
        raise e.FileFull(payload.subject, st.MAX_CREDENTIALS_PER_MEMBER)
    if sum(1 for i in held if i.startswith(issuer + ":")) >= st.MAX_FILE_SHARE_PER_ISSUER:
        raise e.FileShareFull(payload.subject, issuer, st.MAX_FILE_SHARE_PER_ISSUER)
    _check_dependencies(ctx, issuer, payload)


def _check_validity(ctx: TxContext, payload: m.CredentialIssue) -> None:
    until = payload.valid_until_ms
    if until is None:
        return
    if until <= payload.valid_from_ms:
        raise e.InvalidValidity("valid_until_ms must be after valid_from_ms")
    if until <= ctx.block.time_ms:
        raise e.InvalidValidity("valid_until_ms has passed: the credential is expired already")


def _check_ce(payload: m.CredentialIssue) -> None:
    has_ce = (payload.ce_minutes is not None, payload.ce_category is not None)
    if has_ce != ((True, True) if payload.type == "ce" else (False, False)):
        raise e.CeFields(payload.type)


def _check_dependencies(ctx: TxContext, issuer: str, payload: m.CredentialIssue) -> None:
    """A privilege's dependencies: the same member's licences, certifications or degrees,
    each in force now, each with room for one more dependent."""
    if payload.depends_on and payload.type != "privilege":
        raise e.DependsOnPrivilegesOnly(payload.type)
    seen: set[str] = set()
    for dependency_id in payload.depends_on:
        if dependency_id in seen:
            raise e.DependencyRepeated(dependency_id)
        seen.add(dependency_id)
        dependency = status.in_force_dependency(ctx, dependency_id)
        if dependency.subject != payload.subject:
            raise e.DependencyOfAnother(dependency_id, payload.subject)
        if dependency.type not in FOUNDATIONS:
            raise e.DependencyType(dependency_id, dependency.type)
        _make_room(ctx, dependency_id, issuer)


def _make_room(ctx: TxContext, dependency_id: str, issuer: str) -> None:
    """Room for one more privilege on `dependency_id`, and for one more of this issuer's.

    A full list first drops the privileges that are revoked or expired (final: no cascade
    can reach them again), reading at most MAX_DEPENDENTS anchors, only when it is full.
    Each issuer holds at most MAX_DEPENDENTS_PER_ISSUER places, so one hospital cannot
    fill a licence's list and leave no room for the others' privileges.
    """
    key = st.dependents_key(dependency_id)
    ids = _ids(ctx, key)
    if len(ids) >= st.MAX_DEPENDENTS:
        ids = tuple(i for i in ids if not _final(ctx, i))
        ctx.store(key, st.CredentialIds(ids))
    if len(ids) >= st.MAX_DEPENDENTS:
        raise e.DependentsFull(dependency_id, st.MAX_DEPENDENTS)
    own = sum(1 for i in ids if i.startswith(issuer + ":"))
    if own >= st.MAX_DEPENDENTS_PER_ISSUER:
        raise e.DependentsOfIssuerFull(dependency_id, issuer, st.MAX_DEPENDENTS_PER_ISSUER)


def _final(ctx: TxContext, credential_id: str) -> bool:
    anchor = ctx.load(st.credential_key(credential_id), st.CredentialAnchor)
    if anchor is None or anchor.status in (st.REVOKED, st.EXPIRED):
        return True
    return anchor.valid_until_ms is not None and anchor.valid_until_ms <= ctx.block.time_ms


def _ids(ctx: TxContext, key: str) -> tuple[str, ...]:
    stored = ctx.load(key, st.CredentialIds)
    return () if stored is None else stored.root


def _append_id(ctx: TxContext, key: str, credential_id: str) -> None:
    ctx.store(key, st.CredentialIds((*_ids(ctx, key), credential_id)))


def _anchor(
    ctx: TxContext,
    credential_id: str,
    issuer: str,
    issuer_key: str,
    external: bool,
    slot: st.StatusSlot | None,
    payload: m.CredentialIssue,
) -> None:
    """Write the anchor, add it to the member's file and its dependencies' dependents,
    and schedule its expiry."""
    first = st.StatusChange(
        height=ctx.block.height,
        time_ms=ctx.block.time_ms,
        status=st.ACTIVE,
        reason="issued",
        by=issuer,
    )
    anchor = st.CredentialAnchor(
        id=credential_id,
        issuer=issuer,
        issuer_key=issuer_key,
        external=external,
        subject=payload.subject,
        type=payload.type,
        scope=payload.scope,
        jurisdiction=payload.jurisdiction,
        valid_from_ms=payload.valid_from_ms,
        valid_until_ms=payload.valid_until_ms,
        ce_minutes=payload.ce_minutes,
        ce_category=payload.ce_category,
        depends_on=tuple(payload.depends_on),
        hash=payload.hash,
        status_list=None if slot is None else slot.list,
        status_index=None if slot is None else slot.index,
        issued_height=ctx.block.height,
        issued_time_ms=ctx.block.time_ms,
        history=(first,),
    )
    ctx.store(st.credential_key(credential_id), anchor)
    _append_id(ctx, st.member_credentials_key(payload.subject), credential_id)
    for dependency_id in payload.depends_on:
        _append_id(ctx, st.dependents_key(dependency_id), credential_id)
    status.schedule_expiry(ctx, anchor)
    ctx.emit(
        "credential.issued",
        credential=credential_id,
        issuer=issuer,
        subject=payload.subject,
        credential_type=payload.type,
        external=external,
        status_list=anchor.status_list,
        status_index=anchor.status_index,
    )


# --- issuer key periods -------------------------------------------------------------------


def record_key_period(ctx: TxContext, issuer: str, key: str) -> None:
    """Note that `issuer` signs with `key` at this height: a new key starts a period and
    ends the one before, so a verifier can tell which key was the issuer's when."""
    key_hex = key.lower()
    height = ctx.block.height
    stored = ctx.load(st.issuer_keys_key(issuer), st.IssuerKeys)
    periods = () if stored is None else stored.keys
    if periods and periods[-1].key == key_hex:
        if periods[-1].last_height == height:
            return  # seen in this block already: nothing to write
        latest = periods[-1].model_copy(update={"last_height": height})
        periods = (*periods[:-1], latest)
    else:
        if len(periods) >= st.MAX_ISSUER_KEYS:
            raise e.IssuerKeysFull(issuer, st.MAX_ISSUER_KEYS)
        if periods:
            periods = (*periods[:-1], periods[-1].model_copy(update={"until_height": height}))
        new = st.IssuerKeyPeriod(
            key=key_hex, first_height=height, last_height=height, until_height=None
        )
        periods = (*periods, new)
    ctx.store(st.issuer_keys_key(issuer), st.IssuerKeys(issuer=issuer, keys=periods))


# --- external issuers ---------------------------------------------------------------------


def did_key_public_key(did: str) -> str:
    """The hex Ed25519 public key a `did:key:z6Mk...` names; InvalidDid if it names none."""
    try:
        return public_key_of_did_key(did).hex()
    except LedgerError as exc:
        raise e.InvalidDid(did) from exc


def _regulator(ctx: TxContext, tx_type: str) -> str:
    if ctx.actor.kind != "org":
        raise e.OrganisationKeyOnly(tx_type)
    return ctx.actor.id


def register_issuer(ctx: TxContext, payload: m.IssuerRegister) -> None:
    """A regulator registers an external issuer (again, if it removed it before)."""
    regulator = _regulator(ctx, "credential.issuer_register")
    if gov.org(ctx.reader, payload.handle) is not None:
        raise e.HandleIsAnOrganisation(payload.handle)
    key = st.external_issuer_key(payload.handle)
    existing = ctx.load(key, st.ExternalIssuer)
    if existing is not None and existing.active:
        raise e.ExternalIssuerExists(payload.handle)
    if existing is not None and existing.registered_by != regulator:
        raise e.NotTheRegistrar(payload.handle, regulator)
    if len(set(payload.types)) != len(payload.types):
        raise e.TypeRepeated()
    record = st.ExternalIssuer(
        handle=payload.handle,
        did=payload.did,
        public_key=did_key_public_key(payload.did),
        name=payload.name,
        types=tuple(sorted(payload.types, key=st.CREDENTIAL_TYPES.index)),
        jurisdiction=payload.jurisdiction,
        registered_by=regulator,
        registered_height=ctx.block.height,
        active=True,
        removed_height=None,
    )
    ctx.store(key, record)
    ctx.emit("credential.issuer_registered", handle=payload.handle, regulator=regulator)


def remove_issuer(ctx: TxContext, payload: m.IssuerRemove) -> None:
    """The registering regulator removes an external issuer: nothing new is anchored."""
    regulator = _regulator(ctx, "credential.issuer_remove")
    key = st.external_issuer_key(payload.handle)
    existing = ctx.load(key, st.ExternalIssuer)
    if existing is None:
        raise e.UnknownExternalIssuer(payload.handle)
    if existing.registered_by != regulator:
        raise e.NotTheRegistrar(payload.handle, regulator)
    if not existing.active:
        raise e.ExternalIssuerRemoved(payload.handle)
    removed = existing.model_copy(update={"active": False, "removed_height": ctx.block.height})
    ctx.store(key, removed)
    ctx.emit("credential.issuer_removed", handle=payload.handle, regulator=regulator)


def accept(ctx: TxContext, payload: m.CredentialAccept) -> None:
    """The subject's organisation anchors a credential a registered external issuer signed:
    no status list, the issuer's key from its registered did.

    The ledger never sees the document (it is the holder's), so it cannot check the proof
    itself: the anchor is the organisation's signed attestation that it did, and an
    organisation answers for what it attests. A member alone could anchor a document no
    issuer signed and be counted licensed or CE-compliant by everyone reading the chain.
    Verifiers still check a presented document's proof against the registered did."""
    actor = ctx.actor
    own_org = payload.subject.split("/", 1)[0]
    if not (actor.kind == "org" and actor.id == own_org):
        raise e.NotSubjectsSide(actor.id, payload.subject)
    if payload.status_list is not None or payload.status_index is not None:
        raise e.NoStatusListForExternal()
    issuer = ctx.load(st.external_issuer_key(payload.issuer), st.ExternalIssuer)
    if issuer is None:
        raise e.UnknownExternalIssuer(payload.issuer)
    if not issuer.active:
        raise e.ExternalIssuerRemoved(payload.issuer)
    if payload.type not in issuer.types:
        raise e.TypeNotRegistered(payload.issuer, payload.type)
    credential_id = f"{payload.issuer}:{payload.local_id}"
    _check_new(ctx, credential_id, payload.issuer, payload)
    _anchor(ctx, credential_id, payload.issuer, issuer.public_key, True, None, payload)
