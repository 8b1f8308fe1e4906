"""Nothing lost when a custodian's disk is, on the 4-validator CometBFT network.

St Mary's names acme-insurance as the replica of its ciphertexts in its directory
entry; its records reach acme's node as ciphertext. With St Mary's vault deleted
(node stopped, vault removed, node started) a consented read still succeeds: St
Mary's node fetches the blob back from the replica, checks it against the chain and
serves the read, audited once, by its own vault. A tombstone removes the replica's
copy too; `vault restore --from-replica` brings back a whole lost vault. A record
moved to a successor (citypharm) reaches the successor's vault from the old
custodian's node with `vault pull`.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from healthledger.client.records import Records
from healthledger.client.sdk import Client, Signer, registration_payload
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair
from livenet import LiveNet, commit, healthledger, poll

pytestmark = pytest.mark.network
HOSPITAL, REPLICA, SUCCESSOR = "st-marys", "acme-insurance", "citypharm"


def _observation(pid: str, value: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": "2026-01-15",
        "valueQuantity": {"value": value, "unit": "/min"},
    }


def _bundle(pid: str) -> dict[str, Any]:
    """Two observations arriving together, as a FHIR collection Bundle."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{i}", "resource": r}
            for i, r in enumerate([_observation(pid, 90), _observation(pid, 91)])
        ],
    }


@dataclass
class Held:
    """A patient with records at St Mary's, a St Mary's nurse they consented to."""

    net: LiveNet
    patient: KeyPair
    pid: str
    records: list[str]
    blobs: list[str]
    nurse: KeyPair
    imported_blobs: list[str]  # of records that came in a Bundle (`record.import`)

    def hospital(self) -> Client:
        return Client(self.net.node(HOSPITAL).api_url, timeout=60)


def _vault(net: LiveNet, org: str) -> Path:
    return net.network.home(org).db_path.parent / "vault"


def _holds(net: LiveNet, org: str, blob_id: str) -> bool:
    """Whether an organisation's vault index lists a blob (read-only, beside the node)."""
    path = _vault(net, org) / "vault.sqlite"
    if not path.is_file():
        return False
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT 1 FROM blobs WHERE blob_id = ?", (blob_id,)).fetchone()
    finally:
        conn.close()
    return row is not None


