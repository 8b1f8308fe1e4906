"""`healthledger verify-header`: check a block header against the validators of a genesis file.

The node asked only supplies data; trust comes from the genesis validators (see
docs/light-client.md). Data comes from CometBFT's RPC (`--rpc`) or from a HealthLedger
node's API, which serves the same CometBFT results under /v1/consensus (`--url`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import typer

from healthledger.cli.output import JsonOpt, emit, fail
from healthledger.client.consensus import Source, trusted_genesis
from healthledger.client.lightclient import verify_header
from healthledger.errors import LedgerError, MalformedInput

DEFAULT_RPC = "http://127.0.0.1:26657"


def verify_header_command(
    height: Annotated[int, typer.Option(min=1, help="Height of the header to verify.")],
    trust: Annotated[
        Path, typer.Option(help="CometBFT genesis.json: the trusted validators and chain id.")
    ],
    rpc: Annotated[str | None, typer.Option(help=f"CometBFT RPC (default {DEFAULT_RPC}).")] = None,
    url: Annotated[str | None, typer.Option(help="A HealthLedger node API instead.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify a block header's signatures against trusted validators; print what it commits to."""
    try:
        if rpc is not None and url is not None:
            raise MalformedInput("give --rpc or --url, not both")
        chain_id, trusted = trusted_genesis(trust)
        with httpx.Client(timeout=30) as client:
            source = Source(client, url or rpc or DEFAULT_RPC, via_node=url is not None)
            signed, validators = source.commit(height), source.validators(height)
        verified = verify_header(signed, validators, trusted, chain_id)
    except LedgerError as exc:
        fail(exc, as_json)
    emit({"ok": True, **verified.to_dict()}, as_json)


def register(app: typer.Typer) -> None:
    app.command("verify-header")(verify_header_command)


__all__ = ["register"]
