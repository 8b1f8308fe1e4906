"""The ledger-wide views a node serves and the SDK reads: one frozen model per response shape.

`app/queries.py` builds them, `api/server.py` serves them (and documents them in
/openapi.json), the SDK parses a node's answer into them. Headers and results are the
ledger's own types (`ledger.block.Header`, `TxResult`); a state proof travels as the
JSON of `ledger.trie.StateProof`.

A field that is absent from an answer (a proof nobody asked for) is left unset, and
`wire()` leaves unset fields out, so the JSON on the wire is what it always was.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, JsonValue, PlainSerializer, PlainValidator

from healthledger.ledger.block import Header, TxResult
from healthledger.ledger.trie import StateProof


class WireView(BaseModel):
    """A response shape: frozen, and written back exactly as it was read."""

    model_config = ConfigDict(frozen=True)

    def wire(self) -> dict[str, Any]:
        """The JSON object this view is on the wire (unset optional fields left out)."""
        return self.model_dump(mode="json", exclude_unset=True)


def _state_proof(value: object) -> StateProof:
    if isinstance(value, StateProof):
        return value
    if not isinstance(value, dict):
        raise ValueError("a state proof is a JSON object")
    return StateProof.from_dict(value)


# The JSON of `StateProof.to_dict`, parsed by its own strict parser (a bitmap is an
# integer, never "7"), so one proof has one spelling.
StateProofJson = Annotated[
    StateProof,
    PlainValidator(_state_proof, json_schema_input_type=dict[str, JsonValue]),
    PlainSerializer(lambda proof: proof.to_dict(), return_type=dict[str, JsonValue]),
]


class SignedTx(BaseModel):
    """A signed transaction as JSON (fields in canonical order, as it is stored)."""

    model_config = ConfigDict(frozen=True)

    chain: str
    nonce: int
    payload: dict[str, JsonValue]
    sender: str
    signature: str
    type: str


class HeaderView(WireView):
    """A block's header and its transactions' ids: what a light client pins, nothing more."""

    height: int
    hash: str
    header: Header
    tx_ids: list[str]


class BlockTx(WireView):
    """One transaction of a block, with its result."""

    id: str
    tx: SignedTx
    result: TxResult


class BlockView(WireView):
    """A block: its hash, header and transactions with their results."""

    hash: str
    header: Header
    txs: list[BlockTx]


class BlockInclusion(WireView):
    """Where a transaction and its result sit in their block's two Merkle trees."""

    height: int
    index: int
    size: int
    path: list[str]
    result_path: list[str]


class LedgerInclusion(WireView):
    """Where a transaction sits in the ledger-wide log committed by `header`."""

    index: int
    size: int
    path: list[str]
    header: Header


class TxProof(WireView):
    """A transaction's inclusion proofs: in its block, and in the ledger-wide log."""

    block: BlockInclusion
    ledger: LedgerInclusion


class TxView(WireView):
    """A committed transaction, its result, its block's header and (if asked) its proofs."""

    id: str
    height: int
    position: int
    log_index: int
    tx: SignedTx
    result: TxResult
    proof: TxProof | None = None
    header: Header


class StateView(WireView):
    """A state value at the latest block; with a proof, the bytes and header it is proven by.

    `value` is a domain's JSON record: its shape is the domain's.
    """

    namespace: str
    key: str
    height: int
    value: Any
    proof: StateProofJson | None = None
    raw_value: str | None = None
    header: Header | None = None


class ConsistencyView(WireView):
    """RFC 9162 consistency proof between two sizes of the ledger-wide log."""

    old_size: int
    new_size: int
    old_root: str
    new_root: str
    path: list[str]


class InfoView(WireView):
    """Chain id, the organisation a node serves, its height and roots."""

    chain_id: str
    org: str
    height: int
    state_root: str
    last_block_hash: str
    mempool: int
    # The public key this node signs its answers with (what its organisation publishes in
    # the directory); a reader checks answers against the directory's, never this one.
    node_key: str | None = None


class HealthView(WireView):
    """Liveness and the last committed block."""

    ok: bool
    chain_id: str
    height: int


class WireError(WireView):
    """An error as the API sends it: a stable code and a message (and any detail it carries)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    code: str
    message: str


class SubmitReport(WireView):
    """What became of a submitted transaction: pending, committed (with its result), unknown,
    or refused (a batch entry with only `error`)."""

    id: str | None = None
    status: Literal["pending", "committed", "unknown"] | None = None
    height: int | None = None
    result: TxResult | None = None
    error: WireError | None = None


class SenderTx(WireView):
    """One of a sender's recent transactions."""

    id: str
    height: int
    result: TxResult
