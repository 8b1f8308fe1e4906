"""SDK for staff credentials: issue (build, sign, anchor), change status, verify offline.

Keys stay with their owner (principle 7): the issuing organisation's client builds the
W3C VC 2.0 document, signs it with its own key (`eddsa-jcs-2022`) and sends only its
anchor (`credential.issue`); the holder keeps the document. A verifier checks a
presented document here, not on the node: the anchor's state proof against the
client's trust anchor, then the document against the proven anchor
(`domains.credentials.verify`), so the verdict names what it was verified against
(principle 8).

A file of credentials (`verify_file`) is one credential or an unsigned presentation of
several: see `domains/credentials/presentation.py`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, JsonValue, ValidationError

from healthledger.app.registry import first_problem
from healthledger.app.views import StateView, WireView
from healthledger.client.epcis_import import sender_org
from healthledger.client.sdk import (
    Client,
    Committed,
    Signer,
    _JsonObject,
    _parse,
    _segment,
    require_committed,
)
from healthledger.crypto.data_integrity import (
    create_proof,
    did_key,
    verify_proof_with_key,
    xml_datetime,
)
from healthledger.crypto.keys import KeyPair
from healthledger.crypto.status_list import (
    bit_at,
    bitstring_hash,
    decode_list,
    encode_list,
    set_indices,
)
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.answers import (
    StatusListAnswer,
    VerifyReport,
    checks_of,
    status_list_document,
)
from healthledger.domains.credentials.ce import CeRule
from healthledger.domains.credentials.documents import (
    anchor_of,
    build_credential,
    credential_id_of,
    sign_credential,
)
from healthledger.domains.credentials.errors import UnknownExternalIssuer
from healthledger.domains.credentials.exclusions import CredentialExclusion, FlagsReply
from healthledger.domains.credentials.file import CredentialFile
from healthledger.domains.credentials.messages import (
    CredentialAccept,
    CredentialStatus,
    IssuerRegister,
    IssuerRemove,
    StatusAction,
)
from healthledger.domains.credentials.presentation import (
    Presentation,
    end_of_day_ms,
    presentation,
    presentation_of,
)
from healthledger.domains.credentials.psv import CredentialPsv, CredentialPsvReuse
from healthledger.domains.credentials.sharing import CredentialShare, CredentialUnshare
from healthledger.domains.credentials.verify import check_credential
from healthledger.domains.governance import state as gov_state
from healthledger.errors import (
    ErrorCode,
    InvalidField,
    InvalidProof,
    LedgerError,
    MalformedInput,
    NotFound,
    TooLarge,
    Unauthorized,
)

# A slot taken by a concurrent issuance is re-read and the document re-signed this often.
MAX_SLOT_RETRIES = 5
# Credentials per batch of `issue_many` (a signed issue is about 1 KiB).
ISSUE_CHUNK = 1000
# A presented file read from disk: at most this many bytes.
MAX_FILE_BYTES = 4 * 1024 * 1024


class Slot(WireView):
    """An issuer's next free status slot, as core's view publishes it."""

    list: int
    index: int

    def after(self, count: int) -> Slot:
        """The slot `count` places on, rolling into the issuer's next list."""
        position = self.index + count
        return Slot(
            list=self.list + position // st.STATUS_LIST_SIZE, index=position % st.STATUS_LIST_SIZE
        )


@dataclass(frozen=True)
class CredentialSpec:
    """What an issuer states about a member: one credential to build and sign."""

    type: st.CredentialType
    subject: str  # the member, `org/member`
    scope: str
    jurisdiction: str
    valid_from: datetime
    valid_until: datetime | None = None
    ce_minutes: int | None = None
    ce_category: str | None = None
    depends_on: tuple[str, ...] = ()
    name: str | None = None  # holder-only data: in the document, never on chain
    local_id: str | None = None  # default: derived from the slot, unique per issuer


class Issued(WireView):
    """A credential the ledger anchored, and the signed document its holder keeps."""

    id: str
    document: dict[str, JsonValue]
    tx: str
    height: int


class CredentialVerification(WireView):
    """The verdict on one presented credential, and what it was verified against."""

    id: str | None
    valid: bool
    at: str  # the instant the status was asked at (XML dateTime, UTC)
    checks: list[dict[str, JsonValue]]
    # The trust anchor the credential's anchor was proven against (None: nothing was
    # proven, so the verdict rests on the document alone and is not valid).
    verified_against: str | None
    proven_at_height: int | None


