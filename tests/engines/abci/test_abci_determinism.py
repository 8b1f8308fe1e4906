"""Determinism across instances and engines: the same blocks give the same state, byte for byte.

Every node of a CometBFT network runs its own Application over its own SQLite file, and
CometBFT halts the chain the moment two validators report different app hashes for one
height. So the app hash (our state root) and every transaction's result must depend on
nothing but the genesis and the ordered blocks: not on the engine that cut them (solo or
CometBFT), not on the database file, not on a restart in between.

Header hashes are compared only where the proposer is the same. The proposer is part of
our header (not of the state): the solo engine writes its organisation's name, the ABCI
adapter the hex of CometBFT's `proposer_address`. Each header also chains the previous
header's hash, so one different proposer makes every later header hash differ while the
state roots, transaction roots and result roots stay equal.
"""

from __future__ import annotations

import base64
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cometbft_tools import install_cometbft
from conftest import CHAIN, make_genesis, patient_register_payload, seeded_keys
from healthledger.app.application import Application
from healthledger.client.sdk import Signer
from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.keys import KeyPair, derive_patient_id
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.engines.abci.adapter import AbciAdapter
from healthledger.engines.abci.protos import abci_types
from healthledger.engines.abci.results import ABCI_CODES, OK_CODE, exec_tx_result
from healthledger.engines.solo import EngineConfig, SoloEngine
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.store import Store

PROPOSER = bytes.fromhex("ab" * 20)
START_MS = 1_800_000_000_000
BLOCKS = 24
RESTART_AT = 10
GTIN = "0950600013435" + str(gtin_check_digit("0950600013435"))
FAR_MS = 4_000_000_000_000
HOSPITAL, INSURER = "st-marys", "acme-insurance"
MAKER, PHARMACY = "medico-pharma", "corner-pharmacy"
ORGS = (HOSPITAL, INSURER, MAKER, PHARMACY)


@pytest.fixture(scope="module")
def types() -> Any:
    install_cometbft()
    return abci_types()


# --- one node behind the ABCI adapter --------------------------------------------------------


@dataclass
class AbciNode:
    """A Store, an Application and an AbciAdapter over one SQLite file, as a validator runs."""

    store: Store
    app: Application
    adapter: AbciAdapter
    closed: bool = False

    @classmethod
    def open(cls, path: Path, types: Any) -> AbciNode:
        store = Store(path)
        app = Application(store)
        return cls(store, app, AbciAdapter(app, make_genesis(), types))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.app.close()
            self.store.close()

    def ask(self, method: str, request: Any) -> Any:
        return self.adapter.handle(method, request)

    def init_chain(self) -> bytes:
        request = self.adapter.types.RequestInitChain(chain_id=CHAIN, initial_height=1)
        return bytes(self.ask("init_chain", request).app_hash)

    def finalize(self, height: int, time_ms: int, txs: Sequence[bytes]) -> Any:
        request = self.adapter.types.RequestFinalizeBlock(
            txs=list(txs), height=height, proposer_address=PROPOSER
        )
        seconds, millis = divmod(time_ms, 1000)
        request.time.seconds, request.time.nanos = seconds, millis * 1_000_000
        return self.ask("finalize_block", request)

    def block(self, height: int, time_ms: int, txs: Sequence[bytes]) -> Any:
        """FinalizeBlock then Commit, as CometBFT drives a decided block."""
        response = self.finalize(height, time_ms, txs)
        assert self.ask("commit", self.adapter.types.RequestCommit()).retain_height == 0
        return response

    def info(self) -> tuple[int, bytes]:
        info = self.ask("info", self.adapter.types.RequestInfo())
        return int(info.last_block_height), bytes(info.last_block_app_hash)


@pytest.fixture
def open_node(tmp_path: Path, types: Any) -> Iterator[Callable[[str], AbciNode]]:
    """Opens nodes on files under tmp_path; closes whatever is still open at the end."""
    opened: list[AbciNode] = []

    def open_(name: str) -> AbciNode:
        node = AbciNode.open(tmp_path / f"{name}.sqlite", types)
        opened.append(node)
        return node

    yield open_
    for node in opened:
        node.close()


