"""The custodian's vault service: add, read, locate and audit patient records.

A node acts as custodian for the organisations whose keys it holds. It
encrypts what a provider adds, keeps the ciphertext in its vault and signs the
`record.add` metadata with the organisation's key. A read is released only
after the `record.access` event it signs has committed, in a block whose
handler re-checked the consent: the audit trail and the data cannot disagree.
Whatever can fail locally (unwrapping the data key, the reader's key) is
checked before that event is submitted, so a committed access is one the vault
can serve.

The organisations' key files keep every earlier encryption secret (a keyring):
after a `key.rotate`, records wrapped to an older key stay readable, and the
service reloads a key file whose signing key the ledger no longer knows.

Each operation is split into `prepare_*` (decide, build the transaction) and
`finish_*` (after the commit), so the API awaits commits without holding a thread.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from healthledger.app import queries
from healthledger.app import record_views as views
from healthledger.app.nonces import NAMESPACE as NONCE_NAMESPACE
from healthledger.app.permissions import check_permission
from healthledger.crypto.canonical import parse_json
from healthledger.crypto.envelope import Sealed, new_data_key, unwrap_with_keyring, wrap_key
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.crypto.signed_request import (
    HEADER_INTENT,
    ReplayGuard,
    SignedRequest,
    verify_request,
)
from healthledger.domains.records import fhir, policy
from healthledger.domains.records import state as st
from healthledger.domains.records.policy import BreakGlassReason, Decision
from healthledger.domains.records.queries import (
    choose_read_basis,
    locator_entry,
    representative_for,
    visible_records,
)
from healthledger.engines.base import CommittedBlock
from healthledger.errors import ErrorCode, LedgerError, NotFound
from healthledger.ledger.block import TxResult
from healthledger.ledger.context import Actor
from healthledger.ledger.store import Store
from healthledger.ledger.transaction import Transaction, sign_transaction
from healthledger.node.node import Node, commit_futures
from healthledger.vault import Vault

log = logging.getLogger(__name__)

CONTENT_TICKET_MS = 10 * 60 * 1000  # how long an audited read may fetch its ciphertext
# Who besides the organisation's own key may read its break-glass alerts.
ALERT_ROLES = frozenset({"admin", "auditor"})
MAX_FILE_BYTES = 64 * 1024**3


@dataclass(frozen=True)
class Access:
    """What a vault decided about a read, to be recorded in the reader's name."""

    purpose: str
    decision: Decision
    reason_hash: str | None
    intent: dict[str, Any]  # the reader's signature of what they asked


@dataclass(frozen=True)
class NewRecord:
    """A FHIR resource to add for a patient; `replaces` names the version it corrects."""

    patient: str
    resource: object
    replaces: str | None = None


@dataclass
class Unsigned:
    """A transaction the vault will sign with an organisation's key when it submits it.

    Signing at submission, under one lock, keeps each key's nonces in the order the
    engine receives them, however many requests prepare concurrently.
    """

    org: str
    tx_type: str
    payload: dict[str, Any]
    signed: Transaction | None = None

    @property
    def tx(self) -> Transaction:
        if self.signed is None:
            raise LedgerError("not submitted yet", ErrorCode.INVALID_STATE)
        return self.signed


@dataclass(frozen=True)
class PreparedAdd:
    unsigned: Unsigned
    record_id: str
    sealed: Sealed
    summary: fhir.ResourceSummary

    @property
    def tx(self) -> Transaction:
        return self.unsigned.tx


@dataclass(frozen=True)
class PreparedAccess:
    """An access decided by the vault and waiting for its audit event to commit."""

    unsigned: Unsigned
    reader: Actor
    decision: Decision
    record: dict[str, Any] | None
    data_key: bytes | None = None  # a read's data key, unwrapped before the event is sent
    note: str | None = None  # a break-glass reason's hash: its sealed text is in the vault

    @property
    def tx(self) -> Transaction:
        return self.unsigned.tx


@dataclass(frozen=True)
class DeclaredBody:
    """What a signed upload says of its body before sending it: length and SHA-256 (hex)."""

    size: int
    sha256: str


@dataclass(frozen=True)
class _FilePlan:
    author: Actor
    custodian: str
    patient: str
    summary: fhir.ResourceSummary
    media_type: str


