"""The state machine: check, finalize and commit blocks, answer queries.

Its method set follows ABCI 2.0 (Info, InitChain, CheckTx, FinalizeBlock,
Commit, Query) so that the solo engine and the CometBFT adapter drive the same
object. `finalize_block` is deterministic: the same genesis and the same
ordered transactions give the same state root on every node, byte for byte.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from pydantic import BaseModel

from healthledger.app import nonces
from healthledger.app.genesis import Genesis, check_rules_version
from healthledger.app.permissions import admits_new_keys, check_permission
from healthledger.app.registry import (
    BASE_NAMESPACES,
    CAPABILITIES,
    DOMAINS,
    Registered,
    parse_payload,
    spec_for,
)
from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.hashing import sha256
from healthledger.domains.governance import handlers as gov_handlers
from healthledger.domains.governance import state as gov_state
from healthledger.domains.governance.queries import resolve_actor
from healthledger.domains.kit import Domain
from healthledger.errors import (
    ApplyFailed,
    Conflict,
    ErrorCode,
    InvalidState,
    LedgerError,
    Unavailable,
    WrongChain,
)
from healthledger.ledger.block import OK, Header, TxResult, genesis_hash, tx_leaf
from healthledger.ledger.context import Actor, BlockInfo, ReadFn, StateReader, TxContext
from healthledger.ledger.log import LogNode, frontier_from_bytes, frontier_to_bytes
from healthledger.ledger.merkle import CompactRange, merkle_root
from healthledger.ledger.store import BlockWrite, StateKey, Store, StoreFault
from healthledger.ledger.transaction import Transaction
from healthledger.ledger.trie import StateTrie

log = logging.getLogger(__name__)

# Faults of this node, not of a transaction (its disk, its memory): they stop the node,
# which restarts from its last durable block, rather than become a result or a skipped
# sweep that other nodes would not share.
NODE_FAULTS = (StoreFault, MemoryError, OSError)

GENESIS_ACTOR = Actor(key_id="", kind="genesis", id="genesis", org=None, role="genesis")
# Who acts in an end-of-block sweep: the ledger itself, by the block's time.
BLOCK_ACTOR = Actor(key_id="", kind="block", id="block", org=None, role="block")


def state_key_hash(ns: str, key: str) -> bytes:
    """Where a state key sits in the trie: SHA-256(ns || 0x00 || key)."""
    return sha256(ns.encode() + b"\x00" + key.encode())


@dataclass(frozen=True)
class AppInfo:
    """What ABCI Info reports: the last committed block and the state root after it."""

    chain_id: str
    height: int
    state_root: str
    last_block_hash: str


@dataclass
class BlockStats:
    """Where block time goes, for benchmarks and metrics (never inside consensus data)."""

    blocks: int = 0
    finalize_s: float = 0.0
    state_root_s: float = 0.0
    commit_s: float = 0.0


@dataclass
class PendingBlock:
    """A finalized block waiting for `commit`."""

    header: Header
    txs: list[tuple[str, str, bytes, TxResult]]
    state: dict[StateKey, bytes | None]
    trie_nodes: dict[bytes, bytes | None]
    log_nodes: list[LogNode]
    frontier: CompactRange


class _TrieReader:
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, path: bytes) -> bytes | None:
        return self._store.trie_node(path)


class Application:
    """The deterministic state machine behind both engines."""

    def __init__(self, store: Store) -> None:
        raw_genesis = store.meta("genesis")
        if raw_genesis is not None:  # a folder of other rules is refused before it is read
            check_rules_version(raw_genesis, f"the chain in {store.path}")
        self.store = store
        self.trie = StateTrie(_TrieReader(store))
        self._pending: PendingBlock | None = None
        self._lock = threading.RLock()
        self.stats = BlockStats()
        self._chain_id: str | None = None
        raw_frontier = store.meta("log_frontier")
        # The tip is the last finalized block handed to commit: durable, or being written.
        self._frontier = frontier_from_bytes(raw_frontier) if raw_frontier else CompactRange()
        self._tip_height = store.last_height()
        self._tip_hash = "" if self._tip_height == 0 else store.header(self._tip_height).hash()
        self._inflight: PendingBlock | None = None
        self._inflight_future: Future[Header] | None = None
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commit")

    # --- ABCI: Info / InitChain ---------------------------------------------------

    @property
    def initialized(self) -> bool:
        return self.store.meta("genesis") is not None

    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            raw = self.store.meta("chain_id")
            if raw is None:
                raise Unavailable("the node has no genesis yet")
            self._chain_id = raw.decode()
        return self._chain_id

    def info(self) -> AppInfo:
        """The last durably committed block (what ABCI Info reports after a restart)."""
        height = self.store.last_height()
        if height == 0:
            root = (self.store.meta("genesis_state_root") or b"").hex()
            return AppInfo(self.chain_id, 0, root, self._genesis_hash())
        header = self.store.header(height)
        return AppInfo(self.chain_id, height, header.state_root, header.hash())

    def _genesis_hash(self) -> str:
        return genesis_hash(self.store.meta("genesis") or b"")

    @property
    def tip_height(self) -> int:
        """Height of the last finalized block handed to commit (may still be writing)."""
        return self._tip_height

    def init_chain(self, genesis: Genesis) -> str:
        """Write the founding state; return the genesis state root (hex)."""
        with self._lock:
            if self.initialized:
                raise Conflict("this node already has a genesis")
            writes = apply_genesis(genesis)
            trie_nodes = self.trie.update(
                {state_key_hash(ns, key): _value_hash(v) for (ns, key), v in writes.items()}
            )
            self.store.commit_genesis(
                writes,
                trie_nodes,
                {
                    "genesis": genesis.canonical(),
                    "chain_id": genesis.chain_id.encode(),
                    "genesis_state_root": self.trie.root(),
                },
            )
            return self.trie.root().hex()

    # --- ABCI: CheckTx ---------------------------------------------------------------

    def check_tx(self, tx: Transaction) -> Actor:
        """The stateful half of `check`, against committed state (signature already checked).

        Like `apply`, it refuses with a stable code whatever happens: the mempool must not
        crash on a payload no rule foresaw.
        """
        try:
            return self._check_tx(tx)
        except LedgerError:
            raise
        except Exception as exc:
            log.exception("check of transaction %s (%s) failed unexpectedly", tx.id, tx.type)
            raise ApplyFailed(f"{tx.type} failed unexpectedly ({type(exc).__name__})") from exc

    def _check_tx(self, tx: Transaction) -> Actor:
        self._check_chain(tx)
        read = self.store.state_get
        nonces.check_nonce(nonces.load_nonce(read, tx.sender), tx.nonce)
        _spec, actor, _payload = _authorise(read, tx)
        return actor

    # --- ABCI: FinalizeBlock / Commit ----------------------------------------------------

    def finalize_block(self, block: BlockInfo, txs: Sequence[Transaction]) -> PendingBlock:
        """Apply verified transactions in order and build the block header (not yet stored)."""
        with self._lock:
            if self._pending is not None:
                raise InvalidState("the previous block is not committed")
            if block.height != self._tip_height + 1:
                raise Conflict(f"block {block.height} does not follow height {self._tip_height}")
            started = time.perf_counter()
            overlay: dict[StateKey, bytes | None] = {}
            read = self._block_reader(overlay)
            results = [self._deliver(tx, block, overlay, read) for tx in txs]
            for domain in DOMAINS:
                if domain.end_block is not None:
                    self._sweep(domain, block, overlay, read)
            root_started = time.perf_counter()
            trie_nodes = self.trie.update(
                {state_key_hash(ns, key): _value_hash(v) for (ns, key), v in overlay.items()}
            )
            self.stats.state_root_s += time.perf_counter() - root_started
            frontier = self._frontier.copy()
            leaves = [tx_leaf(tx.raw) for tx in txs]
            log_nodes = [node for leaf in leaves for node in frontier.append(leaf)]
            header = Header(
                chain_id=self.chain_id,
                height=block.height,
                time_ms=block.time_ms,
                prev_hash=self._tip_hash or self._genesis_hash(),
                proposer=block.proposer,
                tx_count=len(txs),
                tx_root=merkle_root(leaves).hex(),
                result_root=merkle_root(
                    [result.leaf(tx.id) for tx, result in zip(txs, results, strict=True)]
                ).hex(),
                state_root=self.trie.root().hex(),
                log_size=frontier.size,
                log_root=frontier.root().hex(),
            )
            self._pending = PendingBlock(
                header=header,
                txs=[
                    (tx.id, tx.sender, tx.raw, result)
                    for tx, result in zip(txs, results, strict=True)
                ],
                state=overlay,
                trie_nodes=trie_nodes,
                log_nodes=log_nodes,
                frontier=frontier,
            )
            self.stats.finalize_s += time.perf_counter() - started
            return self._pending

    def discard_pending(self) -> None:
        """Forget a finalized block that was never committed (its engine decides again)."""
        with self._lock:
            if self._pending is None:
                return
            self._pending = None
            # The trie cached the discarded block's nodes; start again from durable state.
            if self._inflight_future is not None:
                self._inflight_future.result()
            self.trie = StateTrie(_TrieReader(self.store))

    def commit(self) -> Header:
        """Persist the finalized block atomically and return its header."""
        return self.begin_commit().result()

    def begin_commit(self) -> Future[Header]:
        """Start writing the finalized block; the next block may be finalized meanwhile.

        Reads made while the write is in flight see its state through `_inflight`, so
        finalizing block N+1 never waits for block N's fsync; a commit acknowledged to
        a client is always one whose future has completed.
        """
        with self._lock:
            pending = self._pending
            if pending is None:
                raise InvalidState("nothing to commit")
            if self._inflight_future is not None:
                self._inflight_future.result()  # blocks are written in order, one at a time
            self._pending = None
            self._inflight = pending
            self._frontier = pending.frontier
            self._tip_height = pending.header.height
            self._tip_hash = pending.header.hash()
            self._inflight_future = self._committer.submit(self._write, pending)
            return self._inflight_future

    def _write(self, pending: PendingBlock) -> Header:
        started = time.perf_counter()
        self.store.commit_block(
            BlockWrite(
                header=pending.header,
                txs=pending.txs,
                state=pending.state,
                trie_nodes=pending.trie_nodes,
                log_nodes=pending.log_nodes,
                meta={"log_frontier": frontier_to_bytes(pending.frontier)},
            )
        )
        if self._inflight is pending:
            self._inflight = None
        self.stats.blocks += 1
        self.stats.commit_s += time.perf_counter() - started
        return pending.header

    def close(self) -> None:
        """Finish any write in flight."""
        self._committer.shutdown(wait=True)

    # --- delivery of one transaction --------------------------------------------------

    def _block_reader(self, overlay: dict[StateKey, bytes | None]) -> ReadFn:
        """Reads for one block: its own writes, then the block in flight, then the store."""
        inflight = self._inflight
        cache: dict[StateKey, bytes | None] = {}

        def read(ns: str, key: str) -> bytes | None:
            state_key = (ns, key)
            if state_key in overlay:
                return overlay[state_key]
            if inflight is not None and state_key in inflight.state:
                return inflight.state[state_key]
            if state_key not in cache:
                cache[state_key] = self.store.state_get(ns, key)
            return cache[state_key]

        return read

    def _deliver(
        self,
        tx: Transaction,
        block: BlockInfo,
        overlay: dict[StateKey, bytes | None],
        read: ReadFn,
    ) -> TxResult:
        """Apply one transaction; on any refusal record why and change nothing but its nonce.

        Every included transaction for this chain consumes its (sender, nonce), failed or
        not, so the public bytes of a failed transaction can never be replayed later when
        they would succeed. Only a wrong chain or a nonce already used changes nothing.
        """
        try:
            self._check_chain(tx)
            nonce_record = nonces.load_nonce(read, tx.sender)
            nonces.check_nonce(nonce_record, tx.nonce)
        except LedgerError as exc:
            return TxResult(code=str(exc.code), message=exc.message)
        result = self._apply(tx, block, overlay, read)
        overlay[(nonces.NAMESPACE, tx.sender)] = canonical_bytes(
            nonces.record_nonce(nonce_record, tx.nonce).model_dump(mode="json")
        )
        return result

    def _apply(
        self,
        tx: Transaction,
        block: BlockInfo,
        overlay: dict[StateKey, bytes | None],
        read: ReadFn,
    ) -> TxResult:
        """Run the domain handler; whatever it raises becomes a failed result (principle 6)."""
        try:
            spec, actor, payload = _authorise(read, tx)
            ctx = TxContext(
                read, spec.namespace, actor, block, tx.id, tx.chain, CAPABILITIES, BASE_NAMESPACES
            )
            spec.tx.handler(ctx, payload)
        except LedgerError as exc:
            return TxResult(code=str(exc.code), message=exc.message)
        except NODE_FAULTS:
            raise  # this node's own fault: stop, rather than record what others would not
        except Exception as exc:  # a handler bug must fail this transaction, not stop the node
            log.exception("transaction %s (%s) failed unexpectedly", tx.id, tx.type)
            return TxResult(
                code=str(ErrorCode.APPLY_FAILED),
                message=f"{tx.type} failed unexpectedly ({type(exc).__name__})",
            )
        overlay.update(ctx.writes)
        return TxResult(code=OK, message="", events=tuple(ctx.events))

    def _sweep(
        self,
        domain: Domain,
        block: BlockInfo,
        overlay: dict[StateKey, bytes | None],
        read: ReadFn,
    ) -> None:
        """Run a domain's end-of-block work on its budget; a failure changes nothing.

        Like a transaction it sees the block's writes and commits atomically; unlike
        one it has no result leaf, so what it did is written in the domain's state.
        A sweep that raises is logged and skipped, the same way on every node, and
        tries again next block: the node goes on (principle 6).
        """
        assert domain.end_block is not None
        ctx = TxContext(
            read,
            domain.namespace,
            BLOCK_ACTOR,
            block,
            f"block/{block.height}",
            self.chain_id,
            CAPABILITIES,
            BASE_NAMESPACES,
        )
        try:
            domain.end_block(ctx, domain.end_block_budget)
        except NODE_FAULTS:
            raise
        except Exception:
            log.exception("end-of-block work of %s failed at %d", domain.name, block.height)
            return
        overlay.update(ctx.writes)

    def _check_chain(self, tx: Transaction) -> None:
        if tx.chain != self.chain_id:
            raise WrongChain(f"transaction is for chain {tx.chain}, this is {self.chain_id}")


def _authorise(read: ReadFn, tx: Transaction) -> tuple[Registered, Actor, BaseModel]:
    """The checks CheckTx and apply share: a known type, a sender allowed to send it, a
    payload of its model (CheckTx against committed state, apply at the tx's position)."""
    spec = spec_for(tx.type)
    actor = resolve_actor(StateReader(read), tx.sender, admits_new_keys(tx.type))
    check_permission(tx.type, actor)
    return spec, actor, parse_payload(spec.tx, tx.payload)


def apply_genesis(genesis: Genesis) -> dict[StateKey, bytes | None]:
    """The founding state: quorum config and every founding organisation."""
    writes: dict[StateKey, bytes | None] = {}

    def read(ns: str, key: str) -> bytes | None:
        return writes.get((ns, key))

    ctx = TxContext(
        read,
        gov_state.NAMESPACE,
        GENESIS_ACTOR,
        BlockInfo(0, genesis.genesis_time_ms, ""),
        "genesis",
    )
    quorum = (genesis.admission_quorum.numerator, genesis.admission_quorum.denominator)
    gov_handlers.found(ctx, quorum, genesis.limits, list(genesis.organisations))
    writes.update(ctx.writes)
    return writes


def _value_hash(value: bytes | None) -> bytes | None:
    return None if value is None else sha256(value)