class FileVerification(WireView):
    """The verdicts on every credential of a presented file; valid only if all are."""

    holder: JsonValue = None
    valid: bool
    credentials: list[CredentialVerification]


@dataclass
class Credentials:
    """Credentials through one node: issue and change status with `keys` (an
    organisation's), read and verify with them or, for verify, without any."""

    client: Client
    keys: KeyPair | None = None
    org: str | None = None  # the issuing organisation: looked up from the key if not given
    issuer_name: str | None = None  # the document's issuer.name (default: its registered name)
    _signer: Signer | None = field(default=None, repr=False)

    @property
    def signer(self) -> Signer:
        if self.keys is None:
            raise MalformedInput("signing needs keys: Credentials(client, keys)")
        if self._signer is None:
            self._signer = self.client.signer(self.keys)
        return self._signer

    def issuer_org(self) -> str:
        if self.org is None:
            self.org = sender_org(self.client, self.signer)
        return self.org

    # --- issuing ----------------------------------------------------------------------

    def next_slot(self) -> Slot:
        """The issuer's next free status slot (core's public view)."""
        path = f"/v1/credentials/issuers/{self.issuer_org()}/next-status"
        return Slot.model_validate(self.client._call("GET", path))

    def issue(self, spec: CredentialSpec) -> Issued:
        """Build, sign and anchor one credential; a slot another issuance took meanwhile is
        read again and the document re-signed, a bounded number of times."""
        for _attempt in range(MAX_SLOT_RETRIES):
            document = self.signed_document(spec, self.next_slot())
            tx = self.signer.sign("credential.issue", _issue_payload(document))
            try:
                committed = require_committed(self.client.submit(tx, wait=True))
            except LedgerError as exc:
                if exc.code is ErrorCode.CONFLICT and "slot" in exc.message:
                    continue
                raise
            return _issued(document, committed)
        raise LedgerError(
            f"the status slot was taken {MAX_SLOT_RETRIES} times in a row; try again",
            ErrorCode.CONFLICT,
        )

    def issue_many(self, specs: Sequence[CredentialSpec], chunk: int = ISSUE_CHUNK) -> list[Issued]:
        """Many credentials on consecutive slots, sent in batches of `chunk`, each awaited
        before the next (the demo, the benchmark).

        Another issuance of the same issuer in between makes the rest refuse their slots:
        that refusal is raised, not retried (`issue` retries one).
        """
        first = self.next_slot()
        issued: list[Issued] = []
        for start in range(0, len(specs), chunk):
            part = specs[start : start + chunk]
            documents = [
                self.signed_document(spec, first.after(start + offset))
                for offset, spec in enumerate(part)
            ]
            txs = [self.signer.sign("credential.issue", _issue_payload(d)) for d in documents]
            reports = self.client.submit_batch(txs, wait=True, timeout_ms=120_000)
            issued += [
                _issued(d, require_committed(r)) for d, r in zip(documents, reports, strict=True)
            ]
        return issued

    def signed_document(self, spec: CredentialSpec, slot: Slot) -> dict[str, Any]:
        """The VC 2.0 document of `spec` on `slot`, signed here with this organisation's key."""
        keys = self._own_keys()
        org = self.issuer_org()
        document = build_credential(
            issuer=org,
            issuer_name=self._issuer_name(org),
            issuer_key=keys.key_id,
            local_id=spec.local_id or f"{spec.type}-{slot.list}-{slot.index}",
            subject=spec.subject,
            type=spec.type,
            scope=spec.scope,
            jurisdiction=spec.jurisdiction,
            valid_from_ms=_ms(spec.valid_from),
            valid_until_ms=None if spec.valid_until is None else _ms(spec.valid_until),
            ce_minutes=spec.ce_minutes,
            ce_category=spec.ce_category,
            depends_on=tuple(credential_ref(d) for d in spec.depends_on),
            name=spec.name,
            status_list=slot.list,
            status_index=slot.index,
        )
        return sign_credential(document, keys, _now_ms())

    def _issuer_name(self, org: str) -> str:
        """The document's issuer.name: as given, else the organisation's registered name."""
        if self.issuer_name is None:
            view = self.client.state(gov_state.NAMESPACE, gov_state.org_key(org), keys=self.keys)
            record = None if view.value is None else gov_state.OrgRecord.model_validate(view.value)
            self.issuer_name = org if record is None else record.name
        return self.issuer_name

    def _own_keys(self) -> KeyPair:
        if self.keys is None:
            raise MalformedInput("signing needs keys: Credentials(client, keys)")
        return self.keys

    # --- status -----------------------------------------------------------------------

    def suspend(self, credential_id: str, reason: str) -> Committed:
        """Suspend one of the issuer's credentials; dependent privileges follow."""
        return self.change_status(credential_id, "suspend", reason)

    def reinstate(self, credential_id: str, reason: str) -> Committed:
        """Reinstate a suspended credential; nothing else is restored."""
        return self.change_status(credential_id, "reinstate", reason)

    def revoke(self, credential_id: str, reason: str) -> Committed:
        """Revoke for good; dependent privileges are suspended."""
        return self.change_status(credential_id, "revoke", reason)

    def change_status(self, credential_id: str, action: StatusAction, reason: str) -> Committed:
        """One status change of one of the issuer's credentials (`credential.status`)."""
        fields = {"credential_id": credential_ref(credential_id), "action": action}
        return self.send("credential.status", CredentialStatus, {**fields, "reason": reason})

    def send(self, tx_type: str, model: type[BaseModel], fields: Mapping[str, object]) -> Committed:
        """Check `fields` against the payload's model here (a bad one is an InvalidField
        naming the field, before anything is signed), then commit it."""
        try:
            payload = model.model_validate(fields)
        except ValidationError as exc:
            raise InvalidField(f"{tx_type}: {first_problem(exc)}") from exc
        return self.commit(tx_type, payload)

    def commit(self, tx_type: str, payload: BaseModel | Mapping[str, object]) -> Committed:
        """Sign with these keys, submit, wait: the committed report or the refusal raised."""
        body = (
            payload.model_dump(mode="json", exclude_none=True)
            if isinstance(payload, BaseModel)
            else dict(payload)
        )
        return require_committed(self.client.submit(self.signer.sign(tx_type, body), True))

    # --- external issuers -------------------------------------------------------------

    def register_issuer(
        self,
        handle: str,
        did: str,
        name: str,
        types: Sequence[st.CredentialType],
        jurisdiction: str,
    ) -> Committed:
        """A regulator registers an issuer outside the ledger by its did:key."""
        fields = {"handle": handle, "did": did, "name": name, "types": list(types)}
        return self.send(
            "credential.issuer_register", IssuerRegister, {**fields, "jurisdiction": jurisdiction}
        )

    def remove_issuer(self, handle: str) -> Committed:
        """The registering regulator stops new credentials of an external issuer."""
        return self.send("credential.issuer_remove", IssuerRemove, {"handle": handle})

    def accept(self, document: Mapping[str, Any], issuer: str) -> Committed:
        """Anchor, as the subject's organisation, a credential a registered external issuer
        (`issuer`, its handle) signed. The anchor is the organisation's attestation that the
        proof holds, so the proof is checked here first: against the issuer's key as
        registered on chain, proven against this client's trust anchor."""
        proven = self.client.verified_state(
            st.NAMESPACE, st.external_issuer_key(issuer), keys=self._own_keys()
        )
        if proven is None:
            raise UnknownExternalIssuer(issuer)
        registered = st.ExternalIssuer.model_validate(proven)
        verify_proof_with_key(document, bytes.fromhex(registered.public_key))
        anchor = anchor_of(dict(document)).model_dump(mode="json", exclude_none=True)
        return self.send("credential.accept", CredentialAccept, {**anchor, "issuer": issuer})

    # --- the member's file and its monitoring ------------------------------------------

    def file(self, member: str, at: date | datetime | int | None = None) -> CredentialFile:
        """A member's credential file as these keys may read it (the member, their
        organisation, where they hold privileges, regulators, auditors, a share's grantee)."""
        return _parse(CredentialFile, self._member_read(member, "file", at))

    def fhir(self, member: str, at: date | datetime | int | None = None) -> dict[str, JsonValue]:
        """A member's credential file as a FHIR R4 collection Bundle: a Practitioner with a
        qualification per credential, and a VerificationResult per credential (statuses at
        `at`). The same read gate as `file`; the node's word (no proof comes with it)."""
        return _parse(_JsonObject, self._member_read(member, "fhir", at)).root

    def _member_read(
        self, member: str, what: str, at: date | datetime | int | None
    ) -> httpx.Response:
        """A signed read of one of a member's routes (`file`, `fhir`), at a time if given."""
        org, _, member_id = member.partition("/")
        params = {} if at is None else {"at_ms": _at_ms(at)}
        path = f"/v1/credentials/members/{_segment(org)}/{_segment(member_id)}/{what}"
        return self.client._get(path, params, self._own_keys())

    def flags(self, org: str) -> FlagsReply:
        """The members an organisation is flagged on (excluded while holding a privilege
        there), and by which regulators (a member organisation's signed read)."""
        path = f"/v1/credentials/orgs/{_segment(org)}/flags"
        answer = self.client._get(path, None, self._own_keys())
        return _parse(FlagsReply, answer)

    def share(
        self, grantee: str, until: date | datetime | int, credentials: Sequence[str] = ()
    ) -> Committed:
        """A member shares their file (or only `credentials`) with an organisation or a
        person until `until`."""
        chosen = [credential_ref(c) for c in credentials]
        fields = {"grantee": grantee, "credentials": chosen, "until_ms": _at_ms(until)}
        return self.send("credential.share", CredentialShare, fields)

    def unshare(self, share_id: str) -> Committed:
        """End one of the member's shares now."""
        return self.send("credential.unshare", CredentialUnshare, {"share": share_id})

    def ce_rule(
        self,
        minutes_per_cycle: int,
        effective_from: date | datetime | int,
        categories: Mapping[str, int] | None = None,
    ) -> Committed:
        """A board publishes its CE requirement per licence cycle (minutes; per category)."""
        fields = {
            "minutes_per_cycle": minutes_per_cycle,
            "categories": [
                {"category": name, "min_minutes": minutes}
                for name, minutes in (categories or {}).items()
            ],
            "effective_from_ms": _day_start_ms(effective_from),
        }
        return self.send("credential.ce_rule", CeRule, fields)

    def exclude(self, member: str, exclusion_list: str, reason: str) -> Committed:
        """A regulator adds a member to one of its exclusion lists."""
        return self._exclusion("add", member, exclusion_list, reason)

    def lift(self, member: str, exclusion_list: str, reason: str) -> Committed:
        """A regulator lifts its entry of a member."""
        return self._exclusion("lift", member, exclusion_list, reason)

    def _exclusion(self, action: str, member: str, exclusion_list: str, reason: str) -> Committed:
        fields = {"action": action, "member": member, "reason": reason, "list": exclusion_list}
        return self.send("credential.exclusion", CredentialExclusion, fields)

    def psv(self, credential_id: str, method: str, result: str = "ok") -> Committed:
        """Record a primary-source verification of a credential (who verified what, when)."""
        fields = {"credential_id": credential_ref(credential_id), "method": method}
        return self.send("credential.psv", CredentialPsv, {**fields, "result": result})

    def psv_reuse(self, psv_id: str, decision: str) -> Committed:
        """Rely on another organisation's primary-source verification for a decision."""
        fields = {"psv": psv_id, "decision": decision}
        return self.send("credential.psv_reuse", CredentialPsvReuse, fields)

    # --- reads ------------------------------------------------------------------------

    def anchor(self, credential_id: str) -> st.CredentialAnchor:
        """A credential's anchor, proven against the client's trust anchor (signed read)."""
        proven = self.proven_anchor(credential_id)
        if proven.view.value is None:
            raise NotFound(f"no credential {credential_id} on the ledger")
        return st.CredentialAnchor.model_validate(proven.view.value)

    def proven_anchor(self, credential_id: str) -> ProvenAnchor:
        """The anchor's state view (its value or its proven absence), proven against the
        client's trust anchor, and which anchor that was. A signed read: needs keys."""
        key = st.credential_key(credential_ref(credential_id))
        view = self.client.state(st.NAMESPACE, key, proof=True, keys=self._own_keys())
        return ProvenAnchor(view=view, label=self.client.prove_state(view, st.NAMESPACE, key))

    def signed_status_list(self, checked: CheckedStatusList) -> dict[str, Any]:
        """The issuer's own signed BitstringStatusListCredential of a list checked against
        the chain (`status_list`): eddsa-jcs-2022 with these keys, which must be the
        issuer's (the node cannot sign one: keys stay with their owner)."""
        keys = self._own_keys()
        if self.issuer_org() != checked.issuer:
            raise Unauthorized(f"only {checked.issuer}'s key signs its status lists")
        now_ms = _now_ms()
        document = status_list_document(
            checked.issuer,
            checked.purpose,
            checked.list,
            encode_list(checked.bits),
            issuer_id=did_key(keys.public_key),
        )
        document["validFrom"] = xml_datetime(now_ms)
        return create_proof(document, keys, now_ms)

    def status_list(self, issuer: str, purpose: st.StatusPurpose, number: int) -> CheckedStatusList:
        """A published status list, checked here: the record's proof against the trust
        anchor, the published encodedList's bits against the proven SHA-256."""
        path = f"/v1/credentials/status-lists/{issuer}/{purpose}/{number}"
        answer = StatusListAnswer.model_validate(self.client._call("GET", path))
        return check_status_list(self.client, answer, issuer, purpose, number)

    # --- verifying --------------------------------------------------------------------

    def verify(
        self, document: Mapping[str, Any], at: date | datetime | int | None = None
    ) -> CredentialVerification:
        """Verify a presented credential here: its anchor proven against the trust anchor,
        then proof, issuer key, hash and status at `at` (a date: its close in UTC; an int:
        ms since the epoch; default now) against that proven anchor.

        With keys the anchor is a signed state read; without, it comes from the node's
        public verify route (given only when the document's hash matches; its proof is
        checked here all the same)."""
        at_ms = _at_ms(at)
        body = dict(document)
        try:
            credential_id = credential_id_of(body)
        except LedgerError as exc:
            return _refused(None, at_ms, "document", exc)
        try:
            proven = self._anchor_for(body, credential_id)
        except LedgerError as exc:
            return _refused(credential_id, at_ms, "anchor", exc)
        anchor = (
            None
            if proven.view.value is None
            else st.CredentialAnchor.model_validate(proven.view.value)
        )
        verdict = check_credential(body, anchor, at_ms, now_ms=_now_ms())
        return CredentialVerification(
            id=credential_id,
            valid=verdict.ok,
            at=xml_datetime(at_ms),
            checks=checks_of(verdict),
            verified_against=proven.label,
            proven_at_height=proven.view.height,
        )

    def _anchor_for(self, document: dict[str, Any], credential_id: str) -> ProvenAnchor:
        """The anchor by a signed read when these keys may read state (a member
        organisation's, an auditor's), else through the public verify route."""
        if self.keys is not None:
            try:
                return self.proven_anchor(credential_id)
            except LedgerError as exc:
                if exc.code is not ErrorCode.UNAUTHORIZED:
                    raise
        return self._anchor_via_route(document, credential_id)

    def _anchor_via_route(self, document: dict[str, Any], credential_id: str) -> ProvenAnchor:
        """The anchor the public route returns with a document whose hash it matches; its
        proof is checked here all the same."""
        answer = VerifyReport.model_validate(
            self.client._call("POST", "/v1/credentials/verify", json=document)
        )
        if len(answer.credentials) != 1:
            raise InvalidProof("asked about one credential, the node answered about others")
        checked = answer.credentials[0]
        if checked.anchor is None:
            raise NotFound(
                f"the ledger holds no anchor of {credential_id} with this document's hash"
            )
        view = StateView.model_validate(checked.anchor.model_dump(mode="json"))
        key = st.credential_key(credential_id)
        return ProvenAnchor(view=view, label=self.client.prove_state(view, st.NAMESPACE, key))

    def verify_file(
        self, file: Path | Mapping[str, Any], at: date | datetime | int | None = None
    ) -> FileVerification:
        """Verify every credential of a presented file (one credential, or a presentation:
        domains/credentials/presentation.py); valid only if all are."""
        presented = read_presentation(file)
        results = [self.verify(document, at) for document in presented.credentials]
        return FileVerification(
            holder=presented.holder,
            valid=all(result.valid for result in results),
            credentials=results,
        )


