"""The vault service in-process: a read whose audit event does not commit releases nothing.

The node here is the hospital's: it holds the hospital's key file only. The lab is
another organisation on the same chain (its vault would be another node).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import wait_for
from healthledger.client.records import Intent, sign_intent
from healthledger.client.sdk import Signer, registration_payload
from healthledger.crypto.envelope import decrypt_bytes, new_data_key, unwrap_with_keyring, wrap_key
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair, save_keypair
from healthledger.crypto.signed_request import HEADER_INTENT, body_hash, sign_request
from healthledger.domains.records.policy import BreakGlassReason
from healthledger.domains.records.replies import AddedRecord
from healthledger.engines.base import CommittedBlock
from healthledger.errors import LedgerError
from healthledger.ledger.block import TxResult
from healthledger.ledger.transaction import Transaction
from healthledger.node.custodian import Committed, RecordService
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.node import Node, submit_and_wait

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
        self.hospital = Signer(load_keypair(home.key_path("hospital")), CHAIN)
        self.lab = Signer(load_keypair(home.key_path("lab")), CHAIN)
        home.key_path("lab").unlink()  # the lab's key is not this node's to hold
        self.home = home
        self.node = Node(root)
        self.node.start(parallel_check=False)
        self.service = RecordService(self.node)
        self.people: dict[str, Signer] = {}

    def run(self, tx: Transaction) -> Any:
        (report,) = submit_and_wait(self.node, [tx])
        assert not isinstance(report, LedgerError), report
        assert report[1].ok, report
        return report

    def commit(self, prepared: Any) -> Committed:
        (report,) = self.service.commit([prepared])
        assert not isinstance(report, LedgerError), report
        assert report.result.ok, report
        return report

    def person(self, name: str) -> Signer:
        self.people[name] = Signer(KeyPair.generate(), CHAIN)
        return self.people[name]

    def authenticate(self, name: str, intent: Intent | None = None) -> Any:
        """A signed request of `name` to the hospital's vault, with its access intent if any."""
        keys = self.people[name].keys
        headers = sign_request(keys, CHAIN, "POST", "/t", audience="hospital")
        if intent is not None:
            headers[HEADER_INTENT] = sign_intent(keys, CHAIN, intent, headers)
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
        patient.sign("patient.register", registration_payload(patient.keys, CHAIN, s.hospital.keys))
    )
    yield s
    s.node.stop()


def test_a_read_whose_audit_event_fails_returns_no_data(setup: Setup) -> None:
    patient = derive_patient_id(setup.people["patient"].key_id)
    _signed, doctor = setup.authenticate("doctor")
    prepared_add = setup.service.prepare_add_resource(doctor, patient, OBSERVATION)
    added = setup.service.finish_add(prepared_add, setup.commit(prepared_add))
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
    intent = Intent("read", added.record_id, "operations")
    request, tech = setup.authenticate("tech", intent)
    prepared = setup.service.prepare_read(request, tech, added.record_id, "operations", None)
    # the patient revokes between the vault's decision and the audit event's block
    setup.run(setup.people["patient"].sign("consent.revoke", {"consent_id": consent}))
    (report,) = setup.service.commit([prepared])
    assert not isinstance(report, LedgerError)
    assert report.result.code == "consent_revoked"
    with pytest.raises(LedgerError) as refused:
        setup.service.finish_read(prepared, report)
    assert refused.value.code == "consent_revoked"
    audit = setup.node.store.state_scan("records", f"audit/{patient}/")
    assert audit == []


def test_a_successful_read_writes_exactly_one_event_naming_its_consent(setup: Setup) -> None:
    patient = derive_patient_id(setup.people["patient"].key_id)
    _signed, doctor = setup.authenticate("doctor")
    prepared_add = setup.service.prepare_add_resource(doctor, patient, OBSERVATION)
    added = setup.service.finish_add(prepared_add, setup.commit(prepared_add))
    intent = Intent("read", added.record_id, "patient_request")
    request, reader = setup.authenticate("patient", intent)
    prepared = setup.service.prepare_read(request, reader, added.record_id, "patient_request", None)
    view = setup.service.finish_read(prepared, setup.commit(prepared))
    assert view.access.basis == "self" and view.ciphertext
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


def _add_for_patient(setup: Setup) -> tuple[str, AddedRecord]:
    patient = derive_patient_id(setup.people["patient"].key_id)
    _signed, doctor = setup.authenticate("doctor")
    prepared = setup.service.prepare_add_resource(doctor, patient, OBSERVATION)
    return patient, setup.service.finish_add(prepared, setup.commit(prepared))


def _read_as_patient(setup: Setup, record_id: str) -> bytes:
    intent = Intent("read", record_id, "patient_request")
    request, reader = setup.authenticate("patient", intent)
    prepared = setup.service.prepare_read(request, reader, record_id, "patient_request", None)
    view = setup.service.finish_read(prepared, setup.commit(prepared))
    keys = setup.people["patient"].keys
    data_key = unwrap_with_keyring(view.wrapped_key, keys.encryption_keyring)
    plaintext, _opened = decrypt_bytes(data_key, base64.b64decode(view.ciphertext or ""))
    return plaintext


