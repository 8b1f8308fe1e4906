"""A patient's live audit feed (GET /v1/audit/patients/{patient}/events) on a real node:
an access pushed as its block commits, break-glass flagged, consent changes, the
signed-request checks of the audit trail, the per-key stream limit, streams that end
when the client leaves and when the node stops."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from conftest import enroll_member, register_patient, serve_network, stop_node, wait_for
from healthledger.api.patient_feed import MAX_STREAMS_PER_KEY, PatientFeeds, stream_events
from healthledger.client.records import Records
from healthledger.client.sdk import Client, Signer, verify_tx_view
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair
from healthledger.crypto.signed_request import sign_request
from healthledger.errors import RateLimited, Unavailable
from healthledger.node.home import Home, NodeSettings, init_home
from healthledger.node.node import Node
from raw_http import open_request

CHAIN = "patient-feed"
ORGS = [("general-hospital", "hospital", "General Hospital"), ("city-clinic", "clinic", "City")]
AUDIENCE = ORGS[0][0]
PATH = "/v1/audit/patients/{}/events"
HEART_RATE = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
    "effectiveDateTime": "2026-03-02T09:30:00Z",
    "valueQuantity": {"value": 72, "unit": "beats/minute", "system": "http://unitsofmeasure.org"},
}


@dataclass
class World:
    url: str
    process: subprocess.Popen[bytes]
    client: Client
    people: dict[str, KeyPair]
    record: str

    def as_(self, name: str) -> Records:
        return Records(self.client, self.people[name], CHAIN)

    def pid(self, name: str) -> str:
        return derive_patient_id(self.people[name].key_id)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("feed") / "net"
    url, process = serve_network(root, CHAIN, ORGS)
    home = Home(root)
    client = Client(url, keys=home.key_path(AUDIENCE))
    org = Signer(load_keypair(home.key_path(AUDIENCE)), CHAIN)
    people = {
        "dr-ada": enroll_member(client, org, "dr-ada", "practitioner"),
        "nurse-joy": enroll_member(client, org, "nurse-joy", "nurse"),
        "alice": register_patient(client, CHAIN),
        "bruno": register_patient(client, CHAIN),
        "carol": register_patient(client, CHAIN),
    }
    w = World(url, process, client, people, "")
    w.record = w.as_("dr-ada").add(w.pid("alice"), HEART_RATE).record_id
    try:
        yield w
    finally:
        client.close()
        if process.poll() is None:
            stop_node(process)


class Stream:
    """One open event stream, spoken over a socket of its own and read on a thread.

    By hand rather than with httpx: closing an httpx response that another thread is
    reading does not close its socket, and this test needs the node to see the client go.
    """

    def __init__(self, url: str, keys: KeyPair, patient: str) -> None:
        target = PATH.format(patient)
        headers = sign_request(keys, CHAIN, "GET", target, audience=AUDIENCE)
        self.sock = open_request(url, "GET", target, headers)
        self.file = self.sock.makefile("rb")
        self.status = int(self.file.readline().split()[1])
        self.headers: dict[str, str] = {}
        while line := self.file.readline().strip():
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.comments: list[str] = []
        self.error = ""
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()
        else:
            body = self.file.read(int(self.headers["content-length"]))
            self.error = str(orjson.loads(body)["error"]["code"])

    def _chunks(self) -> Iterator[bytes]:
        """The body's chunked transfer coding, undone."""
        while size := int(self.file.readline().strip() or b"0", 16):
            yield self.file.read(size)
            self.file.readline()

    def _read(self) -> None:
        pending = b""
        try:
            for chunk in self._chunks():
                pending += chunk
                while b"\n\n" in pending:
                    block, pending = pending.split(b"\n\n", 1)
                    self._event(block.decode())
        except (OSError, ValueError):
            pass  # closed by the test
        self.events.put(("closed", None))

    def _event(self, block: str) -> None:
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        if block.startswith(":"):
            self.comments.append(block)
        else:
            self.events.put((fields["event"], orjson.loads(fields["data"])))

    def next(self, timeout: float = 20.0) -> tuple[str, Any]:
        return self.events.get(timeout=timeout)

    def next_ledger(self, wanted: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            kind, data = self.next(max(deadline - time.monotonic(), 0.01))
            assert kind == "ledger", (kind, data)
            if data["type"] == wanted:
                return dict(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def test_a_read_is_pushed_to_the_patients_open_stream(world: World) -> None:
    stream = Stream(world.url, world.people["alice"], world.pid("alice"))
    try:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind, ready = stream.next()
        assert kind == "ready" and ready["patient"] == world.pid("alice")
        world.as_("dr-ada").read(world.record, "treatment")
        event = stream.next_ledger("record.accessed")
        access = event["access"]
        assert access["reader"]["id"] == "general-hospital/dr-ada"
        assert access["purpose"] == "treatment" and access["break_glass"] is False
        assert event["event"]["record"] == world.record and event["height"] > ready["height"]
        # Another patient's stream hears nothing of Alice's books.
        other = Stream(world.url, world.people["bruno"], world.pid("bruno"))
        try:
            assert other.next()[0] == "ready"
            world.as_("nurse-joy").read(world.record, "emergency", break_glass_reason="unconscious")
            flagged = stream.next_ledger("record.accessed")
            assert flagged["access"]["break_glass"] is True
            assert flagged["access"]["basis"] == "break_glass"
            with pytest.raises(queue.Empty):
                other.next(timeout=1.0)
        finally:
            other.close()
    finally:
        stream.close()


def test_consent_and_representative_changes_are_pushed(world: World) -> None:
    stream = Stream(world.url, world.people["alice"], world.pid("alice"))
    try:
        assert stream.next()[0] == "ready"
        alice = world.as_("alice")
        signer = Signer(world.people["alice"], CHAIN)
        signer.sync_nonce(world.client)
        grantee = {"kind": "member", "org": AUDIENCE, "member": f"{AUDIENCE}/nurse-joy"}
        consent = alice.grant(signer, grantee, ["treatment"]).consent_id
        granted = stream.next_ledger("consent.granted")
        assert granted["event"]["consent"] == consent and granted["access"] is None
        alice.revoke(signer, consent, "withdrawn")
        assert stream.next_ledger("consent.revoked")["event"]["consent"] == consent
        until = int(time.time() * 1000) + 86_400_000
        appointed = alice.appoint(signer, world.pid("bruno"), "proxy", ["read"], until)
        pushed = stream.next_ledger("representative.appointed")
        assert pushed["event"]["appointment"] == appointed.appointment_id
        # The consents answer lists the representatives too (the portal shows both).
        (listed,) = alice.consents(world.pid("alice")).appointments
        assert (listed.representative, listed.powers) == (world.pid("bruno"), ("read",))
    finally:
        stream.close()


def test_the_stream_is_signed_like_the_audit_trail(world: World) -> None:
    alice = world.pid("alice")
    unsigned = httpx.get(world.url + PATH.format(alice))
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "bad_signature"
    for name in ("carol", "dr-ada"):  # another patient, a practitioner who read her record
        stream = Stream(world.url, world.people[name], alice)
        try:
            assert stream.status == 403
            assert stream.error == "unauthorized"
        finally:
            stream.close()


def test_streams_per_key_are_bounded_and_given_back_when_clients_leave(world: World) -> None:
    keys, patient = world.people["bruno"], world.pid("bruno")
    streams = [Stream(world.url, keys, patient) for _ in range(MAX_STREAMS_PER_KEY)]
    try:
        assert all(s.next()[0] == "ready" for s in streams)
        refused = Stream(world.url, keys, patient)
        assert refused.status == 429
        assert refused.error == "rate_limited"
        refused.close()
        # Another key is not held to this one's limit.
        other = Stream(world.url, world.people["alice"], world.pid("alice"))
        assert other.status == 200
        other.close()
    finally:
        for stream in streams:
            stream.close()

    def reopened() -> bool:
        again = Stream(world.url, keys, patient)
        try:
            return again.status == 200
        finally:
            again.close()

    # The node notices the closed connections and gives their slots back.
    wait_for(lambda: all(reopened() for _ in range(MAX_STREAMS_PER_KEY)), timeout=20)


def test_the_node_stops_promptly_with_streams_open(tmp_path: Path) -> None:
    url, process = serve_network(tmp_path / "net", CHAIN, ORGS)
    client = Client(url)
    patient = register_patient(client, CHAIN)
    client.close()
    stream = Stream(url, patient, derive_patient_id(patient.key_id))
    try:
        assert stream.next()[0] == "ready"
        started = time.monotonic()
        process.send_signal(signal.SIGINT)  # Ctrl-C: a graceful shutdown, then node.stop()
        kind, data = stream.next(timeout=15)
        assert kind == "end" and "stopping" in data["reason"]
        assert process.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
    finally:
        stream.close()
        if process.poll() is None:
            process.kill()
            process.wait()


def test_node_wide_limit_heartbeats_and_closing(tmp_path: Path) -> None:
    """The feeds themselves, on a real (unstarted) node: limits, heartbeat, end on close."""
    home = init_home(tmp_path / "net", CHAIN, ORGS)
    node = Node(home.root, NodeSettings(org=AUDIENCE))

    async def run() -> None:
        feeds = PatientFeeds(node, max_streams=2, max_per_key=2)
        first, _second = feeds.subscribe("key-1", "pat"), feeds.subscribe("key-2", "pat")
        with pytest.raises(RateLimited, match="at most 2 open streams"):
            feeds.subscribe("key-3", "pat")
        body = stream_events(feeds, first, 7, heartbeat_s=0.05)
        assert await anext(body) == b'event: ready\ndata: {"patient":"pat","height":7}\n\n'
        assert await anext(body) == b": heartbeat\n\n"
        feeds.close()
        assert await anext(body) == b'event: end\ndata: {"reason":"the node is stopping"}\n\n'
        with pytest.raises(StopAsyncIteration):
            await anext(body)
        assert feeds.open_streams == 1
        with pytest.raises(Unavailable):
            feeds.subscribe("key-4", "pat")

    try:
        # A thread of its own: a browser test's Playwright may hold this thread's loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, run()).result()
    finally:
        node.store.close()


def test_a_patient_reads_the_receipts_of_accesses_to_their_records(world: World) -> None:
    """The audit trail's receipts (record.access transactions, sent by the custodian) are
    the patient's to verify; another patient is refused them."""
    world.as_("dr-ada").read(world.record, "treatment")
    events = world.as_("alice").audit(world.pid("alice")).events
    tx_id = str(next(e for e in events if e["reader"]["id"] == "general-hospital/dr-ada")["tx_id"])
    for name, status in (("alice", 200), ("carol", 403)):
        target = f"/v1/txs/{tx_id}?proof=true"
        headers = sign_request(world.people[name], CHAIN, "GET", target, audience=AUDIENCE)
        answer = httpx.get(world.url + target, headers=headers)
        assert answer.status_code == status, answer.text
    verify_tx_view(answer_for(world, "alice", tx_id))


def answer_for(world: World, name: str, tx_id: str) -> Any:
    target = f"/v1/txs/{tx_id}?proof=true"
    headers = sign_request(world.people[name], CHAIN, "GET", target, audience=AUDIENCE)
    return httpx.get(world.url + target, headers=headers).json()


def test_a_representative_whose_appointment_ends_hears_nothing_more(world: World) -> None:
    """Standing is checked for each event, not only when the stream opens: a guardian who
    kept a stream open past the end of their appointment hears no later event."""
    carol = world.as_("carol")
    signer = Signer(world.people["carol"], CHAIN)
    signer.sync_nonce(world.client)
    until = int(time.time() * 1000) + 86_400_000
    rep = f"{AUDIENCE}/nurse-joy"
    appointment = carol.appoint(signer, rep, "proxy", ["read"], until).appointment_id
    stream = Stream(world.url, world.people["nurse-joy"], world.pid("carol"))
    try:
        assert stream.status == 200 and stream.next()[0] == "ready"
        ended = world.client.submit(
            signer.sign("representative.end", {"appointment_id": appointment}), wait=True
        )
        assert ended.result is not None and ended.result.code == "ok", ended
        grantee = {"kind": "org", "org": AUDIENCE}
        consent = carol.grant(signer, grantee, ["research"]).consent_id
        # The stream ends instead of telling a stranger of Carol's new consent.
        seen: list[tuple[str, Any]] = []
        while not seen or (seen[-1][0] == "ledger" and seen[-1][1]["type"] != "consent.granted"):
            seen.append(stream.next())
        assert not any(
            kind == "ledger" and data["event"].get("consent") == consent for kind, data in seen
        ), seen
        assert seen[-1][0] == "end" and "no longer" in seen[-1][1]["reason"], seen
    finally:
        stream.close()
