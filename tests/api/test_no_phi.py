"""No protected health information on the chain, in the node's files or in its logs.

Records with distinctive names, birth dates and values go through the whole
flow (add, consent, locate, read, break-glass, audit, shred); then every byte the
node wrote outside its key files is searched for them in their common encodings.
A break-glass reason is free text about a person: the chain holds its salted hash,
the vault its ciphertext, and nothing else the node wrote holds it.
"""

from __future__ import annotations

import base64
from pathlib import Path

from conftest import enroll_member, register_patient
from healthledger.client.records import Records
from healthledger.client.sdk import Client, Signer
from healthledger.crypto.keys import derive_patient_id, load_keypair
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.process import free_port, node_process
from phi_scan import (
    BIRTH_DATE,
    GLASS_REASON,
    NAME_FAMILY,
    NAME_GIVEN,
    NOTE,
    phi_resources,
    search_phi,
)

CHAIN = "no-phi"


def test_no_phi_anywhere_the_node_writes(tmp_path: Path) -> None:
    root = tmp_path / "net"
    port = free_port()
    orgs = [("hospital", "hospital", "H"), ("insurer", "insurer", "I")]
    home = init_home(root, CHAIN, orgs, port=port)
    home.write_settings(NodeSettings(org="hospital", port=port, block_interval_ms=20))
    url = f"http://127.0.0.1:{port}"
    with node_process(root, url, log=root / "node.log"):
        _run_the_flow(url, home.key_path("hospital"))
    found = search_phi(root)
    assert found == [], f"PHI found on disk: {found}"


def _run_the_flow(url: str, hospital_key: Path) -> None:
    with Client(url) as client:
        hospital = Signer(load_keypair(hospital_key), CHAIN)
        doctor = enroll_member(client, hospital, "dr-who", "practitioner")
        medic = Records(client, enroll_member(client, hospital, "dr-er", "practitioner"), CHAIN)
        patient = register_patient(client, CHAIN, hospital.keys)
        pid = derive_patient_id(patient.key_id)
        as_doctor, as_patient = Records(client, doctor, CHAIN), Records(client, patient, CHAIN)
        ids = [as_doctor.add(pid, r).record_id for r in phi_resources(f"Patient/{pid}")]
        _import_a_bundle(as_doctor, as_patient, pid)
        signer = Signer(patient, CHAIN)
        signer.sync_nonce(client)
        as_patient.grant(signer, {"kind": "org", "org": "insurer"}, ["payment"])
        assert as_doctor.locate(pid).records
        copies = [as_patient.read(record_id, "patient_request").plaintext for record_id in ids]
        assert all(NAME_FAMILY.encode() in copy for copy in copies)  # the data did flow
        medic.locate(pid, "emergency", break_glass_reason=GLASS_REASON)
        medic.read(ids[1], "emergency", break_glass_reason=GLASS_REASON)
        flagged = as_patient.audit(pid).break_glass
        assert [e["reason"] for e in flagged] == [GLASS_REASON] * 2  # the reason did flow
        as_patient.shred(signer, ids[0], "patient_request")


def _import_a_bundle(as_doctor: Records, as_patient: Records, pid: str) -> None:
    """The same distinctive resources as a Bundle, with a relative's name, imported twice."""
    patient_url = "urn:uuid:6c1d0f9e-1111-4a2b-9c3d-4e5f60718293"
    relative = {
        "resourceType": "RelatedPerson",
        "patient": {"reference": patient_url},
        "name": [{"given": [NAME_GIVEN], "family": NAME_FAMILY}],
        "birthDate": BIRTH_DATE,
    }
    resources = [*phi_resources(patient_url), relative]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": patient_url
                if n == 0
                else f"urn:uuid:{n:08d}-2222-4a2b-9c3d-4e5f60718293",
                "resource": resource,
            }
            for n, resource in enumerate(resources)
        ],
    }
    imported = as_doctor.import_bundle(pid, bundle)
    # the Patient is the very resource added alone before: a duplicate
    assert [e.status for e in imported.entries] == ["duplicate", "added", "added"]
    assert as_doctor.import_bundle(pid, bundle).duplicates == 3
    copy = as_patient.read(imported.entries[2].record_id, "patient_request").plaintext
    assert NAME_FAMILY.encode() in copy  # the data did flow


def test_the_search_finds_planted_phi(tmp_path: Path) -> None:
    """The scanner is only as good as its encodings: each planted form is caught."""
    (tmp_path / "a.bin").write_bytes(b"xx" + base64.b64encode(b"ab" + NOTE.encode()) + b"yy")
    (tmp_path / "b.bin").write_bytes(BIRTH_DATE.encode("utf-16-le"))
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "c.json").write_bytes(NAME_FAMILY.encode())
    assert search_phi(tmp_path) == [f"a.bin: {NOTE}", f"b.bin: {BIRTH_DATE}"]
