"""REST endpoints of patient records: /v1/records, /v1/consents, /v1/audit.

Every endpoint here answers only signed requests (see `crypto/signed_request.py`).
Consent grants and revocations are ordinary transactions the patient signs and
sends to /v1/txs; these endpoints are the vault's side: add, locate, read, audit.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response, StreamingResponse

from healthledger.api.access import request_target
from healthledger.api.forward import MAX_FORWARD_BODY, Forwarder
from healthledger.api.responses import (
    MAX_BODY_BYTES,
    client_disconnects,
    declared_length,
    json_response,
    parse_body,
    read_body,
)
from healthledger.crypto.signed_request import (
    EMPTY_BODY,
    SignedRequest,
    body_hash,
    sign_answer,
)
from healthledger.domains.records.bundles import MAX_BUNDLE_BYTES
from healthledger.domains.records.policy import BreakGlassReason
from healthledger.domains.records.replies import (
    AddedRecord,
    BatchAdded,
    BatchFailure,
    BundleImported,
    ErrorBody,
    Reply,
)
from healthledger.errors import (
    AuditFailed,
    BodyMismatch,
    LedgerError,
    MalformedInput,
    Timeout,
    TooLarge,
)
from healthledger.ledger.context import Actor
from healthledger.node.custodian import (
    MAX_FILE_BYTES,
    MAX_RESOURCE_BYTES,
    Committed,
    DeclaredBody,
    NewRecord,
    PreparedAccess,
    PreparedAdd,
    PreparedImport,
    RecordService,
    ReplicaInbox,
    RequestAuthenticator,
    Submitted,
    Upload,
)
from healthledger.node.node import Node

MAX_BATCH_RECORDS = 2000
COMMIT_TIMEOUT_S = 30.0
SPOOL_CHUNK = 1024 * 1024
SHA256_HEX = r"^[0-9a-f]{64}$"
# Room around a resource or a Bundle for the request's own fields ({"patient": ...}).
ENVELOPE_BYTES = 64 * 1024
MAX_RECORD_BODY = MAX_RESOURCE_BYTES + ENVELOPE_BYTES
MAX_BUNDLE_BODY = MAX_BUNDLE_BYTES + ENVELOPE_BYTES
Purpose = Annotated[str, Query(pattern=r"^[a-z_]{1,32}$")]


def _reply(reply: Reply, status: int = 200) -> Response:
    """A typed answer of the vault, as the JSON the wire has always carried."""
    return json_response(reply.wire(), status)


def _signed_reply(service: RecordService, signed: SignedRequest, reply: Reply) -> Response:
    """An answer signed with this node's key (the directory names its public half), so a
    reader whose request went through another node can tell this node gave it."""
    response = _reply(reply)
    headers = sign_answer(
        service.node.node_key, service.chain_id, signed.request_id, 200, bytes(response.body)
    )
    response.headers.update(headers)
    return response


async def _authenticate(
    service: RecordService, request: Request, body_sha256: str
) -> tuple[SignedRequest, Actor]:
    return await asyncio.to_thread(
        service.authenticate, request.headers, request.method, request_target(request), body_sha256
    )


async def _signed_json(
    service: RecordService, request: Request, limit: int = MAX_BODY_BYTES
) -> tuple[SignedRequest, Actor, Any]:
    body = await read_body(request, limit)
    signed, actor = await _authenticate(service, request, body_hash(body))
    return signed, actor, parse_body(body) if body else {}


async def _commit_access(service: RecordService, prepared: PreparedAccess) -> Committed:
    """Submit an access event and await its block: no commit means no data."""
    try:
        (submitted,) = await asyncio.to_thread(service.submit, [prepared])
        return await _committed(submitted)
    except TimeoutError as exc:
        raise AuditFailed("the access event did not commit in time; nothing was released") from exc
    except LedgerError as exc:
        await asyncio.to_thread(service.abandon_access, prepared)
        raise LedgerError(f"the access event was refused: {exc.message}", exc.code) from exc


async def _committed(submitted: Submitted) -> Committed:
    """Await a submitted transaction's block (TimeoutError after COMMIT_TIMEOUT_S)."""
    future = asyncio.wrap_future(submitted.commit)
    height, result = await asyncio.wait_for(future, COMMIT_TIMEOUT_S)
    return Committed(submitted.tx, height, result)


