"""The REST API of a real node process on 127.0.0.1: submit, read, prove, refuse bad input."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import register_patient, serve_network, stop_node, wait_for
from healthledger.api.responses import MAX_BODY_BYTES
from healthledger.client.records import Records
from healthledger.client.sdk import (
    ApiError,
    Client,
    Signer,
    registration_payload,
    require_committed,
    verify_state_view,
    verify_tx_view,
)
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair
from healthledger.crypto.signed_request import sign_request
from healthledger.errors import InvalidProof
from healthledger.ledger import proofs
from healthledger.ledger.transaction import sign_transaction
from raw_http import open_request, read_answer, send_until_answered

CHAIN = "api-test"


class RunningNode:
    def __init__(self, root: Path, url: str, process: subprocess.Popen[bytes]) -> None:
        self.root = root
        self.url = url
        self.process = process
        # A member organisation's client: it signs the raw ledger reads.
        self.client = Client(url, keys=load_keypair(root / "keys" / "st-marys.json"))

    def signer(self, org: str) -> Signer:
        return self.client.signer(load_keypair(self.root / "keys" / f"{org}.json"))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    root = tmp_path_factory.mktemp("api") / "net"
    url, process = serve_network(
        root, CHAIN, [("st-marys", "hospital", "St Mary's"), ("acme", "insurer", "Acme")]
    )
    running = RunningNode(root, url, process)
    yield running
    running.client.close()
    stop_node(process)


def enrol_payload(keys: KeyPair, member_id: str) -> dict[str, str]:
    return {
        "member_id": member_id,
        "name": member_id.title(),
        "role": "nurse",
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }


def test_submit_wait_and_read_back_with_verified_proofs(node: RunningNode) -> None:
    hospital = node.signer("st-marys")
    tx = hospital.sign("member.enroll", enrol_payload(KeyPair.generate(), "nurse-1"))
    report = node.client.submit(tx, wait=True)
    assert report.status == "committed"
    assert report.result is not None and report.result.code == "ok"
    view = node.client.tx(tx.id, proof=True)
    verify_tx_view(view)
    state = node.client.state("gov", "member/st-marys/nurse-1", proof=True)
    verify_state_view(state)
    assert state.value["role"] == "nurse"
    absent = node.client.state("gov", "member/st-marys/nobody", proof=True)
    assert absent.value is None
    verify_state_view(absent)


def test_the_wire_json_of_the_views_is_unchanged(node: RunningNode) -> None:
    """Models on both sides, the same JSON between them: optional fields absent unless asked."""
    headers = node.client.read_headers(node.client.keys, "/v1/state/gov/org/acme?proof=false")
    plain = httpx.get(f"{node.url}/v1/state/gov/org/acme?proof=false", headers=headers).json()
    assert set(plain) == {"namespace", "key", "height", "value"}
    target = "/v1/state/gov/org/nobody?proof=true"
    absent = httpx.get(
        node.url + target, headers=node.client.read_headers(node.client.keys, target)
    )
    assert absent.json()["value"] is None and absent.json()["raw_value"] is None
    assert set(absent.json()) == {
        "namespace",
        "key",
        "height",
        "value",
        "proof",
        "raw_value",
        "header",
    }
    info = httpx.get(f"{node.url}/v1/info").json()
    # node_key joined with the directory (issue 13): the key its organisation publishes.
    assert set(info) == {
        "chain_id",
        "org",
        "height",
        "state_root",
        "last_block_hash",
        "mempool",
        "node_key",
    }
    schemas = httpx.get(f"{node.url}/openapi.json").json()["components"]["schemas"]
    assert {"TxView", "StateView", "HeaderView", "BlockView", "ConsistencyView"} <= set(schemas)


def test_a_lying_node_is_caught_by_the_proof(node: RunningNode) -> None:
    state = node.client.state("gov", "org/acme", proof=True)
    assert state.raw_value is not None
    forged = state.model_copy(
        update={
            "raw_value": state.raw_value.replace("Acme", "Evil"),
            "value": {**state.value, "name": state.value["name"].replace("Acme", "Evil")},
        }
    )
    with pytest.raises(InvalidProof):
        verify_state_view(forged)


def test_consistency_proof_between_two_ledger_sizes(node: RunningNode) -> None:
    hospital = node.signer("st-marys")
    first = hospital.sign("member.enroll", enrol_payload(KeyPair.generate(), "n-a"))
    require_committed(node.client.submit(first, wait=True))
    old = node.client.header().header
    second = hospital.sign("member.enroll", enrol_payload(KeyPair.generate(), "n-b"))
    require_committed(node.client.submit(second, wait=True))
    new = node.client.header().header
    assert new.log_size > old.log_size  # both submissions committed: the log grew
    Client(node.url).verified_consistency(old)  # headers and consistency proofs are public
    proof = node.client.consistency(old.log_size, new.log_size)
    proofs.verify_consistency(
        old.log_size,
        new.log_size,
        bytes.fromhex(old.log_root),
        bytes.fromhex(new.log_root),
        [bytes.fromhex(h) for h in proof.path],
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "malformed"),
        (b"", 400, "malformed"),
        (b"[1, 2]", 400, "malformed"),
        (b'{"chain": 5}', 400, "malformed"),
        (b"\xff\xfe", 400, "malformed"),
    ],
)
def test_malformed_bodies_get_json_errors(
    node: RunningNode, body: bytes, status: int, code: str
) -> None:
    response = httpx.post(f"{node.url}/v1/txs", content=body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_each_bad_transaction_gets_its_code_and_changes_nothing(node: RunningNode) -> None:
    hospital = node.signer("st-marys")
    before = node.client.info()
    good = hospital.sign("member.enroll", enrol_payload(KeyPair.generate(), "nurse-x"))
    float_tx = {**good.to_dict(), "payload": {**good.payload, "fee": 1.5}}
    bad_sig = {**good.to_dict(), "nonce": good.nonce + 1000}
    stranger = sign_transaction(
        KeyPair.generate(), CHAIN, "org.approve", 1, {"proposal_id": "prop-" + "0" * 16}
    )
    wrong_chain = sign_transaction(
        load_keypair(node.root / "keys" / "acme.json"), "other", "org.approve", 1, {}
    )
    unknown_type = hospital.sign("ledger.explode", {})
    wrong_field = hospital.sign(
        "member.enroll", {**enrol_payload(KeyPair.generate(), "n"), "role": 5}
    )
    cases = [
        (float_tx, 400, "float_not_allowed"),
        (bad_sig, 401, "bad_signature"),
        (stranger.to_dict(), 403, "unknown_sender"),
        (wrong_chain.to_dict(), 400, "wrong_chain"),
        (unknown_type.to_dict(), 400, "unknown_tx_type"),
        (wrong_field.to_dict(), 400, "invalid_field"),
    ]
    for body, status, code in cases:
        response = httpx.post(f"{node.url}/v1/txs", json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body
    after = node.client.info()
    assert after.height == before.height
    assert after.state_root == before.state_root
    assert node.client.health().ok


def test_replayed_nonce_and_unauthorised_type(node: RunningNode) -> None:
    hospital = node.signer("st-marys")
    tx = hospital.sign("member.enroll", enrol_payload(KeyPair.generate(), "nurse-r"))
    require_committed(node.client.submit(tx, wait=True))
    replay = hospital.sign(
        "member.enroll", enrol_payload(KeyPair.generate(), "nurse-s"), nonce=tx.nonce
    )
    response = httpx.post(f"{node.url}/v1/txs", json=replay.to_dict())
    assert (response.status_code, response.json()["error"]["code"]) == (409, "duplicate_nonce")
    patient_keys = KeyPair.generate()
    patient = Signer(patient_keys, CHAIN)
    payload = registration_payload(
        patient_keys, CHAIN, load_keypair(node.root / "keys" / "st-marys.json")
    )
    require_committed(node.client.submit(patient.sign("patient.register", payload), wait=True))
    attempt = patient.sign("member.enroll", enrol_payload(KeyPair.generate(), "sneaky"))
    response = httpx.post(f"{node.url}/v1/txs", json=attempt.to_dict())
    assert (response.status_code, response.json()["error"]["code"]) == (403, "unauthorized")


def test_batch_reports_each_transaction(node: RunningNode) -> None:
    hospital = node.signer("st-marys")
    good = [
        hospital.sign("member.enroll", enrol_payload(KeyPair.generate(), f"b-{i}"))
        for i in range(3)
    ]
    bad = {**good[0].to_dict(), "signature": "00" * 64}
    response = httpx.post(
        f"{node.url}/v1/txs/batch?wait=true", json={"txs": [t.to_dict() for t in good] + [bad, 7]}
    )
    results = response.json()["results"]
    assert [r.get("status") for r in results[:3]] == ["committed"] * 3
    assert results[3]["error"]["code"] == "bad_signature"
    assert results[4]["error"]["code"] == "malformed"


def test_reads_and_errors_for_missing_things(node: RunningNode) -> None:
    with pytest.raises(ApiError) as missing_tx:
        node.client.tx("0" * 64)
    assert (missing_tx.value.status, missing_tx.value.remote_code) == (404, "not_found")
    with pytest.raises(ApiError) as missing_block:
        node.client.block(999999)
    assert missing_block.value.status == 404
    assert httpx.get(f"{node.url}/v1/headers/999999").status_code == 404
    assert httpx.get(f"{node.url}/v1/headers/abc").json()["error"]["code"] == "invalid_field"
    assert httpx.get(f"{node.url}/v1/nowhere").json()["error"]["code"] == "no_route"
    block = node.client.block(1)
    assert block.header.height == 1
    assert "openapi" in httpx.get(f"{node.url}/openapi.json").json()
    metrics = httpx.get(f"{node.url}/metrics").text
    assert "healthledger_height" in metrics


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["chain", "type", "sender", "nonce", "payload", "signature", "txs", "x"]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(st.binary(max_size=200), json_like.map(lambda v: json.dumps(v).encode())))
def test_no_body_ever_gives_a_500(node: RunningNode, body: bytes) -> None:
    for path in ("/v1/txs", "/v1/txs/batch"):
        response = httpx.post(f"{node.url}{path}", content=body)
        assert response.status_code < 500, response.text
        assert "error" in response.json() or response.status_code in (200, 202)


def test_verify_runs_against_a_live_node(node: RunningNode) -> None:
    from healthledger.app.verify import verify_store

    hospital = node.signer("st-marys")
    txs = [
        hospital.sign("member.enroll", enrol_payload(KeyPair.generate(), f"v-{i}"))
        for i in range(20)
    ]
    node.client.submit_batch(txs)  # keeps the node committing while we read
    report = verify_store(node.root / "data" / "ledger.sqlite")
    assert report.ok and report.height >= 1


def _still_committing(node: RunningNode, member_id: str) -> None:
    # Earlier tests may leave St Mary's transactions pending; its next nonce follows them.
    wait_for(lambda: node.client.info().mempool == 0)
    hospital = node.signer("st-marys")
    tx = hospital.sign("member.enroll", enrol_payload(KeyPair.generate(), member_id))
    require_committed(node.client.submit(tx, wait=True))
    assert node.client.health().ok


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(node: RunningNode) -> None:
    """Issue 10, attack 6: the node answers 413 once 32 MiB passed, not after the whole body."""
    before = node.client.info().height
    piece = b"x" * (1024 * 1024)
    sock = open_request(node.url, "POST", "/v1/txs", {}, chunked=True)
    with sock:
        # Up to twice the limit and never the final chunk: only an early answer ends this.
        sent = send_until_answered(sock, [piece] * 2 * 32, chunked=True)
        answer = read_answer(sock)
    assert (answer.status, answer.code) == (413, "too_large")
    assert MAX_BODY_BYTES < sent < 2 * MAX_BODY_BYTES
    _still_committing(node, "after-chunked")
    assert node.client.info().height > before


def test_a_body_announced_over_the_limit_is_refused_before_it_is_sent(node: RunningNode) -> None:
    headers = {"Content-Length": str(MAX_BODY_BYTES + 1)}
    with open_request(node.url, "POST", "/v1/txs/batch", headers) as sock:
        answer = read_answer(sock)
    assert (answer.status, answer.code) == (413, "too_large")
    _still_committing(node, "after-announced")


def test_a_signed_request_is_accepted_only_by_its_audience_organisation(
    node: RunningNode,
) -> None:
    """A request captured on its way to Acme's node cannot be replayed at St Mary's."""
    assert node.client.info().org == "st-marys"
    patient = register_patient(node.client, CHAIN)
    target = f"/v1/records?patient={derive_patient_id(patient.key_id)}"
    for_acme = sign_request(patient, CHAIN, "GET", target, audience="acme")
    refused = httpx.get(node.url + target, headers=for_acme)
    assert (refused.status_code, refused.json()["error"]["code"]) == (421, "wrong_audience")
    for_us = sign_request(patient, CHAIN, "GET", target, audience="st-marys")
    accepted = httpx.get(node.url + target, headers=for_us)
    assert accepted.status_code == 200 and accepted.json()["records"] == []
    assert Records(node.client, patient).locate(derive_patient_id(patient.key_id)).records == []
