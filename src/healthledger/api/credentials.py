"""The credential routes that HTTP shapes: verify a presented credential, publish status
lists, read a member's file (as the domain's reply, or as FHIR R4).

The credentials domain publishes its other reads (an anchor, an issuer's next status
slot, CE rules, flags, PSVs) as views that api/views.py mounts. These stay here because
the edge does what a domain must not: verification reads the clock (a proof created in
the future is refused); a status list is compressed with GZIP, whose bytes no consensus
rule may depend on (principle 2), so it is made here, off the consensus path, and cached
per list and bitstring; and who may read a file is decided on the signer as the ledger
knows them, which a published view is not given.

Verification and status lists are public. Verification answers only about what the
caller already holds: the anchor and its state proof are returned when the presented
document's hash is the anchor's (the caller has the document); otherwise only the
verdict. A status list is the Bitstring Status List credential of the spec with its
bits proven: the node holds no issuer's key (keys stay with their owner), so it cannot
sign the list; what makes it trustworthy is the raw bitstring's SHA-256 committed on
chain, returned beside it with its state proof, which a client checks against its
trust anchor (the issuer's own CLI can sign a checked copy: `status-list --sign`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import JsonValue, ValidationError

from healthledger.api.access import ReadGuard
from healthledger.api.responses import json_response, parse_body, read_body
from healthledger.app.queries import state_in_snapshot
from healthledger.app.reader import SnapshotReader
from healthledger.app.registry import first_problem
from healthledger.app.views import StateView
from healthledger.crypto.data_integrity import xml_datetime
from healthledger.crypto.status_list import encode_list
from healthledger.domains.credentials import queries as q
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.answers import (
    CheckedCredential,
    StatusListAnswer,
    VerifyReport,
    checks_of,
    status_list_document,
)
from healthledger.domains.credentials.documents import credential_id_of
from healthledger.domains.credentials.exclusions import ORG_PATTERN
from healthledger.domains.credentials.fhir import practitioner_bundle
from healthledger.domains.credentials.file import CredentialFile, FileParams, file_view
from healthledger.domains.credentials.presentation import parse_at, presentation_of
from healthledger.domains.credentials.verify import check_credential
from healthledger.domains.governance import queries as gov_q
from healthledger.domains.kit import ProvenValue
from healthledger.errors import InvalidField, LedgerError, NotFound
from healthledger.ledger.store import Store
from healthledger.node.node import Node

# A presented credential or presentation: a verifier's bound (a file of 256 credentials
# of a few KiB each fits).
MAX_VERIFY_BYTES = 4 * 1024 * 1024
# An issuer's list numbers, as core's payloads bound them.
MAX_LIST_NUMBER = 1_000_000
# Through 9999-12-31, as the chain's times.
MAX_TIME_MS = 253_402_300_799_999
# Encoded lists kept: each is a few hundred bytes to 16 KiB, keyed by the bits' hash.
STATUS_LIST_CACHE = 256

AtQuery = Annotated[
    str | None,
    Query(
        description="When the status is asked at: YYYY-MM-DD (the close of that day, UTC) "
        "or an XML dateTime in UTC; default now",
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
        r"(Z|[+-][0-9]{2}:[0-9]{2}))?$",
    ),
]


OrgPath = Annotated[str, Path(pattern=ORG_PATTERN)]
AtMsQuery = Annotated[int | None, Query(ge=0, le=MAX_TIME_MS)]
# How a file a reader may see is answered: as the domain's reply, or as FHIR.
FileShape = Callable[[SnapshotReader, CredentialFile], JsonValue]


class StatusListCache:
    """Encoded lists by (issuer, purpose, list, bits hash): a list fetched again at a later
    height whose bits did not change is not recompressed."""

    def __init__(self, size: int = STATUS_LIST_CACHE) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str, int, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def encoded(self, key: tuple[str, str, int, str], bits: bytes) -> str:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        encoded = encode_list(bits)
        with self._lock:
            self._entries[key] = encoded
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return encoded


def add_credential_routes(app: FastAPI, node: Node, guard: ReadGuard) -> None:
    store = node.store
    cache = StatusListCache()

    def gated_file(
        request: Request, org: str, member_id: str, at_ms: int | None, shape: FileShape
    ) -> Response:
        # Who may read is the domain's rule (file_for): it needs the signer as the ledger
        # knows them, which a published view does not get.
        actor = guard.reader(guard.signed(request))
        params = _file_params({"org": org, "member_id": member_id, "at_ms": at_ms})
        with store.snapshot():
            reader = SnapshotReader(store)
            return json_response(shape(reader, file_view(reader, params, actor)))

    @app.get(
        "/v1/credentials/members/{org}/{member_id}/file",
        tags=["credentials"],
        summary="A member's credential file (signed: the member, their organisation, where "
        "they hold privileges, regulators, auditors, a share's grantee)",
        response_class=Response,
        responses={200: {"model": CredentialFile}},
    )
    def member_file(
        request: Request, org: OrgPath, member_id: OrgPath, at_ms: AtMsQuery = None
    ) -> Response:
        return gated_file(request, org, member_id, at_ms, _as_reply)

    @app.get(
        "/v1/credentials/members/{org}/{member_id}/fhir",
        tags=["credentials"],
        summary="A member's credential file as FHIR R4: a collection Bundle of a Practitioner "
        "(qualification per credential) and a VerificationResult per credential (signed: "
        "whoever may read the file, as for the file)",
        response_class=Response,
        responses={200: {"description": "A FHIR R4 Bundle (type collection)"}},
    )
    def member_fhir(
        request: Request, org: OrgPath, member_id: OrgPath, at_ms: AtMsQuery = None
    ) -> Response:
        return gated_file(request, org, member_id, at_ms, _as_fhir)

    @app.post(
        "/v1/credentials/verify",
        tags=["credentials"],
        summary="Verify a presented credential or presentation (public; the node's verdict "
        "against its own state, with proofs a client checks against its trust anchor)",
        description=(
            "The body is one W3C VC 2.0 credential, or a VerifiablePresentation-shaped "
            '`{"type": ["VerifiablePresentation"], "verifiableCredential": [...]}` '
            "(unsigned; each credential stands on its own proof). Each is checked: its "
            "eddsa-jcs-2022 proof, its issuer's key then, its hash against the ledger's "
            "anchor, its status at `at`. The anchor's state proof comes with each answer "
            "whose hash matches, so a client can check it against its own trust anchor."
        ),
        response_class=Response,
        responses={200: {"model": VerifyReport}},
    )
    async def verify(request: Request, at: AtQuery = None) -> Response:
        now_ms = _now_ms()
        at_ms = now_ms if at is None else parse_at(at)
        body = parse_body(await read_body(request, MAX_VERIFY_BYTES))
        presented = presentation_of(body)
        # Off the event loop: proofs and state reads take CPU.
        report = await asyncio.to_thread(
            _verify_all, store, presented.credentials, presented.holder, at_ms, now_ms
        )
        return json_response(report.model_dump(mode="json"))

    @app.get(
        "/v1/credentials/status-lists/{issuer}/{purpose}/{number}",
        tags=["credentials"],
        summary="An issuer's status list as a BitstringStatusListCredential, its hash proven",
        response_class=Response,
        responses={200: {"model": StatusListAnswer}},
    )
    async def status_list(
        issuer: Annotated[str, Path(pattern=ORG_PATTERN)],
        purpose: st.StatusPurpose,
        number: Annotated[int, Path(ge=0, le=MAX_LIST_NUMBER)],
    ) -> Response:
        answer = await asyncio.to_thread(_status_list, store, cache, issuer, purpose, number)
        return json_response(answer.model_dump(mode="json"))


def _file_params(raw: dict[str, str | int | None]) -> FileParams:
    try:
        return FileParams.model_validate(raw)
    except ValidationError as exc:
        raise InvalidField(f"file: {first_problem(exc)}") from exc


def _as_reply(_reader: SnapshotReader, file: CredentialFile) -> JsonValue:
    return file.model_dump(mode="json")


def _as_fhir(reader: SnapshotReader, file: CredentialFile) -> JsonValue:
    return practitioner_bundle(file, issuer_names=_issuer_names(reader, file))


def _issuer_names(reader: SnapshotReader, file: CredentialFile) -> dict[str, str]:
    """Display names of the file's issuers: a member organisation's registered name, an
    external issuer's registered name; the id when neither is known."""
    names: dict[str, str] = {}
    for issuer, external in {(c.issuer, c.external) for c in file.credentials}:
        record = (
            q.external_issuer(reader.state, issuer) if external else gov_q.org(reader.state, issuer)
        )
        names[issuer] = issuer if record is None else record.name
    return names


