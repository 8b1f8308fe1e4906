"""Block headers a client can trust: CometBFT's signed headers checked against trusted validators.

`ValidatorAnchor` is the trust anchor of a CometBFT network (see client/anchor.py):
give it to `Client(url, anchor=...)` and every `verified_*` read is checked against
headers the validators signed.

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

from healthledger.app.views import StateView, TxView
from healthledger.client.anchor import Anchor, HeaderSource
from healthledger.client.lightclient import (
    Check,
    HeaderUnverified,
    SignedHeader,
    ValidatorSet,
    VerifiedHeader,
    verify_header,
)
from healthledger.client.sdk import (
    Client,
    require_state_of,
    require_tx_of,
    verify_state_view,
    verify_tx_view,
)
from healthledger.errors import ErrorCode, InvalidProof, LedgerError, MalformedInput, Unavailable
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
            raise Unavailable(f"{url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError as exc:
            message = f"{url}: HTTP {response.status_code}, not JSON"
            raise Unavailable(message) from exc
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
            raise Unavailable(f"{route}: {_rpc_error_text(body['error'])}")
        body = body.get("result")
    elif "error" in body:
        raise _api_error(route, body["error"])
    if not isinstance(body, dict):
        raise MalformedInput(f"{route}: the result is not a JSON object")
    return body


def _rpc_error_text(error: object) -> str:
    """CometBFT puts the reason in `data` ("height 9 must be less than ..."), not `message`."""
    if isinstance(error, dict):
        return str(error.get("data") or error.get("message") or error)
    return str(error)


def _api_error(route: str, error: object) -> LedgerError:
    """A node API's `{"code", "message"}` as the error it names, else as unavailable."""
    if isinstance(error, dict) and "message" in error:
        code = ErrorCode.parse(error.get("code"), ErrorCode.UNAVAILABLE)
        return LedgerError(f"{route}: {error['message']}", code)
    return LedgerError(f"{route}: {error}", ErrorCode.UNAVAILABLE)


def trusted_genesis(path: Path) -> tuple[str, ValidatorSet]:
    """The chain id and validators a client trusts: those of a CometBFT genesis.json."""
    try:
        genesis = json.loads(path.read_text())
        return str(genesis["chain_id"]), ValidatorSet.from_genesis(genesis)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MalformedInput(f"{path}: not a CometBFT genesis file: {exc}") from exc


class ValidatorAnchor(Anchor):
    """A CometBFT network's anchor: headers signed by more than 2/3 of a trusted validator set.

    Our state root after block H is the app hash in header H+1 (at the tip, header H:
    the block changed nothing); a block's transactions hash to header H's data hash.
    """

    def __init__(self, base_url: str, chain_id: str, trusted: ValidatorSet) -> None:
        self.chain_id = chain_id
        self.trusted = trusted
        self._http = httpx.Client(timeout=30)
        self.source = Source(self._http, base_url, via_node=True)
        # The newest state this anchor has verified: an older state answer may be stale.
        self.newest_state_height = 0

    def close(self) -> None:
        self._http.close()

    def header(self, height: int) -> VerifiedHeader:
        """Header `height`, its commit signed by more than 2/3 of the validators' power."""
        signed = self.source.commit(height)
        return verify_header(signed, self.source.validators(height), self.trusted, self.chain_id)

    def check_state(self, source: HeaderSource, view: StateView) -> str:
        return self.describe(self.state_header(view))

    def check_tx(self, source: HeaderSource, view: TxView) -> str:
        return self.describe(self.tx_header(source, view))

    def describe(self, signed: VerifiedHeader) -> str:
        return (
            f"validator set of {self.chain_id} (voting power {signed.signed_power} of "
            f"{signed.total_power} signed header {signed.height})"
        )

    def state_header(self, view: StateView) -> VerifiedHeader:
        """The signed header whose app hash is the state root a (proof-checked) view is against."""
        if view.header is None:
            raise InvalidProof("the state view has no header")
        if view.height < self.newest_state_height:
            raise InvalidProof(
                f"state as of block {view.height}, older than block {self.newest_state_height} "
                "already verified: it may have changed since (the node is behind, or replays)"
            )
        signed = self._app_hash_header(view.height)
        if signed.app_hash != bytes.fromhex(view.header.state_root):
            raise HeaderUnverified(
                Check.APP_HASH,
                f"the node's state root at {view.height} is not the app hash the validators signed",
            )
        self.newest_state_height = max(self.newest_state_height, view.height)
        return signed

    def _app_hash_header(self, height: int) -> VerifiedHeader:
        """Header H+1 holds the app hash after H; at the tip, header H does (H changed nothing)."""
        try:
            return self.header(height + 1)
        except LedgerError as exc:
            if exc.code not in (ErrorCode.UNAVAILABLE, ErrorCode.NOT_FOUND):
                raise
        return self.header(height)

    def tx_header(self, source: HeaderSource, view: TxView) -> VerifiedHeader:
        """The signed header whose data hash covers a (proof-checked) transaction's block."""
        # The block's transaction ids are public (its header view); its transactions are not.
        ids = [bytes.fromhex(tx_id) for tx_id in source.header(view.height).tx_ids]
        signed = self.header(view.height)
        # CometBFT's data hash: RFC 6962 over sha256(tx) per transaction, i.e. over our ids.
        if merkle_root([leaf_hash(tx_hash) for tx_hash in ids]) != signed.data_hash:
            raise HeaderUnverified(
                Check.DATA_HASH,
                f"block {view.height}'s transactions are not the ones the validators signed",
            )
        if bytes.fromhex(view.id) not in ids:
            raise HeaderUnverified(Check.DATA_HASH, f"{view.id} is not in block {view.height}")
        return signed


def validator_anchor(base_url: str, genesis: Path) -> ValidatorAnchor:
    """The anchor of the validators (and chain id) a CometBFT genesis.json names."""
    chain_id, trusted = trusted_genesis(genesis)
    return ValidatorAnchor(base_url, chain_id, trusted)


class ChainVerifier:
    """Checks a node's answers against headers signed by the trusted validator set."""

    def __init__(self, client: Client, chain_id: str, trusted: ValidatorSet) -> None:
        self.client = client
        self.chain_id = chain_id
        self.trusted = trusted
        self.anchor = ValidatorAnchor(client.base_url, chain_id, trusted)
        self.source = self.anchor.source

    def close(self) -> None:
        self.anchor.close()

    def __enter__(self) -> ChainVerifier:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def header(self, height: int) -> VerifiedHeader:
        """Header `height`, its commit signed by more than 2/3 of the validators' power."""
        return self.anchor.header(height)

    def state(self, namespace: str, key: str) -> tuple[Any, VerifiedHeader]:
        """A state value (its JSON) whose proof leads to an app hash the validators signed."""
        view = self.client.state(namespace, key, proof=True)
        require_state_of(view, namespace, key)
        verify_state_view(view)
        return view.value, self.anchor.state_header(view)

    def tx(self, tx_id: str) -> tuple[TxView, VerifiedHeader]:
        """A committed transaction: our inclusion proofs, and its block's data hash signed."""
        view = self.client.committed_tx(tx_id, proof=True)
        require_tx_of(view, tx_id)
        verify_tx_view(view)
        return view, self.anchor.tx_header(self.client, view)
