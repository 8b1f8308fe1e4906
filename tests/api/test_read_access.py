"""Who may read what, on a real node over HTTP (attack 9 of the hardening issue).

An outsider, and a patient looking at another patient, are refused the raw
ledger; member organisations and auditors read it; a patient reads their own
transactions with proofs; the public views answer without a signature.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import enroll_member, register_patient, serve_network, stop_node
from healthledger.client.sdk import ApiError, Client, Signer, verify_tx_view
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair
from healthledger.crypto.signed_request import sign_request

CHAIN = "read-access"
ORGS = [("st-marys", "hospital", "St Mary's"), ("acme", "insurer", "Acme")]


@dataclass
class Readers:
    url: str
    hospital: KeyPair
    auditor: KeyPair
    nurse: KeyPair
    alice: KeyPair
    bob: KeyPair
    alice_tx: str

    def get(self, keys: KeyPair | None, target: str) -> httpx.Response:
        """A GET of `target`, signed by `keys` (unsigned if None)."""
        headers = (
            {} if keys is None else sign_request(keys, CHAIN, "GET", target, audience="st-marys")
        )
        return httpx.get(f"{self.url}{target}", headers=headers)


@pytest.fixture(scope="module")
def readers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Readers]:
    root: Path = tmp_path_factory.mktemp("reads") / "net"
    url, process = serve_network(root, CHAIN, ORGS)
    hospital = load_keypair(root / "keys" / "st-marys.json")
    acme = Signer(load_keypair(root / "keys" / "acme.json"), CHAIN)
    try:
        with Client(url, keys=hospital) as client:
            auditor = enroll_member(client, acme, "auditor-1", "auditor")
            nurse = enroll_member(client, client.signer(hospital), "nurse-1", "nurse")
            alice, bob = register_patient(client, CHAIN), register_patient(client, CHAIN)
            (alice_tx,) = client.sender_txs(alice.key_id, keys=alice)
        yield Readers(url, hospital, auditor, nurse, alice, bob, alice_tx.id)
    finally:
        stop_node(process)


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def raw_routes(r: Readers) -> list[str]:
    return [
        "/v1/blocks/latest",
        "/v1/blocks/1",
        f"/v1/txs/{r.alice_tx}?proof=true",
        f"/v1/senders/{r.alice.key_id}/txs",
        f"/v1/state/gov/patient/{derive_patient_id(r.alice.key_id)}",
        f"/v1/state/nonce/{r.alice.key_id}",
        "/v1/state/gov/stats",
    ]


def test_an_unsigned_request_reads_nothing_of_the_ledger(readers: Readers) -> None:
    for target in raw_routes(readers):
        assert _code(readers.get(None, target)) == (401, "bad_signature"), target


def test_a_patient_cannot_read_another_patients_data(readers: Readers) -> None:
    for target in raw_routes(readers):
        assert _code(readers.get(readers.bob, target)) == (403, "unauthorized"), target


def test_people_who_are_not_auditors_and_unknown_keys_are_refused(readers: Readers) -> None:
    stranger = KeyPair.generate()
    for target in ("/v1/blocks/latest", f"/v1/txs/{readers.alice_tx}", "/v1/state/gov/stats"):
        assert _code(readers.get(readers.nurse, target)) == (403, "unauthorized"), target
        assert _code(readers.get(stranger, target)) == (403, "unknown_sender"), target


def test_forged_stale_and_replayed_signatures_are_refused(readers: Readers) -> None:
    target = "/v1/blocks/latest"
    forged = sign_request(readers.bob, CHAIN, "GET", target, audience="st-marys")
    forged["x-hl-key"] = readers.hospital.key_id  # the hospital's name, bob's signature
    assert _code(httpx.get(f"{readers.url}{target}", headers=forged)) == (401, "bad_signature")
    stale = sign_request(
        readers.hospital,
        CHAIN,
        "GET",
        target,
        time_ms=int(time.time() * 1000) - 3_600_000,
        audience="st-marys",
    )
    assert _code(httpx.get(f"{readers.url}{target}", headers=stale)) == (401, "request_expired")
    other_path = sign_request(readers.hospital, CHAIN, "GET", "/v1/blocks/1", audience="st-marys")
    assert _code(httpx.get(f"{readers.url}{target}", headers=other_path))[0] == 401
    once = sign_request(readers.hospital, CHAIN, "GET", target, audience="st-marys")
    assert httpx.get(f"{readers.url}{target}", headers=once).status_code == 200
    assert _code(httpx.get(f"{readers.url}{target}", headers=once)) == (401, "request_replayed")


def test_member_organisations_and_auditors_read_the_ledger(readers: Readers) -> None:
    for keys in (readers.hospital, readers.auditor):
        for target in raw_routes(readers):
            assert readers.get(keys, target).status_code == 200, target
    view = readers.get(readers.auditor, f"/v1/txs/{readers.alice_tx}?proof=true").json()
    verify_tx_view(view)


def test_a_patient_reads_their_own_transactions_nonce_and_record(readers: Readers) -> None:
    with Client(readers.url, keys=readers.alice) as client:
        view = client.verified_tx(readers.alice_tx)
        assert view.tx.type == "patient.register"
        assert client.state("nonce", readers.alice.key_id).value["max"] == 1
        me = derive_patient_id(readers.alice.key_id)
        assert client.state("gov", f"patient/{me}").value is not None
        assert client.state("gov", "org/st-marys").value["role"] == "hospital"
        with pytest.raises(ApiError) as others:
            client.state("gov", f"patient/{derive_patient_id(readers.bob.key_id)}")
    assert others.value.remote_code == "unauthorized"


def test_a_patient_reads_who_holds_a_key_but_not_another_patients_record(
    readers: Readers,
) -> None:
    """The directory a patient needs to check their audit trail: the key record that names a
    reader (a nurse, another patient as representative); never another patient's record."""
    with Client(readers.url, keys=readers.alice) as client:
        named = client.state("gov", f"key/{readers.nurse.key_id}").value
        assert named["kind"] == "member" and named["org"] == "st-marys"
        other = client.state("gov", f"key/{readers.bob.key_id}").value
        assert other["id"] == derive_patient_id(readers.bob.key_id)  # derivable anyway
        with pytest.raises(ApiError):
            client.state("gov", f"patient/{derive_patient_id(readers.bob.key_id)}")


