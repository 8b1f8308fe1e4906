"""Forwarding on one real node: not an open relay, and a clear custodian_unavailable.

The cross-organisation reads themselves need two organisations' nodes on one chain:
tests/network/test_records_network.py. Here one node serves `general-hospital`; the
other organisations of its chain have no node, or one that does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from conftest import enroll_member, register_patient, start_node, stop_node
from healthledger.client.records import Records, Route
from healthledger.client.sdk import Client, Signer, require_committed
from healthledger.crypto.envelope import new_data_key, wrap_key
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair
from healthledger.crypto.signed_request import (
    HEADER_ANSWER_KEY,
    body_hash,
    sign_answer,
    sign_request,
    verify_answer,
)
from healthledger.errors import BadSignature
from healthledger.node.custodian.replicas import ciphertext_size
from healthledger.node.home import Home, NodeSettings, init_home
from healthledger.node.process import free_port, wait_until_up

CHAIN = "forwarding"
ORGS = [
    ("general-hospital", "hospital", "General Hospital"),
    ("city-clinic", "clinic", "City Clinic"),
    ("far-hospital", "hospital", "Far Hospital"),
]
RECORD = "rec-" + "0" * 24


@dataclass
class One:
    url: str
    client: Client
    reader: KeyPair
    home: Home
    held: dict[str, str]  # organisation -> a record the chain names it custodian of


HELD_SIZE = 1000


def _held_record(client: Client, home: Home, org: str, patient: str) -> str:
    """A record whose custodian is `org` (registered by its key; its vault is elsewhere)."""
    record_id = "rec-" + hashlib.sha256(org.encode()).hexdigest()[:24]
    sealed = wrap_key(new_data_key(), KeyPair.generate().encryption_public)
    add = {
        "record_id": record_id,
        "patient": patient,
        "resource_type": "Observation",
        "media_type": "application/fhir+json",
        "content_hash": "0" * 64,
        "blob_id": hashlib.sha256(record_id.encode()).hexdigest(),
        "size": HELD_SIZE,
        "wrapped_keys": {"patient": sealed, "custodian": sealed},
    }
    require_committed(client.submit(_org(client, home, org).sign("record.add", add), wait=True))
    return record_id


@pytest.fixture(scope="module")
def one(tmp_path_factory: pytest.TempPathFactory) -> Iterator[One]:
    root = tmp_path_factory.mktemp("forwarding")
    port = free_port()
    home = init_home(root, CHAIN, ORGS, port=port)
    home.write_settings(NodeSettings(org=ORGS[0][0], port=port, block_interval_ms=50))
    # The other organisations' keys are not this node's: it is a vault of the first only.
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    for org, _role, _name in ORGS[1:]:
        home.key_path(org).rename(elsewhere / f"{org}.json")
    process = start_node(root)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, process)
    client = Client(url)
    try:
        nurse = enroll_member(client, _org(client, home, "city-clinic"), "nurse-1", "nurse")
        # far-hospital lists a port where nothing answers; city-clinic lists nothing.
        dead = f"http://127.0.0.1:{free_port()}"
        publish(client, home, "far-hospital", [dead])
        hospital = load_keypair(home.key_path("general-hospital"))
        patient = derive_patient_id(register_patient(client, CHAIN, hospital).key_id)
        held = {org: _held_record(client, home, org, patient) for org, _r, _n in ORGS[1:]}
        yield One(url, client, nurse, home, held)
    finally:
        client.close()
        stop_node(process)


def _org(client: Client, home: Home, org: str) -> Signer:
    return client.signer(load_keypair(home.root / "elsewhere" / f"{org}.json"))


def publish(client: Client, home: Home, org: str, endpoints: list[str]) -> None:
    payload = {"endpoints": endpoints, "node_key": KeyPair.generate().key_id}
    tx = _org(client, home, org).sign("org.endpoint", payload)
    require_committed(client.submit(tx, wait=True))


def read(one: One, audience: str, keys: KeyPair | None = None, path: str = "") -> httpx.Response:
    body = orjson.dumps({"purpose": "treatment"})
    target = path or f"/v1/records/{one.held.get(audience, RECORD)}/read"
    headers = sign_request(
        keys or one.reader, CHAIN, "POST", target, body_hash(body), audience=audience
    )
    headers["content-type"] = "application/json"
    return httpx.post(one.url + target, content=body, headers=headers, timeout=30)


def test_the_directory_is_public_and_proven(one: One) -> None:
    entry = one.client.org_endpoint("far-hospital")
    assert entry is not None and entry.org == "far-hospital"
    assert one.client.org_endpoint("city-clinic") is None
    assert [e.org for e in one.client.orgs()] == ["far-hospital"]
    raw = httpx.get(one.url + "/v1/orgs", timeout=10).json()
    assert raw["orgs"][0]["proof"]["key"] == "endpoint/far-hospital"


def test_an_unreachable_custodian_is_custodian_unavailable(one: One) -> None:
    answer = read(one, "far-hospital")
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error["code"] == "custodian_unavailable"
    assert "far-hospital" in error["message"]


def test_an_org_without_an_entry_is_custodian_unavailable(one: One) -> None:
    answer = read(one, "city-clinic")
    assert answer.status_code == 503 and "no endpoint" in answer.json()["error"]["message"]


def test_not_an_open_relay(one: One) -> None:
    # An unknown key, an audience that is no member, a tampered envelope: refused here,
    # never sent on (a genuine request goes as far as the dead endpoint: 503 above).
    stranger = KeyPair.generate()
    assert read(one, "far-hospital", keys=stranger).json()["error"]["code"] == "unknown_sender"
    assert read(one, "nobody-org").json()["error"]["code"] == "wrong_audience"
    body = orjson.dumps({"purpose": "treatment"})
    target = f"/v1/records/{RECORD}/read"
    headers = sign_request(one.reader, CHAIN, "POST", target, body_hash(body), audience="x-org")
    headers["x-hl-audience"] = "far-hospital"  # the signature named another audience
    tampered = httpx.post(one.url + target, content=body, headers=headers, timeout=30)
    assert tampered.json()["error"]["code"] == "bad_signature"
    # Only the record read routes are forwarded: a locate meant elsewhere stays refused.
    locate = f"/v1/records?patient=pat_{'a' * 32}"
    signed = sign_request(one.reader, CHAIN, "GET", locate, audience="far-hospital")
    refused = httpx.get(one.url + locate, headers=signed, timeout=30)
    assert refused.json()["error"]["code"] == "wrong_audience"


def test_a_forwarded_request_is_forwarded_once(one: One) -> None:
    """An entry pointing back at this node cannot make a request circle: its nonce is spent."""
    publish(one.client, one.home, "city-clinic", [one.url])
    answer = read(one, "city-clinic")
    assert answer.json()["error"]["code"] == "request_replayed"


def test_a_huge_body_is_not_forwarded(one: One) -> None:
    body = b'{"purpose": "' + b"x" * 70_000 + b'"}'
    target = f"/v1/records/{RECORD}/read"
    headers = sign_request(
        one.reader, CHAIN, "POST", target, body_hash(body), audience="far-hospital"
    )
    answer = httpx.post(one.url + target, content=body, headers=headers, timeout=30)
    assert answer.status_code == 413


def test_answers_are_signed_with_the_node_key(tmp_path: Path) -> None:
    node_key = KeyPair.generate()
    headers = sign_answer(node_key, CHAIN, "ab" * 32, 200, b"{}")
    verify_answer(headers, node_key.key_id, CHAIN, "ab" * 32, 200, b"{}")
    for changed in (
        (headers, node_key.key_id, CHAIN, "ab" * 32, 200, b"{ }"),
        (headers, node_key.key_id, CHAIN, "cd" * 32, 200, b"{}"),
        (headers, node_key.key_id, "other", "ab" * 32, 200, b"{}"),
        (headers, node_key.key_id, CHAIN, "ab" * 32, 403, b"{}"),
        (headers, KeyPair.generate().key_id, CHAIN, "ab" * 32, 200, b"{}"),
        ({}, node_key.key_id, CHAIN, "ab" * 32, 200, b"{}"),
    ):
        with pytest.raises(BadSignature):
            verify_answer(*changed)
    assert headers[HEADER_ANSWER_KEY] == node_key.key_id
    # The node's key lives in its folder, owner-readable only, outside keys/.
    home = Home(tmp_path)
    key = home.node_key()
    assert home.node_key_path.stat().st_mode & 0o777 == 0o600
    assert home.node_key().key_id == key.key_id


def test_the_sdk_holds_an_answer_to_the_directorys_node_key(one: One) -> None:
    """A read's answer must carry the node key the directory names for the custodian."""
    hospital = load_keypair(one.home.key_path("general-hospital"))
    patient = register_patient(one.client, CHAIN, hospital)
    pid = derive_patient_id(patient.key_id)
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": "2026-03-02",
    }
    record = Records(one.client, hospital).add(pid, resource).record_id
    reader = Records(one.client, patient)
    node_key = one.client.info().node_key
    assert node_key is not None
    for key, holds in ((node_key, True), (KeyPair.generate().key_id, False)):
        reader.route = lambda _rid, k=key: Route("general-hospital", (one.client,), k)  # type: ignore[method-assign]
        if holds:
            assert reader.read(record, "patient_request").resource() == resource
        else:
            with pytest.raises(BadSignature):
                reader.read(record, "patient_request")


