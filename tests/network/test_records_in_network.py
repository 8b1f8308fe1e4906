"""A Bundle imported on the 4-validator CometBFT network: one `record.import` of 50 records,
applied alike on every node, located from another organisation's node, and again as
duplicates only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fhir_examples import patient_bundle
from healthledger.client.records import Records
from healthledger.client.sdk import Signer, registration_payload
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair
from livenet import LiveNet, commit, healthledger, poll

pytestmark = pytest.mark.network

HOSPITAL = "st-marys"
CLINIC = "westclinic"


def test_a_bundle_imports_once_across_the_network(records_net: LiveNet, tmp_path: Path) -> None:
    net = records_net
    hospital_key = net.root / "keys" / f"{HOSPITAL}.json"
    with net.client(HOSPITAL) as client:
        chain_id = client.info().chain_id
    patient = KeyPair.generate()
    payload = registration_payload(patient, chain_id, load_keypair(hospital_key))
    commit(net, HOSPITAL, Signer(patient, chain_id).sign("patient.register", payload))
    pid = derive_patient_id(patient.key_id)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(patient_bundle(50, "document")))
    url = net.node(HOSPITAL).api_url
    args = ("records", "import", "--key", str(hospital_key), "--patient", pid, str(path))
    report = healthledger(*args, "--url", url)
    assert report["added"] == 50 and report["duplicates"] == 0
    everyone = [node.org for node in net.network.nodes]
    poll(lambda: net.all_agree_at_top(everyone), "every node to apply the import alike", 180)
    with net.client(CLINIC) as clinic:
        located = Records(clinic, patient, chain_id).locate(pid).records
    assert {r.id for r in located} == {e["record_id"] for e in report["entries"]}
    assert {r.custodian for r in located} == {HOSPITAL}
    again = healthledger(*args, "--url", url)
    assert (again["added"], again["duplicates"], again["tx_id"]) == (0, 50, None)