def _verify_all(
    store: Store,
    documents: list[dict[str, Any]],
    holder: JsonValue,
    at_ms: int,
    now_ms: int,
) -> VerifyReport:
    """Each credential against one committed snapshot: one height for every answer."""
    with store.snapshot():
        height = store.last_height()
        checked = [_verify_one(store, document, at_ms, now_ms) for document in documents]
    return VerifyReport(
        at=xml_datetime(at_ms),
        height=height,
        valid=all(c.valid for c in checked),
        holder=holder,
        credentials=checked,
    )


def _verify_one(
    store: Store, document: dict[str, Any], at_ms: int, now_ms: int
) -> CheckedCredential:
    try:
        credential_id = credential_id_of(document)
    except LedgerError as exc:
        return CheckedCredential(id=None, valid=False, checks=[_refusal("document", exc)])
    view = state_in_snapshot(store, st.NAMESPACE, st.credential_key(credential_id), prove=True)
    anchor = None if view.value is None else st.CredentialAnchor.model_validate(view.value)
    verdict = check_credential(document, anchor, at_ms, now_ms)
    # The caller holds the anchored document when its hash is the anchor's (the verdict
    # compared them; fields that differ then are the issuer's doing, worth the proof).
    held = verdict.anchored.ok or verdict.anchored.reason == "field_mismatch"
    return CheckedCredential(
        id=credential_id,
        valid=verdict.ok,
        checks=checks_of(verdict),
        anchor=_proven(view) if held else None,
    )


