"""SDK for patient records: signed vault requests, local decryption, consent transactions.

`Records(client, keys)` acts as one person (patient, practitioner, representative).
Reads decrypt on the caller's machine: the node returns ciphertext and a data key
sealed to the caller's own encryption key, plus the access receipt, and the SDK
checks the plaintext's hash against the record's hash on the chain.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, overload
from urllib.parse import quote, urlencode

import httpx
import orjson

from healthledger.client import donation
from healthledger.client.sdk import ApiError, Client, Signer, require_committed, verify_tx_view
from healthledger.client.summary import PatientSummary, assemble_summary
from healthledger.crypto.envelope import (
    SALT_BYTES,
    Decryptor,
    Opened,
    content_hash,
    decrypt_bytes,
    unwrap_with_keyring,
    wrap_key,
)
from healthledger.crypto.keys import KeyPair, derive_patient_id
from healthledger.crypto.signed_request import (
    EMPTY_BODY,
    HEADER_INTENT,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIME,
    body_hash,
    request_id_of,
    sign_request,
    verify_answer,
)
from healthledger.domains.governance import state as gov
from healthledger.domains.records import policy
from healthledger.domains.records.donation import DonationCounts, DonationStatus
from healthledger.domains.records.messages import MAX_SCOPE, intent_message
from healthledger.domains.records.policy import BreakGlassReason
from healthledger.domains.records.replies import (
    AccessSummary,
    AddedRecord,
    Alerts,
    AuditTrail,
    BatchAdded,
    BatchFailure,
    BreakGlassLocated,
    Bundle,
    BundleImported,
    ConsentList,
    JsonObject,
    Located,
    RecordHistory,
    RecordRead,
    Reply,
    SealedNote,
)
from healthledger.domains.records.state import RecordMeta
from healthledger.errors import (
    CustodianUnavailable,
    HashMismatch,
    InvalidProof,
    NotFound,
)

FILE_CHUNK = 1024 * 1024
DAY_MS = 86_400_000
# How a read of a record another organisation holds travels: straight to its node
# (`direct`, its endpoint from the directory) or through the client's own node (`node`).
Via = Literal["direct", "node"]


@dataclass(frozen=True)
class Route:
    """Where a read goes: the organisation it is signed for, the nodes to try in order,
    and the node key its answer must carry (None for the client's own node, not checked)."""

    audience: str
    clients: tuple[Client, ...]
    node_key: str | None = None


@dataclass(frozen=True)
class RecordCopy:
    """A decrypted record with what proves it: the salt for its hash and the access receipt."""

    record: JsonObject
    plaintext: bytes
    salt: bytes
    access: AccessSummary
    receipt: JsonObject

    def resource(self) -> Any:
        """The FHIR resource (for records added as FHIR JSON): a JSON edge."""
        return orjson.loads(self.plaintext)


class ConsentGranted(Reply):
    """A committed `consent.grant`: its id beside the node's submission report."""

    consent_id: str
    id: str
    status: str
    height: int
    result: JsonObject


class Appointed(Reply):
    """A committed `representative.appoint`: its id beside the node's submission report."""

    appointment_id: str
    id: str
    status: str
    height: int
    result: JsonObject


def verify_copy(record: Mapping[str, object], plaintext: bytes, salt: bytes) -> None:
    """Prove a held copy is the exact version registered: its salted hash is the chain's."""
    if content_hash(salt, plaintext) != record["content_hash"]:
        raise HashMismatch(f"this copy does not match record {record['id']}'s hash on the chain")


@dataclass(frozen=True)
class Intent:
    """What a reader asks a vault to record in their name: an access to a record (`read`),
    a break-glass search of a patient's records (`locate`), or a transplant coordinator's
    question about a patient's donation decision (`donation`)."""

    action: str
    subject: str  # the record id, or the patient for a search
    purpose: str
    reason_hash: str | None = None  # break-glass only: sha256(salt || reason), the reader's salt


def new_reason(text: str) -> BreakGlassReason:
    """A reason to send, with a fresh salt of ours: the chain will hold only its hash."""
    return BreakGlassReason(policy.check_reason_text(text), secrets.token_bytes(SALT_BYTES))


def sign_intent(keys: KeyPair, chain_id: str, intent: Intent, headers: dict[str, str]) -> str:
    """The x-hl-intent signature for a request whose envelope is `headers` (same time, nonce)."""
    message = intent_message(
        chain_id,
        intent.action,
        intent.subject,
        intent.purpose,
        intent.reason_hash,
        int(headers[HEADER_TIME]),
        headers[HEADER_NONCE],
    )
    return keys.sign(message).hex()


class Records:
    """Records operations signed by one person's keys.

    Requests are signed for `audience`, the organisation whose node they are meant
    for (by default the one `client` talks to): another organisation's node refuses them.
    """

    def __init__(
        self,
        client: Client,
        keys: KeyPair,
        chain_id: str | None = None,
        audience: str | None = None,
        via: Via = "direct",
    ) -> None:
        self.client = client
        self.keys = keys
        self.chain_id = chain_id or client.info().chain_id
        self.audience = audience or client.org()
        self.via = via
        self._nodes: dict[str, Client] = {}  # other organisations' nodes, by endpoint
        # Each record's custodian as a break-glass search answered it: such a reader may
        # not see the record's chain entry, yet must read at the custodian's node.
        self._searched: dict[str, str] = {}

    def _sign(
        self,
        method: str,
        target: str,
        body_sha256: str = EMPTY_BODY,
        audience: str | None = None,
    ) -> dict[str, str]:
        return sign_request(
            self.keys,
            self.chain_id,
            method,
            target,
            body_sha256,
            audience=audience or self.audience,
        )

    def close(self) -> None:
        """Close the connections to other organisations' nodes (not `client`'s)."""
        for node in self._nodes.values():
            node.close()
        self._nodes.clear()

    @property
    def patient_id(self) -> str:
        """The pseudonym these keys would have as a patient."""
        return derive_patient_id(self.keys.key_id)

    # --- signed calls --------------------------------------------------------------

    def _signed(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: bytes = b"",
        digest: str | None = None,
        intent: Intent | None = None,
    ) -> Any:
        target = path + ("?" + urlencode(params, quote_via=quote) if params else "")
        headers = self._sign(method, target, digest or body_hash(body))
        if intent is not None:
            headers[HEADER_INTENT] = sign_intent(self.keys, self.chain_id, intent, headers)
        headers["content-type"] = "application/json"
        return self.client._call(method, target, content=body, headers=headers)

    def _signed_json(
        self, method: str, path: str, value: JsonObject, intent: Intent | None = None
    ) -> Any:
        return self._signed(method, path, body=orjson.dumps(value), intent=intent)

    # --- provider side ---------------------------------------------------------------

    def add(self, patient: str, resource: JsonObject, replaces: str | None = None) -> AddedRecord:
        """Add a FHIR resource for a patient (or a correction of the record `replaces`)."""
        body: JsonObject = {"patient": patient, "resource": resource}
        if replaces is not None:
            body["replaces"] = replaces
        return AddedRecord.model_validate(self._signed_json("POST", "/v1/records", body))

    def add_batch(
        self, items: Sequence[tuple[str, JsonObject]]
    ) -> list[AddedRecord | BatchFailure]:
        """Add many (patient, resource) pairs in one request; each result or error in order."""
        body: JsonObject = {"records": [{"patient": p, "resource": r} for p, r in items]}
        reply = self._signed_json("POST", "/v1/records/batch", body)
        return BatchAdded.model_validate(reply).results

    def import_bundle(self, patient: str, bundle: JsonObject) -> BundleImported:
        """Import a FHIR Bundle for one patient: one record per entry, in one atomic step.

        The custodian checks the whole Bundle first (each entry valid, one patient, within
        the limits) and refuses all of it otherwise; references between entries are
        rewritten to the new records' ids; entries it already holds come back as duplicates.
        """
        body: JsonObject = {"patient": patient, "bundle": bundle}
        return BundleImported.model_validate(self._signed_json("POST", "/v1/records/bundle", body))

    def add_file(self, patient: str, kind: str, date: str, path: Path) -> AddedRecord:
        """Stream a large file (VCF, FASTQ, DICOM...) to the vault with bounded memory.

        The signed target declares the file's length and SHA-256, so the node checks
        the signature and the signer's standing before it stores a byte, and refuses
        a body that differs from the declaration.
        """
        size, digest = _file_size_and_sha256(path)
        params = {
            "patient": patient,
            "kind": kind,
            "date": date,
            "size": str(size),
            "sha256": digest,
        }
        target = "/v1/records/files?" + urlencode(params, quote_via=quote)
        headers = self._sign("POST", target, digest)
        headers["content-type"] = "application/octet-stream"
        headers["content-length"] = str(size)
        with path.open("rb") as handle:
            reply = self.client._call("POST", target, content=_read_chunks(handle), headers=headers)
        return AddedRecord.model_validate(reply)

    # --- finding and reading -----------------------------------------------------------

    def locate(
        self, patient: str, purpose: str | None = None, break_glass_reason: str | None = None
    ) -> Located:
        """Where a patient has records, as far as this caller's standing allows.

        A break-glass search answers every record and the access event that recorded it
        (`BreakGlassLocated`)."""
        params = {"patient": patient}
        if purpose is not None:
            params["purpose"] = purpose
        intent = None
        if break_glass_reason is not None:
            reason = new_reason(break_glass_reason)
            params["break_glass_reason"] = reason.text
            params["break_glass_salt"] = reason.salt.hex()
            intent = Intent("locate", patient, "emergency", reason.hash)
        reply = self._signed("GET", "/v1/records", params, intent=intent)
        if intent is not None:
            found = BreakGlassLocated.model_validate(reply)
            self._searched.update((entry.id, entry.custodian) for entry in found.records)
            return found
        return Located.model_validate(reply)

    def read_view(
        self, record_id: str, purpose: str, break_glass_reason: str | None = None
    ) -> RecordRead:
        """The vault's answer to a read: ciphertext, a data key sealed to us, the receipt.

        A record another organisation holds is read at its custodian's node: straight
        there (`via="direct"`, the endpoint from the directory) or through the client's
        node, which forwards the same signed request (`via="node"`). Either way the
        answer must be signed by the node key the directory names for the custodian.
        """
        return self._read_view(record_id, purpose, break_glass_reason)[0]

    def route(self, record_id: str) -> Route:
        """Where a read of this record goes, from its proven chain entry and the directory.

        The client's own node when it is the custodian's, when the record's entry is not
        ours to see and no break-glass search of ours named its custodian, or when the
        custodian published no endpoint (the node then says who holds it: not_custodian).
        A custodian named by a search is not proven, and need not be: the request names
        it as audience, its vault decides, and its answer must carry the node key of its
        directory entry; a wrong name only fails the read.
        """
        own = Route(self.audience, (self.client,))
        try:
            value = self.client.verified_state("records", f"record/{record_id}", keys=self.keys)
        except ApiError:
            value = None
        custodian = (
            self._searched.get(record_id)
            if value is None
            else RecordMeta.model_validate(value).custodian
        )
        if custodian is None or custodian == self.audience:
            return own
        entry = self.client.org_endpoint(custodian)
        if entry is None:
            return own
        if self.via == "node":
            return Route(custodian, (self.client,), entry.node_key)
        nodes = tuple(self._node(url) for url in entry.endpoints)
        return Route(custodian, nodes, entry.node_key)

    def _node(self, url: str) -> Client:
        if url not in self._nodes:
            self._nodes[url] = Client(url, anchor=self.client.anchor)
        return self._nodes[url]

    def _read_view(
        self, record_id: str, purpose: str, break_glass_reason: str | None
    ) -> tuple[RecordRead, Route, Client]:
        """The read's answer, where it went, and the node that answered (for its content)."""
        route = self.route(record_id)
        body: JsonObject = {"purpose": purpose}
        intent = Intent("read", record_id, purpose)
        if break_glass_reason is not None:
            reason = new_reason(break_glass_reason)
            body["break_glass_reason"] = reason.text
            body["break_glass_salt"] = reason.salt.hex()
            intent = Intent("read", record_id, purpose, reason.hash)
        raw = orjson.dumps(body)
        target = f"/v1/records/{record_id}/read"
        headers = self._sign("POST", target, body_hash(raw), route.audience)
        headers[HEADER_INTENT] = sign_intent(self.keys, self.chain_id, intent, headers)
        headers["content-type"] = "application/json"
        answer, node = self._send(route, "POST", target, raw, headers)
        if route.node_key is not None:
            request = request_id_of(headers[HEADER_SIGNATURE])
            verify_answer(
                answer.headers,
                route.node_key,
                self.chain_id,
                request,
                answer.status_code,
                answer.content,
            )
        return RecordRead.model_validate_json(answer.content), route, node

    def _send(
        self, route: Route, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> tuple[httpx.Response, Client]:
        """The first of the route's nodes that answers; an unreachable custodian is
        `custodian_unavailable` (a node that answers with an error raises that error)."""
        failures = []
        for node in route.clients:
            try:
                return node._request(method, target, content=body, headers=headers), node
            except ApiError as exc:
                if exc.status != 0 or node is self.client:
                    raise
                failures.append(f"{node.base_url}: {exc.message}")
        raise CustodianUnavailable(route.audience, "; ".join(failures) or "no endpoint")

    def read(
        self,
        record_id: str,
        purpose: str,
        break_glass_reason: str | None = None,
        verify: bool = True,
    ) -> RecordCopy:
        """Read, decrypt locally and check: the hash against the chain, the receipt's proofs."""
        view, route, node = self._read_view(record_id, purpose, break_glass_reason)
        data_key = unwrap_with_keyring(view.wrapped_key, self.keys.encryption_keyring)
        chunks = (
            [base64.b64decode(view.ciphertext)]
            if view.ciphertext is not None
            else self._content(record_id, view.access.tx_id, route, node)
        )
        plaintext, opened = _decrypt_all(data_key, chunks)
        record = self._checked_record(view, opened, verify)
        return RecordCopy(record, plaintext, opened.salt, view.access, view.receipt)

    def read_to_file(self, record_id: str, purpose: str, out: Path) -> RecordCopy:
        """Read a large record straight to a file, decrypting chunk by chunk."""
        view, route, node = self._read_view(record_id, purpose, None)
        data_key = unwrap_with_keyring(view.wrapped_key, self.keys.encryption_keyring)
        decryptor = Decryptor(data_key)
        with out.open("wb") as handle:
            for chunk in self._content(record_id, view.access.tx_id, route, node):
                handle.write(decryptor.update(chunk))
            tail, opened = decryptor.finish()
            handle.write(tail)
        record = self._checked_record(view, opened, verify=True)
        return RecordCopy(record, b"", opened.salt, view.access, view.receipt)

    def _content(
        self, record_id: str, access_tx: str, route: Route, node: Client
    ) -> Iterator[bytes]:
        """The ciphertext of a read, from the node that answered it (streamed)."""
        target = f"/v1/records/{record_id}/content?access={access_tx}"
        headers = self._sign("GET", target, audience=route.audience)
        try:
            with node._http.stream("GET", target, headers=headers) as response:
                if response.status_code >= 400:
                    response.read()
                    error = response.json().get("error", {})
                    raise ApiError(
                        error.get("code", "unavailable"),
                        error.get("message", ""),
                        response.status_code,
                    )
                yield from response.iter_bytes(FILE_CHUNK)
        except httpx.HTTPError as exc:
            if node is self.client:
                raise ApiError("unavailable", f"cannot reach {node.base_url}: {exc}", 0) from exc
            raise CustodianUnavailable(route.audience, f"{node.base_url}: {exc}") from exc

    def _checked_record(self, view: RecordRead, opened: Opened, verify: bool) -> JsonObject:
        record = view.record
        if opened.content_hash != record["content_hash"]:
            raise HashMismatch("the decrypted record does not match its hash")
        if verify:
            self._verify_receipt(view)
            # The read may have been answered by another organisation's node; ours must have
            # the access event's block before it shows the reader the record's chain entry.
            self.client.await_height(view.access.height)
            proven = self.client.verified_state("records", f"record/{record['id']}", keys=self.keys)
            chain_record = None if proven is None else RecordMeta.model_validate(proven)
            if chain_record is None or chain_record.content_hash != opened.content_hash:
                raise InvalidProof("the record's hash on the chain differs from what was read")
            if (chain_record.id, chain_record.patient) != (record.get("id"), record.get("patient")):
                raise InvalidProof("the chain names another record or patient than the answer")
        return record

    def _verify_receipt(self, view: RecordRead) -> None:
        """The receipt proves an access event for this read, by this reader, is on the ledger."""
        receipt = view.receipt
        verify_tx_view(receipt)
        tx = _object(receipt.get("tx"))
        payload = _object(tx.get("payload"))
        if (
            tx.get("type") != "record.access"
            or payload.get("record_id") != view.record.get("id")
            or payload.get("reader") != self.keys.key_id
            or _object(receipt.get("result")).get("code") != "ok"
        ):
            raise InvalidProof("the access receipt is not for this read")

    def history(self, record_id: str) -> RecordHistory:
        return RecordHistory.model_validate(self._signed("GET", f"/v1/records/{record_id}/history"))

    @overload
    def consents(self, patient: str, fhir: Literal[False] = False) -> ConsentList: ...
    @overload
    def consents(self, patient: str, fhir: Literal[True]) -> Bundle: ...
    @overload
    def consents(self, patient: str, fhir: bool) -> ConsentList | Bundle: ...
    def consents(self, patient: str, fhir: bool = False) -> ConsentList | Bundle:
        params = {"patient": patient, "format": "fhir" if fhir else "json"}
        reply = self._signed("GET", "/v1/consents", params)
        return Bundle.model_validate(reply) if fhir else ConsentList.model_validate(reply)

    @overload
    def audit(self, patient: str, fhir: Literal[False] = False) -> AuditTrail: ...
    @overload
    def audit(self, patient: str, fhir: Literal[True]) -> Bundle: ...
    @overload
    def audit(self, patient: str, fhir: bool) -> AuditTrail | Bundle: ...
    def audit(self, patient: str, fhir: bool = False) -> AuditTrail | Bundle:
        """The accounting of disclosures of a patient's records, break-glass reasons opened.

        A break-glass event's `reason` is decrypted here from the note the custodian's
        vault sealed to this reader, and checked against the salted hash on the chain.
        """
        params = {"format": "fhir" if fhir else "json"}
        reply = self._signed("GET", f"/v1/audit/patients/{patient}", params)
        if fhir:
            return Bundle.model_validate(reply)
        trail = AuditTrail.model_validate(reply)
        events = [self._open_reason(e) for e in trail.events]
        flagged = [e for e in events if e["break_glass"]]
        return trail.model_copy(update={"events": events, "break_glass": flagged})

    def alerts(self, org: str) -> list[JsonObject]:
        """An organisation's break-glass feed (for its key, admins and auditors), reasons opened."""
        view = Alerts.model_validate(self._signed("GET", f"/v1/audit/orgs/{org}"))
        return [self._open_reason(e) for e in view.break_glass]

    def _open_reason(self, event: JsonObject) -> JsonObject:
        """The event without its sealed note, with the note's text as `reason` once checked."""
        event = dict(event)
        raw_note = event.pop("reason_note", None)
        if raw_note is None:
            return event
        note = SealedNote.model_validate(raw_note)
        data_key = unwrap_with_keyring(note.wrapped_key, self.keys.encryption_keyring)
        text, opened = decrypt_bytes(data_key, base64.b64decode(note.ciphertext))
        if opened.content_hash != event["reason_hash"]:
            raise HashMismatch("a break-glass reason does not match its hash on the chain")
        return {**event, "reason": text.decode()}

    def pull_all(self, patient: str) -> list[RecordCopy]:
        """Right of access: every active record of the patient, read and checked."""
        located = self.locate(patient).records
        return [self.read(r.id, "patient_request") for r in located if r.status != "shredded"]

    def summary(
        self, patient: str, purpose: str, break_glass_reason: str | None = None
    ) -> PatientSummary:
        """The patient's International Patient Summary (FHIR IPS document Bundle) from their
        records at every custodian, each read audited there; what could not be read is
        listed beside the Bundle (client/summary.py)."""
        return assemble_summary(self, patient, purpose, break_glass_reason)

    # --- patient side: transactions signed by the patient (or representative) --------------

    def grant(
        self,
        signer: Signer,
        grantee: Mapping[str, str],
        purposes: Sequence[str],
        expires_ms: int | None = None,
        resource_types: Sequence[str] = (),
        record_ids: Sequence[str] = (),
        patient: str | None = None,
        appointment_id: str | None = None,
        countries: Sequence[str] = (),
    ) -> ConsentGranted:
        """Grant a consent, rewrapping the in-scope records' data keys for the grantee.

        `countries` (ISO 3166-1 alpha-2) limits it to organisations located there."""
        patient = patient or self.patient_id
        payload: dict[str, Any] = {
            "consent_id": "cns-" + secrets.token_hex(12),
            "patient": patient,
            "grantee": dict(grantee),
            "resource_types": list(resource_types),
            "record_ids": list(record_ids),
            "purposes": list(purposes),
            "expires_ms": expires_ms or int(time.time() * 1000) + 365 * DAY_MS,
            "wrapped_keys": self._rewrapped_for(grantee, patient, resource_types, record_ids),
        }
        if countries:
            payload["countries"] = sorted(set(countries))
        payload = _acting_for(payload, appointment_id)
        report = require_committed(
            self.client.submit(signer.sign("consent.grant", payload), wait=True)
        )
        return ConsentGranted.model_validate({"consent_id": payload["consent_id"], **report.wire()})

    def _rewrapped_for(
        self,
        grantee: Mapping[str, str],
        patient: str,
        resource_types: Sequence[str],
        record_ids: Sequence[str],
    ) -> dict[str, str]:
        """Data keys the patient can open, sealed again to the grantee's encryption key.

        Only the patient's own keys open the patient's wrapped keys; a
        representative's grant leaves this empty and the vault rewraps on read.
        """
        if patient != self.patient_id:
            return {}
        public = self._grantee_public_key(grantee)
        entries = self.locate(patient).records
        wrapped: dict[str, str] = {}
        for entry in entries:
            in_scope = (
                (entry.id in record_ids)
                if record_ids
                else (not resource_types or entry.resource_type in resource_types)
            )
            # A grant carries at most MAX_SCOPE keys (the payload's limit, under 64 KiB);
            # records beyond them are rewrapped by the custodian's vault on each read.
            if not in_scope or entry.status == "shredded" or len(wrapped) >= MAX_SCOPE:
                continue
            record_id = entry.id
            value = self.client.state("records", f"record/{record_id}", keys=self.keys).value
            sealed = RecordMeta.model_validate(value).wrapped_keys
            if sealed is None:  # shredded since it was located
                continue
            # sealed to the patient's key when the record was added: perhaps a rotated one
            data_key = unwrap_with_keyring(sealed.patient, self.keys.encryption_keyring)
            wrapped[record_id] = wrap_key(data_key, public)
        return wrapped

    def _grantee_public_key(self, grantee: Mapping[str, str]) -> bytes:
        """The grantee's encryption key, proven against the anchor: the data keys are
        sealed to it, so a node that answered with a key of its own would get them."""
        if grantee["kind"] == "member":
            key = gov.person_record_key(grantee["member"])
        else:
            key = gov.org_key(grantee["org"])
        view = self.client.state(gov.NAMESPACE, key, proof=True, keys=self.keys)
        self.client.prove_state(view, gov.NAMESPACE, key)
        value = view.value
        if value is None:
            raise NotFound(f"unknown grantee {grantee}")
        return bytes.fromhex(value["encryption_key"])

    def revoke(
        self,
        signer: Signer,
        consent_id: str,
        reason: str | None = None,
        appointment_id: str | None = None,
    ) -> JsonObject:
        """Revoke a consent; the answer is the revocation's receipt (a proven transaction).

        `reason` is a code (withdrawn, care_ended, changed_provider, other), never free text.
        """
        payload = _acting_for({"consent_id": consent_id, "reason": reason}, appointment_id)
        return self._submit_with_receipt(signer, "consent.revoke", payload)

    def shred(
        self,
        signer: Signer,
        record_id: str,
        reason: str = "patient_request",
        appointment_id: str | None = None,
    ) -> JsonObject:
        """Crypto-shred a record; the answer is the deletion certificate (the proven tombstone).

        `reason` is a code (patient_request, entered_in_error, retention_expired,
        legal_order, other), never free text.
        """
        payload = _acting_for({"record_id": record_id, "reason": reason}, appointment_id)
        return self._submit_with_receipt(signer, "record.shred", payload)

    def appoint(
        self,
        signer: Signer,
        representative: str,
        relation: str,
        powers: Sequence[str],
        until_ms: int,
    ) -> Appointed:
        """Appoint a representative (parent, guardian, proxy) within powers and a period."""
        payload = {
            "appointment_id": "app-" + secrets.token_hex(12),
            "representative": representative,
            "relation": relation,
            "powers": list(powers),
            "until_ms": until_ms,
        }
        report = require_committed(
            self.client.submit(signer.sign("representative.appoint", payload), wait=True)
        )
        return Appointed.model_validate(
            {"appointment_id": payload["appointment_id"], **report.wire()}
        )

    # --- organ donation (see client/donation.py) ---------------------------------------

    def decide_donation(
        self,
        signer: Signer,
        organs: Sequence[str],
        decision: str = "donate",
        research: bool = False,
        patient: str | None = None,
        appointment_id: str | None = None,
    ) -> JsonObject:
        """Record or change a donation decision (organs, or none with `do_not_donate`);
        the answer is its receipt (a proven transaction)."""
        payload = donation.decide_payload(
            patient or self.patient_id, organs, decision, research, appointment_id
        )
        return self._submit_with_receipt(signer, "donation.decide", payload)

    def withdraw_donation(
        self, signer: Signer, patient: str | None = None, appointment_id: str | None = None
    ) -> JsonObject:
        """Withdraw the current donation decision, from the next block; its receipt."""
        payload = donation.withdraw_payload(patient or self.patient_id, appointment_id)
        return self._submit_with_receipt(signer, "donation.withdraw", payload)

    def donation_status(self, patient: str, purpose: str = "transplant") -> DonationStatus:
        """A coordinator asks (audited) for a patient's decision; checked against its proofs."""
        intent = Intent("donation", patient, purpose)
        reply = self._signed(
            "GET", f"/v1/donation/patients/{patient}", {"purpose": purpose}, intent=intent
        )
        answer = DonationStatus.model_validate(reply)
        donation.verify_status(self.client, answer, self.keys.key_id)
        return answer

    def donation_counts(self) -> DonationCounts:
        """The public counts per organisation and decision, each shown count proven."""
        return donation.verified_counts(self.client)

    # --- successor custodians ---------------------------------------------------------------

    def offer_successor(
        self, signer: Signer, successor: str, record_ids: Sequence[str]
    ) -> JsonObject:
        """As the custodian organisation (these keys): offer records to a successor.

        Each data key is opened with the organisation's keyring and sealed to the
        successor's encryption key, proven against the anchor. Nothing moves until
        the patient accepts (`accept_successor`); the answer is the offer's receipt.
        """
        public = self._grantee_public_key({"kind": "org", "org": successor})
        keys = {
            record_id: wrap_key(self._data_key(record_id, "custodian"), public)
            for record_id in record_ids
        }
        payload = {"successor": successor, "records": keys}
        return self._submit_with_receipt(signer, "custody.offer", payload)

    def accept_successor(
        self,
        signer: Signer,
        successor: str,
        record_ids: Sequence[str],
        patient: str | None = None,
        appointment_id: str | None = None,
    ) -> JsonObject:
        """As the patient (or a representative with the grant power): move records to a
        successor custodian. The patient seals each data key for it themselves, so no old
        custodian is needed; a representative takes the keys the custodian offered."""
        patient = patient or self.patient_id
        keys: dict[str, str | None] = {record_id: None for record_id in record_ids}
        if patient == self.patient_id:
            public = self._grantee_public_key({"kind": "org", "org": successor})
            keys = {r: wrap_key(self._data_key(r, "patient"), public) for r in record_ids}
        payload = _acting_for(
            {"patient": patient, "successor": successor, "records": keys}, appointment_id
        )
        return self._submit_with_receipt(signer, "custody.accept", payload)

    def _data_key(self, record_id: str, holder: Literal["patient", "custodian"]) -> bytes:
        """A record's data key, opened from the chain's proven entry with these keys."""
        proven = self.client.verified_state("records", f"record/{record_id}", keys=self.keys)
        if proven is None:
            raise NotFound(f"no record {record_id}")
        sealed = RecordMeta.model_validate(proven).wrapped_keys
        if sealed is None:
            raise NotFound(f"record {record_id} was shredded")
        wrapped = sealed.patient if holder == "patient" else sealed.custodian
        return unwrap_with_keyring(wrapped, self.keys.encryption_keyring)

    def _submit_with_receipt(
        self, signer: Signer, tx_type: str, payload: dict[str, Any]
    ) -> JsonObject:
        report = require_committed(self.client.submit(signer.sign(tx_type, payload), wait=True))
        return self.client.verified_tx(report.id, keys=signer.keys).wire()


def _acting_for(payload: dict[str, Any], appointment_id: str | None) -> dict[str, Any]:
    """A representative's act names the appointment it is made under."""
    return payload if appointment_id is None else {**payload, "appointment_id": appointment_id}


def _object(value: object) -> JsonObject:
    """A JSON object inside a receipt; anything else means the receipt is not one."""
    if not isinstance(value, dict):
        raise InvalidProof("the access receipt is not a transaction view")
    return value


def _decrypt_all(data_key: bytes, chunks: Iterator[bytes] | list[bytes]) -> tuple[bytes, Opened]:
    decryptor = Decryptor(data_key)
    parts = [decryptor.update(chunk) for chunk in chunks]
    tail, opened = decryptor.finish()
    return b"".join([*parts, tail]), opened


def _file_size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(FILE_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _read_chunks(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(FILE_CHUNK):
        yield chunk


__all__ = ["Appointed", "ConsentGranted", "RecordCopy", "Records", "verify_copy"]
