"""Credential routes on a real node: verify with proofs, status lists in the spec's encoding."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from conftest import enroll_member, serve_network, stop_node
from healthledger.api import credentials as credentials_api
from healthledger.client.credentials import Credentials, CredentialSpec, Issued
from healthledger.client.sdk import Client, Signer, verify_state_view
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.crypto.signed_request import sign_request
from healthledger.crypto.status_list import (
    bit_at,
    bitstring_hash,
    decode_list,
    empty_list,
    encode_list,
    with_bit,
)
from healthledger.domains.credentials.documents import document_hash, status_slot_of
from healthledger.domains.credentials.presentation import presentation
from healthledger.node.home import Home

CHAIN = "credentials-api"
MEMBER = "st-marys/dr-ng"


@dataclass
class Net:
    url: str
    board: KeyPair
    hospital: KeyPair
    member: KeyPair
    active: Issued
    suspended: Issued
    revoked: Issued
    before_changes_ms: int


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    root = tmp_path_factory.mktemp("credentials-api") / "net"
    orgs = [("st-marys", "hospital", "St Mary's"), ("ma-board", "board", "MA Board")]
    url, process = serve_network(root, CHAIN, orgs)
    home = Home(root)
    board, hospital = (load_keypair(home.key_path(org)) for org in ("ma-board", "st-marys"))
    with Client(url) as client:
        member = enroll_member(client, Signer(hospital, CHAIN), "dr-ng", "practitioner")
        issuer = Credentials(client, board)
        active, suspended, revoked = (issuer.issue(licence(n)) for n in ("a", "s", "r"))
        before = int(time.time() * 1000)
        time.sleep(0.05)
        issuer.suspend(suspended.id, "under review")
        issuer.revoke(revoked.id, "surrendered")
    yield Net(url, board, hospital, member, active, suspended, revoked, before)
    stop_node(process)


def licence(local_id: str) -> CredentialSpec:
    return CredentialSpec(
        type="licence",
        subject=MEMBER,
        scope="Registered nurse",
        jurisdiction="US-MA",
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        local_id=local_id,
    )


def verify(net: Net, body: Any, **params: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{net.url}/v1/credentials/verify", content=content, params=params)


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def test_a_valid_credential_comes_with_its_proven_anchor(net: Net) -> None:
    answer = verify(net, net.active.document)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["valid"] is True
    (checked,) = report["credentials"]
    assert checked["id"] == net.active.id
    assert [c["check"] for c in checked["checks"]][:5] == [
        "proof",
        "issuer_key",
        "anchored",
        "status",
        "validity",
    ]
    # The anchor's proof holds against the state root of the header it came with.
    verify_state_view(checked["anchor"])
    assert checked["anchor"]["value"]["hash"] == document_hash(net.active.document)


def test_status_at_a_date(net: Net) -> None:
    now = verify(net, net.suspended.document).json()
    assert now["valid"] is False
    status = next(c for c in now["credentials"][0]["checks"] if c["check"] == "status")
    assert status["reason"] == "suspended"
    at = datetime.fromtimestamp(net.before_changes_ms / 1000, tz=UTC).isoformat()
    before = verify(net, net.suspended.document, at=at.replace("+00:00", "Z")).json()
    assert before["valid"] is True
    revoked = verify(net, net.revoked.document).json()
    assert revoked["valid"] is False


def test_a_presentation_answers_each_credential(net: Net) -> None:
    body = presentation([net.active.document, net.suspended.document], MEMBER)
    report = verify(net, body).json()
    assert report["valid"] is False
    assert report["holder"] == MEMBER
    assert [c["valid"] for c in report["credentials"]] == [True, False]


def test_a_tampered_credential_gets_no_anchor(net: Net) -> None:
    tampered = json.loads(json.dumps(net.active.document))
    tampered["credentialSubject"]["scope"] = "Surgeon"
    report = verify(net, tampered).json()
    (checked,) = report["credentials"]
    assert report["valid"] is False and checked["anchor"] is None
    failed = {c["check"] for c in checked["checks"] if not c["ok"]}
    assert {"proof", "anchored"} <= failed


def test_malformed_bodies_get_stable_codes(net: Net) -> None:
    assert error_code(verify(net, b"{not json")) == "malformed"
    assert error_code(verify(net, [1, 2])) == "malformed"
    empty = {"type": ["VerifiablePresentation"], "verifiableCredential": []}
    assert error_code(verify(net, empty)) == "malformed"
    many = {"type": ["VerifiablePresentation"], "verifiableCredential": [{}] * 257}
    assert error_code(verify(net, many)) == "too_large"
    huge = verify(net, b'{"a": "' + b"x" * (5 * 1024 * 1024) + b'"}')
    assert huge.status_code == 413 and error_code(huge) == "too_large"
    bad_at = verify(net, net.active.document, at="last tuesday")
    assert bad_at.status_code == 400 and error_code(bad_at) == "invalid_field"
    # A JSON object that is no credential is a verdict, not an error.
    report = verify(net, {"hello": "world"}).json()
    assert report["valid"] is False and report["credentials"][0]["id"] is None


def test_status_list_publishes_the_proven_bits(net: Net) -> None:
    number, index = slot_of(net.revoked.document)
    url = f"{net.url}/v1/credentials/status-lists/ma-board/revocation/{number}"
    first = httpx.get(url)
    assert first.status_code == 200, first.text
    answer = first.json()
    credential = answer["credential"]
    assert credential["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    subject = credential["credentialSubject"]
    assert subject["type"] == "BitstringStatusList"
    assert subject["statusPurpose"] == "revocation"
    assert subject["encodedList"].startswith("u")
    bits = decode_list(subject["encodedList"])
    assert len(bits) * 8 >= 131_072
    assert bitstring_hash(bits) == answer["bits_hash"] == answer["record"]["value"]["bits_hash"]
    verify_state_view(answer["record"])
    assert bit_at(bits, index)
    assert not bit_at(bits, slot_of(net.active.document)[1])
    suspension = httpx.get(url.replace("revocation", "suspension")).json()
    suspended_bits = decode_list(suspension["credential"]["credentialSubject"]["encodedList"])
    assert bit_at(suspended_bits, slot_of(net.suspended.document)[1])
    # Fetched again: the same list (from the cache while its bits are unchanged).
    assert httpx.get(url).json()["credential"] == credential


def test_status_list_lookups_and_parameters(net: Net) -> None:
    base = f"{net.url}/v1/credentials/status-lists"
    assert error_code(httpx.get(f"{base}/ma-board/revocation/99")) == "not_found"
    assert error_code(httpx.get(f"{base}/ma-board/expiry/0")) == "invalid_field"
    assert error_code(httpx.get(f"{base}/ma-board/revocation/-1")) == "invalid_field"


def test_the_file_is_a_signed_read(net: Net) -> None:
    target = f"/v1/credentials/members/{MEMBER}/file"
    assert httpx.get(net.url + target).status_code == 401
    with Client(net.url) as client:
        headers = sign_request(net.member, CHAIN, "GET", target, audience=client.org())
    answer = httpx.get(net.url + target, headers=headers)
    assert answer.status_code == 200, answer.text
    listed = [c["id"] for c in answer.json()["credentials"]]
    assert listed == [net.active.id, net.suspended.id, net.revoked.id]


def test_the_file_as_fhir_behind_the_files_read_gate(net: Net) -> None:
    target = f"/v1/credentials/members/{MEMBER}/fhir"
    assert httpx.get(net.url + target).status_code == 401
    with Client(net.url) as client:
        audience = client.org()
    answer = httpx.get(net.url + target, headers=sign_request(net.member, CHAIN, "GET", target,
                                                              audience=audience))  # fmt: skip
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
    practitioner, *results = (entry["resource"] for entry in bundle["entry"])
    held = [q["identifier"][0]["value"] for q in practitioner["qualification"]]
    assert held == [net.active.id, net.suspended.id, net.revoked.id]
    # The issuer's display is its registered name, not its id.
    assert practitioner["qualification"][0]["issuer"]["display"] == "MA Board"
    assert [r["status"] for r in results] == ["validated", "req-revalid", "val-fail"]
    # A reader the file's gate refuses is refused here too.
    outsider = KeyPair.generate()
    refused = httpx.get(net.url + target, headers=sign_request(outsider, CHAIN, "GET", target,
                                                               audience=audience))  # fmt: skip
    assert refused.status_code in (401, 403) and "error" in refused.json()


def slot_of(document: dict[str, Any]) -> tuple[int, int]:
    slot = status_slot_of(document, "ma-board")
    assert slot is not None
    return slot


def test_the_status_list_cache_encodes_a_bitstring_once(monkeypatch: pytest.MonkeyPatch) -> None:
    encoded: list[bytes] = []

    def counting(bits: bytes) -> str:
        encoded.append(bits)
        return encode_list(bits)

    monkeypatch.setattr(credentials_api, "encode_list", counting)
    cache = credentials_api.StatusListCache(size=2)
    bits = empty_list()
    first = cache.encoded(("ma-board", "revocation", 0, bitstring_hash(bits)), bits)
    assert cache.encoded(("ma-board", "revocation", 0, bitstring_hash(bits)), bits) == first
    assert len(encoded) == 1
    changed = with_bit(bits, 7, True)
    cache.encoded(("ma-board", "revocation", 0, bitstring_hash(changed)), changed)
    cache.encoded(("ma-board", "suspension", 0, bitstring_hash(bits)), bits)
    assert len(encoded) == 3
    # The least recently used entry left the cache (size 2): encoded again.
    cache.encoded(("ma-board", "revocation", 0, bitstring_hash(bits)), bits)
    assert len(encoded) == 4
