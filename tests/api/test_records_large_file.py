"""A 200 MB genome through the whole API: stored and read back in chunks, memory bounded."""

from __future__ import annotations

import hashlib
import resource
from pathlib import Path

from conftest import enroll_member, register_patient
from healthledger.client.records import Records
from healthledger.client.sdk import Client, Signer
from healthledger.crypto.keys import derive_patient_id, load_keypair
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.process import free_port, node_process

CHAIN = "large-file"
SIZE = 200 * 1024 * 1024
LIMIT_KB = 100 * 1024


def _write_genome(path: Path) -> str:
    """A VCF-like file generated block by block (never whole in memory); returns its SHA-256."""
    written = 0
    with path.open("wb") as handle:
        handle.write(b"##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        position = 0
        while written < SIZE:
            block = b"".join(
                b"chr%d\t%d\t.\t%c\t%c\t%d\tPASS\tDP=%d\n"
                % (1 + i % 22, position + i, b"ACGT"[i % 4], b"GTCA"[i % 4], 30 + i % 60, i % 97)
                for i in range(20_000)
            )
            position += 20_000
            handle.write(block)
            written += len(block)
    return _sha256(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_a_200_mb_genome_round_trips_with_bounded_memory(tmp_path: Path) -> None:
    genome = tmp_path / "genome.vcf"
    expected = _write_genome(genome)
    root = tmp_path / "net"
    port = free_port()
    home = init_home(root, CHAIN, [("hospital", "hospital", "H")], port=port)
    home.write_settings(NodeSettings(org="hospital", port=port, block_interval_ms=20))
    url = f"http://127.0.0.1:{port}"
    with node_process(root, url) as process, Client(url, timeout=300) as client:
        hospital = Signer(load_keypair(home.key_path("hospital")), CHAIN)
        doctor = enroll_member(client, hospital, "dr-gene", "practitioner")
        patient = register_patient(client, CHAIN, hospital.keys)
        pid = derive_patient_id(patient.key_id)
        node_before = _peak_kb(process.pid)
        client_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        added = Records(client, doctor, CHAIN).add_file(pid, "vcf", "2026-01-15", genome)
        out = tmp_path / "back.vcf"
        copy = Records(client, patient, CHAIN).read_to_file(added.record_id, "patient_request", out)
        node_growth = _peak_kb(process.pid) - node_before
        client_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - client_before
    assert added.size == genome.stat().st_size
    assert _sha256(out) == expected
    assert copy.record["content_hash"] == added.content_hash
    assert node_growth < LIMIT_KB, f"node peak RSS grew {node_growth} kB"
    assert client_growth < LIMIT_KB, f"client peak RSS grew {client_growth} kB"
