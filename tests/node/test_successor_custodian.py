"""A record moves to a successor custodian on a real node, through the real CLI and SDK:
offered by the hospital, accepted by the patient, read by the successor, its history
showing both custodians, the hospital no longer reading it as custodian."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import enroll_member, register_patient
from healthledger.client.records import Records
from healthledger.client.sdk import ApiError, Client, Signer
from healthledger.crypto.keys import derive_patient_id, load_keypair, save_keypair
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.process import free_port, node_process

CHAIN = "successor"
HOSPITAL = "st-marys"
CLINIC = "westclinic"


def cli(url: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "healthledger", "records", *args, "--url", url, "--json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    report: dict[str, Any] = json.loads(lines[-1])
    return result.returncode, report


def _observation(pid: str, value: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": "2026-01-15",
        "valueQuantity": {"value": value, "unit": "/min"},
    }


def test_a_record_moves_to_the_successor_the_patient_accepts(tmp_path: Path) -> None:
    root = tmp_path / "node"
    port = free_port()
    orgs = [(HOSPITAL, "hospital", "St Mary's"), (CLINIC, "clinic", "West Clinic")]
    home = init_home(root, CHAIN, orgs, port=port)
    home.write_settings(NodeSettings(org=HOSPITAL, port=port, block_interval_ms=20))
    url = f"http://127.0.0.1:{port}"
    hospital_keys = load_keypair(home.key_path(HOSPITAL))
    clinic_keys = load_keypair(home.key_path(CLINIC))
    with node_process(root, url), Client(url) as client:
        doctor = enroll_member(client, Signer(hospital_keys, CHAIN), "dr-who", "practitioner")
        patient = register_patient(client, CHAIN, hospital_keys)
        save_keypair(patient, tmp_path / "patient.json")
        pid = derive_patient_id(patient.key_id)
        as_doctor = Records(client, doctor, CHAIN)
        moving = as_doctor.add(pid, _observation(pid, 61)).record_id
        staying = as_doctor.add(pid, _observation(pid, 62)).record_id

        # Without an offer, and St Mary's still a member, the patient cannot take it away.
        code, refused = cli(
            url, "move", "--key", str(tmp_path / "patient.json"), "--to", CLINIC, staying
        )
        assert code == 4 and refused["error"]["code"] == "unauthorized", refused

        code, offered = cli(
            url, "offer", "--key", str(home.key_path(HOSPITAL)), "--to", CLINIC, moving
        )
        assert code == 0, offered
        code, moved = cli(
            url, "move", "--key", str(tmp_path / "patient.json"), "--to", CLINIC, moving
        )
        assert code == 0 and moved["result"]["code"] == "ok", moved

        successor = Records(client, clinic_keys, CHAIN).read(moving, "treatment")
        assert successor.access.basis == "custodian"
        assert successor.resource()["valueQuantity"]["value"] == 61
        with pytest.raises(ApiError) as old:
            Records(client, hospital_keys, CHAIN).read(moving, "treatment")
        assert old.value.remote_code == "no_consent"
        assert Records(client, hospital_keys, CHAIN).read(staying, "treatment").access.basis == (
            "custodian"
        )

        history = Records(client, patient, CHAIN).history(moving)
        (version,) = history.versions
        assert version["custodian"] == CLINIC
        (move,) = version["custody"]
        assert (move["custodian"], move["successor"]) == (HOSPITAL, CLINIC)
        assert move["offered"] is True and move["accepted_by"] == pid
        own = Records(client, patient, CHAIN).read(moving, "patient_request")
        assert own.record["content_hash"] == successor.record["content_hash"]
