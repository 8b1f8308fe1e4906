"""Reading across organisations on the 4-validator CometBFT network.

St Mary's (a hospital in GB) holds a patient's record; West Clinic (a clinic in FR,
joined and admitted) has a practitioner the patient consents to. The practitioner
reads the record through West Clinic's node (which forwards the signed request) and
straight at St Mary's node (its endpoint from the directory); St Mary's vault decides
and records every access, once per read, citing the consent. Without the consent both
paths refuse and nothing is audited; with St Mary's node stopped the read fails with
custodian_unavailable and succeeds once it is back. Nothing any node wrote holds PHI.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from healthledger.client.records import Records
from healthledger.client.sdk import ApiError, Client, Signer, registration_payload
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair, save_keypair
from healthledger.errors import LedgerError
from livenet import LiveNet, commit, healthledger, poll, start_node
from phi_scan import NAME_FAMILY, NOTE, phi_resources, search_phi

pytestmark = pytest.mark.network
HOSPITAL, CLINIC = "st-marys", "westclinic"


@dataclass
class Story:
    """A registered patient with a record at St Mary's, and West Clinic's practitioner."""

    net: LiveNet
    patient: KeyPair
    pid: str
    record: str
    doctor: KeyPair
    doctor_file: Path

    def clients(self) -> tuple[Client, Client]:
        return Client(self.net.node(HOSPITAL).api_url, timeout=60), Client(
            self.net.node(CLINIC).api_url, timeout=60
        )


def _enrol(net: LiveNet, member_id: str) -> KeyPair:
    keys = KeyPair.generate()
    payload = {
        "member_id": member_id,
        "name": member_id,
        "role": "practitioner",
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    commit(net, CLINIC, net.signer(CLINIC).sign("member.enroll", payload))
    return keys


def _patient_with_record(net: LiveNet) -> tuple[KeyPair, str, str]:
    """A patient St Mary's vouched for, and an Observation St Mary's holds for them."""
    hospital_keys = load_keypair(net.root / "keys" / f"{HOSPITAL}.json")
    patient = KeyPair.generate()
    with net.client(HOSPITAL) as client:
        chain = client.chain_id
        tx = Signer(patient, chain).sign(
            "patient.register", registration_payload(patient, chain, hospital_keys)
        )
        commit(net, HOSPITAL, tx)
        pid = derive_patient_id(patient.key_id)
        observation = phi_resources(f"Patient/{pid}")[1]
        added = Records(client, hospital_keys).add(pid, observation)
    return patient, pid, added.record_id


@pytest.fixture
def story(records_net: LiveNet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    patient, pid, record = _patient_with_record(records_net)
    doctor = _enrol(records_net, "dr-" + KeyPair.generate().key_id[:8])
    # Outside the network's folder: the PHI scan reads every byte of that.
    doctor_file = tmp_path_factory.mktemp("doctor") / "doctor.json"
    save_keypair(doctor, doctor_file)
    yield Story(records_net, patient, pid, record, doctor, doctor_file)


def _grant(story: Story, countries: list[str] | None = None) -> str:
    hospital, _clinic = story.clients()
    with hospital:
        as_patient = Records(hospital, story.patient)
        signer = hospital.signer(story.patient)
        granted = as_patient.grant(
            signer,
            {"kind": "org", "org": CLINIC},
            ["treatment"],
            countries=countries or [],
        )
    return granted.consent_id


def _reads_by(story: Story, reader: KeyPair) -> list[dict[str, Any]]:
    """The access events of the patient's accounting of disclosures by this reader."""
    hospital, _clinic = story.clients()
    with hospital:
        trail = Records(hospital, story.patient).audit(story.pid)
    return [
        e for e in trail.events if e["action"] == "read" and e["reader"]["key_id"] == reader.key_id
    ]


def _read(story: Story, via: str, audience: str | None = None) -> bytes:
    hospital, clinic = story.clients()
    with hospital, clinic:
        start = clinic if via == "node" else hospital
        records = Records(
            start, story.doctor, audience=audience, via="node" if via == "node" else "direct"
        )
        try:
            return records.read(story.record, "treatment").plaintext
        finally:
            records.close()


def _refusal(action: Any) -> str:
    with pytest.raises(LedgerError) as caught:
        action()
    return str(caught.value.code)


def test_the_directory_lists_every_member_with_proofs(records_net: LiveNet) -> None:
    with Client(records_net.node(CLINIC).api_url, timeout=60) as client:
        entries = {e.org: e for e in client.orgs()}
        info = client.info()
    assert set(entries) == {node.org for node in records_net.network.nodes}
    assert entries[CLINIC].endpoints == (records_net.node(CLINIC).api_url,)
    assert entries[CLINIC].node_key == info.node_key
    listed = healthledger("orgs", "list", "--url", records_net.node(HOSPITAL).api_url)
    assert {row["org"] for row in listed["orgs"]} == set(entries)


