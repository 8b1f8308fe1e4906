"""The Python SDK used by the CLI, the tests, the benchmarks and users.

`Signer` builds and signs transactions for one key; `Client` talks to a node's
REST API and parses each answer once into its view model (`app/views.py`);
`verify_tx_view` and `verify_state_view` check the proofs a node returns against the
headers they came with, using nothing but the pure verifiers of `healthledger.ledger.proofs`,
and `Client.prove_*` / `verified_*` then check those headers against the client's trust
anchor (`client/anchor.py`): a header the same node just sent proves nothing by itself.

Raw ledger reads (transactions, blocks, state, custody histories) answer only
signed requests: a `Client` built with `keys` signs them with those keys, and
each read method takes `keys=` to sign one read as somebody else.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlencode

import httpx
import orjson
from pydantic import BaseModel, JsonValue, RootModel, ValidationError

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
from healthledger.client.anchor import Anchor, PinnedAnchor
from healthledger.client.epcis_import import import_document
from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.crypto.signed_request import sign_request
from healthledger.domains.governance import state as gov_state
from healthledger.domains.governance.messages import voucher_message
from healthledger.domains.governance.state import GlnHolder, OrgEndpoint, OrgGlns
from healthledger.domains.governance.views import DirectoryEntry, DirectoryPage, GlnEntry
from healthledger.domains.supply import gs1, ti
from healthledger.domains.supply import state as supply_state
from healthledger.domains.supply.coldchain import (
    ExcursionRecord,
    ProductRangeRecord,
    SensorRecord,
)
from healthledger.domains.supply.coldchain_views import ExcursionPage, PackageColdChain
from healthledger.domains.supply.epcis import NEXT_CURSOR_FIELD, PACKAGES_FIELD
from healthledger.domains.supply.gs1 import ProductIdentifier
from healthledger.domains.supply.queries import verdict
from healthledger.domains.supply.transformations import (
    Transformation,
    TransformationAnswer,
    transformation_key,
)
from healthledger.domains.supply.views import LotStatus, RecallPage
from healthledger.errors import (
    ErrorCode,
    InvalidProof,
    LedgerError,
    MalformedInput,
    NotFound,
    Timeout,
)
from healthledger.ledger import proofs
from healthledger.ledger.block import Header, TxResult, tx_leaf
from healthledger.ledger.transaction import Transaction, decode_transaction, sign_transaction

LOT_PAGE = 1000  # packages per page of a lot's EPCIS document
M = TypeVar("M", bound=BaseModel)


class ApiError(LedgerError):
    """An error answered by a node, carrying its stable code and HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message, ErrorCode.parse(code, ErrorCode.UNAVAILABLE))
        self.remote_code = code
        self.status = status


class Committed(WireView):
    """A submission report of a transaction that committed with `ok`."""

    id: str
    status: Literal["committed"]
    height: int
    result: TxResult


def require_committed(report: SubmitReport) -> Committed:
    """A submission report, or its refusal or failure raised with the ledger's code.

    A report still `pending` after the wait did not commit in time: `timeout`.
    """
    outcome = report.error or report.result
    if report.status == "committed" and report.result is not None and report.result.ok:
        return Committed.model_validate(report.wire())
    if outcome is None:
        raise Timeout("not committed in time")
    raise LedgerError(outcome.message, ErrorCode.parse(outcome.code, ErrorCode.TIMEOUT))


def node_is_up(url: str, timeout: float = 1.0) -> bool:
    """Whether a node answers its health check (False while it starts or after it stops)."""
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


class SupplyProofs(WireView):
    """The records a verdict rests on, each with its state proof (one header for all)."""

    package: StateView
    recalls: StateView
    # The lot's expiry mark (written at block time): required, so it cannot be stripped.
    expired: StateView


class SupplyVerification(WireView):
    """A DSCSA verification answer: the verdict, the package's custody summary, the proofs."""

    gtin: str
    serial: str
    lot: str
    expiry: str
    verdict: str
    package: dict[str, JsonValue] | None
    expired: bool = False
    proofs: SupplyProofs


class SupplyTransaction(WireView):
    """A seller's DSCSA transaction information found by a business transaction: the
    index entry and the TI record, each with its state proof (one header for both)."""

    statement_text: str
    index: StateView
    transaction: StateView

    def record(self) -> ti.TransactionRecord:
        return ti.TransactionRecord.model_validate(self.transaction.value)


class SupplyPackageTransactions(WireView):
    """A package's TI/TS history: its list of TI ids and each TI, all proven (one header)."""

    gtin: str
    serial: str
    statement_text: str
    history: StateView
    transactions: list[StateView]

    def records(self) -> list[ti.TransactionRecord]:
        return [ti.TransactionRecord.model_validate(each.value) for each in self.transactions]


