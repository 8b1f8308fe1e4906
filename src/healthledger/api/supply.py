"""The supply routes that HTTP shapes: verification and the EPCIS documents (writes: /v1/txs).

The supply domain publishes its other reads (a package's history, a lot, alerts) as
views that api/views.py mounts. These three stay here because the edge does what a
domain must not: verification logs each request and resolves a scanned expiry's
century by today's year; the EPCIS documents are JSON-LD stamped with the time they
were made, and a lot's page names the next one in a `Link` header. Each calls the
domain's query functions on one committed snapshot.

Package verification is public (a pharmacy's scanner, a patient holding a pack),
and it carries its proofs. Custody documents name who traded what with whom: they
answer signed requests of members (api/access.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from healthledger.api.access import ReadGuard
from healthledger.api.responses import json_response
from healthledger.app.reader import SnapshotReader
from healthledger.domains.supply import DOMAIN as SUPPLY
from healthledger.domains.supply import epcis, gs1
from healthledger.domains.supply import queries as q
from healthledger.domains.supply.feed import raw_event
from healthledger.domains.supply.importer import CheckedDocument, check_on_ledger
from healthledger.domains.supply.observations import ErrorMark, EventLink, erroneous_key
from healthledger.domains.supply.state import NAMESPACE as SUPPLY_NS
from healthledger.domains.supply.transform import package_transformation_events
from healthledger.domains.supply.views import EpcisDocument, ImportReport, VerifyAnswer
from healthledger.errors import MalformedInput, TooLarge
from healthledger.ledger.store import Store
from healthledger.node.node import Node

MAX_LOT_PAGE = 10_000
# A document checked in one request (its events are mapped, not applied).
MAX_CHECK_BYTES = 8 * 1024 * 1024
# Who may send each supply type: the check refuses an event its submitter could not send.
_SENDERS = {tx.type: tx.senders for tx in SUPPLY.txs}
JSON_LD = "application/ld+json"
_EPCIS_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"model": EpcisDocument, "content": {JSON_LD: {}}}
}


@contextmanager
def _snapshot(store: Store) -> Iterator[SnapshotReader]:
    """One committed snapshot: every value, proof and header read inside it agree."""
    with store.snapshot():
        yield SnapshotReader(store)


def add_supply_routes(app: FastAPI, node: Node, guard: ReadGuard) -> None:
    store = node.store

    @app.get(
        "/v1/supply/verify",
        tags=["supply"],
        summary="Verify a package (DSCSA / EU FMD)",
        response_class=Response,
        responses={200: {"model": VerifyAnswer}},
    )
    def verify(
        gtin: str | None = None,
        serial: str | None = None,
        lot: str | None = None,
        expiry: Annotated[str | None, Query(description="YYYY-MM-DD or YYMMDD")] = None,
        scan: Annotated[str | None, Query(description="raw 2D barcode data")] = None,
        requester: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Response:
        # The expiry's century is resolved against today's year: the edge may read a clock.
        year = time.gmtime().tm_year
        product = gs1.product_from(scan, gtin, serial, lot, expiry, reference_year=year)
        with _snapshot(store) as reader:
            answer = q.verify_package(
                reader, product.gtin, product.serial, product.lot, product.expiry
            )
        node.requests.record(
            "supply.verify",
            gtin=product.gtin,
            serial=product.serial,
            verdict=answer.verdict,
            requester=requester,
        )
        return json_response(answer.model_dump(mode="json"))

    @app.post(
        "/v1/supply/epcis/check",
        tags=["supply"],
        summary="What each event of an EPCIS 2.0 document would become (dry run, nothing signed)",
        description=(
            "The document (EPCISDocument or EPCISQueryDocument) is the request body; `org` is "
            "the organisation that would submit it. Each event is mapped against the current "
            "state: what it would become, or the precise reason it would be refused."
        ),
        response_class=Response,
        responses={200: {"model": ImportReport}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
    async def check_epcis(
        request: Request, org: Annotated[str, Query(min_length=1, max_length=64)]
    ) -> Response:
        body = await request.body()
        if len(body) > MAX_CHECK_BYTES:
            raise TooLarge(f"a document to check is at most {MAX_CHECK_BYTES} bytes")
        document = _document(body)
        # Off the event loop: mapping a large document takes CPU, and every other request
        # of the node's API would wait behind it.
        checked = await asyncio.to_thread(_check, store, document, org)
        answer = {
            "ok": checked.ok,
            "submitted": False,
            "events": [report.wire() for report in checked.reports],
        }
        return json_response(answer)

    @app.get(
        "/v1/supply/packages/{gtin}/{serial:path}/epcis",
        tags=["supply"],
        summary="A package's chain of custody as EPCIS 2.0 JSON (signed: members)",
        response_class=Response,
        responses=_EPCIS_RESPONSES,
    )
    def history_epcis(request: Request, gtin: str, serial: str) -> Response:
        guard.member(request)
        gtin14 = gs1.validate_gtin(gtin)
        with _snapshot(store) as reader:
            traced = q.package_events(reader, gtin14, serial)
            written = _written(store, reader, traced.imported)
            # Transformations rebuilt from state (not from a partner's event), by block time.
            rebuilt = package_transformation_events(reader, gtin14, serial)
        at = [(epcis.parse_time("eventTime", event["eventTime"]), event) for event in rebuilt]
        document = epcis.to_epcis_document(
            traced.events,
            created_ms=_now_ms(),
            imported=[*written.events, *at],
            prefixes=written.prefixes,
        )
        return Response(orjson.dumps(document), media_type=JSON_LD)

    @app.get(
        "/v1/supply/lots/{gtin}/{lot:path}/epcis",
        tags=["supply"],
        summary="One page of a lot's chain of custody as EPCIS 2.0 JSON (signed: members)",
        description=(
            "At most `limit` packages per page. While more remain, the document's "
            f"`{epcis.NEXT_CURSOR_FIELD}` (and a `Link: rel=next` header) names the next "
            "page's cursor."
        ),
        response_class=Response,
        responses=_EPCIS_RESPONSES,
    )
    def lot_epcis(
        request: Request,
        gtin: str,
        lot: str,
        limit: Annotated[int, Query(ge=1, le=MAX_LOT_PAGE)] = 1000,
        cursor: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    ) -> Response:
        guard.member(request)
        with _snapshot(store) as reader:
            page = q.lot_events(reader, gs1.validate_gtin(gtin), lot, limit, cursor)
            written = _written(store, reader, page.imported)
        document = epcis.to_epcis_document(
            page.events, created_ms=_now_ms(), imported=written.events, prefixes=written.prefixes
        )
        document[epcis.PACKAGES_FIELD] = page.packages
        headers = {}
        if page.cursor is not None:
            document[epcis.NEXT_CURSOR_FIELD] = page.cursor
            next_url = request.url.include_query_params(cursor=page.cursor, limit=limit)
            headers["link"] = f'<{next_url.path}?{next_url.query}>; rel="next"'
        return Response(orjson.dumps(document), media_type=JSON_LD, headers=headers)


@dataclass(frozen=True)
class _Written:
    """Imported events as their partners wrote them, and their documents' prefixes."""

    events: list[tuple[int, dict[str, Any]]]  # (block time, event)
    prefixes: dict[str, str]


