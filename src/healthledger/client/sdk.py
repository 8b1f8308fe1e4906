"""The Python SDK used by the CLI, the tests, the benchmarks and users.

`Signer` builds and signs transactions for one key; `Client` talks to a node's
REST API; `verify_tx_view` and `verify_state_view` check the proofs a node
returns with nothing but the pure verifiers of `healthledger.ledger.proofs`.

Raw ledger reads (transactions, blocks, state, custody histories) answer only
signed requests: a `Client` built with `keys` signs them with those keys, and
each read method takes `keys=` to sign one read as somebody else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.crypto.signed_request import sign_request
from healthledger.domains.governance.messages import voucher_message
from healthledger.domains.supply.epcis import NEXT_CURSOR_FIELD, PACKAGES_FIELD
from healthledger.errors import ErrorCode, InvalidProof, LedgerError
from healthledger.ledger import proofs
from healthledger.ledger.block import Header, TxResult, tx_leaf
from healthledger.ledger.transaction import Transaction, decode_transaction, sign_transaction

LOT_PAGE = 1000  # packages per page of a lot's EPCIS document


class ApiError(LedgerError):
    """An error answered by a node, carrying its stable code and HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        try:
            known = ErrorCode(code)
        except ValueError:
            known = ErrorCode.UNAVAILABLE
        super().__init__(message, known)
        self.remote_code = code
        self.status = status


def require_committed(report: dict[str, Any]) -> dict[str, Any]:
    """A submission report, or its refusal or failure raised with the ledger's code.

    A report still `pending` after the wait did not commit in time: `timeout`.
    """
    outcome = report.get("error") or report.get("result") or {}
    if report.get("status") == "committed" and outcome.get("code") == "ok":
        return report
    try:
        code = ErrorCode(str(outcome.get("code")))
    except ValueError:
        code = ErrorCode.TIMEOUT
    raise LedgerError(outcome.get("message", "not committed in time"), code)


def node_is_up(url: str, timeout: float = 1.0) -> bool:
    """Whether a node answers its health check (False while it starts or after it stops)."""
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


class Signer:
    """Signs transactions for one key, numbering them with increasing nonces."""

    def __init__(self, keys: KeyPair, chain_id: str, next_nonce: int = 1) -> None:
        self.keys = keys
        self.chain_id = chain_id
        self._next_nonce = next_nonce
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path, chain_id: str, next_nonce: int = 1) -> Signer:
        return cls(load_keypair(path), chain_id, next_nonce)

    @property
    def key_id(self) -> str:
        return self.keys.key_id

    def take_nonce(self) -> int:
        with self._lock:
            nonce = self._next_nonce
            self._next_nonce += 1
            return nonce

    def sign(self, tx_type: str, payload: dict[str, Any], nonce: int | None = None) -> Transaction:
        """A signed transaction of `tx_type`, with the next nonce unless one is given."""
        return sign_transaction(
            self.keys,
            self.chain_id,
            tx_type,
            self.take_nonce() if nonce is None else nonce,
            payload,
        )

    def sync_nonce(self, client: Client) -> None:
        """Continue after the highest nonce the ledger has seen from this key."""
        record = client.state("nonce", self.key_id, keys=self.keys)["value"]
        with self._lock:
            self._next_nonce = max(self._next_nonce, 1 if record is None else record["max"] + 1)


def registration_payload(patient: KeyPair, chain_id: str, voucher: KeyPair) -> dict[str, Any]:
    """The payload of `patient.register` for `patient`'s keys, vouched for by `voucher`
    (a hospital, a clinic, one of their staff, or a registered patient as representative)."""
    encryption_key = patient.encryption_public.hex()
    message = voucher_message(chain_id, patient.key_id, encryption_key)
    return {
        "encryption_key": encryption_key,
        "voucher": {"key": voucher.key_id, "signature": voucher.sign(message).hex()},
    }


