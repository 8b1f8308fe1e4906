"""ABCI 2.0 mapped onto the Application: what each CometBFT call does to the ledger.

CometBFT decides the order and the time of blocks; the Application decides what
they do. Heights match one to one (CometBFT height H is our block H), the app hash
CometBFT agrees on is our state root, and a block is durable before Commit returns,
so Info after a crash names exactly the blocks CometBFT must replay.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from healthledger import __version__
from healthledger.app.application import Application
from healthledger.app.genesis import Genesis
from healthledger.crypto.canonical import canonical_bytes
from healthledger.engines.abci.codec import encode_uvarint
from healthledger.engines.abci.genesis import check_init_chain
from healthledger.engines.abci.results import (
    CODESPACE,
    OK_CODE,
    abci_code,
    codespace_for,
    exec_tx_result,
    validator_updates,
)
from healthledger.engines.base import CommittedBlock
from healthledger.engines.checker import Checked, check_raw
from healthledger.errors import Conflict, LedgerError, MalformedInput, NotFound
from healthledger.ledger.block import TxResult
from healthledger.ledger.context import BlockInfo
from healthledger.ledger.transaction import Transaction

# The protocol version of our state machine, reported in Info and stamped by CometBFT
# into every block header; bump it only with a coordinated upgrade of every node.
APP_VERSION = 1
STATE_QUERY_PREFIX = "/state/"
# Transactions this node verified in CheckTx, kept for ProcessProposal and FinalizeBlock
# of the block that carries them: the same bytes need not be parsed and verified again.
VERIFIED_CACHE_SIZE = 200_000


class VerifiedCache:
    """Raw bytes to their decoded, signature-checked transaction (bounded, oldest out first)."""

    def __init__(self, size: int = VERIFIED_CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[bytes, Transaction] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, raw: bytes) -> Checked:
        with self._lock:
            cached = self._entries.get(raw)
        if cached is not None:
            return cached
        checked = check_raw(raw)
        if isinstance(checked, Transaction):
            with self._lock:
                self._entries[raw] = checked
                if len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return checked

    def forget(self, raws: Sequence[bytes]) -> None:
        """A committed block's transactions will not be checked again."""
        with self._lock:
            for raw in raws:
                self._entries.pop(raw, None)


