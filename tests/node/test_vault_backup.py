"""`healthledger vault backup|restore` on a real node: a lost vault comes back, checked
against the chain; an altered or wrongly opened backup restores nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import enroll_member, register_patient
from healthledger.client.records import Records
from healthledger.client.sdk import Client, Signer
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair
from healthledger.node.home import Home, NodeSettings, init_home
from healthledger.node.process import free_port, node_process

CHAIN = "vault-backup"
PASSPHRASE = "correct horse battery staple"


def vault_cli(*args: str, passphrase: str = PASSPHRASE) -> tuple[int, dict[str, Any]]:
    """The real CLI in its own process; (exit code, its JSON report)."""
    env = {**os.environ, "HEALTHLEDGER_PASSPHRASE": passphrase}
    result = subprocess.run(
        [sys.executable, "-m", "healthledger", "vault", *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    report: dict[str, Any] = json.loads(lines[-1])
    return result.returncode, report


@dataclass
class Site:
    root: Path
    url: str
    doctor: KeyPair
    patient: KeyPair
    records: dict[str, str]  # record id -> content hash on chain

    @property
    def vault(self) -> Path:
        return Home(self.root).db_path.parent / "vault"

    def serve(self) -> Any:
        return node_process(self.root, self.url)


def _observation(pid: str, value: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": "2026-01-15",
        "valueQuantity": {"value": value, "unit": "/min"},
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A hospital node holding three small records and one file record."""
    tmp = tmp_path_factory.mktemp("backup")
    root = tmp / "node"
    port = free_port()
    home = init_home(root, CHAIN, [("st-marys", "hospital", "St Mary's")], port=port)
    home.write_settings(NodeSettings(org="st-marys", port=port, block_interval_ms=20))
    url = f"http://127.0.0.1:{port}"
    with node_process(root, url), Client(url) as client:
        hospital = Signer(load_keypair(home.key_path("st-marys")), CHAIN)
        doctor = enroll_member(client, hospital, "dr-who", "practitioner")
        patient = register_patient(client, CHAIN, hospital.keys)
        pid = derive_patient_id(patient.key_id)
        as_doctor = Records(client, doctor, CHAIN)
        added = [as_doctor.add(pid, _observation(pid, 60 + i)) for i in range(3)]
        scan = tmp / "scan.pdf"
        scan.write_bytes(b"%PDF-1.4 " + os.urandom(200_000))
        added.append(as_doctor.add_file(pid, "pdf", "2026-01-16", scan))
    yield Site(root, url, doctor, patient, {a.record_id: a.content_hash for a in added})


def _lose_vault(site: Site) -> None:
    shutil.rmtree(site.vault)


def _read_all(site: Site) -> dict[str, str]:
    """Every record read back by its patient: record id -> verified content hash."""
    with site.serve(), Client(site.url) as client:
        reader = Records(client, site.patient, CHAIN)
        return {
            rid: reader.read(rid, "patient_request").record["content_hash"] for rid in site.records
        }


def test_backup_then_restore_into_an_empty_vault_gives_back_every_record(
    site: Site, tmp_path: Path
) -> None:
    out = tmp_path / "vault.hlbackup"
    with site.serve():  # a backup of a running node
        code, made = vault_cli("backup", "--dir", str(site.root), "--out", str(out))
    assert code == 0 and made["blob_files"] == 1, made
    assert b"Observation" not in out.read_bytes()
    assert out.stat().st_mode & 0o777 == 0o600  # owner-only, like a key file
    _lose_vault(site)

    code, report = vault_cli("restore", "--dir", str(site.root), "--from", str(out))

    assert code == 0, report
    assert sorted(report["restored"]) == sorted(site.records)
    assert report["missing"] == [] and report["mismatched"] == [] and report["extra"] == []
    assert report["content_checked"] == len(site.records)
    assert _read_all(site) == site.records