def test_another_custodian_cannot_register_or_shred_the_victims_blob(setup: Setup) -> None:
    patient, victim = _add_for_patient(setup)
    blob = victim.blob_id
    state_before = setup.node.store.state_scan("records", "")
    stolen = {
        "record_id": "rec-" + "6" * 24,
        "patient": patient,
        "resource_type": "Observation",
        "media_type": "application/fhir+json",
        "content_hash": "a" * 64,
        "blob_id": blob,
        "size": 1,
        "wrapped_keys": {"patient": _wrapped(), "custodian": _wrapped()},
    }
    (report,) = submit_and_wait(setup.node, [setup.lab.sign("record.add", stolen)])
    assert not isinstance(report, LedgerError)
    assert report[1].code == "already_exists"
    assert setup.node.store.state_scan("records", "") == state_before
    assert setup.service.vault.has(blob)
    assert b"mg/dL" in _read_as_patient(setup, victim.record_id)


def test_a_vault_shreds_only_blobs_of_its_own_organisations_records(setup: Setup) -> None:
    """Even a tombstone naming this vault's blob (as a chain without the blob rule could
    commit) leaves it alone unless the record is one of this node's organisations'."""
    _patient, victim = _add_for_patient(setup)
    blob, record_id = victim.blob_id, victim.record_id
    height = setup.node.store.last_height()
    header = setup.node.store.header(height)
    shred = setup.lab.sign("record.shred", {"record_id": record_id})
    for event in (
        {"type": "record.shredded", "record": record_id, "blob": blob, "custodian": "lab"},
        {"type": "record.shredded", "record": "rec-" + "6" * 24, "blob": blob,
         "custodian": "hospital"},
    ):  # fmt: skip
        block = CommittedBlock(header, (shred,), (TxResult("ok", "", (event,)),))
        setup.service._shred_committed(block)
        assert setup.service.vault.has(blob)
    # the tombstone of the hospital's own record does destroy the ciphertext
    patient_signer = setup.people["patient"]
    setup.run(patient_signer.sign("record.shred", {"record_id": record_id}))
    wait_for(lambda: not setup.service.vault.has(blob), timeout=10)


def test_a_rotated_custodian_still_reads_its_older_records(setup: Setup) -> None:
    patient, old = _add_for_patient(setup)
    key_file = setup.home.key_path("hospital")
    before = setup.hospital.keys
    fresh = KeyPair.generate()
    # the vault signed with this key too: go past every nonce it used
    hospital = Signer(before, CHAIN, next_nonce=setup.service.signer.next_nonce(before))
    setup.run(
        hospital.sign(
            "key.rotate",
            {"signing_key": fresh.key_id, "encryption_key": fresh.encryption_public.hex()},
        )
    )
    # A key file without the keyring (what a rotation wrote before): the read is refused
    # before its access event is sent, so no audit event claims a read that never was.
    save_keypair(fresh, key_file)
    audit_before = setup.node.store.state_scan("records", f"audit/{patient}/")
    request, reader = setup.authenticate(
        "patient", Intent("read", old.record_id, "patient_request")
    )
    with pytest.raises(LedgerError) as refused:
        setup.service.prepare_read(request, reader, old.record_id, "patient_request", None)
    assert refused.value.code == "decryption_failed"
    assert setup.node.store.state_scan("records", f"audit/{patient}/") == audit_before
    # With the keyring, the old record opens again, and a new one is sealed to the new key.
    save_keypair(before.rotated_to(fresh), key_file)
    assert b"mg/dL" in _read_as_patient(setup, old.record_id)
    _patient, new = _add_for_patient(setup)
    assert b"mg/dL" in _read_as_patient(setup, new.record_id)
    assert load_keypair(key_file).encryption_keyring == (
        fresh.encryption_secret,
        before.encryption_secret,
    )


def _wrapped() -> str:
    return wrap_key(new_data_key(), KeyPair.generate().encryption_public)


def test_a_read_without_the_readers_intent_seals_no_reason(setup: Setup) -> None:
    """The intent is checked before anything is stored: no orphan note of free text."""
    patient, added = _add_for_patient(setup)
    request, doctor = setup.authenticate("doctor")  # no x-hl-intent
    reason = BreakGlassReason.given("unconscious on arrival, no id", "ab" * 32)
    with pytest.raises(LedgerError) as refused:
        setup.service.prepare_read(request, doctor, added.record_id, "emergency", reason)
    assert refused.value.code == "bad_signature"
    assert setup.service.vault.note(reason.hash) is None
    assert setup.node.store.state_scan("records", f"audit/{patient}/") == []


def test_a_node_serves_an_organisation_known_after_it_started(setup: Setup) -> None:
    """`net join` starts a node before `net admit` makes its organisation known: the
    service then finds the organisation's key file on first need, without a restart."""
    setup.service.custodians = {}  # as when the node started before its admission
    _patient, added = _add_for_patient(setup)
    assert setup.service.custodians.keys() == {"hospital"}
    assert _read_as_patient(setup, added.record_id)
    assert not setup.service.holds("lab")  # its key is not this node's
