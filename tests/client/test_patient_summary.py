"""The patient summary abroad on a real node process holding two custodians' keys.

St Mary's hospital and West Clinic are both served by the one node (a node is the
custodian of every organisation whose key file it holds): the patient's allergy,
medication, problem and demographics are held at the hospital, the immunization, lab
result and vital sign at the clinic. A clinician of a hospital abroad, consented per
custodian, assembles the IPS document; it is held to the R4B models and to hand-written
rules of the IPS structure, and each entry to the record and the audit event it came from.

A third custodian, East Clinic, holds a second allergy record, but its key leaves the
node once the record is added: its vault is elsewhere, and that record is left out of
every summary and listed beside it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import enroll_member, register_patient, serve_network, start_node, stop_node
from healthledger.client.held import (
    HELD_FORMAT,
    HeldStatement,
    Payload,
    _statement_bytes,
    hold_summary,
    open_held,
    open_held_with,
)
from healthledger.client.records import Records
from healthledger.client.sdk import ApiError, Client, Signer
from healthledger.client.summary import IPS_ABSENT, REQUIRED_SECTIONS, PatientSummary, record_url
from healthledger.crypto.envelope import encrypt_bytes, new_data_key
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair
from healthledger.errors import LedgerError
from healthledger.node.home import Home
from healthledger.node.process import wait_until_up
from ips_rules import check_ips, record_of

CHAIN = "summary-net"
ORGS = [
    ("st-marys", "hospital", "St Mary's"),
    ("westclinic", "clinic", "West Clinic"),
    ("hopital-abroad", "hospital", "Hopital Abroad"),
    ("acme-insurance", "insurer", "Acme Insurance"),
    ("eastclinic", "clinic", "East Clinic"),
]
# How a record whose custodian this node cannot reach for the reader is refused: today
# `not_custodian`; with cross-organisation reads, `custodian_unavailable`.
ELSEWHERE = {"not_custodian", "custodian_unavailable"}
LOINC = "http://loinc.org"
RECENT = (datetime.now(UTC).date() - timedelta(days=30)).isoformat()
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


ALLERGY = {
    "resourceType": "AllergyIntolerance",
    "clinicalStatus": _concept(
        "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"
    ),
    "code": _concept("http://snomed.info/sct", "764146007", "Penicillin"),
    "patient": {"reference": "Patient/local-1"},
    "recordedDate": "2019-04-02",
}
MEDICATION = {
    "resourceType": "MedicationStatement",
    "status": "active",
    "medicationCodeableConcept": _concept(
        "http://www.nlm.nih.gov/research/umls/rxnorm", "860975", "Metformin 500 MG"
    ),
    "subject": {"reference": "Patient/local-1"},
    "effectiveDateTime": "2024-01-10",
}
CONDITION = {
    "resourceType": "Condition",
    "clinicalStatus": _concept(
        "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"
    ),
    "code": _concept("http://snomed.info/sct", "44054006", "Type 2 diabetes mellitus"),
    "subject": {"reference": "Patient/local-1"},
    "onsetDateTime": "2023-11-05",
}
DEMOGRAPHICS = {
    "resourceType": "Patient",
    "name": [{"family": "Okafor", "given": ["Ngozi"]}],
    "birthDate": "1971-06-14",
}
IMMUNIZATION = {
    "resourceType": "Immunization",
    "status": "completed",
    "vaccineCode": _concept("http://hl7.org/fhir/sid/cvx", "140", "Influenza, seasonal"),
    "patient": {"reference": "Patient/x"},
    "occurrenceDateTime": "2025-10-01",
}
LATEX = {
    **ALLERGY,
    "code": _concept("http://snomed.info/sct", "1003755004", "Natural rubber latex"),
}
LAB = {
    "resourceType": "Observation",
    "status": "final",
    "category": [_concept(CATEGORY, "laboratory", "Laboratory")],
    "code": _concept(LOINC, "4548-4", "Hemoglobin A1c"),
    "subject": {"reference": "Patient/x"},
    "effectiveDateTime": RECENT,
    "valueQuantity": {"value": 7.1, "unit": "%"},
}
VITAL = {
    "resourceType": "Observation",
    "status": "final",
    "category": [_concept(CATEGORY, "vital-signs", "Vital Signs")],
    "code": _concept(LOINC, "8867-4", "Heart rate"),
    "subject": {"reference": "Patient/x"},
    "effectiveDateTime": RECENT,
    "valueQuantity": {"value": 72, "unit": "beats/minute"},
}
HOSPITAL_RECORDS = {
    "allergy": ALLERGY,
    "medication": MEDICATION,
    "condition": CONDITION,
    "patient": DEMOGRAPHICS,
}
CLINIC_RECORDS = {"immunization": IMMUNIZATION, "lab": LAB, "vital": VITAL}


@dataclass
class World:
    root: Path
    url: str
    client: Client
    people: dict[str, KeyPair]
    records: dict[str, str]  # name -> record id
    custodian: dict[str, str]  # record id -> custodian
    consents: dict[str, str]

    def as_(self, name: str) -> Records:
        return Records(self.client, self.people[name], CHAIN)

    def pid(self, name: str) -> str:
        return derive_patient_id(self.people[name].key_id)

    def signer(self, name: str) -> Signer:
        signer = Signer(self.people[name], CHAIN)
        signer.sync_nonce(self.client)
        return signer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("summary") / "net"
    url, process = serve_network(root, CHAIN, ORGS)
    home = Home(root)
    client = Client(url, keys=home.key_path("st-marys"))
    orgs = {org: Signer(load_keypair(home.key_path(org)), CHAIN) for org, _r, _n in ORGS}
    w = World(root, url, client, {}, {}, {}, {})
    try:
        _populate(w, orgs)
        # East Clinic's vault moves off this node: its key goes, the node restarts.
        stop_node(process)
        home.key_path("eastclinic").unlink()
        process = start_node(root)
        wait_until_up(url, process)
        yield w
    finally:
        client.close()
        stop_node(process)


def _populate(w: World, orgs: dict[str, Signer]) -> None:
    for org, member, role in (
        ("st-marys", "dr-ann", "practitioner"),
        ("westclinic", "dr-wes", "practitioner"),
        ("eastclinic", "dr-eve", "practitioner"),
        ("hopital-abroad", "dr-abe", "practitioner"),
        ("hopital-abroad", "dr-eli", "practitioner"),  # for the emergency
        ("hopital-abroad", "dr-nul", "practitioner"),  # never consented
        ("acme-insurance", "adjuster", "practitioner"),  # enrolled so, but not a care-giver
    ):
        w.people[member] = enroll_member(w.client, orgs[org], member, role)
    for patient in ("ngozi", "bob"):
        w.people[patient] = register_patient(w.client, CHAIN)
    for author, batch in (("dr-ann", HOSPITAL_RECORDS), ("dr-wes", CLINIC_RECORDS)):
        for name, resource in batch.items():
            added = w.as_(author).add(w.pid("ngozi"), resource)
            w.records[name] = added.record_id
            w.custodian[added.record_id] = "st-marys" if author == "dr-ann" else "westclinic"
    latex = w.as_("dr-eve").add(w.pid("ngozi"), LATEX).record_id
    w.records["latex"], w.custodian[latex] = latex, "eastclinic"
    # bob has no Patient record: his summary names him by pseudonym only
    w.records["bob-condition"] = w.as_("dr-ann").add(w.pid("bob"), CONDITION).record_id
    ngozi, signer = w.as_("ngozi"), w.signer("ngozi")
    abe = {"kind": "member", "org": "hopital-abroad", "member": "hopital-abroad/dr-abe"}
    for custodian, names in (
        ("st-marys", list(HOSPITAL_RECORDS)),
        ("westclinic", list(CLINIC_RECORDS)),
        ("eastclinic", ["latex"]),
    ):
        w.consents[custodian] = ngozi.grant(
            signer, abe, ["treatment"], record_ids=[w.records[name] for name in names]
        ).consent_id


def _summary_fullurls(summary: PatientSummary) -> dict[str, dict[str, Any]]:
    return {e["fullUrl"]: e["resource"] for e in summary.bundle["entry"]}


# --- the summary ---------------------------------------------------------------------------------


def test_a_consented_clinician_assembles_the_ips_from_two_custodians(world: World) -> None:
    patient = world.pid("ngozi")
    before = {e["id"] for e in world.as_("ngozi").audit(patient).events}
    summary = world.as_("dr-abe").summary(patient, "treatment")
    sections = check_ips(summary.bundle)
    cited = {key: sorted(record_of(r) for r in rs) for key, rs in sections.items()}
    ids = world.records
    assert cited == {
        "allergies": [ids["allergy"]],
        "medications": [ids["medication"]],
        "problems": [ids["condition"]],
        "vital_signs": [ids["vital"]],
        "immunizations": [ids["immunization"]],
        "results": [ids["lab"]],
    }
    by_url = _summary_fullurls(summary)
    for record_id, custodian in _reachable(world).items():
        resource = by_url[record_url(record_id)]
        assert resource["meta"]["source"] == f"urn:healthledger:org:{custodian}#{record_id}"
    # demographics: the patient's own Patient record, with the pseudonym beside its name
    subject = by_url[summary.bundle["entry"][0]["resource"]["subject"]["reference"]]
    assert record_of(subject) == ids["patient"] and subject["name"][0]["family"] == "Okafor"
    assert {"system": "urn:healthledger:patient", "value": patient} in subject["identifier"]
    _only_latex_left_out(world, summary)
    assert len(summary.included) == 7
    author = summary.bundle["entry"][0]["resource"]["author"][0]
    assert author["identifier"]["value"] == "hopital-abroad/dr-abe"
    # one read per included record, recorded by that record's custodian, citing the consent
    events = [e for e in world.as_("ngozi").audit(patient).events if e["id"] not in before]
    assert sorted(e["record"] for e in events) == sorted(_reachable(world))
    for event in events:
        assert event["reader"]["id"] == "hopital-abroad/dr-abe" and not event["break_glass"]
        assert event["custodian"] == world.custodian[event["record"]]
        assert event["consent"] == world.consents[event["custodian"]]
    assert {i.access_tx for i in summary.included} == {e["tx_id"] for e in events}


def _reachable(world: World) -> dict[str, str]:
    return {r: c for r, c in world.custodian.items() if c != "eastclinic"}


def _only_latex_left_out(world: World, summary: PatientSummary) -> None:
    """East Clinic's allergy is listed beside the Bundle, with the read's refusal."""
    (missing,) = summary.left_out
    assert (missing.record_id, missing.custodian) == (world.records["latex"], "eastclinic")
    assert missing.section == "allergies" and missing.code in ELSEWHERE
    composition = summary.bundle["entry"][0]["resource"]
    sections = composition["section"]
    (allergies,) = [s for s in sections if s["code"]["coding"][0]["code"] == "48765-2"]
    assert "1 record of this section could not be read" in allergies["text"]["div"]


def test_the_patient_summarises_their_own_records(world: World) -> None:
    summary = world.as_("ngozi").summary(world.pid("ngozi"), "patient_request")
    sections = check_ips(summary.bundle)
    assert len(summary.included) == 7 and all(k in sections for k in REQUIRED_SECTIONS)
    _only_latex_left_out(world, summary)
    author = summary.bundle["entry"][0]["resource"]["author"][0]
    assert author["reference"] == record_url(world.records["patient"])


def test_a_patient_without_demographics_is_named_by_pseudonym_only(world: World) -> None:
    patient = world.pid("bob")
    summary = world.as_("bob").summary(patient, "patient_request")
    sections = check_ips(summary.bundle)
    subject = summary.bundle["entry"][1]["resource"]
    assert subject == {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:healthledger:patient", "value": patient}],
    }
    # nothing known of allergies or medications: IPS's "no information" entries
    (allergy,) = sections["allergies"]
    assert allergy["code"]["coding"][0]["system"] == IPS_ABSENT
    assert allergy["code"]["coding"][0]["code"] == "no-allergy-info"
    assert sections["medications"][0]["medicationCodeableConcept"]["coding"][0]["code"] == (
        "no-medication-info"
    )
    assert [record_of(r) for r in sections["problems"]] == [world.records["bob-condition"]]
    assert set(sections) == set(REQUIRED_SECTIONS)  # empty optional sections are left out


def test_a_representative_summarises_for_the_patient(world: World) -> None:
    ngozi, patient = world.as_("ngozi"), world.pid("ngozi")
    until = int(datetime.now(UTC).timestamp() * 1000) + 3_600_000
    appointment = ngozi.appoint(
        world.signer("ngozi"), world.pid("bob"), "proxy", ["read"], until
    ).appointment_id
    summary = world.as_("bob").summary(patient, "patient_request")
    check_ips(summary.bundle)
    assert len(summary.included) == 7
    author = summary.bundle["entry"][0]["resource"]["author"][0]
    assert (author["type"], author["identifier"]["value"]) == ("RelatedPerson", world.pid("bob"))
    reads = [e for e in ngozi.audit(patient).events if e["reader"]["id"] == world.pid("bob")]
    assert {e["appointment"] for e in reads} == {appointment}
    assert {e["basis"] for e in reads} == {"representative"}


def test_a_revoked_consent_removes_that_custodians_entries(world: World) -> None:
    ngozi = world.as_("ngozi")
    ngozi.revoke(world.signer("ngozi"), world.consents["westclinic"], "withdrawn")
    try:
        summary = world.as_("dr-abe").summary(world.pid("ngozi"), "treatment")
        sections = check_ips(summary.bundle)
        cited = {record_of(r) for rs in sections.values() for r in rs}
        assert {world.custodian[r] for r in cited} == {"st-marys"}
        assert set(sections) == set(REQUIRED_SECTIONS)
        assert {i.custodian for i in summary.included} == {"st-marys"}
    finally:
        abe = {"kind": "member", "org": "hopital-abroad", "member": "hopital-abroad/dr-abe"}
        clinic = [world.records[name] for name in CLINIC_RECORDS]
        world.consents["westclinic"] = ngozi.grant(
            world.signer("ngozi"), abe, ["treatment"], record_ids=clinic
        ).consent_id


def test_break_glass_summary_is_flagged_and_reads_the_most_needed_first(world: World) -> None:
    patient = world.pid("ngozi")
    reason = "unconscious on arrival, on holiday, no history"
    summary = world.as_("dr-eli").summary(patient, "emergency", break_glass_reason=reason)
    sections = check_ips(summary.bundle)
    # five break-glass accesses a day (the genesis default): the search and four reads,
    # spent on the required sections and the demographics first
    assert {i.section for i in summary.included} == {*REQUIRED_SECTIONS, "patient"}
    assert all(i.break_glass for i in summary.included)
    limited = [r for r in summary.left_out if r.code == "rate_limited"]
    assert {r.section for r in limited} == {"vital_signs", "immunizations", "results"}
    (elsewhere,) = [r for r in summary.left_out if r.code != "rate_limited"]
    assert elsewhere.record_id == world.records["latex"] and elsewhere.code in ELSEWHERE
    for key in ("vital_signs", "immunizations", "results"):
        assert sections[key] == []  # listed as unavailable, not as "none"
    composition = summary.bundle["entry"][0]["resource"]
    unavailable = [s for s in composition["section"] if "emptyReason" in s]
    assert {s["emptyReason"]["coding"][0]["code"] for s in unavailable} == {"unavailable"}
    assert all("could not be read" in s["text"]["div"] for s in unavailable)
    flagged = world.as_("ngozi").audit(patient).break_glass
    mine = [e for e in flagged if e["reader"]["id"] == "hopital-abroad/dr-eli"]
    assert sorted(e["action"] for e in mine) == ["locate", "read", "read", "read", "read"]
    assert all(e["reason"] == reason for e in mine)


def _refused(call: Any, code: str) -> None:
    with pytest.raises(ApiError) as caught:
        call()
    assert caught.value.remote_code == code, caught.value.message


def test_a_caller_without_standing_gets_nothing(world: World) -> None:
    patient = world.pid("ngozi")
    before = len(world.as_("ngozi").audit(patient).events)
    _refused(lambda: world.as_("dr-nul").summary(patient, "treatment"), "no_consent")
    _refused(lambda: world.as_("adjuster").summary(patient, "treatment"), "no_consent")
    _refused(
        lambda: world.as_("adjuster").summary(
            patient, "emergency", break_glass_reason="claims to be an emergency today"
        ),
        "unauthorized",
    )
    with pytest.raises(LedgerError) as caught:
        world.as_("dr-nul").summary(patient, "treatment", break_glass_reason="a long reason")
    assert caught.value.code == "invalid_field"  # break-glass is for the purpose emergency
    assert len(world.as_("ngozi").audit(patient).events) == before


def test_a_lying_locator_cannot_put_another_patients_record_in_the_summary(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The locator's answer is the node's word; a record's patient is the chain's. A node
    that lists bob's record among ngozi's (which dr-ann may read: she wrote it) gets it
    left out (its read is audited at bob's: she made it) instead of filed under ngozi's
    Patient."""
    patient, bob = world.pid("ngozi"), world.pid("bob")
    dr_ann = world.as_("dr-ann")
    honest = Records.locate
    bobs = honest(world.as_("bob"), bob).records

    def lying(self: Records, who: str, *args: Any, **kwargs: Any) -> Any:
        located = honest(self, who, *args, **kwargs)
        return located.model_copy(update={"records": [*located.records, *bobs]})

    monkeypatch.setattr(Records, "locate", lying)
    summary = dr_ann.summary(patient, "treatment")
    cited = {record_of(r) for rs in check_ips(summary.bundle).values() for r in rs}
    assert world.records["bob-condition"] not in cited
    (left,) = [o for o in summary.left_out if o.record_id == world.records["bob-condition"]]
    assert left.code == "invalid_field" and patient in left.message