class CheckedStatusList(WireView):
    """A status list whose bits were checked against the hash proven on chain."""

    issuer: str
    purpose: str
    list: int
    bits_hash: str
    proven_at_height: int
    verified_against: str
    bits: bytes

    def bit(self, index: int) -> bool:
        return bit_at(self.bits, index)

    def summary(self) -> dict[str, Any]:
        """What a person reads: the list, its proven hash, how many bits are set."""
        return {
            "issuer": self.issuer,
            "purpose": self.purpose,
            "list": self.list,
            "entries": len(self.bits) * 8,
            "set_bits": len(set_indices(self.bits)),
            "bits_hash": self.bits_hash,
            "encoded_list_matches_chain": True,
            "proven_at_height": self.proven_at_height,
            "verified_against": self.verified_against,
        }


def check_status_list(
    client: Client, answer: StatusListAnswer, issuer: str, purpose: str, number: int
) -> CheckedStatusList:
    """The published list's bits, or InvalidProof naming what does not hold."""
    key = st.status_list_key(issuer, purpose, number)
    view = StateView.model_validate(answer.record.model_dump(mode="json"))
    label = client.prove_state(view, st.NAMESPACE, key)
    if view.value is None:
        raise InvalidProof(f"the node proved that {key} does not exist")
    record = st.StatusListRecord.model_validate(view.value)
    subject = answer.credential.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("statusPurpose") != purpose:
        raise InvalidProof("the published list is not of the purpose asked for")
    bits = decode_list(str(subject.get("encodedList", "")))
    if bitstring_hash(bits) != record.bits_hash or answer.bits_hash != record.bits_hash:
        raise InvalidProof("the published encodedList is not the bitstring proven on chain")
    return CheckedStatusList(
        issuer=issuer,
        purpose=purpose,
        list=number,
        bits_hash=record.bits_hash,
        proven_at_height=view.height,
        verified_against=label,
        bits=bits,
    )


