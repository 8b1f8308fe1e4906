"""Large-file uploads against a real node over real HTTP (issue 10, attack 5).

An upload's signed target declares its length and SHA-256, so the node checks
signature, time, audience and the signer's standing before it stores a byte;
the body is encrypted as it arrives, held to its declaration, and whatever an
upload leaves half-written is removed at once, or at the next start.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest

from conftest import (
    enroll_member,
    register_patient,
    serve_network,
    start_node,
    stop_node,
    wait_for,
)
from healthledger.client.records import Records
from healthledger.client.sdk import Client, Signer, require_committed
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair, save_keypair
from healthledger.crypto.signed_request import sign_request
from healthledger.node.home import Home
from healthledger.node.process import wait_until_up
from raw_http import open_request, read_answer, send_until_answered

CHAIN = "uploads"
ORG = "general-hospital"
ORGS = [(ORG, "hospital", "General Hospital"), ("city-clinic", "clinic", "City Clinic")]
MIB = 1024 * 1024
MARKER = b"PLAINTEXT-GENOME-MARKER-5c1e9a7d|"


@dataclass
class World:
    root: Path
    url: str
    client: Client
    hospital: Signer
    doctor: KeyPair
    patient: KeyPair

    @property
    def pid(self) -> str:
        return derive_patient_id(self.patient.key_id)

    @property
    def vault(self) -> Path:
        return self.root / "data" / "vault"

    def tmp_files(self) -> list[Path]:
        return sorted((self.vault / "tmp").iterdir())

    def blob_files(self) -> list[Path]:
        return sorted(p for p in (self.vault / "blobs").rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("uploads") / "net"
    url, process = serve_network(root, CHAIN, ORGS)
    client = Client(url, timeout=60)
    try:
        hospital = Signer(load_keypair(Home(root).key_path(ORG)), CHAIN)
        doctor = enroll_member(client, hospital, "dr-gene", "practitioner")
        patient = register_patient(client, CHAIN)
        yield World(root, url, client, hospital, doctor, patient)
    finally:
        client.close()
        stop_node(process)


def _target(world: World, size: int, sha256: str) -> str:
    params = {"patient": world.pid, "kind": "vcf", "date": "2026-01-15"}
    params |= {"size": str(size), "sha256": sha256}
    return "/v1/records/files?" + urlencode(params, quote_via=quote)


def _signed(keys: KeyPair, target: str, sha256: str, audience: str = ORG) -> dict[str, str]:
    return sign_request(keys, CHAIN, "POST", target, sha256, audience=audience)


def _body(size: int) -> bytes:
    return (MARKER * (size // len(MARKER) + 1))[:size]


def _pieces(body: bytes, piece: int = 256 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), piece):
        yield body[start : start + piece]


@dataclass(frozen=True)
class Stored:
    """What the vault and the ledger hold of the patient's files at one moment."""

    blobs: list[Path]
    records: list[str]


def _stored(world: World) -> Stored:
    located = Records(world.client, world.patient, CHAIN).locate(world.pid).records
    return Stored(world.blob_files(), [r.id for r in located])


def _assert_nothing_stored(world: World, before: Stored) -> None:
    assert world.tmp_files() == []
    assert _stored(world) == before


def _refusals(world: World) -> list[tuple[str, dict[str, str], int, str]]:
    body_hash = hashlib.sha256(_body(8 * MIB)).hexdigest()
    target = _target(world, 8 * MIB, body_hash)
    signed = _signed(world.doctor, target, body_hash)
    stranger = KeyPair.generate()
    elsewhere = _signed(world.doctor, target, body_hash, audience="city-clinic")
    return [
        ("unsigned", {}, 401, "bad_signature"),
        ("forged", {**signed, "x-hl-key": stranger.key_id}, 401, "bad_signature"),
        ("unknown key", _signed(stranger, target, body_hash), 403, "unknown_sender"),
        ("a patient", _signed(world.patient, target, body_hash), 403, "unauthorized"),
        ("other org", elsewhere, 421, "wrong_audience"),
    ]


def test_a_refused_upload_is_answered_before_its_body_and_stores_nothing(world: World) -> None:
    """Each refusal comes while the body is still open: not one byte was spooled first."""
    before = _stored(world)
    body = _body(8 * MIB)
    target = _target(world, len(body), hashlib.sha256(body).hexdigest())
    for name, headers, status, code in _refusals(world):
        sock = open_request(
            world.url, "POST", target, {**headers, "Content-Length": str(len(body))}
        )
        with sock:
            sent = send_until_answered(sock, _pieces(body[: 2 * MIB]))
            answer = read_answer(sock)
        assert (answer.status, answer.code) == (status, code), name
        assert sent <= 2 * MIB < len(body), name
        assert world.tmp_files() == [], name
    _assert_nothing_stored(world, before)


