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
Answers are the typed replies of `domains/records/replies.py`; the API serialises them.
"""

from __future__ import annotations

import base64
import logging
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from healthledger.app import queries
from healthledger.app.permissions import check_permission
from healthledger.app.reader import SnapshotReader
from healthledger.crypto.canonical import parse_json
from healthledger.crypto.envelope import Sealed, new_data_key, unwrap_with_keyring, wrap_key
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.crypto.signed_request import SignedRequest
from healthledger.domains.governance import queries as gov
from healthledger.domains.governance import state as gov_state
from healthledger.domains.records import bundles, fhir, policy
from healthledger.domains.records import queries as rq
from healthledger.domains.records import state as st
from healthledger.domains.records.errors import (
    NoConsent,
    NotCustodian,
    NotThisVault,
    RecordShredded,
)
from healthledger.domains.records.policy import BreakGlassReason
from healthledger.domains.records.queries import LocatorEntry
from healthledger.domains.records.replies import (
    AccessSummary,
    AddedRecord,
    Alerts,
    AuditTrail,
    BreakGlassLocated,
    Bundle,
    BundleImported,
    ConsentList,
    ImportedEntry,
    JsonObject,
    Located,
    RecordHistory,
    RecordRead,
    SealedNote,
)
from healthledger.engines.base import CommittedBlock
from healthledger.errors import (
    BlobMissing,
    ErrorCode,
    InvalidState,
    LedgerError,
    NotFound,
    StaleAccess,
    TooLarge,
    Unauthorized,
)
from healthledger.ledger.block import TxResult
from healthledger.ledger.context import Actor, StateReader
from healthledger.ledger.store import Store
from healthledger.node.custodian import payloads
from healthledger.node.custodian.auth import RequestAuthenticator
from healthledger.node.custodian.prepared import (
    DeclaredBody,
    ImportItem,
    NewRecord,
    PreparedAccess,
    PreparedAdd,
    PreparedImport,
)
from healthledger.node.custodian.replicas import ReplicaInbox, Replicator, fetch_blob, replica_of
from healthledger.node.custodian.signer import Committed, OrgSigner, OrgTx, Submitted
from healthledger.node.custodian.upload import MAX_FILE_BYTES, FilePlan, Upload
from healthledger.node.node import Node
from healthledger.vault import Vault
from healthledger.vault.store import INLINE_MAX

log = logging.getLogger(__name__)

CONTENT_TICKET_MS = 10 * 60 * 1000  # how long an audited read may fetch its ciphertext
# Who besides the organisation's own key may read its break-glass alerts.
ALERT_ROLES = frozenset({"admin", "auditor"})
# A FHIR resource's JSON is at most this long: larger ones are stored as files, but a JSON
# body is parsed and validated whole in memory, so it has a bound (files stream instead).
MAX_RESOURCE_BYTES = 32 * 1024 * 1024
Prepared = PreparedAdd | PreparedAccess | PreparedImport


class RecordService:
    """One node's vault and the records logic around it."""

    def __init__(
        self,
        node: Node,
        vault_root: Path | None = None,
        authenticator: RequestAuthenticator | None = None,
    ) -> None:
        self.node = node
        self.store = node.store
        self.vault = Vault(vault_root or node.home.db_path.parent / "vault")
        # Before any upload starts: what an earlier process left half-written goes.
        if swept := self.vault.sweep_tmp():
            log.info("swept %d unfinished uploads from the vault's tmp/", swept)
        self.auth = authenticator or RequestAuthenticator(node)
        self.audience = self.auth.audience
        self.custodians = _custodian_keys(node)
        self.signer = OrgSigner(node, self._org_keys)
        self.replicator = Replicator(self.vault, self._state, self._org_keys, self.chain_id)
        node.engine.on_commit(self._shred_committed)
        node.engine.on_commit(self._replicate_committed)
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
        return self.auth.authenticate(headers, method, target, body_sha256)

    # --- adding records ------------------------------------------------------------

    def custodian_for(self, author: Actor) -> str:
        """The organisation that will hold the record: the author's, if this node holds its key."""
        if author.kind not in {"org", "member"} or author.org is None:
            raise Unauthorized("records are added by an organisation or its people")
        if not self.holds(author.org):
            raise NotThisVault(
                f"this node is not the vault of {author.org}; send the record to its node"
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
        checked = [self._checked(item) for item in items]
        good = [c for c in checked if not isinstance(c, LedgerError)]
        keys = [new_data_key() for _ in good]
        sealed = iter(self._seal_all([(k, c[2]) for k, c in zip(keys, good, strict=True)]))
        key_iter = iter(keys)
        prepared = [
            c
            if isinstance(c, LedgerError)
            else self._prepared_or_error(
                FilePlan(author, custodian, c[0].patient, c[1], "application/fhir+json"),
                next(key_iter),
                next(sealed),
                c[0].replaces,
            )
            for c in checked
        ]
        self._remember_added(custodian, items, prepared)
        return prepared

    def _remember_added(
        self,
        custodian: str,
        items: Sequence[NewRecord],
        prepared: Sequence[PreparedAdd | LedgerError],
    ) -> None:
        """Fingerprint each resource being added, so a Bundle that carries it later finds it.

        Written before the commit, in one index write per batch rather than one fsync per
        record: a fingerprint counts only once the chain shows its record held
        (`_still_held`), so one whose record never commits misleads nobody. A fingerprint
        that already names a record still held keeps naming it (a refused copy must not
        hide the record that exists).
        """
        added = [
            (
                self.vault.fingerprint(custodian, item.patient, _fingerprint_json(item.resource)),
                item.patient,
                p.record_id,
            )
            for item, p in zip(items, prepared, strict=True)
            if isinstance(p, PreparedAdd)
        ]
        known = self.vault.fingerprinted(custodian, [fingerprint for fingerprint, *_ in added])
        self.vault.remember_fingerprints(
            custodian,
            [
                (fingerprint, record_id)
                for fingerprint, patient, record_id in added
                if fingerprint not in known
                or not self._still_held(known[fingerprint], custodian, patient)
            ],
        )

    def _seal_all(self, items: Sequence[tuple[bytes, bytes]]) -> list[Sealed]:
        """Encrypt records in order: small ones inline in one vault write, large ones as files.

        A resource over the inline limit (a DocumentReference carrying its PDF) is stored
        the way a large file is; a read then streams it from the content URL. If a write
        fails part way, what was already stored leaves the vault again.
        """
        small = [(i, item) for i, item in enumerate(items) if len(item[1]) <= INLINE_MAX]
        done: dict[int, Sealed] = {}
        try:
            for (i, _item), sealed in zip(
                small, self.vault.put_small([item for _i, item in small]), strict=True
            ):
                done[i] = sealed
            for i, (data_key, plaintext) in enumerate(items):
                if i not in done:
                    done[i] = self.vault.put_stream(data_key, _pieces(plaintext))
        except BaseException:
            for sealed in done.values():
                self.vault.shred(sealed.blob_id)
            raise
        return [done[i] for i in range(len(items))]

    def _checked(
        self, item: NewRecord
    ) -> tuple[NewRecord, fhir.ResourceSummary, bytes] | LedgerError:
        """A resource ready to encrypt, or why not: one bad record does not sink its batch."""
        try:
            summary = fhir.validate_resource(item.resource)
            if not gov.patient_exists(self._state(), item.patient):
                raise NotFound(f"no registered patient {item.patient}")
            return item, summary, _bounded(_resource_bytes(item.resource))
        except LedgerError as exc:
            return exc

    def _prepared_or_error(
        self, plan: FilePlan, data_key: bytes, sealed: Sealed, replaces: str | None
    ) -> PreparedAdd | LedgerError:
        """A refused payload gives its ciphertext back to nobody: it leaves the vault at once."""
        try:
            return self._prepared(plan, data_key, sealed, replaces)
        except LedgerError as exc:
            self.vault.shred(sealed.blob_id)
            return exc

    def open_upload(
        self, author: Actor, patient: str, kind: str, date: str, declared: DeclaredBody
    ) -> Upload:
        """Everything about a file except its bytes is checked here, before a byte is stored."""
        if declared.size > MAX_FILE_BYTES:
            raise TooLarge(f"a file is at most {MAX_FILE_BYTES} bytes")
        summary = fhir.file_summary(kind, date)
        custodian = self.custodian_for(author)
        check_permission("record.add", _signer(self.store, self._org_keys(custodian).key_id))
        if not gov.patient_exists(self._state(), patient):
            raise NotFound(f"no registered patient {patient}")
        plan = FilePlan(author, custodian, patient, summary, fhir.FILE_KINDS[kind])
        return Upload(self.vault, plan, declared, self._prepared)

    def _prepared(
        self, plan: FilePlan, data_key: bytes, sealed: Sealed, replaces: str | None = None
    ) -> PreparedAdd:
        """Wrap the data key for the patient and the custodian; build the metadata."""
        patient_public = _encryption_key(self.store, _patient_actor(plan.patient))
        org_keys = self._org_keys(plan.custodian)
        record_id = "rec-" + secrets.token_hex(12)
        wrapped = payloads.wrapped_keys(
            patient=wrap_key(data_key, patient_public),
            custodian=wrap_key(data_key, org_keys.encryption_public),
        )
        unsigned = payloads.record_add(
            plan.custodian,
            record_id,
            plan.patient,
            plan.summary,
            plan.media_type,
            sealed,
            wrapped,
            plan.author,
            replaces,
        )
        return PreparedAdd(unsigned, record_id, sealed, plan.summary)

    def finish_add(self, prepared: PreparedAdd, committed: Committed) -> AddedRecord:
        """The `record.add` is in a block: a refusal there removes the ciphertext."""
        result = committed.result
        if not result.ok:
            self.abandon_add(prepared)
            raise LedgerError(result.message, ErrorCode.parse(result.code, ErrorCode.APPLY_FAILED))
        return AddedRecord(
            record_id=prepared.record_id,
            tx_id=committed.tx.id,
            height=committed.height,
            resource_type=prepared.summary.resource_type,
            code=prepared.summary.code,
            date=prepared.summary.date,
            content_hash=prepared.sealed.content_hash,
            blob_id=prepared.sealed.blob_id,
            size=prepared.sealed.size,
        )

    def abandon_add(self, prepared: PreparedAdd) -> None:
        """The `record.add` never committed: its ciphertext must not linger.

        Unless a committed record of ours names the blob: a refusal never costs
        a record its data.
        """
        blob_id = prepared.sealed.blob_id
        owner = self._state().load(st.NAMESPACE, st.blob_key(blob_id), st.RecordRef)
        if owner is None or not self._holds_own_blob(owner.root, blob_id):
            self.vault.shred(blob_id)

    # --- importing Bundles ---------------------------------------------------------

    def prepare_import(self, author: Actor, patient: str, bundle: object) -> PreparedImport:
        """Check a whole Bundle, then encrypt its new entries and build one `record.import`.

        Nothing is stored before every entry passed. An entry this custodian already holds
        for the patient (same keyed fingerprint, record still on the chain) is reported as
        a duplicate, and references to it point at the record it is.
        """
        custodian = self.custodian_for(author)
        if not gov.patient_exists(self._state(), patient):
            raise NotFound(f"no registered patient {patient}")
        entries = bundles.check_bundle(bundle)
        prints = [
            self.vault.fingerprint(custodian, patient, _fingerprint_json(e.resource))
            for e in entries
        ]
        record_ids, new = self._import_ids(custodian, patient, prints)
        plaintexts = [
            _bounded(_resource_bytes(r)) for r in bundles.rewrite_references(entries, record_ids)
        ]
        keys = {i: new_data_key() for i in new}
        sealed = dict(
            zip(new, self._seal_all([(keys[i], plaintexts[i]) for i in new]), strict=True)
        )
        items = tuple(
            ImportItem(
                e.index,
                e.full_url,
                e.summary.resource_type,
                record_ids[e.index],
                prints[e.index],
                sealed.get(e.index),
            )
            for e in entries
        )
        try:
            unsigned = self._import_tx(author, custodian, patient, entries, items, keys)
        except BaseException:
            self._shred_new(items)
            raise
        return PreparedImport(unsigned, custodian, patient, items)

    def _import_ids(
        self, custodian: str, patient: str, prints: Sequence[str]
    ) -> tuple[list[str], list[int]]:
        """Each entry's record id (an existing one for a duplicate) and the new entries."""
        known = {
            fingerprint: record_id
            for fingerprint, record_id in self.vault.fingerprinted(custodian, prints).items()
            if self._still_held(record_id, custodian, patient)
        }
        record_ids: list[str] = []
        new: list[int] = []
        for index, fingerprint in enumerate(prints):
            if fingerprint not in known:
                known[fingerprint] = "rec-" + secrets.token_hex(12)
                new.append(index)
            record_ids.append(known[fingerprint])
        return record_ids, new

    def _still_held(self, record_id: str, custodian: str, patient: str) -> bool:
        record = self._state().load(st.NAMESPACE, st.record_key(record_id), st.RecordMeta)
        return (
            record is not None
            and record.status != st.SHREDDED
            and record.custodian == custodian
            and record.patient == patient
        )

    def _import_tx(
        self,
        author: Actor,
        custodian: str,
        patient: str,
        entries: Sequence[bundles.BundleEntry],
        items: Sequence[ImportItem],
        keys: Mapping[int, bytes],
    ) -> OrgTx | None:
        if not keys:
            return None
        patient_public = _encryption_key(self.store, _patient_actor(patient))
        org_public = self._org_keys(custodian).encryption_public
        new_entries = []
        for item in items:
            if item.sealed is None:
                continue
            data_key = keys[item.index]
            wrapped = payloads.wrapped_keys(
                patient=wrap_key(data_key, patient_public),
                custodian=wrap_key(data_key, org_public),
            )
            summary = entries[item.index].summary
            new_entries.append(payloads.import_entry(item.record_id, summary, item.sealed, wrapped))
        return payloads.record_import(custodian, patient, author, new_entries)

    def finish_import(
        self, prepared: PreparedImport, committed: Committed | None
    ) -> BundleImported:
        """The import is in a block (or had nothing new): remember fingerprints, report."""
        if committed is not None and not committed.result.ok:
            self.abandon_import(prepared)
            result = committed.result
            raise LedgerError(result.message, ErrorCode.parse(result.code, ErrorCode.APPLY_FAILED))
        added = [item for item in prepared.items if item.sealed is not None]
        self.vault.remember_fingerprints(
            prepared.custodian, [(item.fingerprint, item.record_id) for item in added]
        )
        return BundleImported(
            patient=prepared.patient,
            tx_id=None if committed is None else committed.tx.id,
            height=None if committed is None else committed.height,
            added=len(added),
            duplicates=len(prepared.items) - len(added),
            entries=[
                ImportedEntry(
                    index=item.index,
                    full_url=item.full_url,
                    resource_type=item.resource_type,
                    status="added" if item.sealed is not None else "duplicate",
                    record_id=item.record_id,
                )
                for item in prepared.items
            ],
        )

    def abandon_import(self, prepared: PreparedImport) -> None:
        """The `record.import` never committed: none of its new ciphertexts may linger."""
        self._shred_new(prepared.items)

    def _shred_new(self, items: Sequence[ImportItem]) -> None:
        for item in items:
            if item.sealed is None:
                continue
            blob_id = item.sealed.blob_id
            owner = self._state().load(st.NAMESPACE, st.blob_key(blob_id), st.RecordRef)
            if owner is None or not self._holds_own_blob(owner.root, blob_id):
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
        intent = payloads.reader_intent(request, break_glass_reason)  # before anything is stored
        with self.store.snapshot():
            ledger = SnapshotReader(self.store)
            record = rq.record(ledger.state, record_id)
            file = rq.patient_file(ledger, record.patient)
            role = gov.org_role(ledger.state, reader.org)
            country = gov.org_country(ledger.state, reader.org)
            now = self._block_time_ms()
        if not self.holds(record.custodian):
            raise NotCustodian(record_id, record.custodian)
        reason_text = None if break_glass_reason is None else break_glass_reason.text
        decision = rq.read_basis(file, record, reader, purpose, now, reason_text, role, country)
        if not self.vault.has(record.blob_id):
            self._recover_from_replica(record)
        if record.wrapped_keys is None:  # read_basis refused tombstones already
            raise RecordShredded(record.id)
        # Fail here, not after the access event committed: the key must open, the reader
        # must have an encryption key to rewrap it for.
        data_key = self._unwrap_for(record.custodian, record.wrapped_keys.custodian)
        _encryption_key(self.store, reader)
        glass = decision.basis == "break_glass"  # a reader with standing needs no reason
        note = self._seal_reason(record.custodian, break_glass_reason if glass else None)
        unsigned = payloads.read_access(
            record.custodian,
            request,
            reader,
            record.id,
            record.patient,
            purpose,
            decision,
            note,
            intent,
        )
        return PreparedAccess(unsigned, reader, decision, record, data_key, note)

    def finish_read(self, prepared: PreparedAccess, committed: Committed) -> RecordRead:
        """The audit event committed: rewrap the data key for the reader, attach the receipt."""
        self._settle(prepared, committed.result)
        record, data_key = prepared.record, prepared.data_key
        assert record is not None and data_key is not None
        tx_id = committed.tx.id
        reader_public = _encryption_key(self.store, prepared.reader)
        inline = self.vault.inline_ciphertext(record.blob_id)
        return RecordRead(
            record=_public_record(record),
            access=_access_summary(prepared, committed),
            wrapped_key=wrap_key(data_key, reader_public),
            receipt=queries.tx_view(self.store, tx_id, prove=True).wire(),
            content_url=f"/v1/records/{record.id}/content?access={tx_id}",
            ciphertext=None if inline is None else base64.b64encode(inline).decode(),
        )

    def content_chunks(self, reader: Actor, record_id: str, access_tx_id: str) -> Iterable[bytes]:
        """Ciphertext of a read whose audit event committed recently, for this reader only."""
        try:
            stored = self.store.tx(access_tx_id)
        except NotFound as exc:
            raise NoConsent("no committed access event with that id") from exc
        tx = parse_json(stored.raw)
        payload = tx["payload"]
        if (
            tx["type"] != "record.access"
            or not stored.result.ok
            or payload.get("record_id") != record_id
            or payload.get("reader") != reader.key_id
        ):
            raise NoConsent("that access event does not cover this reader and record")
        if self.store.header(stored.height).time_ms + CONTENT_TICKET_MS < _now_ms():
            raise StaleAccess("that access event is too old; read the record again")
        record = rq.record(self._state(), record_id)
        if record.status == st.SHREDDED:
            raise RecordShredded(record_id)
        return self.vault.read_chunks(record.blob_id)

    def blob_for_custodian(self, asker: Actor, blob_id: str) -> Iterable[bytes]:
        """A ciphertext, for the organisation that is now custodian of the record naming it.

        How a successor takes moved records from the old custodian's node, and a
        custodian its blobs back from a replica: ciphertext only (the data key is sealed
        on chain for the custodian alone), checked by the asker against the blob id.
        Nothing is audited: no one can read a record from this, only keep it.
        """
        self._custodians_blob(
            asker, blob_id, "fetches ciphertexts", "is not the custodian of the record naming"
        )
        return self.vault.read_chunks(blob_id)

    def _custodians_blob(
        self, asker: Actor, blob_id: str, does: str, is_not: str
    ) -> tuple[StateReader, st.RecordMeta]:
        """The live record naming `blob_id`, whose custodian must be the asking organisation.

        Both ways a ciphertext moves between nodes (fetched back, sent to a replica) are
        asked by an organisation's own key about a record it is the custodian of."""
        if asker.kind != "org":
            raise Unauthorized(f"only an organisation's own key {does}")
        state = self._state()
        owner = state.load(st.NAMESPACE, st.blob_key(blob_id), st.RecordRef)
        if owner is None:
            raise NotFound(f"no record names blob {blob_id:.64}")
        record = rq.record(state, owner.root)
        if record.custodian != asker.id:
            raise NotCustodian(record.id, record.custodian, f"{asker.id} {is_not} this blob")
        if record.status == st.SHREDDED:
            raise RecordShredded(record.id)
        return state, record

    # --- replicas ------------------------------------------------------------------

    def open_replica(self, asker: Actor, blob_id: str) -> ReplicaInbox | None:
        """A custodian's ciphertext arriving for this node to keep (None: held already).

        Taken only from the organisation the chain names as custodian of the record
        registering the blob, only if that custodian names this node's organisation as
        its replica, and only if this organisation agreed (its own entry's replica_for)."""
        state, record = self._custodians_blob(asker, blob_id, "sends replicas", "does not hold")
        named = replica_of(state, record.custodian)
        if named is None or named[0] != self.audience:
            raise Unauthorized(f"{record.custodian} does not name {self.audience} as its replica")
        own = gov.org_endpoint(state, self.audience)
        if own is None or record.custodian not in (own.replica_for or ()):
            raise Unauthorized(
                f"{self.audience} has not agreed to keep replicas of {record.custodian}"
                " (its directory entry's replica_for)"
            )
        if self.vault.has(blob_id):
            return None
        return ReplicaInbox(self.vault, record)

    def _recover_from_replica(self, record: st.RecordMeta) -> None:
        """The vault lost this blob: fetch it from the custodian's replica, checked against
        the chain (blob id, content hash), and keep it again; BLOB_MISSING if that fails."""
        named = replica_of(self._state(), record.custodian)
        if named is None:
            raise BlobMissing(f"the vault no longer holds record {record.id}")
        replica, endpoints = named
        keys = self._org_keys(record.custodian)
        failures = [f"{replica} publishes no endpoint"] if not endpoints else []
        for url in endpoints:
            try:
                fetch_blob(
                    self.vault, url, keys, self.chain_id, replica, record, keys.encryption_keyring
                )
            except LedgerError as exc:
                failures.append(exc.message)
                continue
            log.info("restored the ciphertext of %s from the replica %s", record.id, replica)
            return
        raise BlobMissing(
            f"the vault no longer holds record {record.id} and its replica {replica}"
            f" could not give it back: {'; '.join(failures)}"
        )

    def _replicate_committed(self, block: CommittedBlock) -> None:
        """Queue each committed record of this node's organisations for its replica:
        one `record.add`, or every entry of a `record.import` (a Bundle)."""
        for tx, result in zip(block.txs, block.results, strict=True):
            if not result.ok:
                continue
            if tx.type == "record.add":
                for event in result.events:
                    if event.get("type") == "record.added" and event.get("custodian") in (
                        self.custodians
                    ):
                        self.replicator.enqueue(event["record"])
            elif tx.type == "record.import" and _imported_here(result.events, self.custodians):
                for entry in tx.payload["entries"]:
                    self.replicator.enqueue(entry["record_id"])

    # --- locating records ----------------------------------------------------------

    def locate(self, reader: Actor, patient: str, purpose: str | None) -> Located:
        """The patient's records across every custodian, filtered to the caller's standing."""
        with self.store.snapshot():
            ledger = SnapshotReader(self.store)
            if not gov.patient_exists(ledger.state, patient):
                raise NoConsent(f"no consent of {patient} lets this caller locate records")
            file = rq.patient_file(ledger, patient)
            country = gov.org_country(ledger.state, reader.org)
            now = self._block_time_ms()
            height = ledger.height
        entries = rq.locatable_records(file, reader, purpose, now, country)
        return Located(patient=patient, height=height, records=entries)

    def prepare_break_glass_locate(
        self, request: SignedRequest, reader: Actor, patient: str, reason: BreakGlassReason
    ) -> PreparedAccess:
        """An emergency search without consent: recorded on the chain before it is answered."""
        intent = payloads.reader_intent(request, reason)  # before the reason is sealed
        if reader.org is None or not self.holds(reader.org):
            raise NotThisVault(
                "a break-glass search goes through the reader's own organisation's node"
            )
        state = self._state()
        if not gov.patient_exists(state, patient):
            raise NotFound(f"no registered patient {patient}")
        role = gov.org_role(state, reader.org)
        decision = policy.check_break_glass(reader, role, "emergency", True)
        note = self._seal_reason(reader.org, reason)
        assert note is not None  # a reason was given
        unsigned = payloads.locate_access(reader.org, request, reader, patient, note, intent)
        return PreparedAccess(unsigned, reader, decision, None, note=note)

    def finish_break_glass_locate(
        self, prepared: PreparedAccess, patient: str, committed: Committed
    ) -> BreakGlassLocated:
        self._settle(prepared, committed.result)
        with self.store.snapshot():
            file = rq.patient_file(SnapshotReader(self.store), patient)
        return BreakGlassLocated(
            patient=patient,
            height=committed.height,
            records=[LocatorEntry.of(r) for r in file.records],
            access=_access_summary(prepared, committed),
        )

    # --- the patient's view ----------------------------------------------------------

    def require_patient_side(self, reader: Actor, patient: str, power: str) -> None:
        """The patient, or a representative holding `power`, may see the patient's own books."""
        if reader.kind == "patient" and reader.id == patient:
            return
        with self.store.snapshot():
            file = rq.patient_file(SnapshotReader(self.store), patient)
            now = self._block_time_ms()
        if rq.appointment_for(file, reader, power, now) is None:
            raise Unauthorized(f"only {patient} or their representative may see this")

    def audit(self, reader: Actor, patient: str, as_fhir: bool) -> AuditTrail | Bundle:
        """The accounting of disclosures: every access, break-glass ones flagged first."""
        self.require_patient_side(reader, patient, "read")
        trail = self._audit_trail(patient)
        events = [self._with_reason(e, reader) for e in trail]
        flagged = [wire for e, wire in zip(trail, events, strict=True) if e.break_glass]
        if as_fhir:
            return Bundle.of([fhir.audit_event_resource(e) for e in events])
        return AuditTrail(patient=patient, break_glass=flagged, events=events)

    def alerts(self, reader: Actor, org: str) -> Alerts:
        """An organisation's break-glass feed: every emergency access its vault recorded."""
        if reader.org != org or not (reader.kind == "org" or reader.role in ALERT_ROLES):
            raise Unauthorized(f"only {org} or its admins and auditors may see its alerts")
        with self.store.snapshot():
            feed = rq.alert_feed(SnapshotReader(self.store), org)
        return Alerts(org=org, break_glass=[self._with_reason(e, reader) for e in feed])

    def _audit_trail(self, patient: str) -> list[st.AuditEntry]:
        with self.store.snapshot():
            return rq.audit_trail(SnapshotReader(self.store), patient)

    def _with_reason(self, event: st.AuditEntry, reader: Actor) -> JsonObject:
        """A break-glass event with its sealed reason, rewrapped for this reader.

        Only the vault of the organisation that recorded the event holds the note;
        elsewhere the event carries its hash alone. The reader opens the note and
        checks it against the hash on the chain.
        """
        stored: JsonObject = event.model_dump(mode="json")
        note = None
        if event.reason_hash and event.custodian in self.custodians:
            note = self.vault.note(event.reason_hash)
        if note is None:
            return stored
        ciphertext, wrapped = note
        data_key = self._unwrap_for(event.custodian, wrapped)
        reader_public = _encryption_key(self.store, reader)
        sealed = SealedNote(
            ciphertext=base64.b64encode(ciphertext).decode(),
            wrapped_key=wrap_key(data_key, reader_public),
        )
        return {**stored, "reason_note": sealed.wire()}

    def consents(self, reader: Actor, patient: str, as_fhir: bool) -> ConsentList | Bundle:
        self.require_patient_side(reader, patient, "read")
        with self.store.snapshot():
            file = rq.patient_file(SnapshotReader(self.store), patient)
        if as_fhir:
            return Bundle.of(
                [fhir.consent_resource(c.model_dump(mode="json")) for c in file.consents]
            )
        return ConsentList(
            patient=patient, consents=list(file.consents), appointments=list(file.appointments)
        )

    def history(self, reader: Actor, record_id: str) -> RecordHistory:
        """A record's versions (corrections) and every access to it."""
        record = rq.record(self._state(), record_id)
        if not (reader.kind == "org" and reader.id == record.custodian):
            self.require_patient_side(reader, record.patient, "read")
        versions = _version_chain(self._state(), record)
        ids = {v.id for v in versions}
        accesses = [e for e in self._audit_trail(record.patient) if e.record in ids]
        return RecordHistory(
            record=record_id, versions=[_public_record(v) for v in versions], accesses=accesses
        )

    # --- internals -------------------------------------------------------------------

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

    def holds(self, org: str) -> bool:
        """Whether this node keeps `org`'s records (holds its current key).

        A miss rereads the key files: an organisation admitted after its node started
        (`net join`, then `net admit`) is served from then on, without a restart.
        """
        if org not in self.custodians:
            self.custodians = _custodian_keys(self.node)
        return org in self.custodians

    def _org_keys(self, org: str) -> KeyPair:
        """An organisation's current keys; after a rotation, reloaded from its key file."""
        keys = self.custodians.get(org)
        if keys is not None and _is_current(self.store, keys, org):
            return keys
        self.custodians = _custodian_keys(self.node)
        if org not in self.custodians:
            raise NotThisVault(
                f"this node holds no current key of {org} (after a rotation, save its key file)"
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
        record = self._state().load(st.NAMESPACE, st.record_key(record_id), st.RecordMeta)
        if record is None:
            return False
        return record.custodian in self.custodians and record.blob_id == blob_id

    def submit(self, items: Sequence[Prepared]) -> list[Submitted]:
        """Sign (in nonce order) and submit; each commit resolves once its block is durable."""
        return self.signer.submit([_unsigned(item) for item in items])

    def commit(
        self, items: Sequence[Prepared], timeout: float = 60.0
    ) -> list[Committed | LedgerError]:
        """Submit and wait (for callers without an event loop: the demo, tests)."""
        return self.signer.commit([_unsigned(item) for item in items], timeout)

    def import_bundle(
        self, author: Actor, patient: str, bundle: object, timeout: float = 60.0
    ) -> BundleImported:
        """Prepare, commit and finish an import (for callers without an event loop)."""
        prepared = self.prepare_import(author, patient, bundle)
        if prepared.unsigned is None:
            return self.finish_import(prepared, None)
        (outcome,) = self.commit([prepared], timeout)
        if isinstance(outcome, LedgerError):
            self.abandon_import(prepared)
            raise outcome
        return self.finish_import(prepared, outcome)

    def _state(self) -> StateReader:
        """The latest committed state, for point reads."""
        return StateReader(self.store.state_get)

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
        """Our own record's blob, or a replica we keep of another custodian's (the chain
        lets only the shredded record ever name that blob, so nothing else needs it)."""
        if event.get("custodian") in self.custodians:
            return self._holds_own_blob(event["record"], event["blob"])
        state = self._state()
        owner = state.load(st.NAMESPACE, st.blob_key(event["blob"]), st.RecordRef)
        if owner is None or owner.root != event["record"]:
            return False
        record = state.load(st.NAMESPACE, st.record_key(owner.root), st.RecordMeta)
        return record is not None and record.status == st.SHREDDED

    def close(self) -> None:
        self.replicator.close()
        self.vault.close()


def _imported_here(events: Sequence[Mapping[str, Any]], custodians: Mapping[str, KeyPair]) -> bool:
    """Whether a committed import registered records of one of this node's organisations."""
    return any(
        e.get("type") == "record.imported" and e.get("custodian") in custodians for e in events
    )


def _custodian_keys(node: Node) -> dict[str, KeyPair]:
    """The organisation keys this node holds and the ledger knows as organisations."""
    found: dict[str, KeyPair] = {}
    for path in sorted(node.home.keys_dir.glob("*.json")):
        try:
            keys = load_keypair(path)
            who = _signer(node.store, keys.key_id)
        except LedgerError:
            continue
        if who.kind == "org":
            found[who.id] = keys
    return found


def _is_current(store: Store, keys: KeyPair, org: str) -> bool:
    """Whether the ledger still knows these keys as the organisation's signing key."""
    try:
        who = _signer(store, keys.key_id)
    except LedgerError:
        return False
    return who.kind == "org" and who.id == org


def _signer(store: Store, key_id: str) -> Actor:
    """Who holds a signing key now (refuses unknown and revoked keys)."""
    return gov.resolve_actor(StateReader(store.state_get), key_id, allow_new=False)


def _encryption_key(store: Store, who: Actor) -> bytes:
    """The X25519 public key the ledger holds for an actor: where wrapped keys are sealed to."""
    key = gov.encryption_key(StateReader(store.state_get), who.kind, who.id)
    if key is None:
        where = gov_state.actor_record_key(who.kind, who.id)
        raise NotFound(f"no {gov_state.NAMESPACE}/{where}")
    return bytes.fromhex(key)


def _patient_actor(patient: str) -> Actor:
    return Actor(key_id="", kind="patient", id=patient, org=None, role="patient")


def _unsigned(item: Prepared) -> OrgTx:
    if item.unsigned is None:
        raise InvalidState("an import with no new entry has nothing to submit")
    return item.unsigned


def _pieces(plaintext: bytes, size: int = 1024 * 1024) -> Iterator[bytes]:
    for start in range(0, len(plaintext), size):
        yield plaintext[start : start + size]


def _bounded(plaintext: bytes) -> bytes:
    if len(plaintext) > MAX_RESOURCE_BYTES:
        raise TooLarge(
            f"a FHIR resource is at most {MAX_RESOURCE_BYTES} bytes of JSON, this one"
            f" {len(plaintext)}; send a larger file with records add --file"
        )
    return plaintext


def _fingerprint_json(resource: object) -> bytes:
    """A resource's JSON with sorted keys: the same resource gives the same bytes.

    Not RFC 8785 (FHIR decimals are JSON numbers with fractions, which the ledger's
    canonical form refuses), but as stable for one parse of the same document.
    """
    return orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)


def _resource_bytes(resource: object) -> bytes:
    """The resource exactly as the vault will return it: compact JSON, key order kept."""
    return orjson.dumps(resource)


def _raise_unless_ok(result: TxResult) -> None:
    """A refused audit event means the data stays in the vault."""
    if not result.ok:
        raise LedgerError(result.message, ErrorCode.parse(result.code, ErrorCode.AUDIT_FAILED))


def _public_record(record: st.RecordMeta) -> JsonObject:
    """A record's chain entry without its wrapped data keys: what a reader is shown."""
    stored: JsonObject = record.model_dump(mode="json")
    return {k: v for k, v in stored.items() if k != "wrapped_keys"}


def _access_summary(prepared: PreparedAccess, committed: Committed) -> AccessSummary:
    decision = prepared.decision
    return AccessSummary(
        tx_id=committed.tx.id,
        height=committed.height,
        basis=decision.basis,
        consent=decision.consent_id,
        appointment=decision.appointment_id,
        break_glass=decision.basis == "break_glass",
    )


def _version_chain(state: StateReader, record: st.RecordMeta) -> list[st.RecordMeta]:
    """Oldest version first: follow `replaces` back, then `superseded_by` forward."""
    chain = [record]
    while (earlier := chain[0].replaces) is not None:
        chain.insert(0, rq.record(state, earlier))
    while (later := chain[-1].superseded_by) is not None:
        chain.append(rq.record(state, later))
    return chain


def _now_ms() -> int:
    return int(time.time() * 1000)


__all__ = [
    "CONTENT_TICKET_MS",
    "MAX_FILE_BYTES",
    "MAX_RESOURCE_BYTES",
    "DeclaredBody",
    "RecordService",
]
