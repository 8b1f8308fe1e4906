"""`healthledger verify-header`: check a block header against the validators of a genesis file.

The node asked only supplies data; trust comes from the genesis validators (see
docs/light-client.md). Data comes from CometBFT's RPC (`--rpc`) or from a HealthLedger
node's API, which serves the same CometBFT results under /v1/consensus (`--url`).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from healthledger.cli.output import emit, fail
from healthledger.client.lightclient import SignedHeader, ValidatorSet, verify_header
from healthledger.errors import ErrorCode, LedgerError, MalformedInput

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
DEFAULT_RPC = "http://127.0.0.1:26657"
PER_PAGE = 100  # CometBFT's largest page of /validators


class Source:
    """Where `commit` and `validators` results come from: CometBFT RPC or a node's API."""

    def __init__(self, client: httpx.Client, base: str, via_node: bool) -> None:
        self.client = client
        self.base = base.rstrip("/")
        self.prefix = "/v1/consensus" if via_node else ""

    def get(self, route: str, params: dict[str, str]) -> dict[str, Any]:
        """One GET; the `result`, or the answer's error with its code."""
        url = f"{self.base}{self.prefix}/{route}"
        try:
            response = self.client.get(url, params=params)
        except httpx.HTTPError as exc:
            raise LedgerError(f"{url}: {exc}", ErrorCode.UNAVAILABLE) from exc
        try:
            body = response.json()
        except ValueError as exc:
            message = f"{url}: HTTP {response.status_code}, not JSON"
            raise LedgerError(message, ErrorCode.UNAVAILABLE) from exc
        return _result(route, body)

    def commit(self, height: int) -> SignedHeader:
        return SignedHeader.from_rpc(self.get("commit", {"height": str(height)}))

    def validators(self, height: int) -> ValidatorSet:
        """Every page of /validators at `height`, joined in set order."""
        entries: list[Any] = []
        total = 0
        for page in itertools.count(1):
            params = {"height": str(height), "page": str(page), "per_page": str(PER_PAGE)}
            found, total = _page(self.get("validators", params))
            entries += found
            if len(entries) >= total or not found:
                break
        return ValidatorSet.from_rpc({"validators": entries, "total": str(total)})


def _page(result: dict[str, Any]) -> tuple[list[Any], int]:
    """One page of /validators: its entries and the size of the whole set."""
    found, total = result.get("validators") or [], str(result.get("total", ""))
    if not isinstance(found, list) or not total.isdigit():
        raise MalformedInput("validators: not a page of a CometBFT validator set")
    return found, int(total)


def _result(route: str, body: Any) -> dict[str, Any]:
    """The `result` of a JSON-RPC answer, or a node API's bare result; errors keep their code."""
    if not isinstance(body, dict):
        raise MalformedInput(f"{route}: the answer is not a JSON object")
    if "jsonrpc" in body:
        if "error" in body:
            raise LedgerError(f"{route}: {_rpc_error_text(body['error'])}", ErrorCode.UNAVAILABLE)
        body = body.get("result")
    elif "error" in body:
        raise _api_error(route, body["error"])
    if not isinstance(body, dict):
        raise MalformedInput(f"{route}: the result is not a JSON object")
    return body


def _rpc_error_text(error: Any) -> str:
    """CometBFT puts the reason in `data` ("height 9 must be less than ..."), not `message`."""
    if isinstance(error, dict):
        return str(error.get("data") or error.get("message") or error)
    return str(error)


def _api_error(route: str, error: Any) -> LedgerError:
    """A node API's `{"code", "message"}` as the error it names, else as unavailable."""
    try:
        return LedgerError(f"{route}: {error['message']}", ErrorCode(error["code"]))
    except (KeyError, TypeError, ValueError):
        return LedgerError(f"{route}: {error}", ErrorCode.UNAVAILABLE)


def _load_genesis(path: Path) -> tuple[str, ValidatorSet]:
    """The chain id and validators a client trusts: those of a CometBFT genesis.json."""
    try:
        genesis = json.loads(path.read_text())
        return str(genesis["chain_id"]), ValidatorSet.from_genesis(genesis)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MalformedInput(f"{path}: not a CometBFT genesis file: {exc}") from exc


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
        chain_id, trusted = _load_genesis(trust)
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
