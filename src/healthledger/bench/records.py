"""`healthledger bench records`: records added, consent-checked reads, locate latency.

Three phases on one network folder:

1. populate: `--records` record.add transactions across `--patients` patients go
   through the engine in-process (real transactions, real state, real trie), so
   locate runs against a ledger of that size. Their ciphertexts are not in this
   node's vault, as for records custodied by other nodes; locate never opens the vault.
2. through a real node process and its HTTP API: small FHIR Observations added
   (validated, encrypted, stored, registered, committed), then reads (signed
   request, consent check, access event committed, key rewrapped, receipt built).
3. locate latency: signed record-locator queries by patients, one at a time.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from healthledger.bench.harness import Figures, Report, drive, percentile
from healthledger.client.records import Records
from healthledger.client.sdk import Client, Signer, registration_payload
from healthledger.crypto.envelope import new_data_key, wrap_key
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair
from healthledger.demo.synthetic import small_observation
from healthledger.domains.records.replies import AddedRecord
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.node import Node
from healthledger.node.process import free_port, node_process

CHAIN = "healthledger-bench-records"
ORGS = [("bench-hospital", "hospital", "Bench Hospital")]
BATCH = 200


def patient_keys(index: int) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(f"bench-patient-{index}".encode()).digest())


def run_records(
    records: int,
    patients: int,
    adds: int,
    reads: int,
    locates: int,
    clients: int,
    report: Report | None,
) -> Figures:
    with tempfile.TemporaryDirectory(prefix="healthledger-bench-records-") as tmp:
        root = Path(tmp) / "net"
        port = free_port()
        home = init_home(root, CHAIN, ORGS, port=port)
        home.write_settings(NodeSettings(org="bench-hospital", port=port, block_interval_ms=100))
        hospital = load_keypair(home.key_path("bench-hospital"))
        doctor = KeyPair.from_seed(b"bench-doctor".ljust(32, b"\0"))
        _populate(root, hospital, doctor, records, patients, report)
        url = f"http://127.0.0.1:{port}"
        with node_process(root, url):
            added_per_s, added = _adds(url, doctor, adds, patients, clients, report)
            reads_per_s = _reads(url, added, reads, clients, report)
            latencies = _locates(url, patients, locates, report)
    return {
        "records_added_per_s": round(added_per_s, 1),
        "reads_per_s": round(reads_per_s, 1),
        "locate_p50_ms": round(statistics.median(latencies), 3),
        "locate_p99_ms": round(percentile(latencies, 0.99), 3),
        "records": records,
        "patients": patients,
        "adds": adds,
        "reads": reads,
        "locates": locates,
        "clients": clients,
    }


def _populate(
    root: Path,
    hospital: KeyPair,
    doctor: KeyPair,
    records: int,
    patients: int,
    report: Report | None,
) -> None:
    """Patients, one practitioner and `records` record.add transactions, through the engine."""
    node = Node(root)
    node.start()
    try:
        org = Signer(hospital, CHAIN)
        enroll = {
            "member_id": "dr-bench",
            "name": "Dr Bench",
            "role": "practitioner",
            "signing_key": doctor.key_id,
            "encryption_key": doctor.encryption_public.hex(),
        }
        raws = [org.sign("member.enroll", enroll).raw]
        for index in range(patients):
            keys = patient_keys(index)
            tx = Signer(keys, CHAIN).sign(
                "patient.register", registration_payload(keys, CHAIN, hospital)
            )
            raws.append(tx.raw)
        drive(node, raws, None, report, "register patients")
        wrapped = wrap_key(new_data_key(), hospital.encryption_public)
        rng = random.Random(7)

        def record_tx(index: int) -> bytes:
            patient = derive_patient_id(patient_keys(index % patients).key_id)
            payload = {
                "record_id": f"rec-{index:024x}",
                "patient": patient,
                "resource_type": "Observation",
                "code": "http://loinc.org|8867-4",
                "date": f"2026-{1 + index % 12:02d}-{1 + index % 28:02d}",
                "media_type": "application/fhir+json",
                "content_hash": rng.randbytes(32).hex(),
                "blob_id": rng.randbytes(32).hex(),
                "size": 400,
                "wrapped_keys": {"patient": wrapped, "custodian": wrapped},
                "author": "bench-hospital/dr-bench",
            }
            return org.sign("record.add", payload).raw

        step = 50_000
        for start in range(0, records, step):
            chunk = [record_tx(i) for i in range(start, min(records, start + step))]
            drive(node, chunk, None, None)
            if report is not None:
                report("populate records", min(records, start + step), records)
    finally:
        node.stop()


def _adds(
    url: str, doctor: KeyPair, adds: int, patients: int, clients: int, report: Report | None
) -> tuple[float, list[tuple[int, str]]]:
    """Small FHIR resources added through the API in batches, by `clients` threads."""
    work = [(i % patients, small_observation(f"Patient/p{i}", i)) for i in range(adds)]
    batches = [work[i : i + BATCH] for i in range(0, len(work), BATCH)]
    added: list[tuple[int, str]] = []
    done = 0

    shared = Client(url, timeout=120, connections=clients)

    def send(batch: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, str]]:
        records = Records(shared, doctor, CHAIN)
        items = [(derive_patient_id(patient_keys(p).key_id), r) for p, r in batch]
        results = records.add_batch(items)
        added = [r for r in results if isinstance(r, AddedRecord)]
        if len(added) != len(results):
            failed = [r for r in results if not isinstance(r, AddedRecord)]
            raise RuntimeError(f"benchmark add refused: {failed[0].wire()}")
        return [(p, r.record_id) for (p, _r), r in zip(batch, added, strict=True)]

    start = time.perf_counter()
    with shared, ThreadPoolExecutor(clients) as pool:
        for result in pool.map(send, batches):
            added.extend(result)
            done += len(result)
            if report is not None:
                report("add records (API)", done, adds)
    return adds / (time.perf_counter() - start), added


def _reads(
    url: str, added: list[tuple[int, str]], reads: int, clients: int, report: Report | None
) -> float:
    """Patients read their records: signed request, consent check, audit event, decrypt."""
    rng = random.Random(11)
    picks = [added[rng.randrange(len(added))] for _ in range(reads)]
    done = 0

    keys = {p: patient_keys(p) for p, _r in picks}
    # One client shared by the threads: a client per request would spend the
    # benchmark building TLS contexts and connections, not reading records.
    with Client(url, timeout=120, connections=clients) as client:

        def read(pick: tuple[int, str]) -> None:
            Records(client, keys[pick[0]], CHAIN).read(pick[1], "patient_request", verify=False)

        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            for _ in pool.map(read, picks):
                done += 1
                if report is not None and done % 50 == 0:
                    report("read records (API)", done, reads)
        return reads / (time.perf_counter() - start)


def _locates(url: str, patients: int, count: int, report: Report | None) -> list[float]:
    rng = random.Random(13)
    latencies = []
    with Client(url) as client:
        for index in range(count):
            keys = patient_keys(rng.randrange(patients))
            records = Records(client, keys, CHAIN)
            start = time.perf_counter()
            found = records.locate(records.patient_id).records
            latencies.append((time.perf_counter() - start) * 1000)
            if not found:
                raise RuntimeError("a benchmark patient has no records")
            if report is not None and index % 100 == 99:
                report("locate (API)", index + 1, count)
    return latencies
