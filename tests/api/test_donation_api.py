"""Organ-donation decisions end to end on a real node: SDK, REST and the CLI as a user runs it.

A patient records, changes and withdraws a decision; a transplant coordinator's question
is audited before it is answered, and sees each change from the next block; others are
refused and nothing is audited; the public counts move and are proven.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import enroll_member, register_patient, serve_network, stop_node
from healthledger.client.donation import verified_counts
from healthledger.client.records import Records
from healthledger.client.sdk import ApiError, Client, Signer
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair, save_keypair
from healthledger.domains.records.donation import MIN_PUBLISHED
from healthledger.errors import InvalidProof, LedgerError
from healthledger.node.home import Home

CHAIN = "donation-api"
ORGS = [
    ("general-hospital", "hospital", "General Hospital"),
    ("city-clinic", "clinic", "City Clinic"),
    ("acme-insurance", "insurer", "Acme Insurance"),
]
HOSPITAL = ORGS[0][0]
CLI = [sys.executable, "-m", "healthledger"]


@dataclass
class World:
    root: Path
    url: str
    client: Client
    people: dict[str, KeyPair]

    def as_(self, name: str) -> Records:
        return Records(self.client, self.people[name], CHAIN)

    def signer(self, name: str) -> Signer:
        signer = Signer(self.people[name], CHAIN)
        signer.sync_nonce(self.client)
        return signer

    def pid(self, name: str) -> str:
        return derive_patient_id(self.people[name].key_id)

    def key_file(self, name: str) -> Path:
        path = self.root / "people" / f"{name}.json"
        if not path.exists():
            save_keypair(self.people[name], path)
        return path

    def audited(self, patient: str) -> list[dict[str, Any]]:
        trail = self.as_(patient).audit(self.pid(patient))
        return [e for e in trail.events if e["action"] == "donation"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("donation") / "net"
    url, process = serve_network(root, CHAIN, ORGS)
    home = Home(root)
    client = Client(url, keys=home.key_path(HOSPITAL))
    orgs = {org: Signer(load_keypair(home.key_path(org)), CHAIN) for org, _r, _n in ORGS}
    w = World(root, url, client, {})
    try:
        for org, member, role in (
            (HOSPITAL, "coord-ana", "coordinator"),
            (HOSPITAL, "nurse-ben", "nurse"),
            ("city-clinic", "coord-cy", "coordinator"),
            ("acme-insurance", "claims-dee", "coordinator"),  # an insurer's "coordinator"
        ):
            w.people[member] = enroll_member(client, orgs[org], member, role)
        for patient in ("alice", "bruno", "carla"):
            w.people[patient] = register_patient(client, CHAIN)
        yield w
    finally:
        client.close()
        stop_node(process)


def _refused(call: Any, code: str, status: int = 403) -> None:
    with pytest.raises(ApiError) as caught:
        call()
    assert caught.value.remote_code == code, caught.value.message
    assert caught.value.status == status


def test_record_change_withdraw_as_the_coordinator_sees_them(world: World) -> None:
    alice, coordinator = world.pid("alice"), world.as_("coord-ana")
    before = coordinator.donation_status(alice)
    assert before.status == "none" and before.organs == [] and before.decision is None
    assert before.access.basis == "coordinator"

    receipt = world.as_("alice").decide_donation(
        world.signer("alice"), ["kidneys", "liver"], research=True
    )
    assert receipt["tx"]["type"] == "donation.decide" and receipt["proof"]
    decided = coordinator.donation_status(alice)
    assert (decided.status, decided.decision, decided.organs) == (
        "current",
        "donate",
        ["kidneys", "liver"],
    )
    assert decided.research is True and decided.decided_height == receipt["height"]

    world.as_("alice").decide_donation(world.signer("alice"), [], "do_not_donate")
    changed = coordinator.donation_status(alice)
    assert (changed.decision, changed.organs, changed.version) == ("do_not_donate", [], 2)

    withdrawal = world.as_("alice").withdraw_donation(world.signer("alice"))
    after = coordinator.donation_status(alice)
    assert after.status == "withdrawn" and after.withdrawn_height == withdrawal["height"]
    assert after.access.height > withdrawal["height"]  # the question came in a later block

    # Each question is in alice's accounting of disclosures, and exports as an AuditEvent.
    events = world.audited("alice")
    assert len(events) == 4
    assert {(e["purpose"], e["basis"], e["record"]) for e in events} == {
        ("transplant", "coordinator", None)
    }
    bundle = world.as_("alice").audit(alice, fhir=True)
    exported = [
        entry.resource
        for entry in bundle.entry
        if entry.resource["id"] in {e["id"] for e in events}
    ]
    assert len(exported) == 4
    purpose = exported[0]["purposeOfEvent"][0]["coding"][0]
    assert purpose["code"] == "DONAT"


def test_others_are_refused_and_nothing_is_audited(world: World) -> None:
    bruno = world.pid("bruno")
    world.as_("bruno").decide_donation(world.signer("bruno"), ["all"])
    _refused(lambda: world.as_("nurse-ben").donation_status(bruno), "unauthorized")
    _refused(lambda: world.as_("claims-dee").donation_status(bruno), "unauthorized")
    _refused(lambda: world.as_("coord-ana").donation_status(bruno, "treatment"), "no_consent")
    _refused(lambda: world.as_("carla").donation_status(bruno), "unauthorized")
    assert world.audited("bruno") == []
    unknown = derive_patient_id(KeyPair.generate().key_id)
    _refused(lambda: world.as_("coord-ana").donation_status(unknown), "not_found", 404)


def test_an_unsigned_question_is_refused(world: World) -> None:
    answer = httpx.get(f"{world.url}/v1/donation/patients/{world.pid('bruno')}?purpose=transplant")
    assert answer.status_code == 401
    assert world.audited("bruno") == []


def test_a_representative_decides_for_the_patient(world: World) -> None:
    carla = world.pid("carla")
    appointed = world.as_("carla").appoint(
        world.signer("carla"), world.pid("bruno"), "guardian", ["grant", "revoke"], 2**52
    )
    bruno = world.as_("bruno")
    with pytest.raises(LedgerError) as caught:  # without naming the appointment
        bruno.decide_donation(world.signer("bruno"), ["corneas"], patient=carla)
    assert caught.value.code == "unauthorized"
    bruno.decide_donation(
        world.signer("bruno"),
        ["corneas", "heart_valves"],
        patient=carla,
        appointment_id=appointed.appointment_id,
    )
    status = world.as_("coord-cy").donation_status(carla)  # a clinic's coordinator
    assert status.organs == ["corneas", "heart_valves"]
    state = world.client.state("records", f"donation/{carla}").value
    assert state["decided_by"] == world.pid("bruno")


def test_counts_are_public_proven_and_small_ones_suppressed(world: World) -> None:
    anyone = Client(world.url)  # no keys: a public read
    try:
        counts = verified_counts(anyone)
        donors = [r for r in counts.rows if r.org == HOSPITAL and r.decision == "donate"]
        assert donors and donors[0].suppressed and donors[0].count is None
        for n in range(MIN_PUBLISHED):
            name = f"donor-{n}"
            world.people[name] = register_patient(world.client, CHAIN)
            world.as_(name).decide_donation(world.signer(name), ["kidneys"])
        counts = verified_counts(anyone)
        (row,) = [r for r in counts.rows if r.org == HOSPITAL and r.decision == "donate"]
        assert row.count is not None and row.count >= MIN_PUBLISHED and not row.suppressed
        withdrawn = [r for r in counts.rows if r.decision == "withdrawn"]
        assert withdrawn and all(r.suppressed for r in withdrawn)  # alice alone
        assert "pat_" not in json.dumps(anyone._call("GET", "/v1/donation/counts"))
        # a shown count whose value was altered is caught by its proof
        wire = anyone._call("GET", "/v1/donation/counts")
        shown = next(r for r in wire["rows"] if not r["suppressed"])
        shown["count"] += 1
        real = httpx.Client()

        def lying(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/v1/donation/counts":
                return httpx.Response(200, json=wire)
            answer = real.send(request)
            return httpx.Response(answer.status_code, content=answer.read())

        liar = Client(world.url)
        liar._http = httpx.Client(base_url=world.url, transport=httpx.MockTransport(lying))
        liar.anchor = anyone.anchor
        with pytest.raises(InvalidProof):
            verified_counts(liar)
        real.close()
    finally:
        anyone.close()


def _cli(*args: str) -> dict[str, Any]:
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)
    return {"rc": result.returncode, **json.loads(result.stdout)}


def test_the_cli_decides_withdraws_asks_and_counts(world: World) -> None:
    world.people["dora"] = register_patient(world.client, CHAIN)
    dora, url = world.pid("dora"), ["--url", world.url, "--json"]
    patient, coordinator = str(world.key_file("dora")), str(world.key_file("coord-ana"))
    decided = _cli("donation", "decide", "--key", patient, "--donate", "kidneys,liver", *url)
    assert decided["rc"] == 0 and decided["tx"]["type"] == "donation.decide"
    status = _cli("donation", "status", dora, "--key", coordinator, *url)
    assert status["organs"] == ["kidneys", "liver"] and status["status"] == "current"
    research = _cli("donation", "decide", "--key", patient, "--donate", "all", "--research", *url)
    assert research["rc"] == 0
    bad = _cli("donation", "decide", "--key", patient, "--donate", "spleen", *url)
    assert bad["rc"] != 0 and bad["error"]["code"] == "invalid_field"
    both = _cli("donation", "decide", "--key", patient, *url)
    assert both["rc"] != 0 and both["error"]["code"] == "malformed"
    assert _cli("donation", "withdraw", "--key", patient, *url)["rc"] == 0
    status = _cli("donation", "status", dora, "--key", coordinator, *url)
    assert status["status"] == "withdrawn"
    assert {"receipt", "state"} <= set(status)  # --json keeps the proofs for programs
    shown = _cli("donation", "status", dora, "--key", coordinator, "--url", world.url)
    assert shown["status"] == "withdrawn" and shown["access"]["basis"] == "coordinator"
    assert not {"receipt", "state"} & set(shown)  # a person gets the answer, checked
    refused = _cli("donation", "status", dora, "--key", str(world.key_file("nurse-ben")), *url)
    assert refused["rc"] != 0 and refused["error"]["code"] == "unauthorized"
    counts = _cli("donation", "counts", *url)
    assert counts["rc"] == 0 and counts["min_published"] == MIN_PUBLISHED
    assert {"org", "decision", "count", "suppressed"} <= set(counts["rows"][0])