def block_time(height: int) -> int:
    return START_MS + height * 1_000 + height % 7  # milliseconds that are not whole seconds


def encoded(response: Any) -> bytes:
    return bytes(response.SerializeToString(deterministic=True))


def outcome(result: Any) -> tuple[int, str, str, list[tuple[str, list[tuple[str, str, bool]]]]]:
    """An ExecTxResult with each event's attributes in key order.

    FinalizeBlock lists attributes in the order the handler emitted them; a result read
    back from the store lists them in key order (it is stored canonically). CometBFT
    hashes only code, data and gas of a result, and our result root hashes the canonical
    form, so the order is not consensus data; everything else must match exactly.
    """
    events = [
        (event.type, sorted((a.key, a.value, a.index) for a in event.attributes))
        for event in result.events
    ]
    return result.code, result.log, result.codespace, events


# --- a mixed workload: governance, patients, records, supply, and refusals -------------------


@dataclass
class Workload:
    """Blocks of signed transactions drawn from one seed, built as clients would send them.

    Besides transactions that succeed, every kind of refusal a validator meets: a reused
    nonce, a forged signature, bytes that are no transaction, another chain, a sender
    without the permission, a handler that finds nothing, and empty blocks.
    """

    seed: int
    rng: random.Random = field(init=False)
    orgs: dict[str, Signer] = field(init=False)
    patients: list[tuple[Signer, str]] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    stock: list[str] = field(default_factory=list)
    shipped: list[str] = field(default_factory=list)
    shelf: list[str] = field(default_factory=list)
    counter: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.orgs = {org: Signer(seeded_keys(org), CHAIN) for org in ORGS}

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def _keys(self) -> KeyPair:
        return KeyPair.from_seed(self.rng.randbytes(32))

    # Transactions that normally succeed.

    def enroll(self) -> bytes:
        org = self.rng.choice(ORGS)
        keys = self._keys()
        payload = {
            "member_id": f"m-{self._next()}",
            "name": "Member",
            "role": self.rng.choice(["nurse", "practitioner", "pharmacist"]),
            "signing_key": keys.key_id,
            "encryption_key": keys.encryption_public.hex(),
        }
        return self.orgs[org].sign("member.enroll", payload).raw

    def register(self) -> bytes:
        keys = self._keys()
        signer = Signer(keys, CHAIN)
        self.patients.append((signer, derive_patient_id(keys.key_id)))
        return signer.sign("patient.register", patient_register_payload(keys, CHAIN)).raw

    def _wrapped(self) -> str:
        return base64.b64encode(self.rng.randbytes(80)).decode()  # a sealed 32-byte key's size

    def record(self) -> bytes:
        if not self.patients:
            return self.register()
        _signer, patient = self.rng.choice(self.patients)
        record_id = f"rec-{self._next():024x}"
        self.records.append(record_id)
        payload = {
            "record_id": record_id,
            "patient": patient,
            "resource_type": "Observation",
            "code": "http://loinc.org|8867-4",
            "date": "2026-03-02",
            "media_type": "application/fhir+json",
            "content_hash": self.rng.randbytes(32).hex(),
            "blob_id": self.rng.randbytes(32).hex(),
            "size": self.rng.randint(100, 5000),
            "wrapped_keys": {"patient": self._wrapped(), "custodian": self._wrapped()},
        }
        return self.orgs[HOSPITAL].sign("record.add", payload).raw

    def consent(self) -> bytes:
        if not self.patients:
            return self.register()
        signer, patient = self.rng.choice(self.patients)
        payload = {
            "consent_id": f"cns-{self._next():024x}",
            "patient": patient,
            "grantee": {"kind": "org", "org": INSURER},
            "purposes": ["payment"],
            "expires_ms": FAR_MS,
        }
        return signer.sign("consent.grant", payload).raw

    def commission(self) -> bytes:
        lot = f"L{self._next()}"
        serials = [f"{lot}S{n}" for n in range(self.rng.randint(1, 4))]
        self.stock += serials
        payload = {"gtin": GTIN, "lot": lot, "expiry": "2030-06-30", "serials": serials}
        return self.orgs[MAKER].sign("supply.commission", payload).raw

    def ship(self) -> bytes:
        if not self.stock:
            return self.commission()
        serial = self.stock.pop(0)
        self.shipped.append(serial)
        payload = {"items": [f"{GTIN}:{serial}"], "to": PHARMACY}
        return self.orgs[MAKER].sign("supply.ship", payload).raw

    def receive(self) -> bytes:
        if not self.shipped:
            return self.ship()
        serial = self.shipped.pop(0)
        self.shelf.append(serial)
        return self.orgs[PHARMACY].sign("supply.receive", {"items": [f"{GTIN}:{serial}"]}).raw

    def dispense(self) -> bytes:
        if not self.shelf:
            return self.receive()
        serial = self.shelf.pop(0)
        return self.orgs[PHARMACY].sign("supply.dispense", {"gtin": GTIN, "serial": serial}).raw

    # Transactions that every validator must refuse the same way.

    def reused_nonce(self) -> tuple[bytes, bytes]:
        """An enrolment, and a revocation under the same nonce (duplicate_nonce)."""
        signer = self.orgs[HOSPITAL]
        keys = self._keys()
        enrol = {
            "member_id": f"m-{self._next()}",
            "name": "Member",
            "role": "nurse",
            "signing_key": keys.key_id,
            "encryption_key": keys.encryption_public.hex(),
        }
        original = signer.sign("member.enroll", enrol)
        reused = signer.sign("member.revoke", {"member_id": "anyone"}, nonce=original.nonce)
        return original.raw, reused.raw

    def forged(self) -> bytes:
        """A well-formed transaction whose signature does not match (bad_signature)."""
        tx = self.orgs[self.rng.choice(ORGS)].sign("member.revoke", {"member_id": "nobody"})
        body = tx.to_dict()
        signature = bytearray(tx.signature)
        signature[0] ^= 0x01
        body["signature"] = signature.hex()
        return canonical_bytes(body)

    def garbage(self) -> bytes:
        return self.rng.choice([b"", b"\xff\x00junk", b"{}", b'{"chain": 1}', b"[1, 2]"])

    def wrong_chain(self) -> bytes:
        return Signer(self._keys(), "another-chain").sign("patient.register", {}).raw

    def unauthorized(self) -> bytes:
        payload = {"gtin": GTIN, "lot": "X1", "expiry": "2030-06-30", "serials": ["X"]}
        return self.orgs[INSURER].sign("supply.commission", payload).raw

    def missing(self) -> bytes:
        org = self.orgs[self.rng.choice(ORGS)]
        return org.sign("member.revoke", {"member_id": f"ghost-{self._next()}"}).raw

    def block(self, height: int) -> list[bytes]:
        if height % 6 == 0:
            return []  # CometBFT commits empty blocks; so must every validator
        makers: list[Callable[[], bytes]] = [
            self.enroll,
            self.register,
            self.register,
            self.record,
            self.consent,
            self.commission,
            self.ship,
            self.receive,
            self.dispense,
            self.forged,
            self.garbage,
            self.wrong_chain,
            self.unauthorized,
            self.missing,
        ]
        txs: list[bytes] = []
        if height % 5 == 1:
            txs += self.reused_nonce()  # the original first, then its nonce again
        txs += [self.rng.choice(makers)() for _ in range(self.rng.randint(1, 7))]
        if height % 4 == 2 and txs:
            txs.append(txs[0])  # the same bytes decided twice: the second never applies
        return txs

    def blocks(self, count: int) -> list[list[bytes]]:
        return [self.block(height) for height in range(1, count + 1)]