class Upload:
    """A file arriving for the vault, held to its declaration and encrypted as it streams in.

    The record's fresh data key lives only in this object until `finish` wraps it,
    so what reaches `tmp/` is ciphertext nobody else can open. Put `discard` in a
    `finally`: after a refusal or a dropped connection it removes the partial file.
    """

    def __init__(self, service: RecordService, plan: _FilePlan, declared: DeclaredBody) -> None:
        self._service = service
        self._plan = plan
        self._declared = declared
        self._data_key = new_data_key()
        self._digest = hashlib.sha256()
        self._size = 0
        self._writer = service.vault.writer(self._data_key)

    def feed(self, chunk: bytes) -> None:
        """Take the next piece; refuse as soon as the body outgrows its declared length."""
        self._size += len(chunk)
        if self._size > self._declared.size:
            raise LedgerError(
                f"the body is longer than the {self._declared.size} bytes it declared",
                ErrorCode.TOO_LARGE,
            )
        self._digest.update(chunk)
        self._writer.write(chunk)

    def finish(self) -> PreparedAdd:
        """The body ended: it must be exactly what was declared, or nothing is kept."""
        if self._size != self._declared.size or self._digest.hexdigest() != self._declared.sha256:
            raise LedgerError(
                f"the body ({self._size} bytes) differs from its declared length and SHA-256",
                ErrorCode.BODY_MISMATCH,
            )
        sealed = self._writer.commit()
        plan = self._plan
        try:
            return self._service._prepared(
                plan.author,
                plan.custodian,
                plan.patient,
                plan.summary,
                plan.media_type,
                self._data_key,
                sealed,
            )
        except BaseException:
            self._service.vault.shred(sealed.blob_id)
            raise

    def discard(self) -> None:
        self._writer.discard()


