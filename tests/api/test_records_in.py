"""Records in the way real systems send them, on a real node: every patient-linked type,
resources of any size, and whole Bundles imported in one atomic step.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from conftest import enroll_member, register_patient, serve_network, stop_node
from fhir_examples import ENCOUNTER_URL, EXAMPLES, PATIENT_URL, patient_bundle
from healthledger.client.records import Records
from healthledger.client.sdk import ApiError, Client, Signer
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair, save_keypair
from healthledger.domains.records.bundles import MAX_BUNDLE_ENTRIES, record_url
from healthledger.domains.records.replies import AddedRecord, BatchFailure
from healthledger.node.home import Home
from healthledger.vault.store import INLINE_MAX

CHAIN = "records-in"
ORGS = [("general-hospital", "hospital", "General Hospital")]


@dataclass
class World:
    root: Path
    url: str
    client: Client
    doctor: KeyPair
    doctor_key: Path

    def records(self, keys: KeyPair | None = None) -> Records:
        return Records(self.client, keys or self.doctor, CHAIN)

    def patient(self) -> tuple[KeyPair, str]:
        keys = register_patient(self.client, CHAIN)
        return keys, derive_patient_id(keys.key_id)

    def blob_count(self) -> int:
        """Ciphertexts this node's vault holds (index rows), read beside the running node."""
        vault = Home(self.root).db_path.parent / "vault" / "vault.sqlite"
        with sqlite3.connect(f"file:{vault}?mode=ro", uri=True) as db:
            (count,) = db.execute("SELECT count(*) FROM blobs").fetchone()
        return int(count)

    def cli(self, *args: str) -> tuple[int, dict[str, Any]]:
        result = subprocess.run(
            [sys.executable, "-m", "healthledger", *args, "--url", self.url, "--json"],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env={**os.environ, "HEALTHLEDGER_URL": self.url},
        )
        lines = result.stdout.strip().splitlines() or result.stderr.strip().splitlines()
        return result.returncode, json.loads(lines[-1])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("records-in") / "net"
    url, process = serve_network(root, CHAIN, ORGS)
    home = Home(root)
    client = Client(url, keys=home.key_path("general-hospital"))
    hospital = Signer(load_keypair(home.key_path("general-hospital")), CHAIN)
    doctor = enroll_member(client, hospital, "dr-ada", "practitioner")
    doctor_key = root.parent / "dr-ada.json"
    save_keypair(doctor, doctor_key)
    try:
        yield World(root, url, client, doctor, doctor_key)
    finally:
        client.close()
        stop_node(process)


def _exported(record_id: str, resource: dict[str, Any]) -> dict[str, Any]:
    """A record as the ledger's FHIR exports give it: fullUrl urn:healthledger:record:<id>."""
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": record_url(record_id), "resource": resource}],
    }
    Bundle.model_validate(bundle)
    return bundle


# --- every type ----------------------------------------------------------------------------


def test_every_new_type_round_trips(world: World) -> None:
    """Add, locate, read back and export a realistic resource of every newly accepted type."""
    _keys, patient = world.patient()
    doctor = world.records()
    kinds = sorted(EXAMPLES)
    outcomes = doctor.add_batch([(patient, EXAMPLES[kind][0]) for kind in kinds])
    failures = [(k, o) for k, o in zip(kinds, outcomes, strict=True) if isinstance(o, BatchFailure)]
    assert not failures, failures
    added = dict(zip(kinds, outcomes, strict=True))
    located = {entry.id: entry for entry in doctor.locate(patient).records}
    for kind in kinds:
        record = added[kind]
        assert isinstance(record, AddedRecord)
        resource, code, day = EXAMPLES[kind]
        assert (record.resource_type, record.code, record.date) == (kind, code, day)
        entry = located[record.record_id]
        assert (entry.resource_type, entry.custodian) == (kind, "general-hospital")
        copy_ = doctor.read(record.record_id, "treatment")
        assert copy_.resource() == resource
        assert copy_.record["media_type"] == "application/fhir+json"
        _exported(record.record_id, copy_.resource())


def test_types_not_about_a_patient_are_refused_with_the_reason(world: World) -> None:
    _keys, patient = world.patient()
    organisation = {"resourceType": "Organization", "name": "Acme Labs"}
    with pytest.raises(ApiError) as caught:
        world.records().add(patient, organisation)
    assert caught.value.code == "invalid_resource"
    assert "Organization is not about one patient" in caught.value.message


# --- any size --------------------------------------------------------------------------------


def _advance_directive(pdf: bytes) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "42348-3"}]},
        "subject": {"reference": "Patient/example"},
        "date": "2026-03-01T10:00:00Z",
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "title": "Advance directive",
                    "data": base64.b64encode(pdf).decode(),
                }
            }
        ],
    }


def _pdf(size: int) -> bytes:
    body = os.urandom(size)
    return b"%PDF-1.7\n" + body + b"\n%%EOF\n"