def test_a_new_key_reads_its_own_nonce_before_it_registers(readers: Readers) -> None:
    newcomer = KeyPair.generate()
    with Client(readers.url) as client:
        signer = client.signer(newcomer)  # syncs its nonce with a read signed by itself
    assert signer.take_nonce() == 1


def test_public_views_answer_without_a_signature(readers: Readers) -> None:
    for target in (
        "/health",
        "/metrics",
        "/v1/info",
        "/v1/genesis",
        "/v1/headers/latest",
        "/v1/headers/1",
        "/v1/proofs/consistency?old_size=1",
        "/openapi.json",
    ):
        assert readers.get(None, target).status_code == 200, target
    verify = readers.get(
        None, "/v1/supply/verify?gtin=09506000134352&serial=X&lot=L&expiry=2030-01-01"
    )
    assert verify.json()["verdict"] == "unknown_serial"
    # The solo engine has no validator signatures: unavailable, never "sign first".
    assert _code(readers.get(None, "/v1/consensus/commit")) == (503, "unavailable")


def test_a_header_names_its_transactions_by_id_only(readers: Readers) -> None:
    with Client(readers.url, keys=readers.hospital) as member:
        height = member.committed_tx(readers.alice_tx).height
        block = member.block(height)
    header = readers.get(None, f"/v1/headers/{height}").json()
    assert header["header"] == block.wire()["header"] and header["hash"] == block.hash
    assert readers.alice_tx in header["tx_ids"]
    assert set(header) == {"height", "hash", "header", "tx_ids"}


# --- the governance directory views (the portal's explorer lists them) -----------------

DIRECTORY = ("/v1/gov/orgs", "/v1/gov/orgs/acme/members", "/v1/gov/validators")


def test_the_directory_lists_are_members_reads(readers: Readers) -> None:
    stranger = KeyPair.generate()
    for target in DIRECTORY:
        assert _code(readers.get(None, target)) == (401, "bad_signature"), target
        assert _code(readers.get(readers.bob, target)) == (403, "unauthorized"), target
        assert _code(readers.get(readers.nurse, target)) == (403, "unauthorized"), target
        assert _code(readers.get(stranger, target)) == (403, "unknown_sender"), target
        for keys in (readers.hospital, readers.auditor):
            assert readers.get(keys, target).status_code == 200, target


def test_the_directory_lists_organisations_members_and_validators(readers: Readers) -> None:
    orgs = readers.get(readers.auditor, "/v1/gov/orgs").json()
    assert [(o["id"], o["role"], o["status"]) for o in orgs["orgs"]] == [
        ("acme", "insurer", "active"),
        ("st-marys", "hospital", "active"),
    ]
    assert orgs["next_after"] is None
    first = readers.get(readers.auditor, "/v1/gov/orgs?limit=1").json()
    assert [o["id"] for o in first["orgs"]] == ["acme"] and first["next_after"] == "acme"
    rest = readers.get(readers.auditor, "/v1/gov/orgs?limit=1&after=acme").json()
    assert [o["id"] for o in rest["orgs"]] == ["st-marys"] and rest["next_after"] is None
    staff = readers.get(readers.hospital, "/v1/gov/orgs/acme/members").json()
    assert [(m["member_id"], m["role"]) for m in staff["members"]] == [("auditor-1", "auditor")]
    assert staff["members"][0]["signing_key"] == readers.auditor.key_id
    validators = readers.get(readers.hospital, "/v1/gov/validators").json()["validators"]
    owners = {org["id"] for org in orgs["orgs"] if org["validator"] is not None}
    assert {v["org"] for v in validators} == owners
    assert all(v["power"] > 0 and v["org_status"] == "active" for v in validators)


def test_the_directory_refuses_bad_parameters_and_unknown_orgs(readers: Readers) -> None:
    assert _code(readers.get(readers.hospital, "/v1/gov/orgs/nobody/members")) == (
        404,
        "not_found",
    )
    for target in ("/v1/gov/orgs?limit=0", "/v1/gov/orgs?limit=501", "/v1/gov/orgs?limit=x"):
        assert _code(readers.get(readers.hospital, target)) == (400, "invalid_field"), target