class BatchReport(WireView):
    """What became of each transaction of a batch, in the order sent."""

    results: list[SubmitReport]


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

    def sign(
        self, tx_type: str, payload: Mapping[str, object], nonce: int | None = None
    ) -> Transaction:
        """A signed transaction of `tx_type`, with the next nonce unless one is given."""
        return sign_transaction(
            self.keys,
            self.chain_id,
            tx_type,
            self.take_nonce() if nonce is None else nonce,
            dict(payload),
        )

    def sync_nonce(self, client: Client) -> None:
        """Continue after the highest nonce the ledger has seen from this key."""
        record = client.state("nonce", self.key_id, keys=self.keys).value
        self.continue_after(0 if record is None else int(record["max"]))

    def continue_after(self, seen: int) -> None:
        """Continue after nonce `seen` (the ledger's highest from this key), never going back."""
        with self._lock:
            self._next_nonce = max(self._next_nonce, seen + 1)


def registration_payload(patient: KeyPair, chain_id: str, voucher: KeyPair) -> dict[str, object]:
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
    `anchor` is what proofs are finally checked against (see client/anchor.py): by
    default a header pinned on first use, for this client's lifetime only.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8700",
        timeout: float = 30.0,
        connections: int = 10,
        keys: KeyPair | Path | None = None,
        anchor: Anchor | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.keys = load_keypair(keys) if isinstance(keys, Path) else keys
        self.anchor = anchor or PinnedAnchor.first_use()
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
        """One request; its JSON answer (None if empty). The JSON edge for the answers that
        have no model here (the records service parses its own)."""
        body = self._request(method, path, **kwargs).content
        return orjson.loads(body) if body else None

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; the answer, or the node's error raised as ApiError."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError("unavailable", f"cannot reach {self.base_url}: {exc}", 0) from exc
        if response.status_code >= 400:
            raise _api_error(response)
        return response

    @property
    def chain_id(self) -> str:
        """The node's chain id, asked once: signed reads name it."""
        if self._chain_id is None:
            self._chain_id = self.info().chain_id
        return self._chain_id

    def read_headers(self, keys: KeyPair, target: str) -> dict[str, str]:
        """The one place a read is signed: the signed-request envelope for a GET of `target`."""
        return sign_request(keys, self.chain_id, "GET", target, audience=self.org())

    def _get(
        self, path: str, params: Mapping[str, str | int] | None = None, keys: KeyPair | None = None
    ) -> httpx.Response:
        """A GET, signed by `keys` (else the client's own) when there are keys to sign with."""
        signer = keys or self.keys
        target = path + ("?" + urlencode(params, quote_via=quote) if params else "")
        if signer is None:
            return self._request("GET", target)
        return self._request("GET", target, headers=self.read_headers(signer, target))

    def health(self) -> HealthView:
        return _parse(HealthView, self._request("GET", "/health"))

    def info(self) -> InfoView:
        return _parse(InfoView, self._request("GET", "/v1/info"))

    def org(self) -> str:
        """The organisation this node serves: the audience its signed requests must name."""
        if self._org is None:
            self._org = self.info().org
        return self._org

    def genesis(self) -> dict[str, JsonValue]:
        return _parse(_JsonObject, self._request("GET", "/v1/genesis")).root

    def signer(self, keys: KeyPair | Path) -> Signer:
        """A Signer for this node's chain, continuing after the ledger's last nonce for the key."""
        pair = keys if isinstance(keys, KeyPair) else load_keypair(keys)
        signer = Signer(pair, self.chain_id)
        signer.sync_nonce(self)
        return signer

    def submit(self, tx: Transaction, wait: bool = False, timeout_ms: int = 10_000) -> SubmitReport:
        """Submit one transaction; with `wait`, return once it committed (ok or failed)."""
        params = {"wait": str(wait).lower(), "timeout_ms": timeout_ms}
        return _parse(
            SubmitReport, self._request("POST", "/v1/txs", params=params, json=tx.to_dict())
        )

    def submit_batch(
        self, txs: Sequence[Transaction], wait: bool = False, timeout_ms: int = 30_000
    ) -> list[SubmitReport]:
        params = {"wait": str(wait).lower(), "timeout_ms": timeout_ms}
        body = {"txs": [tx.to_dict() for tx in txs]}
        answer = self._request("POST", "/v1/txs/batch", params=params, json=body)
        return _parse(BatchReport, answer).results

    def tx(
        self, tx_id: str, proof: bool = False, keys: KeyPair | None = None
    ) -> TxView | SubmitReport:
        """A transaction (signed read: a member's, or its sender's); a `pending` report while
        it waits in the mempool."""
        params = {"proof": str(proof).lower()}
        answer = self._get(f"/v1/txs/{tx_id}", params, keys)
        if answer.status_code == 202:
            return _parse(SubmitReport, answer)
        return _parse(TxView, answer)

    def committed_tx(self, tx_id: str, proof: bool = False, keys: KeyPair | None = None) -> TxView:
        """A committed transaction; one still pending is not found (yet)."""
        view = self.tx(tx_id, proof, keys)
        if isinstance(view, SubmitReport):
            raise NotFound(f"transaction {tx_id} is still pending")
        return view

    def block(self, height: int | None = None, keys: KeyPair | None = None) -> BlockView:
        """A block with its transactions (signed read: members only)."""
        path = "/v1/blocks/latest" if height is None else f"/v1/blocks/{height}"
        return _parse(BlockView, self._get(path, keys=keys))

    def header(self, height: int | None = None) -> HeaderView:
        """A block header and its transaction ids (public: what a light client pins)."""
        path = "/v1/headers/latest" if height is None else f"/v1/headers/{height}"
        return _parse(HeaderView, self._get(path))

    def state(
        self, namespace: str, key: str, proof: bool = False, keys: KeyPair | None = None
    ) -> StateView:
        """A state value (signed read: members, or a person's own entries)."""
        params = {"proof": str(proof).lower()}
        return _parse(StateView, self._get(f"/v1/state/{namespace}/{_key_path(key)}", params, keys))

    def sender_txs(
        self, key_id: str, limit: int = 100, keys: KeyPair | None = None
    ) -> list[SenderTx]:
        """A sender's recent transactions (signed read: members, or the sender)."""
        answer = self._get(f"/v1/senders/{key_id}/txs", {"limit": limit}, keys)
        return _parse(_SenderTxs, answer).root

    def consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyView:
        params: dict[str, str | int] = {"old_size": old_size}
        if new_size is not None:
            params["new_size"] = new_size
        return _parse(ConsistencyView, self._get("/v1/proofs/consistency", params))

    def prove_state(self, view: StateView, namespace: str, key: str) -> str:
        """Check a state view answers `namespace/key`, its proof, then its header against the
        anchor; say which anchor. A true proof of another key is refused."""
        require_state_of(view, namespace, key)
        verify_state_view(view)
        return self.anchor.check_state(self, view)

    def prove_tx(self, view: TxView, tx_id: str) -> str:
        """Check a transaction view is of `tx_id`, its proofs, then its headers against the
        anchor. A true proof of another transaction is refused."""
        require_tx_of(view, tx_id)
        verify_tx_view(view)
        return self.anchor.check_tx(self, view)

    def prove_supply(self, view: SupplyVerification, asked: ProductIdentifier) -> str:
        """Check a verification answers the package asked about, its proofs and verdict,
        then their header against the anchor."""
        answered = (view.gtin, view.serial, view.lot, view.expiry)
        if answered != (asked.gtin, asked.serial, asked.lot, asked.expiry):
            raise InvalidProof(f"asked to verify {asked}, the node answered for {answered}")
        verify_supply_view(view)
        return self.anchor.check_state(self, view.proofs.package)

    def await_height(self, height: int, timeout_s: float = 15.0) -> None:
        """Wait until this node has committed `height`: a block another node of the network
        committed first (a read answered by a custodian's node) reaches ours a moment later."""
        deadline = time.monotonic() + timeout_s
        while self.header().height < height:
            if time.monotonic() >= deadline:
                raise ApiError("unavailable", f"{self.base_url} has not reached height {height}", 0)
            time.sleep(0.1)

    def verified_state(self, namespace: str, key: str, keys: KeyPair | None = None) -> Any:
        """A state value proven against the client's trust anchor (its JSON, as the domain's)."""
        view = self.state(namespace, key, proof=True, keys=keys)
        self.prove_state(view, namespace, key)
        return view.value

    def verified_tx(self, tx_id: str, keys: KeyPair | None = None) -> TxView:
        """A committed transaction whose inclusion proofs lead to the client's trust anchor."""
        view = self.committed_tx(tx_id, proof=True, keys=keys)
        self.prove_tx(view, tx_id)
        return view

    def verified_consistency(self, old_header: Header) -> ConsistencyView:
        """Prove that the ledger a client saw at `old_header` is a prefix of today's."""
        latest = self.header().header
        view = self.consistency(old_header.log_size, latest.log_size)
        verify_consistency_view(view, old_header, latest)
        return view

    def org_endpoint(self, org: str) -> OrgEndpoint | None:
        """An organisation's directory entry (where its node serves, the key it answers
        with), proven against the client's trust anchor; None, proven too, if it has none."""
        answer = _parse(DirectoryEntry, self._request("GET", f"/v1/orgs/{_segment(org)}"))
        return self._proven_entry(answer, org)

    def orgs(self, page: int = 50) -> list[OrgEndpoint]:
        """Every published directory entry, each proven against the client's trust anchor."""
        entries: list[OrgEndpoint] = []
        for row in self._directory_rows(page):
            entry = self._proven_entry(row, row.org)
            if entry is not None:
                entries.append(entry)
        return entries

    def _directory_rows(self, page: int) -> Iterator[DirectoryEntry]:
        """The directory's pages, row by row (not yet proven)."""
        after: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": page}
            if after is not None:
                params["after"] = after
            answer = _parse(DirectoryPage, self._request("GET", "/v1/orgs", params=params))
            yield from answer.orgs
            if answer.next_after is None:
                return
            if after is not None and answer.next_after <= after:
                raise InvalidProof("the directory's pages do not advance")  # a looping node
            after = answer.next_after

    def org_glns(self, org: str) -> OrgGlns | None:
        """An organisation's GLNs (party and locations), proven against the client's trust
        anchor; None, proven too, if it holds none."""
        answer = _parse(DirectoryEntry, self._request("GET", f"/v1/orgs/{_segment(org)}"))
        return self._proven_glns(answer, org)

    def glns(self, page: int = 50) -> dict[str, str]:
        """Every registered GLN and the organisation holding it, from the directory, each
        organisation's GLNs proven against the client's trust anchor."""
        holders: dict[str, str] = {}
        for row in self._directory_rows(page):
            held = self._proven_glns(row, row.org)
            if held is not None:
                holders.update(dict.fromkeys(held.all(), held.org))
        return holders

    def org_of_gln(self, gln: str) -> str | None:
        """The organisation a GLN is registered to, proven against the client's trust
        anchor; None if no one holds it (its absence proven)."""
        answer = _parse(GlnEntry, self._request("GET", f"/v1/glns/{_segment(gln)}"))
        view = StateView.model_validate(answer.proof.model_dump(mode="json"))
        self.prove_state(view, gov_state.NAMESPACE, gov_state.gln_key(gln))
        if view.value is None:
            return None
        with _proof_errors("GLN entry"):
            holder = GlnHolder.model_validate(view.value)
        if holder.gln != gln:
            raise InvalidProof(f"the entry of GLN {gln} names GLN {holder.gln}")
        return holder.org

    def _proven_glns(self, answer: DirectoryEntry, org: str) -> OrgGlns | None:
        """An organisation's GLNs as their proof says, never as the rest of the answer says."""
        view = StateView.model_validate(answer.glns_proof.model_dump(mode="json"))
        self.prove_state(view, gov_state.NAMESPACE, gov_state.org_glns_key(org))
        if view.value is None:
            return None
        with _proof_errors("GLNs"):
            held = OrgGlns.model_validate(view.value)
        if held.org != org:
            raise InvalidProof(f"the GLNs of {org} name {held.org}")
        return held

    def claim_glns(
        self, keys: KeyPair, party: str | None = None, locations: Sequence[str] = ()
    ) -> str:
        """Claim GLNs for the organisation of `keys` (`gln.claim`); the id of the proposal
        the other organisations approve (`org.approve`)."""
        payload: dict[str, object] = {"locations": list(locations)}
        if party is not None:
            payload["party"] = party
        report = self._commit(keys, "gln.claim", payload)
        return str(next(e["proposal"] for e in report.result.events if e["type"] == "gln.proposed"))

    def release_glns(self, keys: KeyPair, glns: Sequence[str], org: str | None = None) -> Committed:
        """Free the GLNs of the organisation of `keys` at once; with `org`, propose freeing
        one GLN of that organisation (done when a quorum approves)."""
        payload: dict[str, object] = {"glns": list(glns)}
        if org is not None:
            payload["org_id"] = org
        return self._commit(keys, "gln.release", payload)

    def approve(self, keys: KeyPair, proposal: str) -> Committed:
        """Approve an open proposal (an admission, a removal, a capability, GLNs)."""
        return self._commit(keys, "org.approve", {"proposal_id": proposal})

    def _commit(self, keys: KeyPair, tx_type: str, payload: dict[str, object]) -> Committed:
        """Sign with `keys`, submit, wait: the committed report, or the refusal raised."""
        tx = self.signer(keys).sign(tx_type, payload)
        return require_committed(self.submit(tx, wait=True))

    def _proven_entry(self, answer: DirectoryEntry, org: str) -> OrgEndpoint | None:
        """The entry as its proof says, never as the rest of the answer says."""
        view = StateView.model_validate(answer.proof.model_dump(mode="json"))
        self.prove_state(view, gov_state.NAMESPACE, gov_state.endpoint_key(org))
        if view.value is None:
            return None
        with _proof_errors("directory entry"):
            entry = OrgEndpoint.model_validate(view.value)
        if entry.org != org:
            raise InvalidProof(f"the directory entry of {org} names {entry.org}")
        return entry

    def supply_verification(
        self, gtin: str, serial: str, lot: str, expiry: str
    ) -> SupplyVerification:
        """A node's DSCSA verification answer, not yet checked (see `prove_supply`)."""
        params = {"gtin": gtin, "serial": serial, "lot": lot, "expiry": expiry}
        return _parse(SupplyVerification, self._get("/v1/supply/verify", params))

    def supply_verify(self, gtin: str, serial: str, lot: str, expiry: str) -> SupplyVerification:
        """DSCSA verification of a package, proven here against the trust anchor.

        The expiry may be written YYMMDD (as on a pack); its century is this year's.
        """
        asked = gs1.product_from(None, gtin, serial, lot, expiry, time.gmtime().tm_year)
        view = self.supply_verification(asked.gtin, asked.serial, asked.lot, asked.expiry)
        self.prove_supply(view, asked)
        return view

    def supply_history(self, gtin: str, serial: str) -> dict[str, JsonValue]:
        """A package's chain of custody (signed read: members)."""
        return _parse(
            _JsonObject, self._get(f"/v1/supply/packages/{gtin}/{_segment(serial)}/history")
        ).root

    def supply_lot(self, gtin: str, lot: str) -> LotStatus:
        """A lot: its size, its expiry mark and who holds it (signed read: members)."""
        return _parse(LotStatus, self._get(f"/v1/supply/lots/{gtin}/{_segment(lot)}/status"))

    def supply_epcis(self, gtin: str, serial: str) -> dict[str, JsonValue]:
        """A package's chain of custody as an EPCIS 2.0 JSON document (signed read: members)."""
        return _parse(
            _JsonObject, self._get(f"/v1/supply/packages/{gtin}/{_segment(serial)}/epcis")
        ).root

    def supply_lot_epcis_page(
        self, gtin: str, lot: str, limit: int = 1000, cursor: str | None = None
    ) -> dict[str, JsonValue]:
        """One page of a lot's custody as EPCIS 2.0; its NEXT_CURSOR_FIELD names the next page."""
        return self._lot_page(gtin, lot, limit, cursor).root

    def _lot_page(self, gtin: str, lot: str, limit: int, cursor: str | None = None) -> EpcisPage:
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        return _parse(EpcisPage, self._get(f"/v1/supply/lots/{gtin}/{_segment(lot)}/epcis", params))

    def supply_lot_epcis(self, gtin: str, lot: str, limit: int = 10_000) -> dict[str, JsonValue]:
        """Up to `limit` packages of a lot as one EPCIS 2.0 document, fetched page by page."""
        first = self._lot_page(gtin, lot, min(limit, LOT_PAGE))
        events, packages, cursor = list(first.events()), first.packages(), first.cursor()
        while cursor is not None and packages < limit:
            page = self._lot_page(gtin, lot, min(limit - packages, LOT_PAGE), cursor)
            events += page.events()
            packages += page.packages()
            cursor = page.cursor()
        # Each page is in time order; so is the whole (eventTime is fixed-width RFC 3339 UTC).
        events.sort(key=_event_time)
        return first.joined(events, packages, cursor)

    def supply_import_epcis(
        self,
        document: Any,
        signer: Signer,
        org_of_party: Callable[[str], str] | None = None,
    ) -> dict[str, Any]:
        """Import a partner's EPCIS 2.0 document (EPCISDocument or EPCISQueryDocument).

        Every event is mapped first, its parties resolved through the proven GLN registry
        (or `org_of_party`); if any cannot be, nothing is submitted. The answer reports
        each event: its id, what it became and its transaction, or why not.
        """
        return import_document(self, document, signer, org_of_party)

    def supply_check_epcis(self, document: Any, org: str) -> dict[str, Any]:
        """What the node would make of `document` submitted by `org`, against its current
        state, without submitting anything (no signature needed)."""
        answer = self._request(
            "POST", "/v1/supply/epcis/check", params={"org": org}, content=_json_text(document)
        )
        return _parse(_JsonObject, answer).root

    def supply_recalls(self, limit: int = 100, after: str | None = None) -> RecallPage:
        """One page of the recalls issued (signed read: members); `next_after` continues."""
        params: dict[str, str | int] = {"limit": limit}
        if after is not None:
            params["after"] = after
        return _parse(RecallPage, self._get("/v1/supply/recalls", params))

    def supply_transformation(self, transformation_id: str) -> Transformation:
        """A transformation (repackaging, kitting): its inputs and outputs per step, read
        from its record as proven against the trust anchor (signed read: members)."""
        path = f"/v1/supply/transformations/{_segment(transformation_id)}"
        answer = _parse(TransformationAnswer, self._get(path))
        view = StateView.model_validate(answer.proof.model_dump(mode="json"))
        self.prove_state(view, supply_state.NAMESPACE, transformation_key(transformation_id))
        if view.value is None:
            raise InvalidProof(f"the node proved no transformation {transformation_id}")
        with _proof_errors("transformation"):
            record = Transformation.model_validate(view.value)
        if record.id != transformation_id:
            raise InvalidProof(f"the record of {transformation_id} names {record.id}")
        return record

    def supply_transaction(self, seller: str, kind: str, ref: str) -> SupplyTransaction:
        """A seller's TI by one of its business transactions (`po`, `inv`, `desadv`...),
        proven against the trust anchor (signed read: members)."""
        path = f"/v1/supply/transactions/{_segment(seller)}/{_segment(kind)}/{_segment(ref)}"
        view = _parse(SupplyTransaction, self._get(path))
        verify_supply_transaction(view, seller, kind, ref)
        self.anchor.check_state(self, view.index)
        return view

    def supply_transactions(self, gtin: str, serial: str) -> SupplyPackageTransactions:
        """A package's full TI/TS history, each TI proven against the trust anchor
        (signed read: members)."""
        gtin14 = gs1.validate_gtin(gtin)
        path = f"/v1/supply/packages/{gtin14}/{_segment(serial)}/transactions"
        view = _parse(SupplyPackageTransactions, self._get(path))
        verify_package_transactions(view, gtin14, serial)
        self.anchor.check_state(self, view.history)
        return view

    def supply_alerts(self, limit: int = 100) -> list[JsonValue]:
        """Counterfeit and diversion alerts, newest first (signed read: members)."""
        return _parse(_JsonList, self._get("/v1/supply/alerts", {"limit": limit})).root

    def supply_excursions(self, limit: int = 100, after: int | None = None) -> ExcursionPage:
        """Temperature excursions in the order opened (members); `next_after` continues."""
        params: dict[str, str | int] = {"limit": limit}
        if after is not None:
            params["after"] = after
        return _parse(ExcursionPage, self._get("/v1/supply/excursions", params))

    def supply_excursion(self, number: int) -> ExcursionRecord:
        """One excursion: the worst reading, the range, the custodian named, the decision."""
        return _parse(ExcursionRecord, self._get(f"/v1/supply/excursions/{number}"))

    def supply_sensor_report(self, number: int) -> SensorRecord:
        """One sensor report with every reading as recorded (signed read: members)."""
        return _parse(SensorRecord, self._get(f"/v1/supply/sensor-reports/{number}"))

    def supply_range(self, gtin: str) -> ProductRangeRecord:
        """A GTIN's allowed temperature range and its latest changes (signed read: members)."""
        return _parse(ProductRangeRecord, self._get(f"/v1/supply/ranges/{gtin}"))

    def supply_cold_chain(self, gtin: str, serial: str, limit: int = 20) -> PackageColdChain:
        """A package's sensor reports, excursions and why it is quarantined (members)."""
        path = f"/v1/supply/packages/{gtin}/{_segment(serial)}/coldchain"
        return _parse(PackageColdChain, self._get(path, {"limit": limit}))


