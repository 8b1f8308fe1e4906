"""The vault's side of a Bundle import: refused in `apply`, it leaves no ciphertext behind;
fingerprints are keyed by this vault and scoped to its custodian and the patient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_records_service import Setup

from fhir_examples import patient_bundle
from healthledger.client.sdk import registration_payload
from healthledger.crypto.keys import derive_patient_id
from healthledger.errors import LedgerError
from healthledger.vault import Vault


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    s = Setup(tmp_path / "net")
    doctor, patient = s.person("doctor"), s.person("patient")
    s.run(
        s.hospital.sign(
            "member.enroll",
            {
                "member_id": "doc",
                "name": "doc",
                "role": "practitioner",
                "signing_key": doctor.key_id,
                "encryption_key": doctor.keys.encryption_public.hex(),
            },
        )
    )
    s.run(
        patient.sign(
            "patient.register",
            registration_payload(patient.keys, "records-service", s.hospital.keys),
        )
    )
    yield s
    s.node.stop()


def _files(setup: Setup) -> list[Path]:
    return [b for b in (setup.service.vault.root / "blobs").rglob("*") if b.is_file()]


def _indexed_blobs(setup: Setup) -> int:
    (count,) = setup.service.vault._db.execute("SELECT count(*) FROM blobs").fetchone()
    return int(count)


def test_an_import_refused_in_apply_leaves_no_ciphertext(setup: Setup) -> None:
    patient = derive_patient_id(setup.people["patient"].key_id)
    _signed, doctor = setup.authenticate("doctor")
    bundle = patient_bundle(8)
    bundle["entry"][3]["resource"] = {
        **bundle["entry"][3]["resource"],
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">' + "x" * 70_000 + "</div>",
        },
    }  # one entry over the inline limit: a file
    prepared = setup.service.prepare_import(doctor, patient, bundle)
    assert len(_files(setup)) == 1 and _indexed_blobs(setup) == 8
    # the doctor leaves between the vault's checks and the import's block
    setup.run(setup.hospital.sign("member.revoke", {"member_id": "doc"}))
    (committed,) = setup.service.commit([prepared])
    assert not isinstance(committed, LedgerError) and not committed.result.ok
    with pytest.raises(LedgerError) as refused:
        setup.service.finish_import(prepared, committed)
    assert refused.value.code == "invalid_field"
    assert _files(setup) == [] and _indexed_blobs(setup) == 0
    assert (
        setup.service.vault.fingerprinted("hospital", [i.fingerprint for i in prepared.items]) == {}
    )


def test_fingerprints_are_keyed_by_the_vault_and_scoped(tmp_path: Path) -> None:
    one, two = Vault(tmp_path / "one"), Vault(tmp_path / "two")
    resource = b'{"resourceType":"Observation"}'
    a = one.fingerprint("hospital", "pat_a", resource)
    assert a == one.fingerprint("hospital", "pat_a", resource)
    assert a != two.fingerprint("hospital", "pat_a", resource)  # another vault's key
    assert a != one.fingerprint("clinic", "pat_a", resource)
    assert a != one.fingerprint("hospital", "pat_b", resource)
    one.remember_fingerprints("hospital", [(a, "rec-" + "1" * 24)])
    assert one.fingerprinted("hospital", [a]) == {a: "rec-" + "1" * 24}
    assert one.fingerprinted("clinic", [a]) == {}
    one.close()
    reopened = Vault(tmp_path / "one")
    assert reopened.fingerprint("hospital", "pat_a", resource) == a  # the key is kept
    reopened.close()
    two.close()


def _condition(patient: str) -> dict[str, object]:
    return {
        "resourceType": "Condition",
        "subject": {"reference": f"Patient/{patient}"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "195967001"}]},
        "onsetDateTime": "2025-05-01",
    }


def _bundle_of(*resources: dict[str, object]) -> dict[str, object]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{n}", "resource": r} for n, r in enumerate(resources)],
    }


def test_a_record_added_alone_is_a_duplicate_in_a_later_bundle(setup: Setup) -> None:
    patient = derive_patient_id(setup.people["patient"].key_id)
    _signed, doctor = setup.authenticate("doctor")
    alone = setup.service.prepare_add_resource(doctor, patient, _condition(patient))
    added = setup.service.finish_add(alone, setup.commit(alone))
    other = {**_condition(patient), "onsetDateTime": "2024-01-02"}
    prepared = setup.service.prepare_import(doctor, patient, _bundle_of(_condition(patient), other))
    imported = setup.service.finish_import(prepared, setup.commit(prepared))
    assert [(e.status, e.record_id == added.record_id) for e in imported.entries] == [
        ("duplicate", True),
        ("added", False),
    ]


def test_an_add_that_never_committed_is_no_duplicate(setup: Setup) -> None:
    patient = derive_patient_id(setup.people["patient"].key_id)
    _signed, doctor = setup.authenticate("doctor")
    never = setup.service.prepare_add_resource(doctor, patient, _condition(patient))
    setup.service.abandon_add(never)
    prepared = setup.service.prepare_import(doctor, patient, _bundle_of(_condition(patient)))
    imported = setup.service.finish_import(prepared, setup.commit(prepared))
    assert [e.status for e in imported.entries] == ["added"]
    # and a refused copy does not hide the record that now exists
    again = setup.service.prepare_add_resource(doctor, patient, _condition(patient))
    setup.service.abandon_add(again)
    prepared = setup.service.prepare_import(doctor, patient, _bundle_of(_condition(patient)))
    assert [i.record_id for i in prepared.items] == [imported.entries[0].record_id]
    assert prepared.unsigned is None