class RecordService:
    """One node's vault and the records logic around it."""

    def __init__(self, node: Node, vault_root: Path | None = None) -> None:
        self.node = node
        self.store = node.store
        self.vault = Vault(vault_root or node.home.db_path.parent / "vault")
        # Before any upload starts: what an earlier process left half-written goes.
        if swept := self.vault.sweep_tmp():
            log.info("swept %d unfinished uploads from the vault's tmp/", swept)
        self.audience = node.settings.org
        self.custodians = _custodian_keys(node)
        self.replays = ReplayGuard()
        self._nonces: dict[str, int] = {}
        self._nonce_lock = threading.Lock()
        self._submit_lock = threading.Lock()
        node.engine.on_commit(self._shred_committed)
        node.on_stop(self.close)

    @property
    def chain_id(self) -> str:
        return self.node.app.chain_id

    # --- who is asking -------------------------------------------------------------

    def authenticate(
        self, headers: Mapping[str, str], method: str, target: str, body_sha256: str
    ) -> tuple[SignedRequest, Actor]:
        """Check a signed request envelope and resolve its signer on the ledger.

        Only requests addressed to this node's organisation pass (WRONG_AUDIENCE).
        """
        now = _now_ms()
        request = verify_request(
            headers, self.chain_id, method, target, body_sha256, now, audience=self.audience
        )
        self.replays.remember(request, now)
        return request, views.actor(self.store, request.key_id)

    # --- adding records ------------------------------------------------------------

    def custodian_for(self, author: Actor) -> str:
        """The organisation that will hold the record: the author's, if this node holds its key."""
        if author.kind not in {"org", "member"} or author.org is None:
            raise LedgerError(
                "records are added by an organisation or its people", ErrorCode.UNAUTHORIZED
            )
        if author.org not in self.custodians:
            raise LedgerError(
                f"this node is not the vault of {author.org}; send the record to its node",
                ErrorCode.NOT_CUSTODIAN,
            )
        return author.org

    def prepare_add_resource(
        self, author: Actor, patient: str, resource: object, replaces: str | None = None
    ) -> PreparedAdd:
        """Validate a FHIR resource, encrypt it into the vault, build its `record.add`."""
        (prepared,) = self.prepare_add_resources(author, [NewRecord(patient, resource, replaces)])
        if isinstance(prepared, LedgerError):
            raise prepared
        return prepared

    def prepare_add_resources(
        self, author: Actor, items: Sequence[NewRecord]
    ) -> list[PreparedAdd | LedgerError]:
        """Many small FHIR records: each validated alone, all encrypted in one vault write."""
        custodian = self.custodian_for(author)
        checked: list[tuple[NewRecord, fhir.ResourceSummary, bytes] | LedgerError] = []
        for item in items:
            try:
                summary = fhir.validate_resource(item.resource)
                if not views.patient_exists(self.store, item.patient):
                    raise LedgerError(f"no registered patient {item.patient}", ErrorCode.NOT_FOUND)
                checked.append((item, summary, _resource_bytes(item.resource)))
            except LedgerError as exc:
                checked.append(exc)
        good = [c for c in checked if not isinstance(c, LedgerError)]
        keys = [new_data_key() for _ in good]
        sealed = iter(self.vault.put_small([(k, c[2]) for k, c in zip(keys, good, strict=True)]))
        key_iter = iter(keys)
        return [
            c
            if isinstance(c, LedgerError)
            else self._prepared(
                author,
                custodian,
                c[0].patient,
                c[1],
                "application/fhir+json",
                next(key_iter),
                next(sealed),
                c[0].replaces,
            )
            for c in checked
        ]

    def open_upload(
        self, author: Actor, patient: str, kind: str, date: str, declared: DeclaredBody
    ) -> Upload:
        """Everything about a file except its bytes is checked here, before a byte is stored."""
        if declared.size > MAX_FILE_BYTES:
            raise LedgerError(f"a file is at most {MAX_FILE_BYTES} bytes", ErrorCode.TOO_LARGE)
        summary = fhir.file_summary(kind, date)
        custodian = self.custodian_for(author)
        check_permission("record.add", views.actor(self.store, self._org_keys(custodian).key_id))
        if not views.patient_exists(self.store, patient):
            raise LedgerError(f"no registered patient {patient}", ErrorCode.NOT_FOUND)
        plan = _FilePlan(author, custodian, patient, summary, fhir.FILE_KINDS[kind])
        return Upload(self, plan, declared)

    def _prepared(
        self,
        author: Actor,
        custodian: str,
        patient: str,
        summary: fhir.ResourceSummary,
        media_type: str,
        data_key: bytes,
        sealed: Sealed,
        replaces: str | None = None,
    ) -> PreparedAdd:
        """Wrap the data key for the patient and the custodian; build the metadata."""
        patient_public = views.encryption_key(self.store, _patient_actor(patient))
        org_keys = self._org_keys(custodian)
        record_id = "rec-" + secrets.token_hex(12)
        payload = {
            "record_id": record_id,
            "patient": patient,
            "resource_type": summary.resource_type,
            "code": summary.code,
            "date": summary.date,
            "media_type": media_type,
            "content_hash": sealed.content_hash,
            "blob_id": sealed.blob_id,
            "size": sealed.size,
            "wrapped_keys": {
                "patient": wrap_key(data_key, patient_public),
                "custodian": wrap_key(data_key, org_keys.encryption_public),
            },
            "author": author.id if author.kind == "member" else None,
            "replaces": replaces,
        }
        return PreparedAdd(Unsigned(custodian, "record.add", payload), record_id, sealed, summary)

    def finish_add(self, prepared: PreparedAdd, height: int, result: TxResult) -> dict[str, Any]:
        if not result.ok:
            self.abandon_add(prepared)
            raise LedgerError(result.message, ErrorCode(result.code))
        return {
            "record_id": prepared.record_id,
            "tx_id": prepared.tx.id,
            "height": height,
            "resource_type": prepared.summary.resource_type,
            "code": prepared.summary.code,
            "date": prepared.summary.date,
            "content_hash": prepared.sealed.content_hash,
            "blob_id": prepared.sealed.blob_id,
            "size": prepared.sealed.size,
        }

    def abandon_add(self, prepared: PreparedAdd) -> None:
        """The `record.add` never committed: its ciphertext must not linger.

        Unless a committed record of ours names the blob: a refusal never costs
        a record its data.
        """
        blob_id = prepared.sealed.blob_id
        owner = self.store.state_get(st.NAMESPACE, st.blob_key(blob_id))
        if owner is None or not self._holds_own_blob(parse_json(owner), blob_id):
            self.vault.shred(blob_id)

    # --- reading records -----------------------------------------------------------

    def prepare_read(
        self,
        request: SignedRequest,
        reader: Actor,
        record_id: str,
        purpose: str,
        break_glass_reason: BreakGlassReason | None,
    ) -> PreparedAccess:
        """Decide at the latest block whether to release; build the audit event if so."""
        intent = _intent(request, break_glass_reason)  # before anything is sealed or stored
        with self.store.snapshot():
            record = views.record(self.store, record_id)
            file = views.patient_file(self.store, record["patient"])
            now = self._block_time_ms()
        if record["custodian"] not in self.custodians:
            raise LedgerError(
                f"record {record_id} is held by {record['custodian']}; ask its vault",
                ErrorCode.NOT_CUSTODIAN,
            )
        role = views.org_role(self.store, reader.org)
        reason_text = None if break_glass_reason is None else break_glass_reason.text
        decision = choose_read_basis(file, record, reader, purpose, now, reason_text, role)
        if not self.vault.has(record["blob_id"]):
            raise LedgerError(
                f"the vault no longer holds record {record_id}", ErrorCode.BLOB_MISSING
            )
        # Fail here, not after the access event committed: the key must open, the reader
        # must have an encryption key to rewrap it for.
        data_key = self._unwrap_for(record["custodian"], record["wrapped_keys"]["custodian"])
        views.encryption_key(self.store, reader)
        glass = decision.basis == "break_glass"  # a reader with standing needs no reason
        note = self._seal_reason(record["custodian"], break_glass_reason if glass else None)
        access = Access(purpose, decision, note, intent)
        unsigned = self._access_tx(record["custodian"], request, reader, record, access)
        return PreparedAccess(unsigned, reader, decision, record, data_key, note)

    def finish_read(
        self, prepared: PreparedAccess, height: int, result: TxResult
    ) -> dict[str, Any]:
        """The audit event committed: rewrap the data key for the reader, attach the receipt."""
        self._settle(prepared, result)
        record, data_key = prepared.record, prepared.data_key
        assert record is not None and data_key is not None
        reader_public = views.encryption_key(self.store, prepared.reader)
        inline = self.vault.inline_ciphertext(record["blob_id"])
        return {
            "record": _public_record(record),
            "access": _access_summary(prepared, height),
            "wrapped_key": wrap_key(data_key, reader_public),
            "receipt": queries.tx_view(self.store, prepared.tx.id, prove=True),
            "content_url": f"/v1/records/{record['id']}/content?access={prepared.tx.id}",
            # Small records come with the answer; large ones stream from content_url.
            "ciphertext": None if inline is None else base64.b64encode(inline).decode(),
        }

    def content_chunks(self, reader: Actor, record_id: str, access_tx_id: str) -> Iterable[bytes]:
        """Ciphertext of a read whose audit event committed recently, for this reader only."""
        try:
            stored = self.store.tx(access_tx_id)
        except NotFound as exc:
            raise LedgerError(
                "no committed access event with that id", ErrorCode.NO_CONSENT
            ) from exc
        tx = parse_json(stored.raw)
        payload = tx["payload"]
        if (
            tx["type"] != "record.access"
            or not stored.result.ok
            or payload.get("record_id") != record_id
            or payload.get("reader") != reader.key_id
        ):
            raise LedgerError(
                "that access event does not cover this reader and record", ErrorCode.NO_CONSENT
            )
        if self.store.header(stored.height).time_ms + CONTENT_TICKET_MS < _now_ms():
            raise LedgerError(
                "that access event is too old; read the record again", ErrorCode.REQUEST_EXPIRED
            )
        record = views.record(self.store, record_id)
        if record["status"] == st.SHREDDED:
            raise LedgerError(f"record {record_id} was shredded", ErrorCode.RECORD_SHREDDED)
        return self.vault.read_chunks(record["blob_id"])

    # --- locating records ----------------------------------------------------------

    def locate(self, reader: Actor, patient: str, purpose: str | None) -> dict[str, Any]:
        """The patient's records across every custodian, filtered to the caller's standing."""
        with self.store.snapshot():
            if not views.patient_exists(self.store, patient):
                raise LedgerError(
                    f"no consent of {patient} lets this caller locate records", ErrorCode.NO_CONSENT
                )
            file = views.patient_file(self.store, patient)
            now = self._block_time_ms()
            height = self.store.last_height()
        entries = visible_records(file, reader, purpose, now)
        return {"patient": patient, "height": height, "records": entries}

    def prepare_break_glass_locate(
        self, request: SignedRequest, reader: Actor, patient: str, reason: BreakGlassReason
    ) -> PreparedAccess:
        """An emergency search without consent: recorded on the chain before it is answered."""
        intent = _intent(request, reason)  # before the reason is sealed into the vault
        if reader.org is None or reader.org not in self.custodians:
            raise LedgerError(
                "a break-glass search goes through the reader's own organisation's node",
                ErrorCode.NOT_CUSTODIAN,
            )
        if not views.patient_exists(self.store, patient):
            raise LedgerError(f"no registered patient {patient}", ErrorCode.NOT_FOUND)
        role = views.org_role(self.store, reader.org)
        decision = policy.check_break_glass(reader, role, "emergency", True)
        note = self._seal_reason(reader.org, reason)
        payload = {
            "action": "locate",
            "patient": patient,
            "reader": reader.key_id,
            "purpose": "emergency",
            "basis": "break_glass",
            "reason_hash": note,
            "request_id": request.request_id,
            "intent": intent,
        }
        return PreparedAccess(
            Unsigned(reader.org, "record.access", payload), reader, decision, None, note=note
        )

    def finish_break_glass_locate(
        self, prepared: PreparedAccess, patient: str, height: int, result: TxResult
    ) -> dict[str, Any]:
        self._settle(prepared, result)
        with self.store.snapshot():
            file = views.patient_file(self.store, patient)
        return {
            "patient": patient,
            "height": height,
            "records": [locator_entry(r) for r in file.records],
            "access": _access_summary(prepared, height),
        }

    # --- the patient's view ----------------------------------------------------------

    def require_patient_side(self, reader: Actor, patient: str, power: str) -> None:
        """The patient, or a representative holding `power`, may see the patient's own books."""
        if reader.kind == "patient" and reader.id == patient:
            return
        with self.store.snapshot():
            file = views.patient_file(self.store, patient)
            now = self._block_time_ms()
        if representative_for(file, reader, power, now) is None:
            raise LedgerError(
                f"only {patient} or their representative may see this", ErrorCode.UNAUTHORIZED
            )

    def audit(self, reader: Actor, patient: str, as_fhir: bool) -> dict[str, Any]:
        """The accounting of disclosures: every access, break-glass ones flagged first."""
        self.require_patient_side(reader, patient, "read")
        events = [self._with_reason(e, reader) for e in views.audit_events(self.store, patient)]
        flagged = [e for e in events if e["break_glass"]]
        if as_fhir:
            return _bundle([fhir.audit_event_resource(e) for e in events])
        return {"patient": patient, "break_glass": flagged, "events": events}

    def alerts(self, reader: Actor, org: str) -> dict[str, Any]:
        """An organisation's break-glass feed: every emergency access its vault recorded."""
        if reader.org != org or not (reader.kind == "org" or reader.role in ALERT_ROLES):
            raise LedgerError(
                f"only {org} or its admins and auditors may see its alerts",
                ErrorCode.UNAUTHORIZED,
            )
        events = [self._with_reason(e, reader) for e in views.alert_events(self.store, org)]
        return {"org": org, "break_glass": events}

    def _with_reason(self, event: dict[str, Any], reader: Actor) -> dict[str, Any]:
        """A break-glass event with its sealed reason, rewrapped for this reader.

        Only the vault of the organisation that recorded the event holds the note;
        elsewhere the event carries its hash alone. The reader opens the note and
        checks it against the hash on the chain.
        """
        note = None
        if event.get("reason_hash") and event["custodian"] in self.custodians:
            note = self.vault.note(event["reason_hash"])
        if note is None:
            return event
        ciphertext, wrapped = note
        data_key = self._unwrap_for(event["custodian"], wrapped)
        reader_public = views.encryption_key(self.store, reader)
        sealed = {
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "wrapped_key": wrap_key(data_key, reader_public),
        }
        return {**event, "reason_note": sealed}

    def consents(self, reader: Actor, patient: str, as_fhir: bool) -> dict[str, Any]:
        self.require_patient_side(reader, patient, "read")
        with self.store.snapshot():
            items = list(views.patient_file(self.store, patient).consents)
        if as_fhir:
            return _bundle([fhir.consent_resource(c) for c in items])
        return {"patient": patient, "consents": items}

    def history(self, reader: Actor, record_id: str) -> dict[str, Any]:
        """A record's versions (corrections) and every access to it."""
        record = views.record(self.store, record_id)
        if not (reader.kind == "org" and reader.id == record["custodian"]):
            self.require_patient_side(reader, record["patient"], "read")
        versions = _version_chain(self.store, record)
        accesses = [
            e
            for e in views.audit_events(self.store, record["patient"])
            if e["record"] in {v["id"] for v in versions}
        ]
        return {"record": record_id, "versions": versions, "accesses": accesses}

    # --- internals -------------------------------------------------------------------

    def _access_tx(
        self,
        custodian: str,
        request: SignedRequest,
        reader: Actor,
        record: dict[str, Any],
        access: Access,
    ) -> Unsigned:
        decision = access.decision
        payload = {
            "action": "read",
            "patient": record["patient"],
            "record_id": record["id"],
            "reader": reader.key_id,
            "purpose": access.purpose,
            "basis": decision.basis,
            "consent_id": decision.consent_id,
            "appointment_id": decision.appointment_id,
            "reason_hash": access.reason_hash,
            "request_id": request.request_id,
            "intent": access.intent,
        }
        return Unsigned(custodian, "record.access", payload)

    def _seal_reason(self, org: str, reason: BreakGlassReason | None) -> str | None:
        """Keep a break-glass reason in this vault, sealed to `org`; the chain gets its hash.

        The hash is sha256(salt || text) with the reader's random 32-byte salt inside the
        ciphertext (the envelope's content hash), so a short reason cannot be
        confirmed by guessing; whoever opens the note learns the salt and can check it.
        The reader signed that hash, so it is theirs, not one this vault made up.
        """
        if reason is None:
            return None
        data_key = new_data_key()
        wrapped = wrap_key(data_key, self._org_keys(org).encryption_public)
        return self.vault.put_note(
            data_key, reason.text.encode(), wrapped, reason.salt
        ).content_hash

    def _settle(self, prepared: PreparedAccess, result: TxResult) -> None:
        """A refused access event releases nothing and keeps no reason note."""
        if not result.ok:
            self.abandon_access(prepared)
        _raise_unless_ok(result)

    def abandon_access(self, prepared: PreparedAccess) -> None:
        """The access event never committed: drop the reason note sealed for it."""
        if prepared.note is not None:
            self.vault.drop_note(prepared.note)

    def _org_keys(self, org: str) -> KeyPair:
        """An organisation's current keys; after a rotation, reloaded from its key file."""
        keys = self.custodians.get(org)
        if keys is not None and _is_current(self.store, keys, org):
            return keys
        self.custodians = _custodian_keys(self.node)
        if org not in self.custodians:
            raise LedgerError(
                f"this node holds no current key of {org} (after a rotation, save its key file)",
                ErrorCode.NOT_CUSTODIAN,
            )
        return self.custodians[org]

    def _unwrap_for(self, org: str, wrapped: str) -> bytes:
        """A data key sealed to one of `org`'s encryption keys, current or earlier.

        A failure rereads the key files once: an operator may have restored a key
        file's keyring while the node runs.
        """
        try:
            return unwrap_with_keyring(wrapped, self._org_keys(org).encryption_keyring)
        except LedgerError:
            self.custodians = _custodian_keys(self.node)
            return unwrap_with_keyring(wrapped, self._org_keys(org).encryption_keyring)

    def _holds_own_blob(self, record_id: str, blob_id: str) -> bool:
        """Whether a committed record of an organisation of this node owns this blob."""
        value = self.store.state_get(st.NAMESPACE, st.record_key(record_id))
        if value is None:
            return False
        record = parse_json(value)
        return record["custodian"] in self.custodians and record["blob_id"] == blob_id

    def submit(
        self, items: Sequence[PreparedAdd | PreparedAccess]
    ) -> list[Future[tuple[int, TxResult]]]:
        """Sign (in nonce order) and submit; each future resolves once its block is durable."""
        with self._submit_lock:
            txs = [self._sign(item.unsigned) for item in items]
            return commit_futures(self.node, txs)

    def commit(
        self, items: Sequence[PreparedAdd | PreparedAccess], timeout: float = 60.0
    ) -> list[tuple[int, TxResult] | LedgerError]:
        """Submit and wait (for callers without an event loop: the demo, tests)."""
        outcomes: list[tuple[int, TxResult] | LedgerError] = []
        for future in self.submit(items):
            try:
                outcomes.append(future.result(timeout))
            except LedgerError as exc:
                outcomes.append(exc)
        return outcomes

    def _sign(self, unsigned: Unsigned) -> Transaction:
        keys = self._org_keys(unsigned.org)
        unsigned.signed = sign_transaction(
            keys, self.chain_id, unsigned.tx_type, self._next_nonce(keys), unsigned.payload
        )
        return unsigned.signed

    def _next_nonce(self, keys: KeyPair) -> int:
        """Past both our own last nonce and the ledger's, in case an operator used the key too."""
        raw = self.store.state_get(NONCE_NAMESPACE, keys.key_id)
        on_chain = 0 if raw is None else int(parse_json(raw)["max"])
        with self._nonce_lock:
            nonce = max(self._nonces.get(keys.key_id, 0), on_chain) + 1
            self._nonces[keys.key_id] = nonce
            return nonce

    def _block_time_ms(self) -> int:
        height = self.store.last_height()
        return self.store.header(height).time_ms if height else 0

    def _shred_committed(self, block: CommittedBlock) -> None:
        """Crypto-shredding's local half: once a tombstone commits, destroy the ciphertext.

        Only of records this node holds for its own organisations: the tombstone names
        its custodian, and the chain lets one record only ever name a given blob.
        """
        for tx, result in zip(block.txs, block.results, strict=True):
            if tx.type != "record.shred" or not result.ok:
                continue
            for event in result.events:
                if event.get("type") == "record.shredded" and self._owns_shredded(event):
                    self.vault.shred(event["blob"])
                    log.info("shredded the ciphertext of %s", event["record"])

    def _owns_shredded(self, event: dict[str, Any]) -> bool:
        return event.get("custodian") in self.custodians and self._holds_own_blob(
            event["record"], event["blob"]
        )

    def close(self) -> None:
        self.vault.close()