def test_a_dropped_upload_leaves_nothing_and_never_plaintext(world: World) -> None:
    before = _stored(world)
    body = _body(16 * MIB)
    digest = hashlib.sha256(body).hexdigest()
    target = _target(world, len(body), digest)
    headers = {**_signed(world.doctor, target, digest), "Content-Length": str(len(body))}
    sock = open_request(world.url, "POST", target, headers)
    with sock:
        sock.sendall(body[: 6 * MIB])
        # The spool exists and holds megabytes, none of them the plaintext.
        wait_for(lambda: any(p.stat().st_size > 2 * MIB for p in world.tmp_files()))
        (spool,) = world.tmp_files()
        spooled = spool.read_bytes()
        assert MARKER not in spooled and MARKER[:16] not in spooled
    wait_for(lambda: world.tmp_files() == [])
    _assert_nothing_stored(world, before)
    _assert_still_committing(world)


@pytest.mark.parametrize(
    ("declared", "sent", "content_length", "code"),
    [
        (MIB, _body(MIB + 300_000), None, "too_large"),  # longer than declared, chunked
        (2 * MIB, _body(MIB), None, "body_mismatch"),  # shorter than declared, chunked
        (MIB, b"X" + _body(MIB)[1:], None, "body_mismatch"),  # same length, other bytes
        (MIB, _body(MIB), MIB + 1, "too_large"),  # Content-Length beyond the declaration
        (MIB, _body(MIB), MIB - 1, "body_mismatch"),  # Content-Length short of it
    ],
)
def test_a_body_that_differs_from_its_declaration_is_refused(
    world: World, declared: int, sent: bytes, content_length: int | None, code: str
) -> None:
    before = _stored(world)
    digest = hashlib.sha256(_body(declared)).hexdigest()
    target = _target(world, declared, digest)
    headers = _signed(world.doctor, target, digest)
    chunked = content_length is None
    if not chunked:
        headers["Content-Length"] = str(content_length)
    with open_request(world.url, "POST", target, headers, chunked=chunked) as sock:
        send_until_answered(sock, _pieces(sent), chunked=chunked)
        if chunked:
            send_until_answered(sock, [b""], chunked=True)  # the last chunk ends the body
        answer = read_answer(sock)
    assert answer.code == code, answer.body
    assert answer.status == (413 if code == "too_large" else 400)
    _assert_nothing_stored(world, before)


def test_a_declared_upload_is_stored_encrypted_and_reads_back(world: World, tmp_path: Path) -> None:
    """The SDK declares and signs; the blob on disk is ciphertext; the patient reads it back."""
    path = tmp_path / "genome.vcf"
    path.write_bytes(_body(3 * MIB + 17))
    added = Records(world.client, world.doctor).add_file(world.pid, "vcf", "2026-01-15", path)
    assert added.size == path.stat().st_size
    assert world.tmp_files() == []
    for blob in world.blob_files():
        assert MARKER[:16] not in blob.read_bytes()
    out = tmp_path / "back.vcf"
    Records(world.client, world.patient).read_to_file(added.record_id, "patient_request", out)
    assert out.read_bytes() == path.read_bytes()


def test_the_cli_adds_a_file(world: World, tmp_path: Path) -> None:
    """`healthledger records add --file` declares, signs and streams through the SDK."""
    path = tmp_path / "scan.vcf"
    path.write_bytes(_body(MIB + 5))
    key = tmp_path / "dr-gene.json"
    save_keypair(world.doctor, key)
    command = [sys.executable, "-m", "healthledger", "records", "add", "--key", str(key)]
    command += ["--patient", world.pid, "--file", str(path), "--kind", "vcf"]
    command += ["--date", "2026-02-01", "--url", world.url, "--json"]
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    added = json.loads(done.stdout)
    assert added["size"] == MIB + 5 and added["record_id"].startswith("rec-")
    assert world.tmp_files() == []


def test_a_stale_spool_file_is_swept_at_start(tmp_path: Path) -> None:
    """What a killed node left half-written in tmp/ is gone once it starts again."""
    root = tmp_path / "net"
    url, process = serve_network(root, CHAIN, ORGS)
    stop_node(process)
    tmp = root / "data" / "vault" / "tmp"
    for leftover in (tmp / "upload-abandoned.part", tmp / "tmpq1w2e3.part"):
        leftover.write_bytes(MARKER * 1000)
    process = start_node(root)
    try:
        wait_until_up(url, process)
        assert list(tmp.iterdir()) == []
    finally:
        stop_node(process)


def _assert_still_committing(world: World) -> None:
    keys = KeyPair.generate()
    world.hospital.sync_nonce(world.client)
    payload = {
        "member_id": f"nurse-{keys.key_id[:8]}",
        "name": "Nurse",
        "role": "nurse",
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    report = world.client.submit(world.hospital.sign("member.enroll", payload), wait=True)
    require_committed(report)
    assert httpx.get(world.url + "/health").json()["ok"] is True
