"""The credentials SDK on a real node: issue, status, verify offline against the trust anchor."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from conftest import enroll_member, serve_network, stop_node
from healthledger.client.credentials import Credentials, CredentialSpec, Slot, credential_ref
from healthledger.client.sdk import Client, Signer
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.domains.credentials.documents import status_slot_of
from healthledger.domains.credentials.presentation import presentation
from healthledger.errors import ErrorCode, LedgerError
from healthledger.node.home import Home

CHAIN = "credentials-sdk"
MEMBER = "st-marys/dr-lee"


@dataclass
class Net:
    url: str
    board: KeyPair
    hospital: KeyPair
    regulator: KeyPair


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    root = tmp_path_factory.mktemp("credentials-sdk") / "net"
    orgs = [
        ("st-marys", "hospital", "St Mary's"),
        ("ma-board", "board", "Massachusetts Board of Medicine"),
        ("ma-regulator", "regulator", "MA Department of Health"),
    ]
    url, process = serve_network(root, CHAIN, orgs)
    home = Home(root)
    keys = {org: load_keypair(home.key_path(org)) for org, _role, _name in orgs}
    with Client(url) as client:
        enroll_member(client, Signer(keys["st-marys"], CHAIN), "dr-lee", "practitioner")
    yield Net(url, keys["ma-board"], keys["st-marys"], keys["ma-regulator"])
    stop_node(process)


def licence(local_id: str | None = None) -> CredentialSpec:
    return CredentialSpec(
        type="licence",
        subject=MEMBER,
        scope="Physician and surgeon",
        jurisdiction="US-MA",
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        valid_until=datetime(2028, 1, 1, tzinfo=UTC),
        name="Dr Ada Lee",
        local_id=local_id,
    )


def slot_of(document: dict[str, Any]) -> tuple[int, int]:
    slot = status_slot_of(document, "ma-board")
    assert slot is not None
    return slot


def issuer(net: Net, client: Client) -> Credentials:
    return Credentials(client, net.board, issuer_name="Massachusetts Board of Medicine")


def test_issue_then_verify_with_keys_and_without(net: Net) -> None:
    with Client(net.url) as client:
        issued = issuer(net, client).issue(licence("lic-1"))
        assert issued.id == "ma-board:lic-1"
        assert issued.document["proof"]["cryptosuite"] == "eddsa-jcs-2022"  # type: ignore[index]
        # A member organisation reads the anchor signed; the proof is checked here.
        verdict = Credentials(client, net.hospital).verify(issued.document)
        assert verdict.valid, verdict.checks
        assert verdict.verified_against is not None and "pinned" in verdict.verified_against
        assert verdict.proven_at_height is not None and verdict.proven_at_height >= issued.height
    # Anyone holding the document: the anchor comes from the public route, proven here.
    with Client(net.url) as anonymous:
        verdict = Credentials(anonymous).verify(issued.document)
        assert verdict.valid, verdict.checks
        assert verdict.verified_against is not None


def test_tampered_document_is_not_valid(net: Net) -> None:
    with Client(net.url) as client:
        issued = issuer(net, client).issue(licence("lic-tamper"))
        tampered = dict(issued.document)
        tampered["credentialSubject"] = {
            **issued.document["credentialSubject"],  # type: ignore[dict-item]
            "scope": "Any surgery anywhere",
        }
        verdict = Credentials(client, net.hospital).verify(tampered)
        assert not verdict.valid
        assert any(not check.get("ok") for check in verdict.checks)
        # Without keys the node withholds the anchor of a document it does not match.
        with Client(net.url) as anonymous:
            assert not Credentials(anonymous).verify(tampered).valid


def test_suspension_is_invalid_now_and_valid_before(net: Net) -> None:
    with Client(net.url) as client:
        board = issuer(net, client)
        issued = board.issue(licence("lic-suspend"))
        before = int(time.time() * 1000)
        time.sleep(0.05)
        board.suspend(issued.id, "under investigation")
        verifier = Credentials(client, net.hospital)
        assert not verifier.verify(issued.document).valid
        assert verifier.verify(issued.document, at=before).valid
        # A file of two: one suspended makes the file not valid; each says which.
        other = board.issue(licence("lic-fine"))
        report = verifier.verify_file(presentation([issued.document, other.document], MEMBER))
        assert not report.valid
        assert [r.valid for r in report.credentials] == [False, True]
        board.reinstate(issued.id, "cleared")
        assert verifier.verify(issued.document).valid


def test_status_list_bits_are_proven(net: Net) -> None:
    with Client(net.url) as client:
        board = issuer(net, client)
        issued = board.issue(licence("lic-revoke"))
        board.revoke(issued.id, "surrendered")
        number, index = slot_of(issued.document)
    with Client(net.url) as anonymous:
        checked = Credentials(anonymous).status_list("ma-board", "revocation", number)
        assert checked.bit(index)
        assert checked.summary()["encoded_list_matches_chain"]
        assert "pinned" in checked.verified_against


def test_issue_many_takes_consecutive_slots(net: Net) -> None:
    with Client(net.url) as client:
        board = issuer(net, client)
        first = board.next_slot()
        issued = board.issue_many([licence(f"batch-{n}") for n in range(5)], chunk=2)
        indices = [slot_of(i.document)[1] for i in issued]
        assert indices == [first.index + n for n in range(5)]
        assert len({i.height for i in issued}) >= 3  # three batches, each awaited
        assert board.next_slot() == first.after(5)


def test_a_stale_slot_is_refused_then_issue_retries(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Client(net.url) as client:
        board = issuer(net, client)
        stale = board.next_slot()
        board.issue(licence("lic-takes-the-slot"))
        answers = iter([stale])
        real = board.next_slot

        def next_slot() -> Slot:
            return next(answers, None) or real()

        monkeypatch.setattr(board, "next_slot", next_slot)
        issued = board.issue(licence("lic-retried"))
        assert issued.id == "ma-board:lic-retried"
        assert Credentials(client, net.hospital).verify(issued.document).valid


def test_refusals_carry_their_codes(net: Net) -> None:
    with Client(net.url) as client:
        # A hospital may not issue licences.
        with pytest.raises(LedgerError) as refused:
            Credentials(client, net.hospital).issue(licence("lic-by-hospital"))
        assert refused.value.code is ErrorCode.UNAUTHORIZED
        # The board may not suspend what it did not issue (nothing of that id exists).
        with pytest.raises(LedgerError) as missing:
            issuer(net, client).suspend("ma-board:no-such", "x")
        assert missing.value.code is ErrorCode.NOT_FOUND
        verdict = Credentials(client, net.hospital).verify({"id": "not a credential"})
        assert not verdict.valid and verdict.id is None


def test_bad_payloads_are_refused_here_with_the_field_named(net: Net) -> None:
    with Client(net.url) as client:
        board = issuer(net, client)
        with pytest.raises(LedgerError) as bad_id:
            board.suspend("not an id", "x")
        assert bad_id.value.code is ErrorCode.INVALID_FIELD
        assert "credential_id" in bad_id.value.message
        with pytest.raises(LedgerError) as bad_did:
            Credentials(client, net.regulator).register_issuer(
                "gmc", "did:key:nope", "GMC", ["licence"], "GB"
            )
        assert bad_did.value.code is ErrorCode.INVALID_FIELD and "did" in bad_did.value.message


def test_a_document_id_serves_as_a_credential_id(net: Net) -> None:
    assert credential_ref("urn:healthledger:credential:ma-board:x-1") == "ma-board:x-1"
    assert credential_ref("ma-board:x-1") == "ma-board:x-1"
    with Client(net.url) as client:
        board = issuer(net, client)
        issued = board.issue(licence("lic-by-urn"))
        board.suspend(str(issued.document["id"]), "under review")
        assert board.anchor(str(issued.document["id"])).status == "suspended"


def test_fhir_export_of_a_file(net: Net) -> None:
    with Client(net.url) as client:
        issued = issuer(net, client).issue(licence("lic-fhir"))
        bundle = Credentials(client, net.regulator).fhir(MEMBER)
    entries: Any = bundle["entry"]
    practitioner = entries[0]["resource"]
    assert practitioner["resourceType"] == "Practitioner"
    ids = [q["identifier"][0]["value"] for q in practitioner["qualification"]]
    assert issued.id in ids
