"""Block headers a client can trust: CometBFT's signed headers checked against trusted validators.

A node (or CometBFT's RPC) only supplies data; `healthledger.client.lightclient`
checks the validators' signatures. On top of that, state and transaction views
from a node's API are tied to a verified header: our state root after block H is
the app hash in header H+1, and a block's transactions hash to header H's data hash.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import httpx

from healthledger.client.lightclient import (
    Check,
    HeaderUnverified,
    SignedHeader,
    ValidatorSet,
    VerifiedHeader,
    verify_header,
)
from healthledger.client.sdk import Client, verify_state_view, verify_tx_view
from healthledger.errors import ErrorCode, LedgerError, MalformedInput
from healthledger.ledger.merkle import leaf_hash, merkle_root

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


def trusted_genesis(path: Path) -> tuple[str, ValidatorSet]:
    """The chain id and validators a client trusts: those of a CometBFT genesis.json."""
    try:
        genesis = json.loads(path.read_text())
        return str(genesis["chain_id"]), ValidatorSet.from_genesis(genesis)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MalformedInput(f"{path}: not a CometBFT genesis file: {exc}") from exc


class ChainVerifier:
    """Checks a node's answers against headers signed by the trusted validator set."""

    def __init__(self, client: Client, chain_id: str, trusted: ValidatorSet) -> None:
        self.client = client
        self.chain_id = chain_id
        self.trusted = trusted
        self._http = httpx.Client(timeout=30)
        self.source = Source(self._http, client.base_url, via_node=True)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ChainVerifier:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def header(self, height: int) -> VerifiedHeader:
        """Header `height`, its commit signed by more than 2/3 of the validators' power."""
        signed = self.source.commit(height)
        return verify_header(signed, self.source.validators(height), self.trusted, self.chain_id)

    def state(self, namespace: str, key: str) -> tuple[Any, VerifiedHeader]:
        """A state value whose proof leads to an app hash the validators signed."""
        view = self.client.state(namespace, key, proof=True)
        verify_state_view(view)
        height, root = int(view["height"]), bytes.fromhex(view["header"]["state_root"])
        signed = self._app_hash_header(height)
        if signed.app_hash != root:
            raise HeaderUnverified(
                Check.APP_HASH,
                f"the node's state root at {height} is not the app hash the validators signed",
            )
        return view["value"], signed

    def _app_hash_header(self, height: int) -> VerifiedHeader:
        """Header H+1 holds the app hash after H; at the tip, header H does (H changed nothing)."""
        try:
            return self.header(height + 1)
        except LedgerError as exc:
            if exc.code not in (ErrorCode.UNAVAILABLE, ErrorCode.NOT_FOUND):
                raise
        return self.header(height)

    def tx(self, tx_id: str) -> tuple[dict[str, Any], VerifiedHeader]:
        """A committed transaction: our inclusion proofs, and its block's data hash signed."""
        view = self.client.tx(tx_id, proof=True)
        verify_tx_view(view)
        height = int(view["height"])
        # The block's transaction ids are public (its header view); its transactions are not.
        ids = [bytes.fromhex(tx_id) for tx_id in self.client.header(height)["tx_ids"]]
        signed = self.header(height)
        # CometBFT's data hash: RFC 6962 over sha256(tx) per transaction, i.e. over our ids.
        if merkle_root([leaf_hash(tx_hash) for tx_hash in ids]) != signed.data_hash:
            raise HeaderUnverified(
                Check.DATA_HASH,
                f"block {height}'s transactions are not the ones the validators signed",
            )
        if bytes.fromhex(tx_id) not in ids:
            raise HeaderUnverified(Check.DATA_HASH, f"{tx_id} is not in block {height}")
        return view, signed