def _vault_cli(*args: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "healthledger", "vault", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


def _restart_without_vault(net: LiveNet, org: str) -> None:
    healthledger("net", "stop", "--node", org, "--dir", str(net.root))
    shutil.rmtree(_vault(net, org), ignore_errors=True)
    _start(net, org)


def _start(net: LiveNet, org: str) -> None:
    healthledger("net", "start", "--node", org, "--dir", str(net.root))
    url = net.node(org).api_url

    def up() -> bool | None:
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200 or None
        except httpx.HTTPError:
            return None

    poll(up, f"{org}'s API back", 180)
    # The API answers before its CometBFT does; a read's access event needs consensus.
    poll(lambda: _consensus_up(net, org), f"{org}'s CometBFT caught up", 180)


def _consensus_up(net: LiveNet, org: str) -> bool | None:
    rows = {row["org"]: row for row in net.status()["nodes"]}
    row = rows[org]
    return (row["height"] is not None and row["catching_up"] is False) or None


def _name_replica(net: LiveNet, replica: str | None = REPLICA) -> None:
    """St Mary's directory entry with (or, given None, without) a replica, and the
    replica's agreeing to keep St Mary's ciphertexts (or no longer)."""
    healthledger(
        "orgs",
        "publish",
        "--key",
        str(net.root / "keys" / f"{REPLICA}.json"),
        "--endpoint",
        net.node(REPLICA).api_url,
        *(["--replica-for", HOSPITAL] if replica else []),
        "--url",
        net.node(REPLICA).api_url,
    )
    healthledger(
        "orgs",
        "publish",
        "--key",
        str(net.root / "keys" / f"{HOSPITAL}.json"),
        "--endpoint",
        net.node(HOSPITAL).api_url,
        *(["--replica", replica] if replica else []),
        "--url",
        net.node(HOSPITAL).api_url,
    )


@pytest.fixture
def held(records_net: LiveNet) -> Iterator[Held]:
    net = records_net
    _name_replica(net)
    hospital_keys = load_keypair(net.root / "keys" / f"{HOSPITAL}.json")
    patient, nurse = KeyPair.generate(), KeyPair.generate()
    with net.client(HOSPITAL) as client:
        chain = client.chain_id
        tx = Signer(patient, chain).sign(
            "patient.register", registration_payload(patient, chain, hospital_keys)
        )
        commit(net, HOSPITAL, tx)
        enrol = {
            "member_id": "nurse-" + nurse.key_id[:8],
            "name": "nurse",
            "role": "nurse",
            "signing_key": nurse.key_id,
            "encryption_key": nurse.encryption_public.hex(),
        }
        commit(net, HOSPITAL, net.signer(HOSPITAL).sign("member.enroll", enrol))
        pid = derive_patient_id(patient.key_id)
        as_hospital = Records(client, hospital_keys)
        added = [as_hospital.add(pid, _observation(pid, 60 + i)) for i in range(2)]
        imported = as_hospital.import_bundle(pid, _bundle(pid))
        imported_blobs = [
            client.state("records", f"record/{entry.record_id}").value["blob_id"]
            for entry in imported.entries
        ]
        Records(client, patient).grant(
            client.signer(patient), {"kind": "org", "org": HOSPITAL}, ["treatment"]
        )
    yield Held(
        net,
        patient,
        pid,
        [a.record_id for a in added],
        [a.blob_id for a in added],
        nurse,
        imported_blobs,
    )
    _name_replica(net, None)  # the other network modules find the directory as net up left it


def _reads_of(held: Held, record_id: str) -> list[dict[str, Any]]:
    with held.hospital() as client:
        trail = Records(client, held.patient).audit(held.pid)
    return [
        e
        for e in trail.events
        if e["action"] == "read"
        and e["record"] == record_id
        and e["reader"]["key_id"] == held.nurse.key_id
    ]


def test_a_replica_serves_a_read_while_the_custodians_disk_is_gone(held: Held) -> None:
    net = held.net
    for blob in [*held.blobs, *held.imported_blobs]:
        poll(lambda blob=blob: _holds(net, REPLICA, blob) or None, "the replica to hold it")
    _restart_without_vault(net, HOSPITAL)
    assert not any(_holds(net, HOSPITAL, blob) for blob in held.blobs)

    with held.hospital() as client:
        copy = Records(client, held.nurse).read(held.records[0], "treatment")

    assert copy.resource()["valueQuantity"]["value"] == 60
    assert copy.access.basis == "consent"
    assert len(_reads_of(held, held.records[0])) == 1  # audited once, by St Mary's
    assert _holds(net, HOSPITAL, held.blobs[0])  # restored into the custodian's vault

    # The tombstone takes the replica's copy too.
    with held.hospital() as client:
        Records(client, held.patient).shred(client.signer(held.patient), held.records[1])
    poll(lambda: (not _holds(net, REPLICA, held.blobs[1])) or None, "the replica to shred it")

    # A whole lost vault comes back from the replica, checked against the chain.
    healthledger("net", "stop", "--node", HOSPITAL, "--dir", str(net.root))
    shutil.rmtree(_vault(net, HOSPITAL))
    home = str(net.network.node_dir(HOSPITAL))
    code, report = _vault_cli("restore", "--dir", home, "--from-replica")
    _start(net, HOSPITAL)
    # Records that other modules on this network gave St Mary's before it named its
    # replica were never replicated: they are reported as failed (exit 1), ours are not.
    assert (code == 0) == (not report["failed"]), report
    assert held.records[0] not in report["failed"], report
    assert held.records[0] in report["pulled"] and held.records[1] not in report["pulled"]
    with held.hospital() as client:
        again = Records(client, held.patient).read(held.records[0], "patient_request")
    assert again.record["content_hash"] == copy.record["content_hash"]


def test_a_successor_takes_moved_records_from_the_old_custodians_node(held: Held) -> None:
    net = held.net
    record = held.records[0]
    hospital_keys = load_keypair(net.root / "keys" / f"{HOSPITAL}.json")
    with held.hospital() as client:
        Records(client, hospital_keys).offer_successor(
            client.signer(hospital_keys), SUCCESSOR, [record]
        )
        Records(client, held.patient).accept_successor(
            client.signer(held.patient), SUCCESSOR, [record]
        )
    poll(lambda: net.all_agree_at_top([n.org for n in net.network.nodes]), "the move everywhere")

    home = str(net.network.node_dir(SUCCESSOR))
    code, report = _vault_cli("pull", "--dir", home, "--from", net.node(HOSPITAL).api_url)

    assert code == 0 and record in report["pulled"], report
    with Client(net.node(SUCCESSOR).api_url, timeout=60) as client:
        as_patient = Records(client, held.patient)
        copy = as_patient.read(record, "patient_request")
        history = as_patient.history(record)
    assert copy.resource()["valueQuantity"]["value"] == 60
    (move,) = history.versions[0]["custody"]
    assert (move["custodian"], move["successor"]) == (HOSPITAL, SUCCESSOR)