class AbciAdapter:
    """Answers ABCI requests (already decoded protobuf messages) for one Application."""

    def __init__(
        self,
        app: Application,
        genesis: Genesis,
        types: Any,
        on_commit: Callable[[CommittedBlock], None] | None = None,
    ) -> None:
        self.app = app
        self.genesis = genesis
        self.types = types
        self.on_commit = on_commit
        self._finalized: tuple[tuple[Transaction, ...], tuple[TxResult, ...]] = ((), ())
        self._decided: list[bytes] = []
        self.verified = VerifiedCache()
        self._methods: dict[str, Callable[[Any], Any]] = {
            "info": self.info,
            "init_chain": self.init_chain,
            "query": self.query,
            "check_tx": self.check_tx,
            "prepare_proposal": self.prepare_proposal,
            "process_proposal": self.process_proposal,
            "finalize_block": self.finalize_block,
            "commit": self.commit,
            "extend_vote": lambda _: types.ResponseExtendVote(),
            "verify_vote_extension": self.verify_vote_extension,
            "list_snapshots": lambda _: types.ResponseListSnapshots(),
            "offer_snapshot": lambda _: types.ResponseOfferSnapshot(),
            "load_snapshot_chunk": lambda _: types.ResponseLoadSnapshotChunk(),
            "apply_snapshot_chunk": lambda _: types.ResponseApplySnapshotChunk(),
        }

    def handle(self, method: str, request: Any) -> Any:
        """The response body for `method` (the name of the Request's oneof field)."""
        answer = self._methods.get(method)
        if answer is None:
            raise MalformedInput(f"unsupported ABCI request {method!r}")
        return answer(request)

    # --- info connection ----------------------------------------------------------

    def info(self, _request: Any) -> Any:
        """The last durable block and its state root, so CometBFT replays only what we lack."""
        response = self.types.ResponseInfo(
            data="healthledger", version=__version__, app_version=APP_VERSION
        )
        if self.app.initialized:
            info = self.app.info()
            response.last_block_height = info.height
            response.last_block_app_hash = bytes.fromhex(info.state_root)
        return response

    def query(self, request: Any) -> Any:
        """`/state/<ns>/<key>` gives a committed state value, `/info` the AppInfo as JSON."""
        try:
            height, value = self._read(request.path, request.height)
        except LedgerError as exc:
            code = abci_code(exc.code)
            return self.types.ResponseQuery(code=code, log=exc.message, codespace=CODESPACE)
        return self.types.ResponseQuery(
            code=OK_CODE, key=request.path.encode(), value=value, height=height
        )

    def _read(self, path: str, height: int) -> tuple[int, bytes]:
        """One consistent read of the latest committed block (older heights are not kept)."""
        store = self.app.store
        with store.snapshot():
            latest = store.last_height()
            if height not in (0, latest):
                raise NotFound(f"only the latest height ({latest}) can be queried")
            if path == "/info":
                return latest, canonical_bytes(asdict(self.app.info()))
            if not path.startswith(STATE_QUERY_PREFIX):
                raise NotFound(f"unknown query path {path!r}: use /info or /state/<ns>/<key>")
            namespace, _, key = path.removeprefix(STATE_QUERY_PREFIX).partition("/")
            value = store.state_get(namespace, key)
            if value is None:
                raise NotFound(f"no state at {namespace}/{key}")
            return latest, value

    # --- mempool connection ---------------------------------------------------------

    def check_tx(self, request: Any) -> Any:
        """Shape, signature, then the stateful check against committed state."""
        try:
            tx = _verified(self.verified.check(request.tx))
            self.app.check_tx(tx)
        except LedgerError as exc:
            code = abci_code(exc.code)
            return self.types.ResponseCheckTx(
                code=code, log=exc.message, codespace=codespace_for(code)
            )
        return self.types.ResponseCheckTx(code=OK_CODE)

    # --- consensus connection ---------------------------------------------------------

    def init_chain(self, request: Any) -> Any:
        """Write the node folder's genesis (once); its state root is the first app hash."""
        check_init_chain(request, self.genesis)
        if self.app.initialized:
            root = self._stored_genesis_root()
        else:
            root = self.app.init_chain(self.genesis)
        return self.types.ResponseInitChain(app_hash=bytes.fromhex(root))

    def _stored_genesis_root(self) -> str:
        """InitChain again after a crash before CometBFT saved it: same genesis, same root."""
        if self.app.store.meta("genesis") != self.genesis.canonical():
            raise Conflict("the ledger database was created from a different genesis.json")
        return (self.app.store.meta("genesis_state_root") or b"").hex()

    def prepare_proposal(self, request: Any) -> Any:
        """The mempool's transactions as given, cut to what fits in `max_tx_bytes`."""
        return self.types.ResponsePrepareProposal(
            txs=fit_to_block(request.txs, request.max_tx_bytes)
        )

    def process_proposal(self, request: Any) -> Any:
        """Accept a proposal only if every transaction decodes and is signed."""
        decodes = all(isinstance(self.verified.check(raw), Transaction) for raw in request.txs)
        status = self.types.ResponseProcessProposal
        return status(status=status.ACCEPT if decodes else status.REJECT)

    def verify_vote_extension(self, _request: Any) -> Any:
        """We extend no votes, so every (empty) extension is acceptable."""
        status = self.types.ResponseVerifyVoteExtension
        return status(status=status.ACCEPT)

    def finalize_block(self, request: Any) -> Any:
        """Apply the decided block; its app hash is the new state root (stored at Commit)."""
        checked = [self.verified.check(raw) for raw in request.txs]
        self._decided = list(request.txs)
        # CometBFT restarted between our FinalizeBlock and Commit: it decides again.
        self.app.discard_pending()
        block = BlockInfo(
            height=request.height,
            time_ms=request.time.seconds * 1000 + request.time.nanos // 1_000_000,
            proposer=request.proposer_address.hex(),
        )
        txs = tuple(tx for tx in checked if isinstance(tx, Transaction))
        pending = self.app.finalize_block(block, txs)
        results = tuple(result for *_rest, result in pending.txs)
        self._finalized = (txs, results)
        applied = iter([exec_tx_result(self.types, result) for result in results])
        return self.types.ResponseFinalizeBlock(
            tx_results=[
                next(applied) if isinstance(tx, Transaction) else self._refused(tx)
                for tx in checked
            ],
            app_hash=bytes.fromhex(pending.header.state_root),
            validator_updates=validator_updates(self.types, results),
        )

    def _refused(self, error: LedgerError) -> Any:
        """A decided transaction that does not decode: failed, and kept out of our block."""
        code = abci_code(error.code)
        return self.types.ExecTxResult(code=code, log=error.message, codespace=CODESPACE)

    def commit(self, _request: Any) -> Any:
        """Make the finalized block durable before answering; keep every CometBFT block."""
        header = self.app.commit()
        txs, results = self._finalized
        self._finalized = ((), ())
        self.verified.forget(self._decided)
        if self.on_commit is not None:
            self.on_commit(CommittedBlock(header, txs, results))
        return self.types.ResponseCommit(retain_height=0)


def fit_to_block(txs: Sequence[bytes], max_tx_bytes: int) -> list[bytes]:
    """The longest prefix of `txs` whose encoding in a block stays within `max_tx_bytes`.

    CometBFT counts each transaction as it is encoded in the block's Data message:
    one tag byte, the length as a varint, then the bytes.
    """
    chosen: list[bytes] = []
    used = 0
    for tx in txs:
        used += 1 + len(encode_uvarint(len(tx))) + len(tx)
        if used > max_tx_bytes:
            break
        chosen.append(tx)
    return chosen


def _verified(checked: Checked) -> Transaction:
    if isinstance(checked, LedgerError):
        raise checked
    return checked