def _refusal(check: str, exc: LedgerError) -> dict[str, JsonValue]:
    return {"check": check, "ok": False, "reason": str(exc.code), "message": exc.message}


def _status_list(
    store: Store, cache: StatusListCache, issuer: str, purpose: str, number: int
) -> StatusListAnswer:
    """The list as its proven record holds it; encoded (or taken from the cache) here."""
    key = st.status_list_key(issuer, purpose, number)
    view = _proven_state(store, key)
    if view.value is None:
        raise NotFound(f"{issuer} has no {purpose} status list {number}")
    record = st.StatusListRecord.model_validate(view.value)
    encoded = cache.encoded((issuer, purpose, number, record.bits_hash), record.raw_bits())
    return StatusListAnswer(
        credential=status_list_document(issuer, purpose, number, encoded),
        bits_hash=record.bits_hash,
        record=_proven(view),
    )


def _proven_state(store: Store, key: str) -> StateView:
    """A credentials value with its proof, read in one committed snapshot."""
    with store.snapshot():
        return state_in_snapshot(store, st.NAMESPACE, key, prove=True)


def _proven(view: StateView) -> ProvenValue:
    return ProvenValue.model_validate({"header": None, **view.wire()})


def _now_ms() -> int:
    """The edge's clock: a proof `created` beyond it (and its skew) is refused."""
    return int(time.time() * 1000)