def add_record_routes(
    app: FastAPI, node: Node, authenticator: RequestAuthenticator | None = None
) -> RecordService:
    """Mount the vault's routes; `authenticator` is the node's one (shared with `ReadGuard`)."""
    service = RecordService(node, authenticator=authenticator)
    forwarder = Forwarder(node, service.auth)
    _add_write_routes(app, node, service)
    _add_read_routes(app, node, service, forwarder)
    _add_patient_routes(app, service)
    return service


def _add_write_routes(app: FastAPI, node: Node, service: RecordService) -> None:
    async def add_many(author: Actor, items: list[Any]) -> list[AddedRecord | LedgerError]:
        pairs = [_record_item(item) for item in items]
        prepared = await asyncio.to_thread(service.prepare_add_resources, author, pairs)
        ready = [p for p in prepared if isinstance(p, PreparedAdd)]
        futures = iter(await asyncio.to_thread(service.submit, ready))
        waits = [
            p if isinstance(p, LedgerError) else _finish_add(service, p, next(futures))
            for p in prepared
        ]
        return list(await asyncio.gather(*(_settled(w) for w in waits)))

    @app.post("/v1/records", tags=["records"], summary="Add a FHIR record (signed by its author)")
    async def add(request: Request) -> Response:
        _signed, author, body = await _signed_json(service, request, MAX_RECORD_BODY)
        (outcome,) = await add_many(author, [body])
        if isinstance(outcome, LedgerError):
            raise outcome
        return _reply(outcome, 201)

    @app.post("/v1/records/batch", tags=["records"], summary="Add many FHIR records at once")
    async def add_batch(request: Request) -> Response:
        _signed, author, body = await _signed_json(service, request)
        items = body.get("records") if isinstance(body, dict) else None
        if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH_RECORDS:
            raise MalformedInput(f'a batch is {{"records": [1 to {MAX_BATCH_RECORDS} records]}}')
        outcomes = await add_many(author, items)
        return _reply(BatchAdded(results=[_batch_item(o) for o in outcomes]))

    @app.post(
        "/v1/records/bundle",
        tags=["records"],
        summary="Import a FHIR Bundle for one patient: one record per entry, all or none",
    )
    async def add_bundle(request: Request) -> Response:
        _signed, author, body = await _signed_json(service, request, MAX_BUNDLE_BODY)
        if not isinstance(body, dict) or not isinstance(body.get("patient"), str):
            raise MalformedInput('an import is {"patient": "pat_…", "bundle": {FHIR Bundle}}')
        prepared = await asyncio.to_thread(
            service.prepare_import, author, body["patient"], body.get("bundle")
        )
        imported = await _finish_import(service, prepared)
        return _reply(imported)

    @app.post(
        "/v1/records/files", tags=["records"], summary="Stream a large file (genome, imaging)"
    )
    async def add_file(
        request: Request,
        patient: str,
        kind: str,
        date: str,
        size: Annotated[int, Query(ge=0, description="the body's exact length in bytes")],
        sha256: Annotated[str, Query(pattern=SHA256_HEX, description="the body's SHA-256")],
    ) -> Response:
        """The declaration (size, sha256) is in the signed target; it is checked before reading."""
        declared = DeclaredBody(size, sha256)
        _refuse_by_content_length(request, declared)
        # The signature covers the declared hash as the body's: checked here, once, at the start.
        _signed, author = await _authenticate(service, request, sha256)
        upload = await asyncio.to_thread(service.open_upload, author, patient, kind, date, declared)
        try:
            await _receive(request, upload)
            prepared = await asyncio.to_thread(upload.finish)
        finally:
            upload.discard()
        (submitted,) = await asyncio.to_thread(service.submit, [prepared])
        return _reply(await _finish_add(service, prepared, submitted), 201)


def _batch_item(outcome: AddedRecord | LedgerError) -> AddedRecord | BatchFailure:
    if isinstance(outcome, LedgerError):
        return BatchFailure(error=ErrorBody.model_validate(outcome.to_dict()))
    return outcome


def _record_item(item: Any) -> NewRecord:
    if not isinstance(item, dict) or not isinstance(item.get("patient"), str):
        raise MalformedInput('a record is {"patient": "pat_…", "resource": {FHIR resource}}')
    replaces = item.get("replaces")
    if replaces is not None and not isinstance(replaces, str):
        raise MalformedInput("'replaces' names the record id this one corrects")
    return NewRecord(item["patient"], item.get("resource"), replaces)