# --- 1. two independent instances ------------------------------------------------------------


def test_two_instances_agree_on_every_response_and_root_at_every_height(
    open_node: Callable[[str], AbciNode], types: Any
) -> None:
    blocks = Workload(seed=20).blocks(BLOCKS)
    a, b = open_node("a"), open_node("b")
    assert a.init_chain() == b.init_chain()
    codes_seen: set[int] = set()
    for height, txs in enumerate(blocks, start=1):
        answer_a = a.block(height, block_time(height), txs)
        answer_b = b.block(height, block_time(height), txs)
        # The whole FinalizeBlock response (results, logs, events, app hash) byte for byte.
        assert encoded(answer_a) == encoded(answer_b), f"height {height}"
        assert len(answer_a.tx_results) == len(txs)
        for node, answer in ((a, answer_a), (b, answer_b)):
            assert node.store.header(height).state_root == answer.app_hash.hex()
            assert node.info() == (height, bytes(answer.app_hash))
        codes_seen |= {result.code for result in answer_a.tx_results}

    assert a.store.last_height() == b.store.last_height() == BLOCKS
    # Same proposer on both: here even the header chains are identical.
    assert a.store.raw_header(BLOCKS) == b.store.raw_header(BLOCKS)
    for table in ("state", "trie", "log_nodes"):
        assert list(a.store.table_rows(table)) == list(b.store.table_rows(table)), table
    assert any(not txs for txs in blocks)
    refusals = {
        ErrorCode.DUPLICATE_NONCE,
        ErrorCode.BAD_SIGNATURE,
        ErrorCode.MALFORMED,
        ErrorCode.WRONG_CHAIN,
        ErrorCode.UNAUTHORIZED,
        ErrorCode.NOT_FOUND,
    }
    assert {OK_CODE} | {ABCI_CODES[code] for code in refusals} <= codes_seen


