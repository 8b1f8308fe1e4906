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

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from healthledger.api.access import ReadGuard
from healthledger.api.responses import json_response
from healthledger.app.reader import SnapshotReader
from healthledger.domains.supply import epcis, gs1
from healthledger.domains.supply import queries as q
from healthledger.domains.supply.transform import package_transformation_events, with_events
from healthledger.domains.supply.views import EpcisDocument, VerifyAnswer
from healthledger.ledger.store import Store
from healthledger.node.node import Node

MAX_LOT_PAGE = 10_000
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
            events = q.package_events(reader, gtin14, serial)
            transformations = package_transformation_events(reader, gtin14, serial)
        document = epcis.to_epcis_document(events, created_ms=_now_ms())
        body = document["epcisBody"]
        body["eventList"] = with_events(body["eventList"], transformations)
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
        document = epcis.to_epcis_document(page.events, created_ms=_now_ms())
        document[epcis.PACKAGES_FIELD] = page.packages
        headers = {}
        if page.cursor is not None:
            document[epcis.NEXT_CURSOR_FIELD] = page.cursor
            next_url = request.url.include_query_params(cursor=page.cursor, limit=limit)
            headers["link"] = f'<{next_url.path}?{next_url.query}>; rel="next"'
        return Response(orjson.dumps(document), media_type=JSON_LD, headers=headers)


def _now_ms() -> int:
    """When a document is made: its EPCIS creationDate (the edge may read a clock)."""
    return int(time.time() * 1000)