def _json_text(document: Any) -> bytes:
    """A partner's document as JSON (its decimals kept: orjson writes floats as given)."""
    return orjson.dumps(document)


class _JsonObject(RootModel[dict[str, JsonValue]]):
    """A JSON object whose shape a domain owns (genesis, a custody history)."""


class _JsonList(RootModel[list[JsonValue]]):
    """A JSON array whose entries a domain owns (alerts)."""


class _SenderTxs(RootModel[list[SenderTx]]):
    """The answer of /v1/senders/{key}/txs."""


class EpcisPage(RootModel[dict[str, JsonValue]]):
    """One page of a lot's EPCIS 2.0 document: its events, its package count, its cursor."""

    def events(self) -> list[JsonValue]:
        body = self.root.get("epcisBody")
        found = body.get("eventList") if isinstance(body, dict) else None
        return list(found) if isinstance(found, list) else []

    def packages(self) -> int:
        count = self.root.get(PACKAGES_FIELD, 0)
        return count if isinstance(count, int) else 0

    def cursor(self) -> str | None:
        cursor = self.root.get(NEXT_CURSOR_FIELD)
        return cursor if isinstance(cursor, str) else None

    def joined(
        self, events: list[JsonValue], packages: int, cursor: str | None
    ) -> dict[str, JsonValue]:
        """This page's document carrying every page's events, their count and the last cursor."""
        body = self.root.get("epcisBody")
        document = {k: v for k, v in self.root.items() if k != NEXT_CURSOR_FIELD}
        document["epcisBody"] = {**(body if isinstance(body, dict) else {}), "eventList": events}
        document[PACKAGES_FIELD] = packages
        if cursor is not None:
            document[NEXT_CURSOR_FIELD] = cursor
        return document