# --- the held copy -------------------------------------------------------------------------------


def _held(world: World) -> tuple[PatientSummary, bytes, str]:
    patient = world.pid("ngozi")
    summary = world.as_("ngozi").summary(patient, "patient_request")
    held = hold_summary(summary.bundle, patient, world.people["ngozi"], "ips-ngozi.hlips")
    return summary, held.file, held.payload


def test_held_copy_round_trip_offline_and_against_the_ledger(world: World) -> None:
    summary, file, payload = _held(world)
    assert world.pid("ngozi").encode() not in file  # the file alone names nobody
    assert len(payload) < 200  # fits a QR code
    opened = open_held(file, payload)
    assert opened.bundle == summary.bundle and opened.patient == world.pid("ngozi")
    assert any("derives the patient id" in v for v in opened.verified)
    with Client(world.url) as client:
        online = open_held_with(file, payload, client, world.people["dr-abe"])
    assert any("current key, proven against pinned header" in v for v in online.verified)


def test_a_tampered_held_copy_is_refused(world: World) -> None:
    _summary, file, payload = _held(world)
    altered = bytearray(file)
    altered[len(altered) // 2] ^= 1
    with pytest.raises(LedgerError) as caught:
        open_held(bytes(altered), payload)
    assert caught.value.code == "hash_mismatch"
    # altered, with the pointer moved to match: the encryption still refuses it
    moved = Payload.parse(payload)
    retargeted = Payload(moved.name, hashlib.sha256(altered).hexdigest(), moved.data_key)
    with pytest.raises(LedgerError) as caught:
        open_held(bytes(altered), retargeted.text())
    assert caught.value.code in {"decryption_failed", "malformed"}


def test_a_wrong_key_opens_nothing(world: World) -> None:
    _summary, file, payload = _held(world)
    parsed = Payload.parse(payload)
    wrong = Payload(parsed.name, parsed.sha256, new_data_key())
    with pytest.raises(LedgerError) as caught:
        open_held(file, wrong.text())
    assert caught.value.code == "decryption_failed"


def _forged(bundle: dict[str, Any], patient: str, signer: KeyPair) -> tuple[bytes, str]:
    """A held file made by hand, signed by `signer` in `patient`'s name."""
    summary = orjson.dumps(bundle)
    statement = HeldStatement(
        format=HELD_FORMAT,
        patient=patient,
        signer=signer.key_id,
        created_ms=1,
        summary_sha256=hashlib.sha256(summary).hexdigest(),
    )
    inner = {
        "statement": statement.wire(),
        "signature": signer.sign(_statement_bytes(statement)).hex(),
        "summary": base64.b64encode(summary).decode(),
    }
    key = new_data_key()
    ciphertext, _ = encrypt_bytes(key, orjson.dumps(inner))
    sealed = base64.b64encode(ciphertext).decode()
    file = orjson.dumps({"format": HELD_FORMAT, "ciphertext": sealed})
    return file, Payload("forged", hashlib.sha256(file).hexdigest(), key).text()


def test_a_summary_signed_by_a_key_not_the_patients_is_refused(world: World) -> None:
    summary, _file, _payload = _held(world)
    patient = world.pid("ngozi")
    for signer in (KeyPair.generate(), world.people["bob"], world.people["dr-abe"]):
        file, payload = _forged(summary.bundle, patient, signer)
        with pytest.raises(LedgerError) as caught:
            open_held(file, payload)
        assert caught.value.code == "unauthorized"
        with Client(world.url) as client, pytest.raises(LedgerError) as caught:
            open_held_with(file, payload, client, world.people["dr-abe"])
        assert caught.value.code == "unauthorized"
    # bob signs in his own name, over ngozi's summary: not his summary to hold
    file, payload = _forged(summary.bundle, world.pid("bob"), world.people["bob"])
    with pytest.raises(LedgerError) as caught:
        open_held(file, payload)
    assert caught.value.code == "unauthorized"
    with pytest.raises(LedgerError) as caught:
        hold_summary(summary.bundle, patient, world.people["bob"], "x")
    assert caught.value.code == "unauthorized"


# --- the command line ---------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "healthledger", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_summary_hold_and_open(world: World, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("ngozi", "dr-abe", "dr-nul"):
        (keys / f"{name}.json").write_text(json.dumps(world.people[name].to_dict()))
    ips, held, qr = tmp_path / "ips.json", tmp_path / "ips.hlips", tmp_path / "qr.txt"
    made = _cli(
        "records",
        "summary",
        world.pid("ngozi"),
        "--key",
        str(keys / "ngozi.json"),
        "--purpose",
        "patient_request",
        "--out",
        str(ips),
        "--hold",
        str(held),
        "--qr-payload",
        str(qr),
        "--url",
        world.url,
        "--json",
    )
    assert made.returncode == 0, made.stderr + made.stdout
    report = json.loads(made.stdout)
    assert len(report["included"]) == 7
    assert [r["record_id"] for r in report["left_out"]] == [world.records["latex"]]
    check_ips(json.loads(ips.read_text()))
    offline = _cli("records", "summary-open", str(held), "--payload", str(qr), "--json")
    assert offline.returncode == 0, offline.stderr + offline.stdout
    assert json.loads(offline.stdout)["bundle"] == json.loads(ips.read_text())
    online = _cli(
        "records",
        "summary-open",
        str(held),
        "--payload",
        qr.read_text().strip(),
        "--url",
        world.url,
        "--key",
        str(keys / "dr-abe.json"),
        "--json",
    )
    assert online.returncode == 0, online.stderr + online.stdout
    assert any("proven against" in v for v in json.loads(online.stdout)["verified"])
    # only the patient holds a signed copy: anyone else is refused before anything is read
    other = _cli(
        "records",
        "summary",
        world.pid("ngozi"),
        "--key",
        str(keys / "dr-nul.json"),
        "--hold",
        str(tmp_path / "not-mine.hlips"),
        "--url",
        world.url,
        "--json",
    )
    assert other.returncode == 4 and json.loads(other.stdout)["error"]["code"] == "unauthorized"
    assert not (tmp_path / "not-mine.hlips").exists()
    held.write_bytes(held.read_bytes().replace(b'"ciphertext":"', b'"ciphertext":"AAAA'))
    refused = _cli("records", "summary-open", str(held), "--payload", str(qr), "--json")
    assert refused.returncode == 1 and json.loads(refused.stdout)["error"]["code"] == (
        "hash_mismatch"
    )


def test_a_held_copy_nested_too_deep_is_refused_not_a_crash() -> None:
    """A hand-made held copy nesting ~240 levels (the R4B models recurse per level) is a
    stable refusal, whoever signed it."""
    patient = KeyPair.generate()
    pid = derive_patient_id(patient.key_id)
    deep: dict[str, Any] = {"url": "urn:x", "valueString": "x"}
    for _ in range(120):
        deep = {"url": "urn:x", "extension": [deep]}
    bundle = {
        "resourceType": "Bundle",
        "type": "document",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": "urn:healthledger:patient", "value": pid}],
                    "extension": [deep],
                }
            }
        ],
    }
    file, payload = _forged(bundle, pid, patient)
    with pytest.raises(LedgerError) as caught:
        open_held(file, payload)
    assert caught.value.code == "invalid_resource"