class _Flood(BaseHTTPRequestHandler):
    """An organisation's endpoint that answers a forwarded read with far too much."""

    sent = 0

    def do_POST(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(FLOOD_BYTES))
        self.end_headers()
        chunk = b"x" * 65536
        try:
            while _Flood.sent < FLOOD_BYTES:
                self.wfile.write(chunk)
                _Flood.sent += len(chunk)
        except OSError:
            return  # the forwarding node hung up: what this test wants

    def log_message(self, *_args: object) -> None:
        return


FLOOD_BYTES = 256 * 1024 * 1024


def test_a_flooding_endpoint_is_cut_off(one: One) -> None:
    """An organisation whose endpoint answers without end cannot fill the forwarding node's
    memory: the answer is cut at its bound and the reader told the custodian failed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flood)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        publish(one.client, one.home, "city-clinic", [f"http://127.0.0.1:{server.server_port}"])
        answer = read(one, "city-clinic")
        assert answer.status_code == 503, answer.status_code
        error = answer.json()["error"]
        assert error["code"] == "custodian_unavailable" and "city-clinic" in error["message"]
        assert _Flood.sent < FLOOD_BYTES
    finally:
        server.shutdown()
        server.server_close()


class _FloodGet(_Flood):
    def do_GET(self) -> None:
        self.do_POST()


def test_a_flooding_content_answer_is_cut_at_the_records_size(one: One) -> None:
    """A content fetch streams through, but no further than the ciphertext the chain
    implies for the record: an endpoint cannot use this node as an endless pipe."""
    _Flood.sent = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FloodGet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        publish(one.client, one.home, "city-clinic", [f"http://127.0.0.1:{server.server_port}"])
        target = f"/v1/records/{one.held['city-clinic']}/content?access={'ab' * 32}"
        headers = sign_request(one.reader, CHAIN, "GET", target, audience="city-clinic")
        received = 0
        with (
            contextlib.suppress(httpx.HTTPError),
            httpx.stream("GET", one.url + target, headers=headers, timeout=30) as answer,
        ):
            for chunk in answer.iter_bytes():
                received += len(chunk)
        assert received <= ciphertext_size(HELD_SIZE)
        assert _Flood.sent < FLOOD_BYTES
    finally:
        server.shutdown()
        server.server_close()


def _endpoint_payload(one: One, org: str, **extra: Any) -> dict[str, Any]:
    entry = one.client.org_endpoint(org)
    endpoints = list(entry.endpoints) if entry else [f"http://127.0.0.1:{free_port()}"]
    node_key = entry.node_key if entry else KeyPair.generate().key_id
    return {"endpoints": endpoints, "node_key": node_key, **extra}


def test_an_organisation_cannot_make_another_keep_its_replicas(one: One) -> None:
    """Naming a replica takes the replica's agreement (its own entry's `replica_for`):
    otherwise any organisation could stream its ciphertexts (or a record's declared size of
    junk) onto another's disk."""
    far = _org(one.client, one.home, "far-hospital")
    hospital = load_keypair(one.home.key_path("general-hospital"))
    named = _endpoint_payload(one, "far-hospital", replica="general-hospital")
    require_committed(one.client.submit(far.sign("org.endpoint", named), wait=True))
    patient = derive_patient_id(register_patient(one.client, CHAIN, hospital).key_id)
    size = 1024 * 1024
    blob = hashlib.sha256(b"declared, never sent").hexdigest()
    sealed = wrap_key(new_data_key(), hospital.encryption_public)
    add = {
        "record_id": "rec-" + "f" * 24,
        "patient": patient,
        "resource_type": "Observation",
        "media_type": "application/fhir+json",
        "content_hash": "0" * 64,
        "blob_id": blob,
        "size": size,
        "wrapped_keys": {"patient": sealed, "custodian": sealed},
    }
    require_committed(one.client.submit(far.sign("record.add", add), wait=True))

    def push() -> httpx.Response:
        target = f"/v1/vault/replicas/{blob}"
        keys = load_keypair(one.home.root / "elsewhere" / "far-hospital.json")
        headers = sign_request(keys, CHAIN, "PUT", target, blob, audience="general-hospital")
        body = b"j" * ciphertext_size(size)
        return httpx.put(one.url + target, content=body, headers=headers, timeout=30)

    refused = push()
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "unauthorized"
    assert "general-hospital" in refused.json()["error"]["message"]
    # Once general-hospital agrees, its node takes the bytes (and checks them: junk is not
    # the blob).
    agree = _endpoint_payload(one, "general-hospital", replica_for=["far-hospital"])
    hospital_signer = one.client.signer(hospital)
    require_committed(one.client.submit(hospital_signer.sign("org.endpoint", agree), wait=True))
    assert push().json()["error"]["code"] == "hash_mismatch"