# --- 2. the solo engine and the ABCI adapter on the same transactions -------------------------


def run_solo(path: Path, blocks: Sequence[Sequence[bytes]]) -> int:
    """Feed each block's transactions to a running solo engine; return the height reached."""
    store = Store(path)
    app = Application(store)
    app.init_chain(make_genesis())
    engine = SoloEngine(app, EngineConfig(block_interval_ms=5, max_block_txs=4, proposer=HOSPITAL))
    engine.start()
    try:
        for txs in blocks:
            admitted = [o.tx_id for o in engine.submit(txs) if not isinstance(o, LedgerError)]
            deadline = time.monotonic() + 10
            while any(engine.is_pending(tx_id) for tx_id in admitted):
                assert time.monotonic() < deadline, "the solo engine did not commit in time"
                assert engine.failure is None
                time.sleep(0.002)
    finally:
        engine.stop()
    assert engine.failure is None
    height = store.last_height()
    store.close()
    return height


def test_solo_blocks_replayed_through_abci_reach_the_same_roots_and_results(
    tmp_path: Path, open_node: Callable[[str], AbciNode], types: Any
) -> None:
    solo_path = tmp_path / "solo.sqlite"
    height = run_solo(solo_path, Workload(seed=21).blocks(BLOCKS))
    assert height >= 15
    solo = Store(solo_path, readonly=True)
    replica = open_node("replica")
    try:
        assert replica.init_chain() == solo.meta("genesis_state_root")
        failures = 0
        for h in range(1, height + 1):
            header = solo.header(h)
            stored = solo.block_txs(h)
            # CometBFT would decide exactly these bytes at this height and time.
            answer = replica.block(h, header.time_ms, [tx.raw for tx in stored])
            assert answer.app_hash.hex() == header.state_root, f"height {h}"
            assert [outcome(result) for result in answer.tx_results] == [
                outcome(exec_tx_result(types, tx.result)) for tx in stored
            ]
            assert [t.result for t in replica.store.block_txs(h)] == [t.result for t in stored]
            mine = replica.store.header(h)
            assert mine.proposer == PROPOSER.hex() and header.proposer == HOSPITAL
            # Everything the block commits to but the proposer (and so the chained hash).
            for name in ("time_ms", "tx_count", "tx_root", "result_root", "log_size", "log_root"):
                assert getattr(mine, name) == getattr(header, name), (h, name)
            assert [t.raw for t in replica.store.block_txs(h)] == [t.raw for t in stored]
            failures += sum(1 for tx in stored if not tx.result.ok)
        assert failures > 0  # refusals that pass CheckTx but fail in the block are replayed too
        assert list(replica.store.table_rows("state")) == list(solo.table_rows("state"))
    finally:
        solo.close()