def test_a_clinic_reads_a_hospital_record_forwarded_and_direct(story: Story) -> None:
    # Without consent: both paths refuse, and nothing is audited.
    forwarded = _refusal(lambda: _read(story, "node", audience=HOSPITAL))
    direct = _refusal(lambda: _read(story, "direct"))
    assert (forwarded, direct) == ("no_consent", "no_consent")
    assert _reads_by(story, story.doctor) == []
    consent = _grant(story)
    # Through West Clinic's node: the SDK finds the custodian and the node forwards.
    assert NAME_FAMILY.encode() in _read(story, "node")
    # Straight at St Mary's node, found through the directory from West Clinic's node.
    hospital, clinic = story.clients()
    with hospital, clinic:
        records = Records(clinic, story.doctor)
        route = records.route(story.record)
        assert route.audience == HOSPITAL
        assert [c.base_url for c in route.clients] == [story.net.node(HOSPITAL).api_url]
        assert NOTE.encode() in records.read(story.record, "treatment").plaintext
        records.close()
    reads = _reads_by(story, story.doctor)
    assert len(reads) == 2  # once per read, recorded at the custodian
    assert {(e["custodian"], e["basis"], e["consent"]) for e in reads} == {
        (HOSPITAL, "consent", consent)
    }


def test_the_cli_reads_through_the_clinics_node(story: Story) -> None:
    _grant(story)
    url = story.net.node(CLINIC).api_url
    for via in ("node", "direct"):
        report = healthledger(
            "records",
            "get",
            story.record,
            "--key",
            str(story.doctor_file),
            "--url",
            url,
            "--via",
            via,
        )
        assert report["record"]["custodian"] == HOSPITAL
        assert report["access"]["basis"] == "consent"
    assert len(_reads_by(story, story.doctor)) == 2


def test_a_stopped_custodian_is_custodian_unavailable_until_it_is_back(story: Story) -> None:
    _grant(story)
    net = story.net
    healthledger("net", "stop", "--node", HOSPITAL, "--dir", str(net.root))
    try:
        for via in ("node", "direct"):
            with Client(net.node(CLINIC).api_url, timeout=60) as clinic:
                records = Records(clinic, story.doctor, via="node" if via == "node" else "direct")
                with pytest.raises(LedgerError) as caught:
                    records.read(story.record, "treatment")
                records.close()
            assert caught.value.code == "custodian_unavailable", caught.value
            assert HOSPITAL in caught.value.message
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "healthledger",
                "records",
                "get",
                story.record,
                "--key",
                str(story.doctor_file),
                "--url",
                net.node(CLINIC).api_url,
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert cli.returncode == 5, cli
        assert "custodian_unavailable" in cli.stdout + cli.stderr, cli
    finally:
        start_node(net, HOSPITAL)
    poll(lambda: net.height(HOSPITAL), "St Mary's back", 180)
    poll(lambda: _up(net), "St Mary's API back", 180)
    assert _reads_by(story, story.doctor) == []  # nothing was audited as read
    assert NAME_FAMILY.encode() in _read(story, "node")
    assert len(_reads_by(story, story.doctor)) == 1


def _up(net: LiveNet) -> bool | None:
    try:
        with Client(net.node(HOSPITAL).api_url, timeout=5) as client:
            return client.health().ok or None
    except ApiError:
        return None


def test_a_country_limited_consent_is_honoured_across_the_network(story: Story) -> None:
    _grant(story, countries=["DE"])  # West Clinic is in FR
    for via in ("node", "direct"):
        code = _refusal(lambda v=via: _read(story, v, audience=HOSPITAL if v == "node" else None))
        assert code in {"no_consent", "not_custodian"}
    assert _reads_by(story, story.doctor) == []
    consent = _grant(story, countries=["FR", "BE"])
    assert NAME_FAMILY.encode() in _read(story, "node")
    (read,) = _reads_by(story, story.doctor)
    assert read["consent"] == consent


def test_the_joined_clinic_reads_in_an_emergency_without_consent(story: Story) -> None:
    """West Clinic's node started before its admission: its break-glass search still goes
    through it (the node finds its key once the ledger knows the clinic), and the read
    goes to St Mary's, which records it flagged."""
    reason = "unconscious, on holiday"
    with Client(story.net.node(CLINIC).api_url, timeout=60) as clinic:
        records = Records(clinic, story.doctor)
        found = records.locate(story.pid, break_glass_reason=reason)
        assert [r.custodian for r in found.records] == [HOSPITAL]
        copy = records.read(story.record, "emergency", break_glass_reason=reason)
        records.close()
    assert NOTE.encode() in copy.plaintext and copy.access.break_glass
    (read,) = _reads_by(story, story.doctor)
    assert (read["custodian"], read["basis"]) == (HOSPITAL, "break_glass")


def test_no_phi_in_any_node_folder(records_net: LiveNet) -> None:
    """After the flows above (and whatever else ran on this network), on every node."""
    assert [path for path in records_net.root.joinpath("nodes").iterdir() if path.is_dir()]
    found = search_phi(records_net.root)
    assert found == [], f"PHI found on disk: {found}"
