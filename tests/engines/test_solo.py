"""The solo engine: blocks cut by size or interval, none when idle, time only moves on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import patient_register_payload, wait_for
from healthledger.client.sdk import Signer
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.engines.base import Accepted
from healthledger.errors import LedgerError
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.node import Node, submit_and_wait

CHAIN = "solo-test"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Node, Signer]]:
    home = init_home(tmp_path / "net", CHAIN, [("st-marys", "hospital", "St Mary's")])
    settings = NodeSettings(org="st-marys", block_interval_ms=100, max_block_txs=10)
    running = Node(home.root, settings)
    running.start(parallel_check=False)
    yield running, Signer(load_keypair(home.key_path("st-marys")), CHAIN)
    running.stop()


def registrations(count: int) -> list[bytes]:
    raws = []
    for _ in range(count):
        keys = KeyPair.generate()
        tx = Signer(keys, CHAIN).sign("patient.register", patient_register_payload(keys, CHAIN))
        raws.append(tx.raw)
    return raws


def test_blocks_are_cut_at_max_block_txs(node: tuple[Node, Signer]) -> None:
    engine_node, _signer = node
    outcomes = engine_node.engine.submit(registrations(25))
    assert all(isinstance(o, Accepted) for o in outcomes)
    wait_for(
        lambda: engine_node.store.last_height() >= 3 and engine_node.engine.mempool_size() == 0
    )
    sizes = [
        engine_node.store.header(h).tx_count for h in range(1, engine_node.store.last_height() + 1)
    ]
    assert sum(sizes) == 25
    assert max(sizes) <= 10


def test_idle_intervals_make_no_blocks(node: tuple[Node, Signer]) -> None:
    engine_node, signer = node
    time.sleep(0.5)
    assert engine_node.store.last_height() == 0
    tx = signer.sign("member.revoke", {"member_id": "nobody"})
    submit_and_wait(engine_node, [tx])
    height = engine_node.store.last_height()
    time.sleep(0.5)
    assert engine_node.store.last_height() == height == 1


def test_block_time_never_runs_backwards(node: tuple[Node, Signer]) -> None:
    engine_node, _signer = node
    for raw in registrations(3):
        engine_node.engine.submit([raw])
        time.sleep(0.15)
    wait_for(
        lambda: engine_node.engine.mempool_size() == 0 and engine_node.store.last_height() >= 2
    )
    wait_for(lambda: engine_node.app.tip_height == engine_node.store.last_height())
    times = [
        engine_node.store.header(h).time_ms for h in range(1, engine_node.store.last_height() + 1)
    ]
    assert times == sorted(times)


def test_the_same_transaction_or_nonce_twice_enters_once(node: tuple[Node, Signer]) -> None:
    engine_node, signer = node
    tx = signer.sign("member.revoke", {"member_id": "nobody"})
    twin = signer.sign("member.revoke", {"member_id": "other"}, nonce=tx.nonce)
    first, again, rival = engine_node.engine.submit([tx.raw, tx.raw, twin.raw])
    assert isinstance(first, Accepted) and isinstance(again, Accepted)
    assert isinstance(rival, LedgerError) and rival.code == "duplicate_nonce"
    wait_for(lambda: engine_node.engine.mempool_size() == 0)
    wait_for(lambda: engine_node.store.last_height() >= 1)
    assert engine_node.store.header(1).tx_count == 1


def test_submit_answers_with_a_future_of_the_commit(node: tuple[Node, Signer]) -> None:
    engine_node, signer = node
    tx = signer.sign("member.revoke", {"member_id": "nobody"})
    first, again = engine_node.engine.submit([tx.raw, tx.raw])
    assert isinstance(first, Accepted) and isinstance(again, Accepted)
    assert again.committed is first.committed  # the same bytes wait on the same commit
    # A waiter giving up (asyncio.wait_for cancels what it waits on) cannot break the future.
    assert first.committed.cancel() is False
    height, result = first.committed.result(timeout=10)
    stored = engine_node.store.tx(tx.id)
    assert (height, result) == (stored.height, stored.result)
    assert result.code == "not_found"


def test_a_commit_is_never_missed_however_early_it_lands(node: tuple[Node, Signer]) -> None:
    """The future exists before the block can commit: no window between submit and wait."""
    engine_node, _signer = node
    outcomes = engine_node.engine.submit(registrations(30))
    accepted = [o for o in outcomes if isinstance(o, Accepted)]
    assert len(accepted) == 30
    wait_for(lambda: engine_node.engine.mempool_size() == 0)
    time.sleep(0.2)  # every block has committed before anyone looks at a future
    for outcome in accepted:
        stored = engine_node.store.tx(outcome.tx_id)
        assert outcome.committed.result(timeout=10) == (stored.height, stored.result)