def test_a_large_document_goes_in_through_records_add_and_reads_back(
    world: World, tmp_path: Path
) -> None:
    """A 3 MB PDF inside a DocumentReference: stored as a file, streamed back on read."""
    _keys, patient = world.patient()
    resource = _advance_directive(_pdf(3 * 1024 * 1024))
    path = tmp_path / "advance-directive.json"
    path.write_text(json.dumps(resource))
    assert path.stat().st_size > INLINE_MAX
    code, added = world.cli(
        "records", "add", "--key", str(world.doctor_key), "--patient", patient,
        "--resource", str(path),
    )  # fmt: skip
    assert code == 0, added
    assert (added["resource_type"], added["code"]) == (
        "DocumentReference",
        "http://loinc.org|42348-3",
    )
    doctor = world.records()
    view = doctor.read_view(added["record_id"], "treatment")
    assert view.ciphertext is None  # not inline: the SDK streams it from content_url
    copy_ = doctor.read(added["record_id"], "treatment")
    assert copy_.resource() == resource
    assert copy_.record["media_type"] == "application/fhir+json"
    out = tmp_path / "read.json"
    code, read = world.cli(
        "records", "get", added["record_id"], "--key", str(world.doctor_key), "--out", str(out)
    )
    assert code == 0, read
    assert json.loads(out.read_bytes()) == resource


def test_a_resource_over_the_json_bound_is_refused(world: World) -> None:
    _keys, patient = world.patient()
    resource = _advance_directive(b"x" * (25 * 1024 * 1024))  # 33+ MB once base64
    before = world.blob_count()
    with pytest.raises(ApiError) as caught:
        world.records().add(patient, resource)
    assert caught.value.code == "too_large"
    assert world.blob_count() == before


# --- Bundles ---------------------------------------------------------------------------------


def test_a_bundle_of_fifty_imports_atomically_then_adds_nothing_again(world: World) -> None:
    _keys, patient = world.patient()
    doctor = world.records()
    bundle = patient_bundle(50)
    imported = doctor.import_bundle(patient, bundle)
    assert (imported.added, imported.duplicates) == (50, 0)
    assert imported.tx_id is not None and imported.height is not None
    assert [e.index for e in imported.entries] == list(range(50))
    assert all(e.status == "added" for e in imported.entries)
    ids = [e.record_id for e in imported.entries]
    assert len(set(ids)) == 50
    # one transaction registered them all
    located = {entry.id for entry in doctor.locate(patient).records}
    assert set(ids) <= located
    patient_url, encounter_url = record_url(ids[0]), record_url(ids[1])
    for index in (1, 2, 5, 6):
        resource = doctor.read(ids[index], "treatment").resource()
        subject = resource.get("subject") or resource.get("patient") or resource.get("beneficiary")
        subject = subject[0] if isinstance(subject, list) else subject
        assert subject == {"reference": patient_url}
    # entry 2 is a ServiceRequest naming the encounter too (fhir_examples)
    requests = [e for e in imported.entries if e.resource_type == "ServiceRequest"]
    read = doctor.read(requests[0].record_id, "treatment").resource()
    assert read["encounter"] == {"reference": encounter_url}

    again = doctor.import_bundle(patient, copy.deepcopy(bundle))
    assert (again.added, again.duplicates, again.tx_id) == (0, 50, None)
    assert [e.record_id for e in again.entries] == ids
    assert all(e.status == "duplicate" for e in again.entries)
    assert {entry.id for entry in doctor.locate(patient).records} == located


def test_a_bundle_with_a_few_new_entries_links_them_to_the_existing_ones(world: World) -> None:
    _keys, patient = world.patient()
    doctor = world.records()
    first = doctor.import_bundle(patient, patient_bundle(5))
    grown = patient_bundle(7)
    second = doctor.import_bundle(patient, grown)
    assert [e.status for e in second.entries] == ["duplicate"] * 5 + ["added"] * 2
    assert [e.record_id for e in second.entries][:5] == [e.record_id for e in first.entries]
    newest = doctor.read(second.entries[6].record_id, "treatment").resource()
    assert record_url(first.entries[0].record_id) in json.dumps(newest)


def test_a_bundle_with_one_invalid_entry_imports_nothing(world: World) -> None:
    keys, patient = world.patient()
    doctor = world.records()
    bundle = patient_bundle(50)
    bundle["entry"][31]["resource"]["meta"] = {"lastUpdated": "yesterday"}
    before = world.blob_count()
    with pytest.raises(ApiError) as caught:
        doctor.import_bundle(patient, bundle)
    assert caught.value.code == "invalid_resource"
    assert caught.value.message.startswith(f"entry 31 ({bundle['entry'][31]['fullUrl']})")
    assert world.records(keys).locate(patient).records == []  # the patient's own view
    assert world.blob_count() == before