def test_a_read_is_forwarded_only_to_the_records_custodian(one: One) -> None:
    """A signed read names an audience; the node forwards it only if the chain names that
    organisation the record's custodian (not any id to any organisation's endpoint)."""
    record = one.held["far-hospital"]
    target = f"/v1/records/{record}/read"
    answer = read(one, "city-clinic", path=target)
    assert answer.status_code == 421, answer.text
    error = answer.json()["error"]
    assert error["code"] == "not_custodian" and "far-hospital" in error["message"]
    unknown = read(one, "city-clinic", path=f"/v1/records/{RECORD}/read")
    assert unknown.json()["error"]["code"] == "not_found"
    # Not even an id that is no record id, pasted into the path that goes on
    dots = read(one, "city-clinic", path="/v1/records/..%2F..%2Fstatus/read")
    assert dots.json()["error"]["code"] in {"not_found", "malformed", "no_route"}


class _Drip(BaseHTTPRequestHandler):
    """An endpoint that sends its answer's headers one byte at a time, far apart: each byte
    restarts httpx's read timeout, so only an overall deadline ends the wait."""

    release = threading.Event()

    def do_POST(self) -> None:
        for byte in b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n":
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
            if _Drip.release.wait(0.4):
                return

    def log_message(self, *_args: object) -> None:
        return


def test_an_endpoint_dripping_its_headers_meets_the_overall_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from starlette.requests import Request

    from healthledger.api import forward
    from healthledger.errors import CustodianUnavailable

    monkeypatch.setattr(forward, "ANSWER_TIMEOUT_S", 2.0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/records/rec-000000000000000000000000/read",
        "query_string": b"",
        "headers": [],
    }
    forwarder = forward.Forwarder.__new__(forward.Forwarder)  # _send needs no node
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(CustodianUnavailable, match="no answer within 2 s"):
            asyncio.run(forwarder._send(Request(scope), "slow-org", (endpoint,), b"{}"))
    finally:
        _Drip.release.set()
        server.shutdown()
        server.server_close()
