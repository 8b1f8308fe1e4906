"""Trust anchors against real nodes: a node that lies consistently with itself is caught.

Two real node processes share a history, then diverge: B is a copy of A's data folder
that committed other transactions. Every proof B serves checks out against B's own
headers; only the header pinned from A shows that B is not the ledger the client saw.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import free_port, serve_network, start_node, stop_node, wait_until_up
from healthledger.client.anchor import NotAnchored, Pin, PinnedAnchor
from healthledger.client.sdk import Client, Signer, require_committed, verify_state_view
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.node.home import Home, NodeSettings

CHAIN = "anchor-test"
CLI = [sys.executable, "-m", "healthledger"]


@dataclass
class Pair:
    """An honest node A and a node B forked from A's data folder."""

    root: Path
    honest: str
    liar: str
    member_key: Path


def _enrol(url: str, key: Path, member_id: str) -> str:
    """Enrol a nurse through node `url`; the committed transaction's id."""
    keys = KeyPair.generate()
    payload = {
        "member_id": member_id,
        "name": member_id,
        "role": "nurse",
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    with Client(url) as client:
        signer = client.signer(load_keypair(key))
        return require_committed(client.submit(signer.sign("member.enroll", payload), True)).id


def _fork(source: Path, target: Path) -> None:
    """Copy a stopped node's folder and make it serve on its own port."""
    shutil.copytree(source, target)
    home = Home(target)
    home.write_settings(NodeSettings(org="st-marys", port=free_port(), block_interval_ms=50))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    base = tmp_path_factory.mktemp("anchor")
    url_a, process_a = serve_network(base / "a", CHAIN, [("st-marys", "hospital", "St Mary's")])
    key = base / "a" / "keys" / "st-marys.json"
    _enrol(url_a, key, "shared")
    stop_node(process_a)
    _fork(base / "a", base / "b")
    process_a = start_node(base / "a")
    process_b = start_node(base / "b")
    url_b = f"http://127.0.0.1:{Home(base / 'b').settings().port}"
    try:
        wait_until_up(url_a, process_a)
        wait_until_up(url_b, process_b)
        # From here on the two ledgers differ: each commits its own transaction.
        _enrol(url_a, key, "only-on-a")
        _enrol(url_b, key, "only-on-b")
        yield Pair(base, url_a, url_b, key)
    finally:
        stop_node(process_a)
        stop_node(process_b)


def test_the_liar_is_consistent_with_itself(pair: Pair) -> None:
    """Without an anchor nothing is wrong with B's answer: its proof matches its header."""
    with Client(pair.liar, keys=load_keypair(pair.member_key)) as client:
        view = client.state("gov", "member/st-marys/only-on-b", proof=True)
        verify_state_view(view)
        assert view.value is not None


def test_a_pinned_header_catches_a_node_with_another_history(pair: Pair, tmp_path: Path) -> None:
    pin_file = tmp_path / "trust.json"
    keys = load_keypair(pair.member_key)
    with Client(pair.honest, keys=keys, anchor=PinnedAnchor.from_file(pin_file)) as honest:
        honest.verified_state("gov", "member/st-marys/only-on-a")
    pinned = Pin.model_validate_json(pin_file.read_bytes())
    with Client(pair.honest, keys=keys, anchor=PinnedAnchor.from_file(pin_file)) as again:
        view = again.state("gov", "member/st-marys/only-on-a", proof=True)
        used = again.prove_state(view, "gov", "member/st-marys/only-on-a")
    assert used.startswith(f"pinned header {pinned.height} (sha256 {pinned.hash[:16]}")
    assert "consistency proof" in used
    with Client(pair.liar, keys=keys, anchor=PinnedAnchor.from_file(pin_file)) as liar:
        with pytest.raises(NotAnchored):
            liar.verified_state("gov", "member/st-marys/only-on-b")
        tx_id = liar.sender_txs(keys.key_id, limit=1)[0].id
        with pytest.raises(NotAnchored):
            liar.verified_tx(tx_id)
    # The liar's answers never moved the pin.
    assert Pin.model_validate_json(pin_file.read_bytes()) == pinned


def test_a_given_header_hash_catches_the_liar_and_admits_the_honest_node(pair: Pair) -> None:
    keys = load_keypair(pair.member_key)
    with Client(pair.honest) as public:
        latest = public.header().header
    given = (latest.height, latest.hash())
    with Client(pair.honest, keys=keys, anchor=PinnedAnchor.given(*given)) as honest:
        assert honest.verified_state("gov", "member/st-marys/only-on-a") is not None
    liar = Client(pair.liar, keys=keys, anchor=PinnedAnchor.given(*given))
    with liar, pytest.raises(NotAnchored):
        liar.verified_state("gov", "member/st-marys/shared")


def test_the_pin_moves_forward_with_the_honest_ledger(pair: Pair, tmp_path: Path) -> None:
    pin_file = tmp_path / "trust.json"
    keys = load_keypair(pair.member_key)
    with Client(pair.honest, keys=keys, anchor=PinnedAnchor.from_file(pin_file)) as client:
        client.verified_state("gov", "member/st-marys/shared")
        first = Pin.model_validate_json(pin_file.read_bytes())
        tx_id = _enrol(pair.honest, pair.member_key, "later")
        client.verified_tx(tx_id)
    moved = Pin.model_validate_json(pin_file.read_bytes())
    assert moved.height > first.height
    assert moved.header.log_size > first.header.log_size


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def test_cli_proof_flags_name_their_anchor_and_refuse_the_liar(pair: Pair, tmp_path: Path) -> None:
    pin_file = tmp_path / "pin.json"
    read = ["state", "get", "gov", "member/st-marys/shared", "--key", str(pair.member_key)]
    first = _cli(*read, "--proof", "--trust", str(pin_file), "--url", pair.honest, "--json")
    assert first.returncode == 0, first.stderr
    assert "pinned on first use" in json.loads(first.stdout)["anchor"]
    honest = _cli(*read, "--proof", "--trust", str(pin_file), "--url", pair.honest, "--json")
    answer = json.loads(honest.stdout)
    assert answer["verified"] is True and "consistency proof" in answer["anchor"]
    liar = _cli(*read, "--proof", "--trust", str(pin_file), "--url", pair.liar, "--json")
    assert liar.returncode == 1
    assert json.loads(liar.stdout)["error"]["code"] == "invalid_proof"
    # Without --trust the output says the node's word is all there is.
    bare = _cli(*read, "--proof", "--url", pair.liar, "--json")
    assert "first use" in json.loads(bare.stdout)["anchor"]


def test_a_signer_of_the_fork_shares_the_pinned_chain_id(pair: Pair) -> None:
    """The fork is the same chain by name: only the anchor tells the two apart."""
    with Client(pair.honest) as a, Client(pair.liar) as b:
        assert a.info().chain_id == b.info().chain_id == CHAIN
        assert a.header().hash != b.header().hash
    assert Signer(load_keypair(pair.member_key), CHAIN).chain_id == CHAIN
