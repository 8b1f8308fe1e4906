"""Signed headers and validator sets from this node's CometBFT, for light-client checks.

The node passes CometBFT's own JSON through untouched: a client verifies the
validators' signatures itself (healthledger.client.lightclient), so it trusts the
validator set, not this node.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Query

from healthledger.errors import NotFound, Unavailable
from healthledger.node.node import Node

RPC_TIMEOUT_S = 10.0


def add_consensus_routes(app: FastAPI, node: Node) -> None:
    rpc_url = node.settings.cometbft_rpc

    async def rpc(method: str, **params: Any) -> Any:
        if not rpc_url:
            raise Unavailable(
                "this node runs the solo engine: its blocks carry no validator signatures"
            )
        try:
            async with httpx.AsyncClient(base_url=rpc_url, timeout=RPC_TIMEOUT_S) as client:
                body = (await client.get(f"/{method}", params=params)).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable(f"CometBFT's RPC did not answer: {exc}") from exc
        if "error" in body:
            error = body["error"]
            raise NotFound(f"{error.get('message', '')} {error.get('data', '')}".strip())
        return body["result"]

    @app.get(
        "/v1/consensus/commit",
        tags=["consensus"],
        summary="CometBFT's signed header at a height (the app hash after the block before)",
    )
    async def signed_header(height: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None) -> Any:
        return await rpc("commit", **({"height": height} if height else {}))

    @app.get(
        "/v1/consensus/validators", tags=["consensus"], summary="The validator set at a height"
    )
    async def validators(height: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None) -> Any:
        params: dict[str, Any] = {"per_page": 100}
        if height:
            params["height"] = height
        return await rpc("validators", **params)