# --- 3. a validator that restarts, even between FinalizeBlock and Commit ---------------------


def test_a_restarted_instance_resumes_at_its_last_commit_and_stays_in_step(
    open_node: Callable[[str], AbciNode], types: Any
) -> None:
    blocks = Workload(seed=22).blocks(BLOCKS)
    a, b = open_node("a"), open_node("b")
    assert a.init_chain() == b.init_chain()
    roots: dict[int, bytes] = {}
    for height, txs in enumerate(blocks, start=1):
        roots[height] = bytes(a.block(height, block_time(height), txs).app_hash)
    for height, txs in enumerate(blocks[:RESTART_AT], start=1):
        assert bytes(b.block(height, block_time(height), txs).app_hash) == roots[height]
    # Crash after FinalizeBlock of the next height, before Commit: that block is not durable.
    next_height = RESTART_AT + 1
    crashed = b.finalize(next_height, block_time(next_height), blocks[RESTART_AT])
    assert bytes(crashed.app_hash) == roots[next_height]
    b.close()

    b = open_node("b")  # a new Store, Application and AbciAdapter over the same file
    assert b.info() == (RESTART_AT, roots[RESTART_AT])
    for height, txs in enumerate(blocks[RESTART_AT:], start=next_height):
        answer = b.block(height, block_time(height), txs)
        assert bytes(answer.app_hash) == roots[height], f"height {height}"
        assert b.store.header(height).state_root == roots[height].hex()
    assert b.info() == a.info() == (BLOCKS, roots[BLOCKS])
    assert b.store.raw_header(BLOCKS) == a.store.raw_header(BLOCKS)


# --- 4. any order of independent transactions, the same on every instance --------------------


@dataclass(frozen=True)
class OrderScenario:
    """A first block that sets the scene, a block of independent transactions, a follow-up."""

    setup: list[bytes]
    independent: list[bytes]
    follow_up: list[bytes]


def order_scenario() -> OrderScenario:
    orgs = {org: Signer(seeded_keys(org), CHAIN) for org in ORGS}
    rng = random.Random(4)

    def keys() -> KeyPair:
        return KeyPair.from_seed(rng.randbytes(32))

    def enrol(org: str, member: str) -> bytes:
        member_keys = keys()
        payload = {
            "member_id": member,
            "name": member,
            "role": "nurse",
            "signing_key": member_keys.key_id,
            "encryption_key": member_keys.encryption_public.hex(),
        }
        return orgs[org].sign("member.enroll", payload).raw

    patient_keys = keys()
    patient = Signer(patient_keys, CHAIN)
    patient_id = derive_patient_id(patient_keys.key_id)
    wrapped = base64.b64encode(rng.randbytes(80)).decode()
    commission = {"gtin": GTIN, "lot": "L1", "expiry": "2030-06-30", "serials": ["A", "B", "C"]}
    setup = [
        patient.sign("patient.register", patient_register_payload(patient_keys, CHAIN)),
        orgs[MAKER].sign("supply.commission", commission),
    ]
    registrations = [
        Signer(k, CHAIN).sign("patient.register", patient_register_payload(k, CHAIN))
        for k in (keys(), keys(), keys())
    ]
    record = {
        "record_id": "rec-" + "1" * 24,
        "patient": patient_id,
        "resource_type": "Observation",
        "media_type": "application/fhir+json",
        "content_hash": "a" * 64,
        "blob_id": "b" * 64,
        "size": 120,
        "wrapped_keys": {"patient": wrapped, "custodian": wrapped},
    }
    consent = {
        "consent_id": "cns-" + "2" * 24,
        "patient": patient_id,
        "grantee": {"kind": "org", "org": INSURER},
        "purposes": ["payment"],
        "expires_ms": FAR_MS,
    }
    forged = orgs[PHARMACY].sign("member.revoke", {"member_id": "nobody"}).to_dict()
    forged["signature"] = "00" * 64
    independent = [
        enrol(HOSPITAL, "nurse-h"),
        orgs[HOSPITAL].sign("record.add", record).raw,  # same sender, nonces within the window
        enrol(INSURER, "nurse-i"),
        enrol(PHARMACY, "nurse-p"),
        orgs[MAKER].sign("supply.ship", {"items": [f"{GTIN}:A"], "to": PHARMACY}).raw,
        orgs[MAKER].sign("supply.ship", {"items": [f"{GTIN}:B"], "to": PHARMACY}).raw,
        patient.sign("consent.grant", consent).raw,
        *(tx.raw for tx in registrations),
        orgs[INSURER].sign("supply.commission", {**commission, "lot": "X"}).raw,  # unauthorized
        orgs[PHARMACY].sign("member.revoke", {"member_id": "ghost"}).raw,  # not_found
        canonical_bytes(forged),  # bad_signature
    ]
    follow_up = [
        orgs[PHARMACY].sign("supply.receive", {"items": [f"{GTIN}:A", f"{GTIN}:B"]}).raw,
        orgs[HOSPITAL].sign("member.revoke", {"member_id": "nurse-h"}).raw,
    ]
    return OrderScenario([tx.raw for tx in setup], independent, follow_up)