async def _settled(
    outcome: LedgerError | Awaitable[AddedRecord],
) -> AddedRecord | LedgerError:
    if isinstance(outcome, LedgerError):
        return outcome
    try:
        return await outcome
    except LedgerError as exc:
        return exc


async def _finish_add(
    service: RecordService, prepared: PreparedAdd, submitted: Submitted
) -> AddedRecord:
    """Await the record's commit; a refused record's ciphertext is removed from the vault."""
    try:
        committed = await _committed(submitted)
    except TimeoutError as exc:
        raise Timeout("the record did not commit in time") from exc
    except LedgerError:
        await asyncio.to_thread(service.abandon_add, prepared)
        raise
    return await asyncio.to_thread(service.finish_add, prepared, committed)


async def _finish_import(service: RecordService, prepared: PreparedImport) -> BundleImported:
    """Submit the import (if anything is new) and await it; a refusal leaves no ciphertext."""
    if prepared.unsigned is None:
        return await asyncio.to_thread(service.finish_import, prepared, None)
    try:
        (submitted,) = await asyncio.to_thread(service.submit, [prepared])
        committed = await _committed(submitted)
    except TimeoutError as exc:
        raise Timeout("the import did not commit in time") from exc
    except LedgerError:
        await asyncio.to_thread(service.abandon_import, prepared)
        raise
    return await asyncio.to_thread(service.finish_import, prepared, committed)


def _refuse_by_content_length(request: Request, declared: DeclaredBody) -> None:
    """A Content-Length other than the declared size is refused before anything is read."""
    if declared.size > MAX_FILE_BYTES:
        raise TooLarge(f"a file is at most {MAX_FILE_BYTES} bytes")
    announced = declared_length(request)
    if announced is None or announced == declared.size:
        return
    if announced > declared.size:
        raise TooLarge(f"Content-Length {announced} exceeds the declared size {declared.size}")
    raise BodyMismatch(f"Content-Length {announced} differs from the declared size {declared.size}")


async def _receive(request: Request, upload: Upload | ReplicaInbox) -> None:
    """Feed the body to the upload in pieces of about SPOOL_CHUNK: bounded memory, few hops."""
    pending = bytearray()
    async with client_disconnects():
        async for chunk in request.stream():
            pending += chunk
            if len(pending) >= SPOOL_CHUNK:
                await asyncio.to_thread(upload.feed, bytes(pending))
                pending.clear()
    await asyncio.to_thread(upload.feed, bytes(pending))


def _reason(body: dict[str, Any]) -> BreakGlassReason | None:
    """A read's break-glass reason, with the salt the reader committed to it with."""
    text, salt = body.get("break_glass_reason"), body.get("break_glass_salt")
    if text is None:
        return None
    if not isinstance(text, str) or not isinstance(salt, str):
        raise MalformedInput("break_glass_reason and break_glass_salt are strings")
    return BreakGlassReason.given(text, salt)