def test_a_vault_that_lost_everything_reports_every_record_missing(
    site: Site, tmp_path: Path
) -> None:
    out = tmp_path / "empty.hlbackup"
    spare = tmp_path / "spare"
    shutil.move(site.vault, spare)
    try:
        site.vault.mkdir(parents=True)
        code, _ = vault_cli("backup", "--dir", str(site.root), "--out", str(out))
        assert code != 0  # no vault to back up
        from healthledger.vault import Vault

        Vault(site.vault).close()
        code, _ = vault_cli("backup", "--dir", str(site.root), "--out", str(out))
        assert code == 0
        shutil.rmtree(site.vault)
        code, report = vault_cli("restore", "--dir", str(site.root), "--from", str(out))
        assert code == 0 and sorted(report["missing"]) == sorted(site.records)
    finally:
        shutil.rmtree(site.vault, ignore_errors=True)
        shutil.move(spare, site.vault)


def test_restore_refuses_a_vault_that_is_not_empty_unless_forced(
    site: Site, tmp_path: Path
) -> None:
    out = tmp_path / "vault.hlbackup"
    assert vault_cli("backup", "--dir", str(site.root), "--out", str(out))[0] == 0

    code, refused = vault_cli("restore", "--dir", str(site.root), "--from", str(out))
    assert code == 2 and refused["error"]["code"] == "invalid_state"

    code, report = vault_cli("restore", "--dir", str(site.root), "--from", str(out), "--force")
    assert code == 0 and report["restored"] == []
    assert report["already_held"] == len(site.records) and report["missing"] == []


def test_a_wrong_passphrase_or_an_altered_backup_restores_nothing(
    site: Site, tmp_path: Path
) -> None:
    out = tmp_path / "vault.hlbackup"
    assert vault_cli("backup", "--dir", str(site.root), "--out", str(out))[0] == 0
    spare = tmp_path / "spare"
    shutil.move(site.vault, spare)
    try:
        code, wrong = vault_cli(
            "restore", "--dir", str(site.root), "--from", str(out), passphrase="not it"
        )
        assert code == 2 and wrong["error"]["code"] == "decryption_failed"

        data = bytearray(out.read_bytes())
        data[len(data) // 2] ^= 0x01
        altered = tmp_path / "altered.hlbackup"
        altered.write_bytes(bytes(data))
        shutil.rmtree(site.vault, ignore_errors=True)
        code, refused = vault_cli("restore", "--dir", str(site.root), "--from", str(altered))
        assert code == 1 and refused["error"]["code"] == "tampered"

        truncated = tmp_path / "truncated.hlbackup"
        truncated.write_bytes(out.read_bytes()[:-100])
        shutil.rmtree(site.vault, ignore_errors=True)
        code, cut = vault_cli("restore", "--dir", str(site.root), "--from", str(truncated))
        assert code == 1 and cut["error"]["code"] == "tampered"
    finally:
        shutil.rmtree(site.vault, ignore_errors=True)
        shutil.move(spare, site.vault)


def test_a_blob_altered_before_the_backup_is_reported_and_not_installed(
    site: Site, tmp_path: Path
) -> None:
    out = tmp_path / "vault.hlbackup"
    spare = tmp_path / "spare"
    shutil.copytree(site.vault, spare)
    try:
        (blob,) = [p for p in (site.vault / "blobs").rglob("*") if p.is_file()]
        data = bytearray(blob.read_bytes())
        data[100] ^= 0x01
        blob.write_bytes(bytes(data))
        assert vault_cli("backup", "--dir", str(site.root), "--out", str(out))[0] == 0
        shutil.rmtree(site.vault)

        code, report = vault_cli("restore", "--dir", str(site.root), "--from", str(out))

        assert code == 1, report  # the data is not what the chain says
        assert len(report["mismatched"]) == 1 and len(report["restored"]) == 3
        assert report["missing"] == []  # a mismatched record is listed there, not twice
        assert not any(p.is_file() for p in (site.vault / "blobs").rglob("*"))
    finally:
        shutil.rmtree(site.vault, ignore_errors=True)
        shutil.move(spare, site.vault)
