"""The node's REST API: submit signed transactions, read blocks, state and proofs."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from healthledger import __version__
from healthledger.api.access import ReadGuard
from healthledger.api.consensus import add_consensus_routes
from healthledger.api.credentials import add_credential_routes
from healthledger.api.docs import add_docs_routes
from healthledger.api.donation import add_donation_routes
from healthledger.api.errors import install_error_handlers, status_for
from healthledger.api.metrics import NodeMetrics
from healthledger.api.openapi import install_openapi
from healthledger.api.patient_feed import add_patient_feed_route
from healthledger.api.portal import add_portal_routes
from healthledger.api.records import add_record_routes
from healthledger.api.responses import MAX_BATCH_TXS, json_response, parse_body, read_body
from healthledger.api.supply import add_supply_routes
from healthledger.api.views import add_domain_views
from healthledger.app import queries
from healthledger.app.registry import DOMAINS
from healthledger.app.views import (
    BlockView,
    ConsistencyView,
    HeaderView,
    HealthView,
    InfoView,
    SenderTx,
    StateView,
    SubmitReport,
    TxView,
    WireError,
    WireView,
)
from healthledger.engines.base import Accepted
from healthledger.errors import LedgerError, MalformedInput, NotFound, TooLarge
from healthledger.ledger.block import TxResult
from healthledger.node.node import Node
from healthledger.web.demo_keys import DemoKeys

DEFAULT_WAIT_MS = 10_000
# Heights and log sizes are SQLite integers: larger numbers are refused, not overflowed.
MAX_INDEX = 2**63 - 1
Height = Annotated[int, Path(ge=0, le=MAX_INDEX)]
LogSize = Annotated[int, Query(ge=0, le=MAX_INDEX)]


def create_app(node: Node, demo: DemoKeys | None = None) -> FastAPI:
    """A FastAPI application serving one running node (and, for `healthledger demo`, its
    demo key lending to the sign-in page)."""
    app = FastAPI(
        title="HealthLedger node API",
        version=__version__,
        description="Submit signed transactions; read blocks, transactions, state and proofs.",
        docs_url=None,  # served below from vendored files, never from a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    add_docs_routes(app)
    install_openapi(app)
    registry = CollectorRegistry()
    metrics = NodeMetrics(registry, node)
    node.engine.on_commit(metrics.observe_commit)
    _add_submit_routes(app, node, metrics)
    guard = ReadGuard(node)
    _add_read_routes(app, node, guard)
    add_supply_routes(app, node, guard)
    add_credential_routes(app, node, guard)
    add_domain_views(app, node, guard, DOMAINS)
    records = add_record_routes(app, node, guard.auth)
    add_donation_routes(app, records)
    # Closed by api/serve.py before uvicorn's graceful shutdown, and when the node stops.
    app.state.patient_feeds = add_patient_feed_route(app, node, records)
    add_consensus_routes(app, node)
    add_portal_routes(app, demo)

    @app.get(
        "/health",
        tags=["node"],
        summary="Liveness and the last committed block",
        response_model=HealthView,
    )
    def health() -> Response:
        info = node.app.info()
        ok = node.engine.running and node.engine.failure is None
        return json_response(HealthView(ok=ok, chain_id=info.chain_id, height=info.height))

    @app.get("/metrics", tags=["node"], summary="Prometheus metrics")
    def prometheus() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def _read_body(request: Request) -> Any:
    return parse_body(await read_body(request))


class BatchReport(WireView):
    """What became of each transaction of a batch, in the order sent."""

    results: list[SubmitReport]


def _add_submit_routes(app: FastAPI, node: Node, metrics: NodeMetrics) -> None:
    @app.post(
        "/v1/txs",
        tags=["transactions"],
        summary="Submit one signed transaction",
        response_model=SubmitReport,
        responses={202: {"description": "accepted into the mempool", "model": SubmitReport}},
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
            return json_response(_pending(outcome.tx_id), 202)
        (report,) = await _wait_all([outcome], timeout_ms)
        return json_response(report)

    @app.post(
        "/v1/txs/batch",
        tags=["transactions"],
        summary="Submit many signed transactions",
        response_model=BatchReport,
    )
    async def submit_batch(
        request: Request,
        wait: Annotated[bool, Query(description="wait until all accepted ones commit")] = False,
        timeout_ms: Annotated[int, Query(ge=1, le=120_000)] = DEFAULT_WAIT_MS,
    ) -> Response:
        body = await _read_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("txs"), list):
            raise MalformedInput('a batch is {"txs": [transaction, ...]}')
        if len(body["txs"]) > MAX_BATCH_TXS:
            raise TooLarge(f"at most {MAX_BATCH_TXS} transactions per batch")
        outcomes = await _submit(node, metrics, body["txs"])
        accepted = [o for o in outcomes if isinstance(o, Accepted)]
        reports = {r.id: r for r in await _wait_all(accepted, timeout_ms)} if wait else {}
        results = [
            SubmitReport(error=WireError.model_validate(o.to_dict()))
            if isinstance(o, LedgerError)
            else reports.get(o.tx_id, _pending(o.tx_id))
            for o in outcomes
        ]
        return json_response(BatchReport(results=results))


async def _submit(node: Node, metrics: NodeMetrics, txs: list[Any]) -> list[Accepted | LedgerError]:
    raws = [orjson.dumps(tx) if isinstance(tx, dict) else b"" for tx in txs]
    outcomes = await asyncio.to_thread(node.engine.submit, raws)
    metrics.observe_submissions(outcomes)
    return outcomes


async def _wait_all(accepted: list[Accepted], timeout_ms: int) -> list[SubmitReport]:
    """Each transaction's commit report, or `pending` for those not committed within the time."""
    if accepted:
        # asyncio.wait, unlike wait_for, never cancels: the engine's futures are shared.
        await asyncio.wait(
            [asyncio.wrap_future(a.committed) for a in accepted], timeout=timeout_ms / 1000
        )
    return [_report(a) for a in accepted]


