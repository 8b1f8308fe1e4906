"""A 4-validator CometBFT network on this machine: ordering, agreement and faults.

Every test drives real processes through the commands a user runs: `healthledger
net up` starts 4 `cometbft` and 4 `healthledger node` processes under a supervisor,
`net stop --kill` SIGKILLs a node's pair, `net start` lets it come back. The tests
run in file order on one network; before each test a fixture starts any node a failed
test left stopped and waits until all agree, so one failure does not fail the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from cometbft_tools import enrol
from healthledger.app.views import TxView
from healthledger.client.consensus import ChainVerifier, ValidatorAnchor, trusted_genesis
from healthledger.client.lightclient import Check, HeaderUnverified, Validator, ValidatorSet
from healthledger.client.sdk import ApiError, Client, Signer
from healthledger.crypto.keys import KeyPair
from healthledger.engines.abci.results import CODESPACE
from healthledger.errors import NotFound
from livenet import LiveNet, commit, healthledger, level, live_network, poll

pytestmark = pytest.mark.network
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def shared_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNet]:
    with live_network(tmp_path_factory.mktemp("net")) as live:
        yield live


@pytest.fixture
def net(shared_net: LiveNet) -> LiveNet:
    return level(shared_net)


FOUNDERS = ["st-marys", "acme-insurance", "pharmaco", "citypharm"]


def test_a_transaction_sent_to_any_node_commits_in_the_same_block_everywhere(
    net: LiveNet,
) -> None:
    committed = {}
    for org in FOUNDERS:
        tx = enrol(net.signer(org), f"nurse-{org}")
        committed[tx.id] = commit(net, org, tx)
    for tx_id, height in committed.items():
        for org in FOUNDERS:
            with net.client(org) as client:
                assert poll(lambda c=client, t=tx_id: _stored_height(c, t), "the tx") == height
    assert poll(lambda: net.all_agree_at_top(FOUNDERS), "agreement") >= max(committed.values())
    # Our state root after block H is the app hash every validator signed in header H+1.
    height = max(committed.values())
    with net.client("pharmaco") as client:
        state_root = client.block(height).header.state_root
    for org in FOUNDERS:
        header = poll(lambda o=org: net.rpc(o, "block", height=height + 1), "block H+1")
        assert header["block"]["header"]["app_hash"].lower() == state_root


def _stored_height(client: Client, tx_id: str) -> int | None:
    try:
        view = client.tx(tx_id)
    except ApiError:
        return None
    return view.height if isinstance(view, TxView) else None


def test_malformed_and_invalid_transactions_are_refused_in_checktx(net: LiveNet) -> None:
    forged = enrol(net.signer("st-marys"), "forged").to_dict()
    forged["signature"] = "00" * 64
    other_chain = enrol(Signer(KeyPair.generate(), "another-chain"), "elsewhere")
    refusals = {
        b"\x00not json": 2,  # malformed
        json.dumps(forged).encode(): 9,  # bad_signature
        other_chain.raw: 7,  # wrong_chain
    }
    for raw, code in refusals.items():
        result = net.rpc("citypharm", "broadcast_tx_sync", tx="0x" + raw.hex())
        assert result is not None, "CometBFT's RPC did not answer"
        assert (result["code"], result["codespace"]) == (code, CODESPACE), result
    response = httpx.post(f"{net.node('citypharm').api_url}/v1/txs", json=forged, timeout=30)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    # A later block commits, and none of the refused transactions is in any block.
    commit(net, "citypharm", enrol(net.signer("citypharm"), "after-refusals"))
    for raw in refusals:
        found = net.rpc("citypharm", "tx", hash="0x" + hashlib.sha256(raw).hexdigest())
        assert found is None


def trusted(net: LiveNet) -> tuple[str, ValidatorSet]:
    """What a client trusts: the validators of CometBFT's genesis, not any node's answers."""
    return trusted_genesis(net.root / "nodes" / "st-marys" / "cometbft" / "config" / "genesis.json")


def test_state_and_transactions_verify_against_headers_the_validators_signed(
    net: LiveNet,
) -> None:
    tx = enrol(net.signer("acme-insurance"), "nurse-verified")
    commit(net, "acme-insurance", tx)
    chain_id, validators = trusted(net)
    for org in FOUNDERS:
        with net.client(org) as client, ChainVerifier(client, chain_id, validators) as verifier:
            view, signed = poll(lambda v=verifier: _verified_tx(v, tx.id), "a signed header")
            assert view.result.ok and signed.signed_power * 3 > 2 * 40
            value, _ = poll(lambda v=verifier: _verified_member(v), "the app hash")
            assert value["member_id"] == "nurse-verified"
    # Trusting some other validator set, the same answers do not verify.
    stranger = ValidatorSet((Validator(b"\x01" * 20, KeyPair.generate().public_key, 10),))
    with (
        net.client("citypharm") as client,
        ChainVerifier(client, chain_id, stranger) as verifier,
        pytest.raises(HeaderUnverified),
    ):
        verifier.tx(tx.id)


def test_the_sdk_and_cli_check_proofs_against_the_validator_set(net: LiveNet) -> None:
    tx = enrol(net.signer("pharmaco"), "nurse-anchored")
    commit(net, "pharmaco", tx)
    chain_id, validators = trusted(net)
    genesis = net.root / "nodes" / "st-marys" / "cometbft" / "config" / "genesis.json"
    url = net.node("citypharm").api_url
    keys = net.root / "keys" / "citypharm.json"
    anchor = ValidatorAnchor(url, chain_id, validators)
    with Client(url, timeout=60, keys=keys, anchor=anchor) as client:
        view = poll(lambda: _anchored_tx(client, tx.id), "a signed header")
        assert view.id == tx.id
        used = poll(lambda: _anchored_state(client, "member/pharmaco/nurse-anchored"), "app hash")
        assert used.startswith(f"validator set of {chain_id}")
    report = healthledger(
        "state", "get", "gov", "member/pharmaco/nurse-anchored", "--key", str(keys),
        "--proof", "--trust", str(genesis), "--url", url,
    )  # fmt: skip
    assert report["verified"] is True and "validator set" in report["anchor"]
    stranger = ValidatorSet((Validator(b"\x01" * 20, KeyPair.generate().public_key, 10),))
    with (
        Client(url, keys=keys, anchor=ValidatorAnchor(url, chain_id, stranger)) as client,
        pytest.raises(HeaderUnverified),
    ):
        client.verified_tx(tx.id)


def _anchored_tx(client: Client, tx_id: str) -> TxView | None:
    try:
        return client.verified_tx(tx_id)
    except (ApiError, NotFound):
        return None


def _anchored_state(client: Client, key: str) -> str | None:
    view = client.state("gov", key, proof=True)
    try:
        return client.prove_state(view, "gov", key)
    except HeaderUnverified as exc:
        if exc.check == Check.APP_HASH:
            return None  # the block that carries this app hash is not made yet
        raise


def _verified_tx(verifier: ChainVerifier, tx_id: str) -> tuple[TxView, Any] | None:
    try:
        return verifier.tx(tx_id)
    except (ApiError, NotFound):
        return None


def _verified_member(verifier: ChainVerifier) -> tuple[Any, Any] | None:
    try:
        return verifier.state("gov", "member/acme-insurance/nurse-verified")
    except HeaderUnverified as exc:
        if exc.check == Check.APP_HASH:
            return None  # the block that carries this app hash is not made yet
        raise


def test_a_killed_validator_misses_nothing_and_catches_up(net: LiveNet) -> None:
    healthledger("net", "stop", "--node", "citypharm", "--kill", "--dir", str(net.root))
    poll(lambda: net.height("citypharm") is None or None, "citypharm to be down")
    heights = [
        commit(net, "st-marys", enrol(net.signer("st-marys"), f"while-down-{i}")) for i in range(3)
    ]
    assert heights == sorted(heights)  # three of four validators keep committing
    healthledger("net", "start", "--node", "citypharm", "--dir", str(net.root))
    top = poll(lambda: net.all_agree_at_top(FOUNDERS), "citypharm to catch up")
    assert top >= heights[-1]
    with net.client("citypharm") as client:
        for i in range(3):
            assert client.state("gov", f"member/st-marys/while-down-{i}").value is not None


def test_an_application_killed_mid_stream_restarts_without_loss_or_double_apply(
    net: LiveNet,
) -> None:
    signer = net.signer("pharmaco")
    txs = [enrol(signer, f"stream-{i}") for i in range(40)]
    with net.client("st-marys") as client:
        client.submit_batch(txs[:20])
        app_pid = json.loads((net.network.run_dir("pharmaco") / "status.json").read_text())[
            "app_pid"
        ]
        os.kill(app_pid, signal.SIGKILL)  # the supervisor restarts the pair
        client.submit_batch(txs[20:])
        reports = [poll(lambda t=tx: _stored_height(client, t.id), tx.id) for tx in txs]
    assert all(height >= 1 for height in reports)
    top = poll(lambda: net.all_agree_at_top(FOUNDERS), "pharmaco to recover")
    with net.client("pharmaco") as restarted, net.client("st-marys") as reference:
        assert restarted.block(top).header == reference.block(top).header
        assert restarted.info().state_root == reference.info().state_root
    status = {row["org"]: row for row in net.status()["nodes"]}
    assert status["pharmaco"]["restarts"] >= 1 and status["pharmaco"]["state"] == "running"


def test_two_validators_down_halt_commits_until_one_returns(net: LiveNet) -> None:
    acknowledged = enrol(net.signer("st-marys"), "before-halt")
    commit(net, "st-marys", acknowledged)
    for org in ("pharmaco", "citypharm"):
        healthledger("net", "stop", "--node", org, "--kill", "--dir", str(net.root))
    poll(
        lambda: (net.height("pharmaco") is None and net.height("citypharm") is None) or None,
        "two down",
    )
    stalled = enrol(net.signer("st-marys"), "during-halt")
    with net.client("st-marys") as client:
        report = client.submit(stalled, wait=True, timeout_ms=3_000)
        assert report.status == "pending"  # 20 of 40 voting power cannot commit
        halted_at = net.height("st-marys")
        time.sleep(2)
        assert net.height("st-marys") == halted_at == net.height("acme-insurance")
        healthledger("net", "start", "--node", "pharmaco", "--dir", str(net.root))
        assert poll(lambda: _stored_height(client, stalled.id), "the stalled tx") > (halted_at or 0)
        assert _stored_height(client, acknowledged.id) is not None
    healthledger("net", "start", "--node", "citypharm", "--dir", str(net.root))
    poll(lambda: net.all_agree_at_top(FOUNDERS), "all four again")


def test_a_new_organisation_joins_syncs_and_becomes_a_validator(net: LiveNet) -> None:
    joined = healthledger("net", "join", "--org", "northlab:laboratory", "--dir", str(net.root))
    assert joined["validator"] is False
    everyone = [*FOUNDERS, "northlab"]
    poll(lambda: net.all_agree_at_top(everyone), "northlab to sync by replay")
    admitted = healthledger("net", "admit", "--org", "northlab", "--dir", str(net.root))
    assert admitted["validator"] is True
    # CometBFT applies a validator update two blocks after the block that made it.
    commit(net, "st-marys", enrol(net.signer("st-marys"), "after-admission"))
    validators = poll(lambda: _validator_count(net, 5), "a fifth validator")
    assert validators == 5
    # The new validator now signs: its node commits a transaction of its own organisation.
    commit(net, "northlab", enrol(net.signer("northlab"), "first-hire"))
    poll(lambda: net.all_agree_at_top(everyone), "five in agreement")
    assert net.status()["nodes"][-1]["voting_power"] == 10


def _validator_count(net: LiveNet, wanted: int) -> int | None:
    commit(net, "st-marys", enrol(net.signer("st-marys"), f"tick-{time.monotonic_ns()}"))
    result = net.rpc("st-marys", "validators")
    count = int(result["total"]) if result else 0
    return count if count >= wanted else None


def test_a_node_computing_a_different_state_root_is_halted_and_the_rest_go_on(
    net: LiveNet,
) -> None:
    healthledger("net", "stop", "--node", "northlab", "--dir", str(net.root))
    node = net.node("northlab")
    byzantine = [sys.executable, str(HERE / "byzantine_app.py"), "node", "run", "--data"]
    net.network.with_node(
        replace(node, app_command=[*byzantine, str(net.network.node_dir("northlab"))])
    ).save()
    healthledger("net", "start", "--node", "northlab", "--dir", str(net.root))
    honest = FOUNDERS
    signer = net.signer("st-marys")
    heights = [commit(net, "st-marys", enrol(signer, f"byz-{i}")) for i in range(3)]
    status = poll(lambda: _halted(net, "northlab"), "northlab to be halted")
    assert "app hash mismatch" in status["halt_reason"]
    # 40 of 50 voting power remain honest: commits go on, and they agree.
    after = commit(net, "acme-insurance", enrol(net.signer("acme-insurance"), "after-byz"))
    assert after > heights[-1]
    assert poll(lambda: net.all_agree_at_top(list(honest)), "the honest four") >= after


def _halted(net: LiveNet, org: str) -> dict[str, Any] | None:
    rows = {row["org"]: row for row in net.status()["nodes"]}
    return rows[org] if rows[org]["state"] == "halted" else None
