"""The node's REST API: submit signed transactions, read blocks, state and proofs."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from healthledger import __version__
from healthledger.api.access import ReadGuard
from healthledger.api.consensus import add_consensus_routes
from healthledger.api.errors import install_error_handlers, status_for
from healthledger.api.metrics import NodeMetrics
from healthledger.api.records import add_record_routes
from healthledger.api.responses import json_response, parse_body, read_body
from healthledger.api.supply import add_supply_routes
from healthledger.api.views import add_domain_views
from healthledger.app import queries
from healthledger.app.registry import DOMAINS
from healthledger.engines.base import Accepted
from healthledger.errors import ErrorCode, LedgerError, MalformedInput, NotFound
from healthledger.ledger.block import TxResult
from healthledger.node.node import Node

MAX_BATCH = 10_000
DEFAULT_WAIT_MS = 10_000
# Heights and log sizes are SQLite integers: larger numbers are refused, not overflowed.
MAX_INDEX = 2**63 - 1
Height = Annotated[int, Path(ge=0, le=MAX_INDEX)]
LogSize = Annotated[int, Query(ge=0, le=MAX_INDEX)]


def create_app(node: Node) -> FastAPI:
    """A FastAPI application serving one running node."""
    app = FastAPI(
        title="HealthLedger node API",
        version=__version__,
        description="Submit signed transactions; read blocks, transactions, state and proofs.",
    )
    install_error_handlers(app)
    registry = CollectorRegistry()
    metrics = NodeMetrics(registry, node)
    node.engine.on_commit(metrics.observe_commit)
    _add_submit_routes(app, node, metrics)
    guard = ReadGuard(node)
    _add_read_routes(app, node, guard)
    add_supply_routes(app, node, guard)
    add_domain_views(app, node, guard, DOMAINS)
    add_record_routes(app, node, guard.auth)
    add_consensus_routes(app, node)

    @app.get("/health", tags=["node"], summary="Liveness and the last committed block")
    def health() -> dict[str, Any]:
        info = node.app.info()
        ok = node.engine.running and node.engine.failure is None
        return {"ok": ok, "chain_id": info.chain_id, "height": info.height}

    @app.get("/metrics", tags=["node"], summary="Prometheus metrics")
    def prometheus() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def _read_body(request: Request) -> Any:
    return parse_body(await read_body(request))


def _add_submit_routes(app: FastAPI, node: Node, metrics: NodeMetrics) -> None:
    @app.post(
        "/v1/txs",
        tags=["transactions"],
        summary="Submit one signed transaction",
        responses={202: {"description": "accepted into the mempool"}},
    )
    async def submit_one(
        request: Request,
        wait: Annotated[bool, Query(description="wait until the transaction commits")] = False,
        timeout_ms: Annotated[int, Query(ge=1, le=120_000)] = DEFAULT_WAIT_MS,
    ) -> Response:
        body = await _read_body(request)
        (outcome,) = await _submit(node, metrics, [body])
        if isinstance(outcome, LedgerError):
            raise outcome
        if not wait:
            return json_response({"id": outcome.tx_id, "status": "pending"}, 202)
        (report,) = await _wait_all(node, [outcome.tx_id], timeout_ms)
        return json_response(report)

    @app.post("/v1/txs/batch", tags=["transactions"], summary="Submit many signed transactions")
    async def submit_batch(
        request: Request,
        wait: Annotated[bool, Query(description="wait until all accepted ones commit")] = False,
        timeout_ms: Annotated[int, Query(ge=1, le=120_000)] = DEFAULT_WAIT_MS,
    ) -> Response:
        body = await _read_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("txs"), list):
            raise MalformedInput('a batch is {"txs": [transaction, ...]}')
        if len(body["txs"]) > MAX_BATCH:
            raise LedgerError(f"at most {MAX_BATCH} transactions per batch", ErrorCode.TOO_LARGE)
        outcomes = await _submit(node, metrics, body["txs"])
        accepted = [o.tx_id for o in outcomes if isinstance(o, Accepted)]
        reports = {r["id"]: r for r in await _wait_all(node, accepted, timeout_ms)} if wait else {}
        results = [
            {"error": o.to_dict()}
            if isinstance(o, LedgerError)
            else reports.get(o.tx_id, {"id": o.tx_id, "status": "pending"})
            for o in outcomes
        ]
        return json_response({"results": results})


async def _submit(node: Node, metrics: NodeMetrics, txs: list[Any]) -> list[Accepted | LedgerError]:
    raws = [orjson.dumps(tx) if isinstance(tx, dict) else b"" for tx in txs]
    outcomes = await asyncio.to_thread(node.engine.submit, raws)
    metrics.observe_submissions(outcomes)
    return outcomes


async def _wait_all(node: Node, tx_ids: list[str], timeout_ms: int) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    futures: dict[str, asyncio.Future[tuple[int, TxResult]]] = {}
    for tx_id in tx_ids:
        future: asyncio.Future[tuple[int, TxResult]] = loop.create_future()

        def resolve(
            _id: str,
            height: int,
            result: TxResult,
            f: asyncio.Future[tuple[int, TxResult]] = future,
        ) -> None:
            loop.call_soon_threadsafe(_settle, f, (height, result))

        if node.engine.wait_for(tx_id, resolve):
            futures[tx_id] = future
    deadline = time.monotonic() + timeout_ms / 1000
    reports = []
    for tx_id in tx_ids:
        if tx_id in futures:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                height, result = await asyncio.wait_for(futures[tx_id], remaining)
            except TimeoutError:
                reports.append({"id": tx_id, "status": "pending"})
                continue
            reports.append(_committed(tx_id, height, result.to_dict()))
        else:
            reports.append(_stored_report(node, tx_id))
    return reports


def _settle(future: asyncio.Future[tuple[int, TxResult]], value: tuple[int, TxResult]) -> None:
    if not future.done():
        future.set_result(value)


def _committed(tx_id: str, height: int, result: dict[str, Any]) -> dict[str, Any]:
    return {"id": tx_id, "status": "committed", "height": height, "result": result}


def _stored_report(node: Node, tx_id: str) -> dict[str, Any]:
    try:
        stored = node.store.tx(tx_id)
    except NotFound:
        return {"id": tx_id, "status": "unknown"}
    return _committed(tx_id, stored.height, stored.result.to_dict())


def _add_read_routes(app: FastAPI, node: Node, guard: ReadGuard) -> None:
    """Public: info, genesis, headers, consistency. Signed: the rest (see api/access.py)."""
    store = node.store

    @app.get("/v1/info", tags=["node"], summary="Chain id, organisation, height, state root")
    def info() -> dict[str, Any]:
        current = node.app.info()
        return {
            "chain_id": current.chain_id,
            # The audience that signed requests to this node must name.
            "org": node.settings.org,
            "height": current.height,
            "state_root": current.state_root,
            "last_block_hash": current.last_block_hash,
            "mempool": node.engine.mempool_size(),
        }

    @app.get("/v1/genesis", tags=["node"], summary="The genesis document")
    def genesis() -> Response:
        return Response(store.meta("genesis") or b"{}", media_type="application/json")

    @app.get(
        "/v1/txs/{tx_id}",
        tags=["transactions"],
        summary="A transaction and its result (signed: members, or the tx's sender)",
    )
    def get_tx(request: Request, tx_id: str, proof: bool = False) -> Response:
        signed = guard.tx(request)
        try:
            view = queries.tx_view(store, tx_id, prove=proof)
        except NotFound:
            if node.engine.is_pending(tx_id):
                return json_response({"id": tx_id, "status": "pending"}, 202)
            raise
        guard.check_tx(signed, view["tx"]["sender"])
        return json_response(view)

    @app.get("/v1/headers/latest", tags=["blocks"], summary="The last block header (public)")
    def latest_header() -> Response:
        return json_response(queries.header_view(store))

    @app.get("/v1/headers/{height}", tags=["blocks"], summary="A block header (public)")
    def get_header(height: Height) -> Response:
        return json_response(queries.header_view(store, height))

    @app.get(
        "/v1/blocks/latest", tags=["blocks"], summary="The last committed block (signed: members)"
    )
    def latest_block(request: Request) -> Response:
        guard.member(request)
        return json_response(queries.block_view(store))

    @app.get("/v1/blocks/{height}", tags=["blocks"], summary="A block by height (signed: members)")
    def get_block(request: Request, height: Height) -> Response:
        guard.member(request)
        return json_response(queries.block_view(store, height))

    @app.get(
        "/v1/state/{namespace}/{key:path}",
        tags=["state"],
        summary="A state value (signed: members, or a person's own entries)",
    )
    def get_state(request: Request, namespace: str, key: str, proof: bool = False) -> Response:
        guard.state(request, namespace, key)
        return json_response(queries.state_view(store, namespace, key, prove=proof))

    @app.get("/v1/proofs/consistency", tags=["proofs"], summary="Consistency of two log sizes")
    def consistency(old_size: LogSize, new_size: LogSize | None = None) -> Response:
        return json_response(queries.consistency_view(store, old_size, new_size))

    @app.get(
        "/v1/senders/{key_id}/txs",
        tags=["transactions"],
        summary="A sender's recent txs (signed: members, or the sender)",
    )
    def sender_txs(
        request: Request, key_id: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> Response:
        guard.sender(request, key_id)
        txs = store.txs_by_sender(key_id, limit)
        return json_response(
            [{"id": t.id, "height": t.height, "result": t.result.to_dict()} for t in txs]
        )


__all__ = ["JSONResponse", "create_app", "status_for"]