def _add_read_routes(
    app: FastAPI, node: Node, service: RecordService, forwarder: Forwarder
) -> None:
    @app.get("/v1/records", tags=["records"], summary="Locate a patient's records (record locator)")
    async def locate(
        request: Request,
        patient: str,
        purpose: Purpose | None = None,
        break_glass_reason: Annotated[str | None, Query(max_length=300)] = None,
        break_glass_salt: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Response:
        signed, reader = await _authenticate(service, request, EMPTY_BODY)
        if break_glass_reason is None:
            return _reply(await asyncio.to_thread(service.locate, reader, patient, purpose))
        prepared = await asyncio.to_thread(
            service.prepare_break_glass_locate,
            signed,
            reader,
            patient,
            BreakGlassReason.given(break_glass_reason, break_glass_salt),
        )
        committed = await _commit_access(service, prepared)
        located = await asyncio.to_thread(
            service.finish_break_glass_locate, prepared, patient, committed
        )
        return _reply(located)

    @app.post("/v1/records/{record_id}/read", tags=["records"], summary="Read a record (audited)")
    async def read(request: Request, record_id: str) -> Response:
        """A read meant for another organisation (its audience) is forwarded to its node."""
        custodian = forwarder.elsewhere(request)
        if custodian is not None:
            raw = await read_body(request, MAX_FORWARD_BODY)
            return await forwarder.relay(request, custodian, record_id, raw)
        signed, reader, body = await _signed_json(service, request)
        if not isinstance(body, dict) or not isinstance(body.get("purpose"), str):
            raise MalformedInput('a read states its purpose: {"purpose": "treatment"}')
        prepared = await asyncio.to_thread(
            service.prepare_read,
            signed,
            reader,
            record_id,
            body["purpose"],
            _reason(body),
        )
        committed = await _commit_access(service, prepared)
        answer = await asyncio.to_thread(service.finish_read, prepared, committed)
        return _signed_reply(service, signed, answer)

    @app.get(
        "/v1/records/{record_id}/content", tags=["records"], summary="A read record's ciphertext"
    )
    async def content(request: Request, record_id: str, access: str) -> StreamingResponse:
        custodian = forwarder.elsewhere(request)
        if custodian is not None:
            return await forwarder.relay_stream(request, custodian, record_id)
        _signed, reader = await _authenticate(service, request, EMPTY_BODY)
        chunks = await asyncio.to_thread(service.content_chunks, reader, record_id, access)
        return StreamingResponse(chunks, media_type="application/octet-stream")

    @app.get(
        "/v1/vault/blobs/{blob_id}",
        tags=["records"],
        summary="A ciphertext, for the custodian of the record naming it (successor, replica)",
    )
    async def blob(request: Request, blob_id: str) -> StreamingResponse:
        _signed, asker = await _authenticate(service, request, EMPTY_BODY)
        chunks = await asyncio.to_thread(service.blob_for_custodian, asker, blob_id)
        return StreamingResponse(chunks, media_type="application/octet-stream")

    @app.put(
        "/v1/vault/replicas/{blob_id}",
        tags=["records"],
        summary="Keep a replica of a custodian's ciphertext (signed by the custodian)",
    )
    async def replica(request: Request, blob_id: str) -> Response:
        """The signed body hash is the blob id itself: the bytes are checked against it."""
        _signed, sender = await _authenticate(service, request, blob_id)
        if re.fullmatch(SHA256_HEX, blob_id) is None:  # signed, so the sender signed this id
            raise MalformedInput("a blob id is 64 lowercase hex characters")
        inbox = await asyncio.to_thread(service.open_replica, sender, blob_id)
        if inbox is None:
            return json_response({"blob_id": blob_id, "stored": False}, 200)
        try:
            announced = declared_length(request)
            if announced is not None and announced != inbox.expected_size:
                raise BodyMismatch(f"blob {blob_id} is {inbox.expected_size} bytes")
            await _receive(request, inbox)
            await asyncio.to_thread(inbox.finish)
        finally:
            inbox.discard()
        return json_response({"blob_id": blob_id, "stored": True}, 201)

    @app.get("/v1/records/{record_id}/history", tags=["records"], summary="Versions and accesses")
    async def history(request: Request, record_id: str) -> Response:
        _signed, reader = await _authenticate(service, request, EMPTY_BODY)
        return _reply(await asyncio.to_thread(service.history, reader, record_id))


def _add_patient_routes(app: FastAPI, service: RecordService) -> None:
    @app.get(
        "/v1/consents", tags=["consent"], summary="A patient's consents (FHIR with format=fhir)"
    )
    async def consents(request: Request, patient: str, format: str = "json") -> Response:
        _signed, reader = await _authenticate(service, request, EMPTY_BODY)
        view = await asyncio.to_thread(service.consents, reader, patient, format == "fhir")
        return _reply(view)

    @app.get(
        "/v1/audit/patients/{patient}",
        tags=["audit"],
        summary="Accounting of disclosures (FHIR AuditEvent with format=fhir)",
    )
    async def audit(request: Request, patient: str, format: str = "json") -> Response:
        _signed, reader = await _authenticate(service, request, EMPTY_BODY)
        return _reply(await asyncio.to_thread(service.audit, reader, patient, format == "fhir"))

    @app.get(
        "/v1/audit/orgs/{org}",
        tags=["audit"],
        summary="An organisation's break-glass alerts (its own key, admins and auditors)",
    )
    async def alerts(request: Request, org: str) -> Response:
        _signed, reader = await _authenticate(service, request, EMPTY_BODY)
        return _reply(await asyncio.to_thread(service.alerts, reader, org))