class Client:
    """A node's REST API as Python methods; errors raise ApiError with the node's code.

    With `keys`, the client signs the reads that need a signature (see api/access.py).
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8700",
        timeout: float = 30.0,
        connections: int = 10,
        keys: KeyPair | Path | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.keys = load_keypair(keys) if isinstance(keys, Path) else keys
        self._chain_id: str | None = None
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, limits=limits)
        self._org: str | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError("unavailable", f"cannot reach {self.base_url}: {exc}", 0) from exc
        body = response.json() if response.content else None
        if response.status_code >= 400:
            error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
            raise ApiError(
                error.get("code", "unavailable"),
                error.get("message", response.text),
                response.status_code,
            )
        return body

    @property
    def chain_id(self) -> str:
        """The node's chain id, asked once: signed reads name it."""
        if self._chain_id is None:
            self._chain_id = str(self.info()["chain_id"])
        return self._chain_id

    def read_headers(self, keys: KeyPair, target: str) -> dict[str, str]:
        """The one place a read is signed: the signed-request envelope for a GET of `target`."""
        return sign_request(keys, self.chain_id, "GET", target, audience=self.org())

    def _get(
        self, path: str, params: dict[str, Any] | None = None, keys: KeyPair | None = None
    ) -> Any:
        """A GET, signed by `keys` (else the client's own) when there are keys to sign with."""
        signer = keys or self.keys
        target = path + ("?" + urlencode(params, quote_via=quote) if params else "")
        if signer is None:
            return self._call("GET", target)
        return self._call("GET", target, headers=self.read_headers(signer, target))

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")  # type: ignore[no-any-return]

    def info(self) -> dict[str, Any]:
        return self._call("GET", "/v1/info")  # type: ignore[no-any-return]

    def org(self) -> str:
        """The organisation this node serves: the audience its signed requests must name."""
        if self._org is None:
            self._org = str(self.info()["org"])
        return self._org

    def genesis(self) -> dict[str, Any]:
        return self._call("GET", "/v1/genesis")  # type: ignore[no-any-return]

    def signer(self, keys: KeyPair | Path) -> Signer:
        """A Signer for this node's chain, continuing after the ledger's last nonce for the key."""
        pair = keys if isinstance(keys, KeyPair) else load_keypair(keys)
        signer = Signer(pair, self.chain_id)
        signer.sync_nonce(self)
        return signer

    def submit(
        self, tx: Transaction, wait: bool = False, timeout_ms: int = 10_000
    ) -> dict[str, Any]:
        """Submit one transaction; with `wait`, return once it committed (ok or failed)."""
        params = {"wait": str(wait).lower(), "timeout_ms": timeout_ms}
        return self._call("POST", "/v1/txs", params=params, json=tx.to_dict())  # type: ignore[no-any-return]

    def submit_batch(
        self, txs: Sequence[Transaction], wait: bool = False, timeout_ms: int = 30_000
    ) -> list[dict[str, Any]]:
        params = {"wait": str(wait).lower(), "timeout_ms": timeout_ms}
        body = {"txs": [tx.to_dict() for tx in txs]}
        return self._call("POST", "/v1/txs/batch", params=params, json=body)["results"]  # type: ignore[no-any-return]

    def tx(self, tx_id: str, proof: bool = False, keys: KeyPair | None = None) -> dict[str, Any]:
        """A transaction (signed read: a member's, or its sender's)."""
        params = {"proof": str(proof).lower()}
        return self._get(f"/v1/txs/{tx_id}", params, keys)  # type: ignore[no-any-return]

    def block(self, height: int | None = None, keys: KeyPair | None = None) -> dict[str, Any]:
        """A block with its transactions (signed read: members only)."""
        path = "/v1/blocks/latest" if height is None else f"/v1/blocks/{height}"
        return self._get(path, keys=keys)  # type: ignore[no-any-return]

    def header(self, height: int | None = None) -> dict[str, Any]:
        """A block header and its transaction ids (public: what a light client pins)."""
        path = "/v1/headers/latest" if height is None else f"/v1/headers/{height}"
        return self._get(path)  # type: ignore[no-any-return]

    def state(
        self, namespace: str, key: str, proof: bool = False, keys: KeyPair | None = None
    ) -> dict[str, Any]:
        """A state value (signed read: members, or a person's own entries)."""
        params = {"proof": str(proof).lower()}
        return self._get(f"/v1/state/{namespace}/{key}", params, keys)  # type: ignore[no-any-return]

    def sender_txs(
        self, key_id: str, limit: int = 100, keys: KeyPair | None = None
    ) -> list[dict[str, Any]]:
        """A sender's recent transactions (signed read: members, or the sender)."""
        return self._get(f"/v1/senders/{key_id}/txs", {"limit": limit}, keys)  # type: ignore[no-any-return]

    def consistency(self, old_size: int, new_size: int | None = None) -> dict[str, Any]:
        params: dict[str, int] = {"old_size": old_size}
        if new_size is not None:
            params["new_size"] = new_size
        return self._get("/v1/proofs/consistency", params)  # type: ignore[no-any-return]

    def verified_state(self, namespace: str, key: str, keys: KeyPair | None = None) -> Any:
        """A state value whose proof has been checked against the block header it came with."""
        view = self.state(namespace, key, proof=True, keys=keys)
        verify_state_view(view)
        return view["value"]

    def verified_consistency(self, old_header: dict[str, Any]) -> dict[str, Any]:
        """Prove that the ledger a client saw at `old_header` is a prefix of today's."""
        latest = self.header()["header"]
        view = self.consistency(old_header["log_size"], latest["log_size"])
        verify_consistency_view(view, Header.from_dict(old_header), Header.from_dict(latest))
        return view

    def supply_verify(self, gtin: str, serial: str, lot: str, expiry: str) -> dict[str, Any]:
        """DSCSA verification of a package, its proofs checked here (the node is not trusted)."""
        params = {"gtin": gtin, "serial": serial, "lot": lot, "expiry": expiry}
        view: dict[str, Any] = self._get("/v1/supply/verify", params)
        verify_supply_view(view)
        return view

    def supply_history(self, gtin: str, serial: str) -> dict[str, Any]:
        """A package's chain of custody (signed read: members)."""
        return self._get(f"/v1/supply/packages/{gtin}/{serial}/history")  # type: ignore[no-any-return]

    def supply_epcis(self, gtin: str, serial: str) -> dict[str, Any]:
        """A package's chain of custody as an EPCIS 2.0 JSON document (signed read: members)."""
        return self._get(f"/v1/supply/packages/{gtin}/{serial}/epcis")  # type: ignore[no-any-return]

    def supply_lot_epcis_page(
        self, gtin: str, lot: str, limit: int = 1000, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of a lot's custody as EPCIS 2.0; its NEXT_CURSOR_FIELD names the next page."""
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        return self._get(f"/v1/supply/lots/{gtin}/{lot}/epcis", params)  # type: ignore[no-any-return]

    def supply_lot_epcis(self, gtin: str, lot: str, limit: int = 10_000) -> dict[str, Any]:
        """Up to `limit` packages of a lot as one EPCIS 2.0 document, fetched page by page."""
        document = self.supply_lot_epcis_page(gtin, lot, min(limit, LOT_PAGE))
        events: list[Any] = document["epcisBody"]["eventList"]
        packages: int = document.get(PACKAGES_FIELD, 0)
        cursor = document.pop(NEXT_CURSOR_FIELD, None)
        while cursor is not None and packages < limit:
            page = self.supply_lot_epcis_page(gtin, lot, min(limit - packages, LOT_PAGE), cursor)
            events += page["epcisBody"]["eventList"]
            packages += page.get(PACKAGES_FIELD, 0)
            cursor = page.get(NEXT_CURSOR_FIELD)
        # Each page is in time order; so is the whole (eventTime is fixed-width RFC 3339 UTC).
        events.sort(key=lambda event: str(event.get("eventTime", "")))
        document[PACKAGES_FIELD] = packages
        if cursor is not None:
            document[NEXT_CURSOR_FIELD] = cursor
        return document

    def supply_alerts(self, limit: int = 100) -> list[Any]:
        """Counterfeit and diversion alerts, newest first (signed read: members)."""
        return self._get("/v1/supply/alerts", {"limit": limit})  # type: ignore[no-any-return]

    def verified_tx(self, tx_id: str, keys: KeyPair | None = None) -> dict[str, Any]:
        """A committed transaction whose inclusion proofs have been checked."""
        view = self.tx(tx_id, proof=True, keys=keys)
        verify_tx_view(view)
        return view


@contextmanager
def _proof_errors(what: str) -> Iterator[None]:
    """Whatever goes wrong while checking a proof leaves as InvalidProof, saying what."""
    try:
        yield
    except proofs.ProofError as exc:
        raise InvalidProof(f"{what} proof does not verify: {exc}") from exc
    except InvalidProof:
        raise
    except (KeyError, TypeError, ValueError, LedgerError) as exc:
        raise InvalidProof(f"{what} proof is malformed: {exc}") from exc


def _hex(values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def verify_tx_view(view: dict[str, Any]) -> None:
    """Check a transaction's inclusion in its block, its result, and its place in the ledger log."""
    with _proof_errors("transaction"):
        tx = decode_transaction(view["tx"])
        header = Header.from_dict(view["header"])
        proof = view["proof"]
        block, ledger = proof["block"], proof["ledger"]
        leaf = tx_leaf(tx.raw)
        proofs.verify_inclusion(
            leaf, block["index"], block["size"], _hex(block["path"]), bytes.fromhex(header.tx_root)
        )
        result_leaf = TxResult.from_dict(view["result"]).leaf(tx.id)
        proofs.verify_inclusion(
            result_leaf,
            block["index"],
            block["size"],
            _hex(block["result_path"]),
            bytes.fromhex(header.result_root),
        )
        latest = Header.from_dict(ledger["header"])
        proofs.verify_inclusion(
            leaf,
            ledger["index"],
            ledger["size"],
            _hex(ledger["path"]),
            bytes.fromhex(latest.log_root),
        )
    if tx.id != view["id"] or header.tx_count != block["size"]:
        raise InvalidProof("transaction proof does not match its header")


def verify_state_view(view: dict[str, Any]) -> None:
    """Check a state value (or its absence) against the state root of the header it came with."""
    with _proof_errors("state"):
        header = Header.from_dict(view["header"])
        raw = view["raw_value"]
        value_hash = None if raw is None else proofs.state_value_hash(raw.encode())
        if raw is not None and canonical_bytes(view["value"]) != raw.encode():
            raise InvalidProof("the value does not match its proven bytes")
        proofs.verify_state_proof(
            bytes.fromhex(header.state_root),
            proofs.state_key_hash(view["namespace"], view["key"]),
            value_hash,
            view["proof"],
        )


def verify_consistency_view(view: dict[str, Any], old: Header, new: Header) -> None:
    """Check that the log committed by `old` is a prefix of the log committed by `new`."""
    with _proof_errors("consistency"):
        proofs.verify_consistency(
            old.log_size,
            new.log_size,
            bytes.fromhex(old.log_root),
            bytes.fromhex(new.log_root),
            _hex(view["path"]),
        )


def verify_supply_view(view: dict[str, Any]) -> None:
    """Check both state proofs against one header and recompute the verdict from them."""
    from healthledger.domains.supply.queries import verdict

    package, recalls = view["proofs"]["package"], view["proofs"]["recalls"]
    verify_state_view(package)
    verify_state_view(recalls)
    if package["header"] != recalls["header"]:
        raise InvalidProof("the two proofs are against different headers")
    expected = verdict(package["value"], recalls["value"], view["lot"], view["expiry"])
    if expected != view["verdict"]:
        raise InvalidProof(
            f"the node said {view['verdict']!r}, the proven records say {expected!r}"
        )