def _custodian_keys(node: Node) -> dict[str, KeyPair]:
    """The organisation keys this node holds and the ledger knows as organisations."""
    found: dict[str, KeyPair] = {}
    for path in sorted(node.home.keys_dir.glob("*.json")):
        try:
            keys = load_keypair(path)
            who = views.actor(node.store, keys.key_id)
        except LedgerError:
            continue
        if who.kind == "org":
            found[who.id] = keys
    return found


def _is_current(store: Store, keys: KeyPair, org: str) -> bool:
    """Whether the ledger still knows these keys as the organisation's signing key."""
    try:
        who = views.actor(store, keys.key_id)
    except LedgerError:
        return False
    return who.kind == "org" and who.id == org


def _patient_actor(patient: str) -> Actor:
    return Actor(key_id="", kind="patient", id=patient, org=None, role="patient")


def _resource_bytes(resource: object) -> bytes:
    """The resource exactly as the vault will return it: compact JSON, key order kept."""
    return orjson.dumps(resource)


def _raise_unless_ok(result: TxResult) -> None:
    """A refused audit event means the data stays in the vault."""
    if not result.ok:
        try:
            code = ErrorCode(result.code)
        except ValueError:
            code = ErrorCode.AUDIT_FAILED
        raise LedgerError(result.message, code)


