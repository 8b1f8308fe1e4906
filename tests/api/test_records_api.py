"""Patient records end to end on a real node: add, consent, locate, read, audit, shred.

The authorization matrix of the records issue: each actor's locate and read
outcome, every denial a 403 with a code and no ciphertext or key in the answer.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import enroll_member, register_patient, serve_network, stop_node, wait_for
from healthledger.client.records import Intent, Records, sign_intent, verify_copy
from healthledger.client.sdk import ApiError, Client, Signer
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair
from healthledger.crypto.signed_request import HEADER_INTENT, sign_request
from healthledger.domains.records.replies import BatchFailure
from healthledger.errors import LedgerError
from healthledger.node.home import Home

CHAIN = "records-api"
ORGS = [
    ("general-hospital", "hospital", "General Hospital"),
    ("city-clinic", "clinic", "City Clinic"),
    ("state-university", "university", "State University"),
]
AUDIENCE = ORGS[0][0]  # the node serves the first organisation (conftest.serve_network)
HEART_RATE = {
    "resourceType": "Observation",
    "status": "final",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "vital-signs",
                }
            ]
        }
    ],
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
    "subject": {"reference": "Patient/example"},
    "effectiveDateTime": "2026-03-02T09:30:00Z",
    "valueQuantity": {
        "value": 72,
        "unit": "beats/minute",
        "system": "http://unitsofmeasure.org",
        "code": "/min",
    },
}
CONDITION = {
    "resourceType": "Condition",
    "clinicalStatus": {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
        ]
    },
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]},
    "subject": {"reference": "Patient/example"},
    "onsetDateTime": "2024-05-01",
}


@dataclass
class World:
    root: Path
    url: str
    client: Client
    org_signers: dict[str, Signer]
    people: dict[str, KeyPair]
    records: dict[str, str]
    consents: dict[str, str]

    def as_(self, name: str) -> Records:
        return Records(self.client, self.people[name], CHAIN)

    def signer(self, name: str) -> Signer:
        signer = Signer(self.people[name], CHAIN)
        signer.sync_nonce(self.client)
        return signer

    def pid(self, name: str) -> str:
        return derive_patient_id(self.people[name].key_id)


def _enroll(world: World, org: str, member: str, role: str) -> None:
    world.people[member] = enroll_member(world.client, world.org_signers[org], member, role)


def _register(world: World, name: str) -> None:
    world.people[name] = register_patient(world.client, CHAIN)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("records") / "net"
    url, process = serve_network(root, CHAIN, ORGS)
    home = Home(root)
    # The test's own eye on the ledger is a member's; each person's reads sign as them.
    client = Client(url, keys=home.key_path("general-hospital"))
    signers = {org: Signer(load_keypair(home.key_path(org)), CHAIN) for org, _r, _n in ORGS}
    w = World(root, url, client, signers, {}, {}, {})
    try:
        _populate(w)
        yield w
    finally:
        client.close()
        stop_node(process)


def _populate(w: World) -> None:
    _enroll(w, "general-hospital", "dr-ada", "practitioner")
    _enroll(w, "general-hospital", "dr-bob", "practitioner")
    _enroll(w, "city-clinic", "dr-cy", "practitioner")
    _enroll(w, "city-clinic", "clerk-dee", "staff")
    _enroll(w, "state-university", "prof-eve", "researcher")
    _enroll(w, "state-university", "prof-fay", "researcher")
    _enroll(w, "state-university", "dr-uni", "practitioner")  # a university is no care-giver
    _enroll(w, "city-clinic", "nurse-gus", "nurse")
    for patient in ("alice", "bruno"):
        _register(w, patient)
    ada = w.as_("dr-ada")
    w.records["hr"] = ada.add(w.pid("alice"), HEART_RATE).record_id
    w.records["condition"] = ada.add(w.pid("alice"), CONDITION).record_id
    alice, alice_signer = w.as_("alice"), w.signer("alice")
    w.consents["cy"] = alice.grant(
        alice_signer,
        {"kind": "member", "org": "city-clinic", "member": "city-clinic/dr-cy"},
        ["treatment"],
        resource_types=["Observation"],
    ).consent_id
    w.consents["research"] = alice.grant(
        alice_signer,
        {"kind": "role", "org": "state-university", "role": "researcher"},
        ["research"],
    ).consent_id
    w.consents["soon"] = alice.grant(
        alice_signer,
        {"kind": "member", "org": "state-university", "member": "state-university/prof-fay"},
        ["treatment"],
        expires_ms=int(time.time() * 1000) + 1500,
    ).consent_id


def _denied(call: Any, code: str) -> None:
    with pytest.raises(ApiError) as caught:
        call()
    assert caught.value.status == 403, caught.value.message
    assert caught.value.remote_code == code


def test_patient_reads_own_record_and_the_hash_matches_the_chain(world: World) -> None:
    copy = world.as_("alice").read(world.records["hr"], "patient_request")
    assert copy.resource()["code"]["coding"][0]["code"] == "8867-4"
    assert copy.access.basis == "self"
    verify_copy(copy.record, copy.plaintext, copy.salt)
    with pytest.raises(LedgerError):
        verify_copy(copy.record, copy.plaintext + b" ", copy.salt)


def test_authorization_matrix(world: World) -> None:
    hr, condition, alice = world.records["hr"], world.records["condition"], world.pid("alice")
    # custodian's author, and the custodian organisation itself
    assert world.as_("dr-ada").read(hr, "treatment").access.basis == "author"
    # consented practitioner: Observations only, for treatment only
    assert world.as_("dr-cy").read(hr, "treatment").access.basis == "consent"
    located = world.as_("dr-cy").locate(alice, "treatment").records
    assert [r.id for r in located] == [hr]
    # the wire itself, not the parsed model (which would drop fields it does not know)
    wire = world.as_("dr-cy")._signed(
        "GET", "/v1/records", {"patient": alice, "purpose": "treatment"}
    )
    assert "wrapped_keys" not in wire["records"][0] and "blob_id" not in wire["records"][0]
    _denied(lambda: world.as_("dr-cy").read(condition, "treatment"), "no_consent")
    _denied(lambda: world.as_("dr-cy").read(hr, "research"), "no_consent")
    # same-org unconsented colleague, other org, unrelated staff
    _denied(lambda: world.as_("dr-bob").read(hr, "treatment"), "no_consent")
    _denied(lambda: world.as_("dr-bob").locate(alice), "no_consent")
    _denied(lambda: world.as_("clerk-dee").read(hr, "treatment"), "no_consent")
    _denied(lambda: world.as_("bruno").read(hr, "treatment"), "no_consent")
    _denied(lambda: world.as_("bruno").locate(alice), "no_consent")
    # researcher with a research-purpose role consent
    assert world.as_("prof-eve").read(condition, "research").access.basis == "consent"
    _denied(lambda: world.as_("prof-eve").read(condition, "treatment"), "no_consent")


def test_expired_grantee_is_refused(world: World) -> None:
    deadline = world.client.state("records", f"consent/{world.consents['soon']}").value[
        "expires_ms"
    ]
    # a later block must exist for the ledger's clock to pass the expiry
    while world.client.block().header.time_ms <= deadline:
        _register(world, f"tick-{time.monotonic_ns()}")
    _denied(lambda: world.as_("prof-fay").read(world.records["hr"], "treatment"), "consent_expired")


def test_revocation_takes_effect_from_the_next_block(world: World) -> None:
    alice = world.as_("alice")
    consent = alice.grant(
        world.signer("alice"), {"kind": "org", "org": "city-clinic"}, ["operations"]
    ).consent_id
    clerk = world.as_("clerk-dee")
    assert clerk.read(world.records["condition"], "operations").access.consent == consent
    receipt = alice.revoke(world.signer("alice"), consent, "changed_provider")
    assert receipt["tx"]["type"] == "consent.revoke" and receipt["proof"]
    _denied(lambda: clerk.read(world.records["condition"], "operations"), "consent_revoked")


def test_denials_release_no_ciphertext_or_key(world: World) -> None:
    target = f"/v1/records/{world.records['hr']}/read"
    body = b'{"purpose":"treatment"}'
    headers = sign_request(
        world.people["dr-bob"],
        CHAIN,
        "POST",
        target,
        hashlib.sha256(body).hexdigest(),
        audience=AUDIENCE,
    )
    intent = Intent("read", world.records["hr"], "treatment")
    headers[HEADER_INTENT] = sign_intent(world.people["dr-bob"], CHAIN, intent, headers)
    response = httpx.post(world.url + target, content=body, headers=headers)
    assert response.status_code == 403
    assert set(response.json()) == {"error"}
    assert "ciphertext" not in response.text and "wrapped" not in response.text


def test_unsigned_replayed_and_expired_requests_are_refused(world: World) -> None:
    target = f"/v1/records?patient={world.pid('alice')}"
    assert httpx.get(world.url + target).status_code == 401
    headers = sign_request(world.people["alice"], CHAIN, "GET", target, audience=AUDIENCE)
    assert httpx.get(world.url + target, headers=headers).status_code == 200
    replay = httpx.get(world.url + target, headers=headers)
    assert (replay.status_code, replay.json()["error"]["code"]) == (401, "request_replayed")
    old = sign_request(
        world.people["alice"],
        CHAIN,
        "GET",
        target,
        time_ms=int(time.time() * 1000) - 120_000,
        audience=AUDIENCE,
    )
    stale = httpx.get(world.url + target, headers=old)
    assert (stale.status_code, stale.json()["error"]["code"]) == (401, "request_expired")
    forged = dict(headers, **{"x-hl-nonce": "0" * 32})
    assert httpx.get(world.url + target, headers=forged).status_code == 401


def test_every_read_is_audited_once_and_break_glass_is_flagged(world: World) -> None:
    alice = world.as_("alice")
    before = len(alice.audit(world.pid("alice")).events)
    world.as_("dr-cy").read(world.records["hr"], "treatment")
    _denied(lambda: world.as_("dr-bob").read(world.records["condition"], "treatment"), "no_consent")
    copy = world.as_("dr-bob").read(
        world.records["condition"],
        "emergency",
        break_glass_reason="unconscious in the ER, allergies unknown",
    )
    assert copy.access.break_glass is True
    audit = alice.audit(world.pid("alice"))
    assert len(audit.events) == before + 2
    assert audit.break_glass[0]["reader"]["id"] == "general-hospital/dr-bob"
    # the reason came out of the custodian's vault, sealed to alice; the chain has its hash
    assert audit.break_glass[0]["reason"].startswith("unconscious")
    event_key = f"audit/{world.pid('alice')}/"
    on_chain = [e for e in _chain_events(world, event_key) if e["break_glass"]]
    assert on_chain[-1]["reason_hash"] == audit.break_glass[0]["reason_hash"]
    assert "reason" not in on_chain[-1]
    # the same event, in the same block, heads the custodian's own feed
    hospital = Records(world.client, load_keypair(Home(world.root).key_path("general-hospital")))
    assert hospital.alerts("general-hospital")[0]["id"] == audit.break_glass[0]["id"]
    _denied(lambda: world.as_("dr-ada").alerts("general-hospital"), "unauthorized")
    fhir = alice.audit(world.pid("alice"), fhir=True)
    assert (
        fhir.wire()["resourceType"] == "Bundle"
        and fhir.entry[0].resource["resourceType"] == "AuditEvent"
    )
    _denied(lambda: world.as_("dr-cy").audit(world.pid("alice")), "unauthorized")


def test_break_glass_is_for_care_givers_and_limited_per_day(world: World) -> None:
    hr, alice = world.records["hr"], world.pid("alice")
    reason = "collapsed at the bus stop, no history"
    _denied(
        lambda: world.as_("dr-uni").read(hr, "emergency", break_glass_reason=reason),
        "unauthorized",
    )
    _denied(lambda: world.as_("dr-uni").locate(alice, break_glass_reason=reason), "unauthorized")
    nurse = world.as_("nurse-gus")
    assert nurse.locate(alice, "emergency", break_glass_reason=reason).records
    for _ in range(4):  # five in 24 hours of block time (the genesis default)
        assert nurse.read(hr, "emergency", break_glass_reason=reason).access.break_glass
    height = world.client.block().header.height
    with pytest.raises(ApiError) as caught:
        nurse.read(hr, "emergency", break_glass_reason=reason)
    assert (caught.value.status, caught.value.remote_code) == (429, "rate_limited")
    flagged = world.as_("alice").audit(alice).break_glass
    assert [e["reader"]["id"] for e in flagged[:5]] == ["city-clinic/nurse-gus"] * 5
    assert world.client.block().header.height > height  # the refusal is in a block


def _chain_events(world: World, prefix: str) -> list[dict[str, Any]]:
    from healthledger.crypto.canonical import parse_json
    from healthledger.ledger.store import Store

    store = Store(world.root / "data" / "ledger.sqlite", readonly=True)
    try:
        return [parse_json(v) for _k, v in store.state_scan("records", prefix)]
    finally:
        store.close()


def test_consents_export_as_fhir(world: World) -> None:
    bundle = world.as_("alice").consents(world.pid("alice"), fhir=True)
    kinds = {e.resource["resourceType"] for e in bundle.entry}
    assert kinds == {"Consent"} and bundle.total >= 3


def test_representative_grants_and_reads_within_their_powers(world: World) -> None:
    alice = world.as_("alice")
    appointment = alice.appoint(
        world.signer("alice"),
        world.pid("bruno"),
        "proxy",
        ["read", "grant"],
        int(time.time() * 1000) + 3_600_000,
    ).appointment_id
    bruno = world.as_("bruno")
    assert bruno.read(world.records["hr"], "patient_request").access.basis == "representative"
    report = bruno.grant(
        world.signer("bruno"),
        {"kind": "member", "org": "general-hospital", "member": "general-hospital/dr-bob"},
        ["treatment"],
        patient=world.pid("alice"),
        appointment_id=appointment,
    )
    assert report.result["code"] == "ok"
    assert world.as_("dr-bob").read(world.records["hr"], "treatment").access.basis == "consent"
    # revoking needs the 'revoke' power, which bruno was not given
    with pytest.raises(LedgerError):
        bruno.revoke(world.signer("bruno"), report.consent_id, appointment_id=appointment)


def test_correction_and_crypto_shredding(world: World, tmp_path: Path) -> None:
    ada, alice = world.as_("dr-ada"), world.as_("alice")
    original = ada.add(world.pid("alice"), HEART_RATE).record_id
    copy = alice.read(original, "patient_request")
    history = alice.history(original)
    assert [v["id"] for v in history.versions] == [original]
    certificate = alice.shred(world.signer("alice"), original, "patient_request")
    assert certificate["tx"]["type"] == "record.shred"
    record = world.client.verified_state("records", f"record/{original}")
    assert record["status"] == "shredded" and record["wrapped_keys"] is None
    assert record["content_hash"] == copy.record["content_hash"]
    with pytest.raises(ApiError) as caught:
        alice.read(original, "patient_request")
    assert caught.value.status == 410
    blob = world.root / "data" / "vault" / "blobs" / record["blob_id"][:2] / record["blob_id"]
    wait_for(lambda: not blob.exists(), timeout=10)


def test_a_correction_points_to_the_version_it_replaces(world: World) -> None:
    ada = world.as_("dr-ada")
    original = ada.add(world.pid("alice"), CONDITION).record_id
    corrected = {**CONDITION, "onsetDateTime": "2024-06-01"}
    new = ada.add(world.pid("alice"), corrected, replaces=original).record_id
    versions = world.as_("alice").history(original).versions
    assert [v["id"] for v in versions] == [original, new]
    assert versions[0]["status"] == "superseded" and versions[1]["date"] == "2024-06-01"
    with pytest.raises(ApiError) as caught:
        ada.add(world.pid("alice"), corrected, replaces=original)
    assert caught.value.remote_code == "invalid_state"


def test_large_file_streams_through_the_vault(world: World, tmp_path: Path) -> None:
    path = tmp_path / "sample.vcf"
    with path.open("wb") as handle:
        for i in range(40_000):
            handle.write(f"chr1\t{1000 + i}\t.\tA\tG\t50\tPASS\tDP={i % 90}\n".encode())
    added = world.as_("dr-ada").add_file(world.pid("alice"), "vcf", "2026-01-15", path)
    out = tmp_path / "back.vcf"
    copy = world.as_("alice").read_to_file(added.record_id, "patient_request", out)
    assert out.read_bytes() == path.read_bytes()
    assert copy.record["media_type"] == "text/vcf" or copy.record["media_type"].endswith("vcf")


def _vault_blobs(world: World) -> int:
    import sqlite3

    db = sqlite3.connect(f"file:{world.root / 'data' / 'vault' / 'vault.sqlite'}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM blobs").fetchone()[0])
    finally:
        db.close()


def test_bad_records_are_refused_one_by_one_and_leave_nothing_behind(world: World) -> None:
    ada, alice = world.as_("dr-ada"), world.pid("alice")
    before = len(world.as_("alice").locate(alice).records)
    blobs = _vault_blobs(world)
    results = ada.add_batch(
        [
            (alice, {"resourceType": "Observation", "code": {"text": "no status"}}),
            (alice, {"resourceType": "Organization", "name": "not about one patient"}),
            ("pat_" + "0" * 32, HEART_RATE),
            (alice, HEART_RATE),
        ]
    )
    codes = [r.error.code if isinstance(r, BatchFailure) else None for r in results]
    assert codes == ["invalid_resource", "invalid_resource", "not_found", None]
    first = results[0]
    assert isinstance(first, BatchFailure) and "status" in first.error.message
    assert len(world.as_("alice").locate(alice).records) == before + 1
    assert _vault_blobs(world) == blobs + 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "malformed"),
        (b"[]", "malformed"),
        (b'{"patient": 7}', "malformed"),
        (b'{"patient": "pat_x", "resource": "text"}', "invalid_resource"),
        (b'{"records": []}', "malformed"),
    ],
)
def test_malformed_bodies_get_a_code_and_change_nothing(
    world: World, body: bytes, code: str
) -> None:
    path = "/v1/records/batch" if b"records" in body else "/v1/records"
    height = world.client.block().header.height
    blobs = _vault_blobs(world)
    headers = sign_request(
        world.people["dr-ada"],
        CHAIN,
        "POST",
        path,
        hashlib.sha256(body).hexdigest(),
        audience=AUDIENCE,
    )
    response = httpx.post(world.url + path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code
    assert _vault_blobs(world) == blobs
    assert world.client.block().header.height == height