def _event_time(event: JsonValue) -> str:
    return str(event.get("eventTime", "")) if isinstance(event, dict) else ""


def _api_error(response: httpx.Response) -> ApiError:
    """A node's error answer: `{"error": {"code", "message"}}`, else its status and text."""
    try:
        error = _ErrorAnswer.model_validate_json(response.content).error
    except ValidationError:
        return ApiError("unavailable", response.text, response.status_code)
    return ApiError(error.code, error.message, response.status_code)


class _ErrorAnswer(WireView):
    error: WireError


def _parse(model: type[M], answer: httpx.Response) -> M:
    """A node's answer parsed into its model once, at the edge."""
    try:
        return model.model_validate_json(answer.content)
    except ValidationError as exc:
        raise MalformedInput(f"the node's answer is not a {model.__name__}: {exc}") from exc


@contextmanager
def _proof_errors(what: str) -> Iterator[None]:
    """Whatever goes wrong while checking a proof leaves as InvalidProof, saying what."""
    try:
        yield
    except proofs.ProofError as exc:
        raise InvalidProof(f"{what} proof does not verify: {exc}") from exc
    except InvalidProof:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, LedgerError) as exc:
        raise InvalidProof(f"{what} proof is malformed: {exc}") from exc


def _hex(values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def verify_tx_view(view: TxView | Mapping[str, object]) -> None:
    """Check a transaction's inclusion in its block, its result, and its place in the log.

    This checks the view against the headers it came with; `Client.prove_tx` then checks
    those headers against the client's trust anchor.
    """
    with _proof_errors("transaction"):
        view = view if isinstance(view, TxView) else TxView.model_validate(view)
        if view.proof is None:
            raise InvalidProof("the transaction view has no proof")
        tx = decode_transaction(canonical_bytes(view.tx.model_dump(mode="json")))
        header, block, ledger = view.header, view.proof.block, view.proof.ledger
        leaf = tx_leaf(tx.raw)
        proofs.verify_inclusion(
            leaf, block.index, block.size, _hex(block.path), bytes.fromhex(header.tx_root)
        )
        proofs.verify_inclusion(
            view.result.leaf(tx.id),
            block.index,
            block.size,
            _hex(block.result_path),
            bytes.fromhex(header.result_root),
        )
        proofs.verify_inclusion(
            leaf,
            ledger.index,
            ledger.size,
            _hex(ledger.path),
            bytes.fromhex(ledger.header.log_root),
        )
    if tx.id != view.id or header.tx_count != block.size or header.height != block.height:
        raise InvalidProof("transaction proof does not match its header")
    if ledger.size != ledger.header.log_size:
        raise InvalidProof("transaction proof does not match its ledger header")


def verify_state_view(view: StateView | Mapping[str, object]) -> None:
    """Check a state value (or its absence) against the state root of the header it came with.

    `Client.prove_state` then checks that header against the client's trust anchor.
    """
    with _proof_errors("state"):
        view = view if isinstance(view, StateView) else StateView.model_validate(view)
        if view.header is None or view.proof is None:
            raise InvalidProof("the state view has no proof or no header")
        raw = view.raw_value
        value_hash = None if raw is None else proofs.state_value_hash(raw.encode())
        if raw is not None and canonical_bytes(view.value) != raw.encode():
            raise InvalidProof("the value does not match its proven bytes")
        if raw is None and view.value is not None:
            raise InvalidProof("a value without its proven bytes")
        proofs.verify_state_proof(
            bytes.fromhex(view.header.state_root),
            proofs.state_key_hash(view.namespace, view.key),
            value_hash,
            view.proof.to_dict(),
        )
    if view.header.height != view.height:
        raise InvalidProof("the state proof's header is not at the view's height")


def verify_consistency_view(view: ConsistencyView, old: Header, new: Header) -> None:
    """Check that the log committed by `old` is a prefix of the log committed by `new`."""
    with _proof_errors("consistency"):
        proofs.verify_consistency(
            old.log_size,
            new.log_size,
            bytes.fromhex(old.log_root),
            bytes.fromhex(new.log_root),
            _hex(view.path),
        )


def require_state_of(view: StateView, namespace: str, key: str) -> None:
    """A state answer must be of the key asked for, not a true proof of another."""
    if (view.namespace, view.key) != (namespace, key):
        raise InvalidProof(
            f"asked for {namespace}/{key}, the node proved {view.namespace}/{view.key}"
        )


def require_tx_of(view: TxView, tx_id: str) -> None:
    """A transaction answer must be of the id asked for, not a true proof of another."""
    if view.id != tx_id:
        raise InvalidProof(f"asked for transaction {tx_id}, the node proved {view.id}")


def _segment(value: str) -> str:
    """One path segment, percent-encoded whole: GS1 serials and lots may hold / ? %.

    A segment of dots alone (`.`, `..`) is encoded too: URL libraries drop or resolve
    such segments before sending, so the request would reach another path.
    """
    if value and set(value) == {"."}:
        return "%2E" * len(value)
    return quote(value, safe="")


def _key_path(key: str) -> str:
    """A state key as a path: its `/` kept, each part encoded as one segment."""
    return "/".join(_segment(part) for part in key.split("/"))


def _require_key(view: StateView, key: str) -> None:
    if (view.namespace, view.key) != (supply_state.NAMESPACE, key):
        raise InvalidProof(f"a proof of {view.namespace}/{view.key} where {key} was needed")


def verify_supply_view(view: SupplyVerification | Mapping[str, object]) -> None:
    """Check every proof is of the record the verdict needs, all against one header, and
    recompute the verdict and the expiry mark from them.

    Anything malformed a node may send (a junk record, recalls that are not a list)
    is an InvalidProof, never a crash of the client.
    """
    with _proof_errors("supply"):
        view = (
            view
            if isinstance(view, SupplyVerification)
            else SupplyVerification.model_validate(view)
        )
        package, recalls, expired = view.proofs.package, view.proofs.recalls, view.proofs.expired
        _require_key(package, supply_state.package_key(view.gtin, view.serial))
        _require_key(recalls, supply_state.recalls_key(view.gtin))
        _require_key(expired, supply_state.expired_key(view.gtin, view.lot))
        for each in (package, recalls, expired):
            verify_state_view(each)
            if each.header != package.header:
                raise InvalidProof("the proofs are against different headers")
        if view.expired != (expired.value is not None):
            raise InvalidProof(f"the node said expired={view.expired}, the proven mark disagrees")
        expected = verdict(package.value, recalls.value, view.lot, view.expiry)
        if expected != view.verdict:
            raise InvalidProof(
                f"the node said {view.verdict!r}, the proven records say {expected!r}"
            )


def _require_statement(statement_text: str, record: ti.TransactionRecord) -> None:
    if hashlib.sha256(statement_text.encode()).hexdigest() != record.statement:
        raise InvalidProof(f"{record.id} carries a statement other than the text the node sent")


def verify_supply_transaction(
    view: SupplyTransaction | Mapping[str, object], seller: str, kind: str, ref: str
) -> None:
    """Check a TI answer: the index entry of (seller, kind, ref) and the record it names,
    both proven against one header, the record the seller's with that business transaction,
    and its statement the SHA-256 of the text sent."""
    with _proof_errors("transaction information"):
        view = (
            view if isinstance(view, SupplyTransaction) else SupplyTransaction.model_validate(view)
        )
        _require_key(view.index, ti.biz_key(seller, kind, ref))
        verify_state_view(view.index)
        verify_state_view(view.transaction)
        if view.transaction.header != view.index.header:
            raise InvalidProof("the proofs are against different headers")
        if view.index.value is None:
            raise InvalidProof(f"the index proves {seller} has no {kind} {ref}")
        ti_id = ti.TiRef.model_validate(view.index.value).ti
        _require_key(view.transaction, ti.ti_key(ti_id))
        record = view.record()
        if record.seller != seller or ti.BizRef(type=kind, id=ref) not in record.biz_transactions:
            raise InvalidProof(f"{ti_id} is not the TI of {seller} with {kind} {ref}")
        _require_statement(view.statement_text, record)


def verify_package_transactions(
    view: SupplyPackageTransactions | Mapping[str, object], gtin: str, serial: str
) -> None:
    """Check a package's TI history: its list proven, and each TI it names (once, in order)
    proven against the same header, each with the statement text sent."""
    with _proof_errors("transaction history"):
        view = (
            view
            if isinstance(view, SupplyPackageTransactions)
            else SupplyPackageTransactions.model_validate(view)
        )
        if (view.gtin, view.serial) != (gtin, serial):
            raise InvalidProof(
                f"asked for {gtin}:{serial}, the node answered {view.gtin}:{view.serial}"
            )
        _require_key(view.history, ti.history_key(gtin, serial))
        verify_state_view(view.history)
        named = (
            []
            if view.history.value is None
            else ti.TiHistory.model_validate(view.history.value).root
        )
        ids = list(dict.fromkeys(named))
        if len(ids) != len(view.transactions):
            raise InvalidProof(
                f"the history names {len(ids)} TIs, the node proved {len(view.transactions)}"
            )
        for ti_id, proven in zip(ids, view.transactions, strict=True):
            _require_key(proven, ti.ti_key(ti_id))
            verify_state_view(proven)
            if proven.header != view.history.header:
                raise InvalidProof("the proofs are against different headers")
            if proven.value is None:
                raise InvalidProof(f"the history names {ti_id}, which the node proved absent")
            _require_statement(
                view.statement_text, ti.TransactionRecord.model_validate(proven.value)
            )