def _written(store: Store, reader: SnapshotReader, links: list[EventLink]) -> _Written:
    """Read from the transactions that carried them (the block store keeps each whole)."""
    payloads: dict[str, Any] = {}
    prefixes: dict[str, str] = {}

    def payload(tx_id: str) -> Any:
        if tx_id not in payloads:
            payloads[tx_id] = orjson.loads(store.tx(tx_id).raw)["payload"]
            # Two documents giving one prefix two namespaces: the first is kept (an event of
            # the other would hash differently in this document; its id stays its own).
            for prefix, namespace in payloads[tx_id].get("context", {}).items():
                prefixes.setdefault(prefix, namespace)
        return payloads[tx_id]

    events = []
    for link in links:
        body = raw_event(payload(link.tx), link.position, link.event_id)
        mark = reader.state.load(SUPPLY_NS, erroneous_key(link.event_id), ErrorMark)
        if mark is not None:
            # EPCIS 2.0 §7.4.1.2: a query returns the event with its declaration, as its
            # declarer wrote it; the hash leaves errorDeclaration out, so the id still holds.
            declared = raw_event(payload(mark.tx), mark.position, link.event_id)
            body["errorDeclaration"] = declared["errorDeclaration"]
        events.append((reader.block_time_ms(link.height), body))
    return _Written(events, prefixes)


def _check(store: Store, document: Any, org: str) -> CheckedDocument:
    with _snapshot(store) as reader:
        return check_on_ledger(reader.state, document, org, _SENDERS)


def _document(body: bytes) -> Any:
    """A partner's document as sent: its decimal numbers kept (the mapping reads them as a
    client would; nothing here is signed or stored)."""
    try:
        return json.loads(body, parse_constant=_no_constant)
    except ValueError as exc:
        raise MalformedInput(f"not a JSON document: {exc}") from None
    except RecursionError:  # nested past the parser's recursion limit
        raise MalformedInput("not a JSON document: nested too deeply") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _now_ms() -> int:
    """When a document is made: its EPCIS creationDate (the edge may read a clock)."""
    return int(time.time() * 1000)
