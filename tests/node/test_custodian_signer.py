"""OrgSigner on a real node: one organisation key, many concurrent callers, refusals in between."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from healthledger.crypto.canonical import parse_json
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.domains.governance.messages import MemberEnroll
from healthledger.domains.records.messages import RecordShred
from healthledger.errors import ErrorCode, LedgerError
from healthledger.node.custodian import Committed, OrgSigner, OrgTx
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.node import Node

CHAIN = "custodian-signer"
THREADS = 6
PER_THREAD = 5


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    home = init_home(tmp_path / "net", CHAIN, [("hospital", "hospital", "H")])
    home.write_settings(NodeSettings(org="hospital", block_interval_ms=20))
    running = Node(tmp_path / "net")
    running.start(parallel_check=False)
    yield running
    running.stop()


def _enrol(member_id: str) -> OrgTx:
    person = KeyPair.generate()
    payload = MemberEnroll(
        member_id=member_id,
        name=member_id,
        role="practitioner",
        signing_key=person.key_id,
        encryption_key=person.encryption_public.hex(),
    )
    return OrgTx("hospital", "member.enroll", payload)


def _signer(node: Node) -> tuple[OrgSigner, KeyPair]:
    keys = load_keypair(node.home.key_path("hospital"))
    return OrgSigner(node, lambda org: keys), keys


def _chain_nonces(node: Node, sender: str) -> list[int]:
    """The sender's nonces in the order the chain holds its transactions."""
    nonces = []
    for height in range(1, node.store.last_height() + 1):
        for stored in node.store.block_txs(height):
            tx = parse_json(stored.raw)
            if tx["sender"] == sender:
                nonces.append(int(tx["nonce"]))
    return nonces


def test_concurrent_callers_get_distinct_nonces_in_the_order_the_chain_holds(node: Node) -> None:
    signer, keys = _signer(node)
    outcomes: list[Committed | LedgerError] = []
    lock = threading.Lock()

    def caller(index: int) -> None:
        items = [_enrol(f"t{index}-m{i}") for i in range(PER_THREAD)]
        done = signer.commit(items, timeout=30)
        with lock:
            outcomes.extend(done)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    committed = [o for o in outcomes if isinstance(o, Committed)]
    assert len(committed) == THREADS * PER_THREAD, outcomes
    assert all(c.result.ok for c in committed), [c.result for c in committed if not c.result.ok]
    nonces = sorted(c.tx.nonce for c in committed)
    assert nonces == list(range(1, THREADS * PER_THREAD + 1))
    on_chain = _chain_nonces(node, keys.key_id)
    assert on_chain == sorted(on_chain) and len(on_chain) == THREADS * PER_THREAD


def test_a_refused_transaction_does_not_wedge_the_next_ones(node: Node) -> None:
    signer, _keys = _signer(node)
    (first,) = signer.commit([_enrol("ada")])
    assert isinstance(first, Committed) and first.result.ok
    # refused when submitted (no such type), then refused by apply (ada exists), then fine
    unknown = OrgTx("hospital", "no.such.type", _enrol("bob").payload)
    at_check, at_apply, after = signer.commit([unknown, _enrol("ada"), _enrol("cy")])
    assert isinstance(at_check, LedgerError) and at_check.code == ErrorCode.UNKNOWN_TX_TYPE
    assert isinstance(at_apply, Committed)
    assert at_apply.result.code == ErrorCode.ALREADY_EXISTS
    assert isinstance(after, Committed) and after.result.ok, after
    assert after.tx.nonce > at_apply.tx.nonce > first.tx.nonce
    (later,) = signer.commit([_enrol("dee")])
    assert isinstance(later, Committed) and later.result.ok


def test_the_next_nonce_passes_one_the_key_used_elsewhere(node: Node) -> None:
    """An operator who signed with the key directly does not make the signer reuse a nonce."""
    signer, keys = _signer(node)
    other, _keys = _signer(node)  # a second signer: another process holding the same key file
    (used,) = other.commit([_enrol("ada"), _enrol("bob")])[1:]
    assert isinstance(used, Committed) and used.result.ok
    (mine,) = signer.commit([_enrol("cy")])
    assert isinstance(mine, Committed) and mine.result.ok
    assert mine.tx.nonce == used.tx.nonce + 1
    assert _chain_nonces(node, keys.key_id) == [1, 2, 3]


def test_the_payload_signed_is_exactly_the_fields_set() -> None:
    """No defaults the caller left out: the bytes a hand-built payload dict would give."""
    record_id = "rec-" + "0" * 24
    shred = OrgTx("hospital", "record.shred", RecordShred(record_id=record_id))
    assert shred.payload_json() == {"record_id": record_id}
    explicit = RecordShred(record_id=record_id, reason="other", appointment_id=None)
    assert OrgTx("hospital", "record.shred", explicit).payload_json() == {
        "record_id": record_id,
        "reason": "other",
        "appointment_id": None,
    }