SCENARIO = order_scenario()


def run_order(folder: Path, name: str, independent: Sequence[bytes], types: Any) -> list[Any]:
    """The scenario's three blocks on a fresh instance; the FinalizeBlock responses."""
    node = AbciNode.open(folder / f"{name}.sqlite", types)
    try:
        node.init_chain()
        return [
            node.block(1, block_time(1), SCENARIO.setup),
            node.block(2, block_time(2), independent),
            node.block(3, block_time(3), SCENARIO.follow_up),
        ]
    finally:
        node.close()


def results_by_tx(txs: Sequence[bytes], response: Any) -> dict[bytes, bytes]:
    return {raw: encoded(result) for raw, result in zip(txs, response.tx_results, strict=True)}


@pytest.fixture(scope="module")
def in_given_order(tmp_path_factory: pytest.TempPathFactory, types: Any) -> list[Any]:
    return run_order(tmp_path_factory.mktemp("order"), "given", SCENARIO.independent, types)


@settings(max_examples=10, deadline=None)
@given(order=st.permutations(SCENARIO.independent))
def test_shuffled_independent_transactions_agree_across_instances(
    order: list[bytes], in_given_order: list[Any], types: Any
) -> None:
    with tempfile.TemporaryDirectory(prefix="hl-order-") as folder:
        a = run_order(Path(folder), "a", order, types)
        b = run_order(Path(folder), "b", order, types)
    # Both instances, fed the same shuffled block, answer identically at every height.
    assert [encoded(answer) for answer in a] == [encoded(answer) for answer in b]
    # The transactions touch disjoint state, so the order changes neither any
    # transaction's outcome nor the state root (only the block's tx and result roots).
    given_order = in_given_order[1]
    assert results_by_tx(order, a[1]) == results_by_tx(SCENARIO.independent, given_order)
    assert [answer.app_hash for answer in a] == [answer.app_hash for answer in in_given_order]
    assert encoded(a[2]) == encoded(in_given_order[2])
    codes = {result.code for result in given_order.tx_results}
    assert {
        OK_CODE,
        ABCI_CODES[ErrorCode.UNAUTHORIZED],
        ABCI_CODES[ErrorCode.NOT_FOUND],
        ABCI_CODES[ErrorCode.BAD_SIGNATURE],
    } <= codes
    assert all(result.code == OK_CODE for result in in_given_order[2].tx_results)
