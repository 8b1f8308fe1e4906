"""Organ-donation decisions on the 4-validator CometBFT network and a joined clinic.

A patient records, changes and withdraws a decision through different nodes; a
transplant coordinator asks through their own organisation's node before and after
each step; an insurer's "coordinator" is refused and nothing is audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from healthledger.client.records import Records
from healthledger.client.sdk import ApiError, Client, Signer, registration_payload
from healthledger.crypto.keys import KeyPair, derive_patient_id, load_keypair
from livenet import LiveNet, commit, healthledger

pytestmark = pytest.mark.network

HOSPITAL, INSURER, CLINIC, PHARMA = "st-marys", "acme-insurance", "westclinic", "pharmaco"


@dataclass
class Cast:
    net: LiveNet
    chain: str
    people: dict[str, KeyPair]

    def as_(self, name: str, org: str) -> Records:
        """`name` acting through `org`'s node."""
        return Records(self.net.client(org), self.people[name], self.chain)

    def signer(self, name: str, org: str) -> Signer:
        with self.net.client(org) as client:
            signer = Signer(self.people[name], self.chain)
            signer.sync_nonce(client)
            return signer


def _enroll(net: LiveNet, org: str, member: str, role: str) -> KeyPair:
    keys = KeyPair.generate()
    payload = {
        "member_id": member,
        "name": member,
        "role": role,
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    commit(net, org, net.signer(org).sign("member.enroll", payload))
    return keys


def _admitted(net: LiveNet, org: str) -> None:
    """The joined clinic admitted by the founders' quorum (once per network)."""
    with net.client(HOSPITAL) as client:
        record = client.state("gov", f"org/{org}").value
    if record is None or record.get("status") != "active":
        healthledger("net", "admit", "--dir", str(net.root), "--org", org, "--member-only")


@pytest.fixture
def cast(records_net: LiveNet) -> Iterator[Cast]:
    net = records_net
    _admitted(net, CLINIC)
    with net.client(HOSPITAL) as client:
        chain = client.chain_id
    people = {
        "coord-h": _enroll(net, HOSPITAL, "coord-h", "coordinator"),
        "nurse-h": _enroll(net, HOSPITAL, "nurse-h", "nurse"),
        "coord-w": _enroll(net, CLINIC, "coord-w", "coordinator"),
        "coord-i": _enroll(net, INSURER, "coord-i", "coordinator"),
        "patient": KeyPair.generate(),
    }
    hospital = load_keypair(net.root / "keys" / f"{HOSPITAL}.json")
    patient = people["patient"]
    register = Signer(patient, chain).sign(
        "patient.register", registration_payload(patient, chain, hospital)
    )
    commit(net, HOSPITAL, register)
    yield Cast(net, chain, people)


def _audited(cast: Cast, patient: str) -> list[dict[str, object]]:
    trail = cast.as_("patient", HOSPITAL).audit(patient)
    return [e for e in trail.events if e["action"] == "donation"]


def test_decisions_move_and_only_care_giving_coordinators_see_them(cast: Cast) -> None:
    patient = derive_patient_id(cast.people["patient"].key_id)
    coordinator = cast.as_("coord-h", HOSPITAL)
    assert coordinator.donation_status(patient).status == "none"

    cast.as_("patient", HOSPITAL).decide_donation(
        cast.signer("patient", HOSPITAL), ["kidneys", "liver"], research=True
    )
    decided = coordinator.donation_status(patient)
    assert (decided.status, decided.organs, decided.research) == (
        "current",
        ["kidneys", "liver"],
        True,
    )
    # a change sent through another validator's node; the clinic's coordinator sees it
    cast.as_("patient", PHARMA).decide_donation(cast.signer("patient", PHARMA), [], "do_not_donate")
    changed = cast.as_("coord-w", CLINIC).donation_status(patient)
    assert (changed.decision, changed.version) == ("do_not_donate", 2)

    withdrawal = cast.as_("patient", PHARMA).withdraw_donation(cast.signer("patient", PHARMA))
    after = coordinator.donation_status(patient)
    assert after.status == "withdrawn" and after.withdrawn_height == withdrawal["height"]
    assert len(_audited(cast, patient)) == 4

    refusals = [
        (lambda: cast.as_("coord-i", INSURER).donation_status(patient), "unauthorized"),
        (lambda: cast.as_("nurse-h", HOSPITAL).donation_status(patient), "unauthorized"),
        (lambda: coordinator.donation_status(patient, "treatment"), "no_consent"),
        # the insurer's node does not hold the hospital's key: ask through one's own node
        (lambda: cast.as_("coord-h", INSURER).donation_status(patient), "not_custodian"),
    ]
    for call, code in refusals:
        with pytest.raises(ApiError) as caught:
            call()
        assert caught.value.remote_code == code, caught.value.message
    assert len(_audited(cast, patient)) == 4  # nothing more was audited

    with Client(cast.net.node(INSURER).api_url) as anyone:
        counts = Records(anyone, KeyPair.generate(), cast.chain).donation_counts()
    assert any(r.org == HOSPITAL and r.decision == "withdrawn" for r in counts.rows)
