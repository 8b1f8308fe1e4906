"""REST endpoints of the supply chain under /v1/supply (writes go through /v1/txs).

Package verification is public (a pharmacy's scanner, a patient holding a pack),
and it carries its proofs. Custody histories, lot documents and alerts name who
traded what with whom: they answer signed requests of members (api/access.py).
"""

from __future__ import annotations

import time
from typing import Annotated

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from healthledger.api.access import ReadGuard
from healthledger.api.responses import json_response
from healthledger.app import queries
from healthledger.domains.supply import epcis, gs1
from healthledger.node.node import Node

MAX_LOT_PAGE = 10_000


def add_supply_routes(app: FastAPI, node: Node, guard: ReadGuard) -> None:
    store = node.store

    @app.get("/v1/supply/verify", tags=["supply"], summary="Verify a package (DSCSA / EU FMD)")
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
        view = queries.supply_verify_view(
            store, product.gtin, product.serial, product.lot, product.expiry
        )
        node.requests.record(
            "supply.verify",
            gtin=product.gtin,
            serial=product.serial,
            verdict=view["verdict"],
            requester=requester,
        )
        return json_response(view)

    @app.get(
        "/v1/supply/packages/{gtin}/{serial}/history",
        tags=["supply"],
        summary="A package's chain of custody (signed: members)",
    )
    def history(request: Request, gtin: str, serial: str) -> Response:
        guard.member(request)
        return json_response(queries.supply_history_view(store, gs1.validate_gtin(gtin), serial))

    @app.get(
        "/v1/supply/packages/{gtin}/{serial}/epcis",
        tags=["supply"],
        summary="A package's chain of custody as EPCIS 2.0 JSON (signed: members)",
    )
    def history_epcis(request: Request, gtin: str, serial: str) -> Response:
        guard.member(request)
        events = queries.supply_custody_events(store, gs1.validate_gtin(gtin), serial)
        document = epcis.to_epcis_document(events, created_ms=int(time.time() * 1000))
        return Response(orjson.dumps(document), media_type="application/ld+json")

    @app.get(
        "/v1/supply/lots/{gtin}/{lot}/epcis",
        tags=["supply"],
        summary="One page of a lot's chain of custody as EPCIS 2.0 JSON (signed: members)",
        description=(
            "At most `limit` packages per page. While more remain, the document's "
            f"`{epcis.NEXT_CURSOR_FIELD}` (and a `Link: rel=next` header) names the next "
            "page's cursor."
        ),
    )
    def lot_epcis(
        request: Request,
        gtin: str,
        lot: str,
        limit: Annotated[int, Query(ge=1, le=MAX_LOT_PAGE)] = 1000,
        cursor: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    ) -> Response:
        guard.member(request)
        page = queries.supply_lot_events(store, gs1.validate_gtin(gtin), lot, limit, cursor)
        document = epcis.to_epcis_document(page.events, created_ms=int(time.time() * 1000))
        document[epcis.PACKAGES_FIELD] = page.packages
        headers = {}
        if page.cursor is not None:
            document[epcis.NEXT_CURSOR_FIELD] = page.cursor
            next_url = request.url.include_query_params(cursor=page.cursor, limit=limit)
            headers["link"] = f'<{next_url.path}?{next_url.query}>; rel="next"'
        return Response(orjson.dumps(document), media_type="application/ld+json", headers=headers)

    @app.get(
        "/v1/supply/alerts",
        tags=["supply"],
        summary="Counterfeit and diversion alerts (signed: members)",
    )
    def alerts(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
        guard.member(request)
        return json_response(queries.supply_alerts_view(store, limit))