def test_a_bundle_of_two_patients_imports_nothing(world: World) -> None:
    keys, patient = world.patient()
    doctor = world.records()
    bundle = patient_bundle(12)
    bundle["entry"][9]["resource"]["subject"] = {"reference": "Patient/someone-else"}
    with pytest.raises(ApiError) as caught:
        doctor.import_bundle(patient, bundle)
    assert caught.value.code == "invalid_resource" and "entry 9 (" in caught.value.message
    bundle = patient_bundle(12)
    bundle["entry"].append({"fullUrl": "urn:uuid:p2", "resource": {"resourceType": "Patient"}})
    with pytest.raises(ApiError) as caught:
        doctor.import_bundle(patient, bundle)
    assert "entry 12 (urn:uuid:p2): a second Patient" in caught.value.message
    assert world.records(keys).locate(patient).records == []  # the patient's own view


def test_too_many_entries_are_refused(world: World) -> None:
    _keys, patient = world.patient()
    with pytest.raises(ApiError) as caught:
        world.records().import_bundle(patient, patient_bundle(MAX_BUNDLE_ENTRIES + 1))
    assert caught.value.code == "too_large" and "at most 64 entries" in caught.value.message


def test_a_refused_import_leaves_no_ciphertext(world: World) -> None:
    """A Bundle that passes the vault's checks but is refused in `apply` stores nothing."""
    _keys, patient = world.patient()
    someone = world.records(KeyPair.generate())  # not a member: refused before the vault
    with pytest.raises(ApiError):
        someone.import_bundle(patient, patient_bundle(3))
    # A patient the chain does not know: refused before anything is stored.
    before = world.blob_count()
    with pytest.raises(ApiError) as caught:
        world.records().import_bundle("pat_" + "0" * 32, patient_bundle(3))
    assert caught.value.code == "not_found"
    assert world.blob_count() == before


def test_the_cli_imports_a_bundle_with_records_add_and_import(world: World, tmp_path: Path) -> None:
    _keys, patient = world.patient()
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(patient_bundle(6, "transaction")))
    key = str(world.doctor_key)
    code, report = world.cli(
        "records", "add", "--key", key, "--patient", patient, "--resource", str(path)
    )
    assert code == 0, report
    assert report["added"] == 6 and report["entries"][0]["full_url"] == PATIENT_URL
    assert report["entries"][1]["full_url"] == ENCOUNTER_URL
    code, again = world.cli("records", "import", "--key", key, "--patient", patient, str(path))
    assert code == 0, again
    assert again["duplicates"] == 6 and again["added"] == 0
    assert [e["record_id"] for e in again["entries"]] == [e["record_id"] for e in report["entries"]]


def test_a_bundle_entry_over_the_inline_limit_is_stored_as_a_file(world: World) -> None:
    _keys, patient = world.patient()
    bundle = patient_bundle(4)
    document = _advance_directive(_pdf(300 * 1024))
    document["subject"] = {"reference": PATIENT_URL}
    bundle["entry"].append({"fullUrl": "urn:uuid:advance-directive", "resource": document})
    doctor = world.records()
    imported = doctor.import_bundle(patient, bundle)
    assert imported.added == 5
    record_id = imported.entries[4].record_id
    assert doctor.read_view(record_id, "treatment").ciphertext is None
    read = doctor.read(record_id, "treatment").resource()
    assert read["subject"] == {"reference": record_url(imported.entries[0].record_id)}
    assert read["content"] == document["content"]


def _deep(depth: int) -> bytes:
    """An Observation whose extension nests `depth` levels (FHIR lets extensions nest), as
    JSON text: the SDK's encoder itself refuses such depth, a hostile client does not."""
    extension = '{"url": "http://example.org/e", "valueString": "v"}'
    for _ in range(depth):
        extension = '{"url": "http://example.org/e", "extension": [' + extension + "]}"
    return (
        '{"resourceType": "Observation", "status": "final", "code": {"coding": [{"system":'
        ' "http://loinc.org", "code": "8867-4"}]}, "subject": {"reference": "Patient/x"},'
        ' "extension": [' + extension + "]}"
    ).encode()


@pytest.mark.parametrize("depth", [300, 480])
def test_deeply_nested_resources_are_refused_not_a_crash(world: World, depth: int) -> None:
    """Nesting within the body parser's bound but past Python's or orjson's is refused
    with a stable code (invalid_resource) for one record and for a Bundle."""
    _keys, patient = world.patient()
    before = world.blob_count()
    resource = _deep(depth)
    bodies = {
        "/v1/records": b'{"patient": "' + patient.encode() + b'", "resource": ' + resource + b"}",
        "/v1/records/bundle": b'{"patient": "'
        + patient.encode()
        + b'", "bundle": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
        + resource
        + b"}]}}",
    }
    for path, body in bodies.items():
        with pytest.raises(ApiError) as caught:
            world.records()._signed("POST", path, body=body)
        assert caught.value.remote_code == "invalid_resource", (path, caught.value.message)
    assert world.blob_count() == before