@dataclass(frozen=True)
class ProvenAnchor:
    view: StateView
    label: str


def read_presentation(file: Path | Mapping[str, Any]) -> Presentation:
    """A presented file from disk (bounded), or an already parsed one."""
    if not isinstance(file, Path):
        return presentation_of(dict(file))
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise TooLarge(f"{file}: a presented file is at most {MAX_FILE_BYTES} bytes")
        text = file.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise MalformedInput(f"cannot read {file}: {exc}") from exc
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise MalformedInput(f"{file}: not a JSON document: {exc}") from exc
    return presentation_of(body)


def credential_ref(text: str) -> str:
    """A credential's ledger id (`issuer:local`) from itself or from its document id
    (`urn:healthledger:credential:issuer:local`): people copy either."""
    return text.removeprefix(st.ID_PREFIX)


def _issue_payload(document: dict[str, Any]) -> dict[str, Any]:
    return anchor_of(document).model_dump(mode="json", exclude_none=True)


def _issued(document: dict[str, Any], committed: Committed) -> Issued:
    return Issued(
        id=credential_id_of(document), document=document, tx=committed.id, height=committed.height
    )


def _refused(
    credential_id: str | None, at_ms: int, check: str, exc: LedgerError
) -> CredentialVerification:
    """A verdict that could not be reached: the document or the proof is not usable."""
    detail: dict[str, JsonValue] = {
        "check": check,
        "ok": False,
        "reason": str(exc.code),
        "message": exc.message,
    }
    return CredentialVerification(
        id=credential_id,
        valid=False,
        at=xml_datetime(at_ms),
        checks=[detail],
        verified_against=None,
        proven_at_height=None,
    )


def _ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _at_ms(at: date | datetime | int | None) -> int:
    """A datetime as is; a date as the last millisecond of that day in UTC (the status
    the credential had when the day closed); an int as ms since the epoch; none: now."""
    if at is None:
        return _now_ms()
    if isinstance(at, int):
        return at
    if isinstance(at, datetime):
        return _ms(at)
    return end_of_day_ms(at)


def _day_start_ms(at: date | datetime | int) -> int:
    """When something takes effect: a date from its first millisecond (UTC)."""
    if isinstance(at, int):
        return at
    if isinstance(at, datetime):
        return _ms(at)
    return _ms(datetime(at.year, at.month, at.day, tzinfo=UTC))


def _now_ms() -> int:
    return int(time.time() * 1000)


__all__ = [
    "CredentialSpec",
    "CredentialVerification",
    "Credentials",
    "FileVerification",
    "InvalidProof",
    "Issued",
    "Slot",
    "credential_ref",
    "presentation",
    "read_presentation",
]