def _report(accepted: Accepted) -> SubmitReport:
    if not accepted.committed.done():
        return _pending(accepted.tx_id)
    height, result = accepted.committed.result()
    return _committed(accepted.tx_id, height, result)


def _pending(tx_id: str) -> SubmitReport:
    return SubmitReport(id=tx_id, status="pending")


def _committed(tx_id: str, height: int, result: TxResult) -> SubmitReport:
    return SubmitReport(id=tx_id, status="committed", height=height, result=result)


def _access_subject(view: TxView) -> str | None:
    """The patient a `record.access` transaction is about (its receipt is theirs to read)."""
    if view.tx.type != "record.access":
        return None
    patient = view.tx.payload.get("patient")
    return patient if isinstance(patient, str) else None


def _add_read_routes(app: FastAPI, node: Node, guard: ReadGuard) -> None:
    """Public: info, genesis, headers, consistency. Signed: the rest (see api/access.py)."""
    store = node.store

    @app.get(
        "/v1/info",
        tags=["node"],
        summary="Chain id, organisation, height, state root",
        response_model=InfoView,
    )
    def info() -> Response:
        current = node.app.info()
        return json_response(
            InfoView(
                chain_id=current.chain_id,
                # The audience that signed requests to this node must name.
                org=node.settings.org,
                height=current.height,
                state_root=current.state_root,
                last_block_hash=current.last_block_hash,
                mempool=node.engine.mempool_size(),
                node_key=node.node_key.key_id,
            )
        )

    @app.get("/v1/genesis", tags=["node"], summary="The genesis document")
    def genesis() -> Response:
        return Response(store.meta("genesis") or b"{}", media_type="application/json")

    @app.get(
        "/v1/txs/{tx_id}",
        tags=["transactions"],
        summary="A transaction and its result (signed: members, or the tx's sender)",
        response_model=TxView,
        responses={202: {"description": "still in the mempool", "model": SubmitReport}},
    )
    def get_tx(request: Request, tx_id: str, proof: bool = False) -> Response:
        signed = guard.tx(request)
        try:
            view = queries.tx_view(store, tx_id, prove=proof)
        except NotFound:
            if node.engine.is_pending(tx_id):
                return json_response(_pending(tx_id), 202)
            raise
        guard.check_tx(signed, view.tx.sender, about=_access_subject(view))
        return json_response(view)

    @app.get(
        "/v1/headers/latest",
        tags=["blocks"],
        summary="The last block header (public)",
        response_model=HeaderView,
    )
    def latest_header() -> Response:
        return json_response(queries.header_view(store))

    @app.get(
        "/v1/headers/{height}",
        tags=["blocks"],
        summary="A block header (public)",
        response_model=HeaderView,
    )
    def get_header(height: Height) -> Response:
        return json_response(queries.header_view(store, height))

    @app.get(
        "/v1/blocks/latest",
        tags=["blocks"],
        summary="The last committed block (signed: members)",
        response_model=BlockView,
    )
    def latest_block(request: Request) -> Response:
        guard.member(request)
        return json_response(queries.block_view(store))

    @app.get(
        "/v1/blocks/{height}",
        tags=["blocks"],
        summary="A block by height (signed: members)",
        response_model=BlockView,
    )
    def get_block(request: Request, height: Height) -> Response:
        guard.member(request)
        return json_response(queries.block_view(store, height))

    @app.get(
        "/v1/state/{namespace}/{key:path}",
        tags=["state"],
        summary="A state value (signed: members, or a person's own entries)",
        response_model=StateView,
    )
    def get_state(request: Request, namespace: str, key: str, proof: bool = False) -> Response:
        guard.state(request, namespace, key)
        return json_response(queries.state_view(store, namespace, key, prove=proof))

    @app.get(
        "/v1/proofs/consistency",
        tags=["proofs"],
        summary="Consistency of two log sizes",
        response_model=ConsistencyView,
    )
    def consistency(old_size: LogSize, new_size: LogSize | None = None) -> Response:
        return json_response(queries.consistency_view(store, old_size, new_size))

    @app.get(
        "/v1/senders/{key_id}/txs",
        tags=["transactions"],
        summary="A sender's recent txs (signed: members, or the sender)",
        response_model=list[SenderTx],
    )
    def sender_txs(
        request: Request, key_id: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> Response:
        guard.sender(request, key_id)
        txs = store.txs_by_sender(key_id, limit)
        return json_response([SenderTx(id=t.id, height=t.height, result=t.result) for t in txs])


__all__ = ["JSONResponse", "create_app", "status_for"]
