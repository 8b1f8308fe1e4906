"""The vault service in-process: a read whose audit event does not commit releases nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from healthledger.client.sdk import Signer
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair
from healthledger.crypto.signed_request import body_hash, sign_request
from healthledger.errors import LedgerError
from healthledger.ledger.transaction import Transaction
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.node import Node, submit_and_wait
from healthledger.node.records import RecordService

CHAIN = "records-service"
OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
    "effectiveDateTime": "2026-02-01",
    "valueQuantity": {"value": 98, "unit": "mg/dL"},
}


class Setup:
    def __init__(self, root: Path) -> None:
        home = init_home(root, CHAIN, [("hospital", "hospital", "H"), ("lab", "laboratory", "L")])
        home.write_settings(NodeSettings(org="hospital", block_interval_ms=20))
        self.node = Node(root)
        self.node.start(parallel_check=False)
        self.service = RecordService(self.node)
        self.hospital = Signer(load_keypair(home.key_path("hospital")), CHAIN)
        self.lab = Signer(load_keypair(home.key_path("lab")), CHAIN)
        self.people: dict[str, Signer] = {}

    def run(self, tx: Transaction) -> Any:
        (report,) = submit_and_wait(self.node, [tx])
        assert not isinstance(report, LedgerError), report
        assert report[1].ok, report
        return report

    def commit(self, prepared: Any) -> Any:
        (report,) = self.service.commit([prepared])
        assert not isinstance(report, LedgerError), report
        assert report[1].ok, report
        return report

    def person(self, name: str) -> Signer:
        self.people[name] = Signer(KeyPair.generate(), CHAIN)
        return self.people[name]

    def authenticate(self, name: str) -> Any:
        keys = self.people[name].keys
        headers = sign_request(keys, CHAIN, "POST", "/t", audience="hospital")
        return self.service.authenticate(headers, "POST", "/t", body_hash(b""))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    s = Setup(tmp_path / "net")
    doctor, tech, patient = s.person("doctor"), s.person("tech"), s.person("patient")
    for org, signer, who, role in (
        (s.hospital, doctor, "doc", "practitioner"),
        (s.lab, tech, "tech", "technician"),
    ):
        s.run(
            org.sign(
                "member.enroll",
                {
                    "member_id": who,
                    "name": who,
                    "role": role,
                    "signing_key": signer.key_id,
                    "encryption_key": signer.keys.encryption_public.hex(),
                },
            )
        )
    s.run(
        patient.sign("patient.register", {"encryption_key": patient.keys.encryption_public.hex()})
    )
    yield s
    s.node.stop()


def test_a_read_whose_audit_event_fails_returns_no_data(setup: Setup) -> None:
    patient = derive_patient_id(setup.people["patient"].key_id)
    _signed, doctor = setup.authenticate("doctor")
    prepared_add = setup.service.prepare_add_resource(doctor, patient, OBSERVATION)
    added = setup.service.finish_add(prepared_add, *setup.commit(prepared_add))
    consent = "cns-" + "7" * 24
    setup.run(
        setup.people["patient"].sign(
            "consent.grant",
            {
                "consent_id": consent,
                "patient": patient,
                "grantee": {"kind": "org", "org": "lab"},
                "purposes": ["operations"],
                "expires_ms": 2**52,
            },
        )
    )
    request, tech = setup.authenticate("tech")
    prepared = setup.service.prepare_read(request, tech, added["record_id"], "operations", None)
    # the patient revokes between the vault's decision and the audit event's block
    setup.run(setup.people["patient"].sign("consent.revoke", {"consent_id": consent}))
    (report,) = setup.service.commit([prepared])
    assert not isinstance(report, LedgerError)
    assert report[1].code == "consent_revoked"
    with pytest.raises(LedgerError) as refused:
        setup.service.finish_read(prepared, *report)
    assert refused.value.code == "consent_revoked"
    audit = setup.node.store.state_scan("records", f"audit/{patient}/")
    assert audit == []


def test_a_successful_read_writes_exactly_one_event_naming_its_consent(setup: Setup) -> None:
    patient = derive_patient_id(setup.people["patient"].key_id)
    _signed, doctor = setup.authenticate("doctor")
    prepared_add = setup.service.prepare_add_resource(doctor, patient, OBSERVATION)
    added = setup.service.finish_add(prepared_add, *setup.commit(prepared_add))
    request, reader = setup.authenticate("patient")
    prepared = setup.service.prepare_read(
        request, reader, added["record_id"], "patient_request", None
    )
    view = setup.service.finish_read(prepared, *setup.commit(prepared))
    assert view["access"]["basis"] == "self" and view["ciphertext"]
    events = setup.node.store.state_scan("records", f"audit/{patient}/")
    assert len(events) == 1


def test_a_rejected_add_leaves_no_ciphertext_behind(setup: Setup) -> None:
    _signed, doctor = setup.authenticate("doctor")
    with pytest.raises(LedgerError) as refused:
        setup.service.prepare_add_resource(doctor, "pat_" + "0" * 32, OBSERVATION)
    assert refused.value.code == "not_found"
    with pytest.raises(LedgerError) as invalid:
        setup.service.prepare_add_resource(
            doctor, "pat_" + "0" * 32, {"resourceType": "Observation"}
        )
    assert invalid.value.code == "invalid_resource"
    blobs = list((setup.service.vault.root / "blobs").rglob("*"))
    assert [b for b in blobs if b.is_file()] == []