def _public_record(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "wrapped_keys"}


def _access_summary(prepared: PreparedAccess, height: int) -> dict[str, Any]:
    return {
        "tx_id": prepared.tx.id,
        "height": height,
        "basis": prepared.decision.basis,
        "consent": prepared.decision.consent_id,
        "appointment": prepared.decision.appointment_id,
        "break_glass": prepared.decision.basis == "break_glass",
    }


def _version_chain(store: Store, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Oldest version first: follow `replaces` back, then `superseded_by` forward."""
    chain = [record]
    while chain[0].get("replaces"):
        chain.insert(0, views.record(store, chain[0]["replaces"]))
    while chain[-1].get("superseded_by"):
        chain.append(views.record(store, chain[-1]["superseded_by"]))
    return [_public_record(r) for r in chain]


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A FHIR searchset Bundle around exported resources."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


def _now_ms() -> int:
    return int(time.time() * 1000)


def _intent(request: SignedRequest, reason: BreakGlassReason | None) -> dict[str, Any]:
    """The reader's signature over the access this node records in their name."""
    if request.intent is None:
        raise LedgerError(
            f"a read carries the reader's signature of the access it asks for ({HEADER_INTENT})",
            ErrorCode.BAD_SIGNATURE,
        )
    return {
        "time_ms": request.time_ms,
        "nonce": request.nonce,
        "reason_hash": None if reason is None else reason.hash,
        "signature": request.intent,
    }
