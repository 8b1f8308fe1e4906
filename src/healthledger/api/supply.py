"""REST endpoints of the supply chain under /v1/supply (writes go through /v1/txs)."""

from __future__ import annotations

import time
from typing import Annotated

import orjson
from fastapi import FastAPI, Query
from fastapi.responses import Response

from healthledger.api.responses import json_response
from healthledger.app import queries
from healthledger.domains.supply import epcis, gs1
from healthledger.node.node import Node


def add_supply_routes(app: FastAPI, node: Node) -> None:
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
        summary="A package's chain of custody",
    )
    def history(gtin: str, serial: str) -> Response:
        return json_response(queries.supply_history_view(store, gs1.validate_gtin(gtin), serial))

    @app.get(
        "/v1/supply/packages/{gtin}/{serial}/epcis",
        tags=["supply"],
        summary="A package's chain of custody as an EPCIS 2.0 JSON document",
    )
    def history_epcis(gtin: str, serial: str) -> Response:
        events = queries.supply_custody_events(store, gs1.validate_gtin(gtin), serial)
        document = epcis.to_epcis_document(events, created_ms=int(time.time() * 1000))
        return Response(orjson.dumps(document), media_type="application/ld+json")

    @app.get(
        "/v1/supply/lots/{gtin}/{lot}/epcis",
        tags=["supply"],
        summary="The chain of custody of everything in a lot, as EPCIS 2.0 JSON",
    )
    def lot_epcis(
        gtin: str, lot: str, limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000
    ) -> Response:
        events = queries.supply_lot_events(store, gs1.validate_gtin(gtin), lot, limit)
        document = epcis.to_epcis_document(events, created_ms=int(time.time() * 1000))
        return Response(orjson.dumps(document), media_type="application/ld+json")

    @app.get("/v1/supply/alerts", tags=["supply"], summary="Counterfeit and diversion alerts")
    def alerts(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
        return json_response(queries.supply_alerts_view(store, limit))
