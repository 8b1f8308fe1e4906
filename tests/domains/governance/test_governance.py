"""Governance: admission and removal by quorum, enrolment, keys, patients, permissions."""

from __future__ import annotations

from conftest import CHAIN, Chain, patient_register_payload, seeded_keys
from healthledger.crypto.keys import KeyPair, derive_patient_id


def org_spec(org_id: str, role: str = "laboratory") -> dict[str, str]:
    keys = seeded_keys(org_id)
    return {
        "id": org_id,
        "name": org_id.title(),
        "role": role,
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }


def propose_add(chain: Chain, org_id: str) -> str:
    result = chain.one(
        chain.signer("st-marys").sign("org.propose", {"action": "add", "org": org_spec(org_id)})
    )
    assert result.ok, result
    return next(e["proposal"] for e in result.events if e["type"] == "org.proposed")


def test_new_org_joins_only_with_more_than_two_thirds(chain: Chain) -> None:
    proposal = propose_add(chain, "northlab")
    # 4 members: 1 (proposer) + 1 = 2/4 is not > 2/3; a third approval makes 3/4.
    assert chain.one(
        chain.signer("acme-insurance").sign("org.approve", {"proposal_id": proposal})
    ).ok
    assert chain.state("gov", "org/northlab") is None
    result = chain.one(chain.signer("medico-pharma").sign("org.approve", {"proposal_id": proposal}))
    assert result.ok
    assert chain.state("gov", "org/northlab")["status"] == "active"
    assert chain.state("gov", f"proposal/{proposal}")["status"] == "executed"
    assert chain.state("gov", "stats")["active_orgs"] == 5
    # The new organisation can now act.
    nurse = KeyPair.generate()
    enrol = chain.signer("northlab").sign(
        "member.enroll",
        {
            "member_id": "tech-1",
            "name": "Tech One",
            "role": "technician",
            "signing_key": nurse.key_id,
            "encryption_key": nurse.encryption_public.hex(),
        },
    )
    assert chain.one(enrol).ok


def test_double_vote_and_closed_proposal_are_refused(chain: Chain) -> None:
    proposal = propose_add(chain, "northlab")
    again = chain.one(chain.signer("st-marys").sign("org.approve", {"proposal_id": proposal}))
    assert again.code == "conflict"
    for voter in ("acme-insurance", "medico-pharma"):
        chain.one(chain.signer(voter).sign("org.approve", {"proposal_id": proposal}))
    late = chain.one(chain.signer("corner-pharmacy").sign("org.approve", {"proposal_id": proposal}))
    assert late.code == "invalid_state"


def test_removed_org_and_its_members_can_no_longer_send(chain: Chain) -> None:
    member = KeyPair.generate()
    chain.one(
        chain.signer("corner-pharmacy").sign(
            "member.enroll",
            {
                "member_id": "pharm-1",
                "name": "Pharm One",
                "role": "pharmacist",
                "signing_key": member.key_id,
                "encryption_key": member.encryption_public.hex(),
            },
        )
    )
    result = chain.one(
        chain.signer("st-marys").sign(
            "org.propose", {"action": "remove", "org_id": "corner-pharmacy"}
        )
    )
    proposal = next(e["proposal"] for e in result.events if e["type"] == "org.proposed")
    # The electorate excludes the target: 3 voters, so all 3 must approve (> 2/3).
    approve = {"proposal_id": proposal}
    assert chain.one(chain.signer("acme-insurance").sign("org.approve", approve)).ok
    assert chain.state("gov", "org/corner-pharmacy")["status"] == "active"
    assert chain.one(chain.signer("medico-pharma").sign("org.approve", approve)).ok
    assert chain.state("gov", "org/corner-pharmacy")["status"] == "removed"
    refused = chain.one(chain.signer("corner-pharmacy").sign("org.approve", approve))
    assert refused.code == "revoked_sender"
    member_signer = chain.signer("pharm-1", member)
    rotate = member_signer.sign("key.rotate", {"signing_key": "1" * 64, "encryption_key": "2" * 64})
    assert chain.one(rotate).code == "revoked_sender"


def test_member_revocation_and_key_rotation(chain: Chain) -> None:
    person = KeyPair.generate()
    hospital = chain.signer("st-marys")
    enrol = {
        "member_id": "dr-a",
        "name": "Dr A",
        "role": "practitioner",
        "signing_key": person.key_id,
        "encryption_key": person.encryption_public.hex(),
    }
    assert chain.one(hospital.sign("member.enroll", enrol)).ok
    assert chain.one(hospital.sign("member.enroll", enrol)).code == "already_exists"
    doctor = chain.signer("dr-a", person)
    fresh = KeyPair.generate()
    rotated = chain.one(
        doctor.sign(
            "key.rotate",
            {"signing_key": fresh.key_id, "encryption_key": fresh.encryption_public.hex()},
        )
    )
    assert rotated.ok
    # The old key is revoked; the new one acts for the same member.
    old_again = doctor.sign("key.rotate", {"signing_key": "3" * 64, "encryption_key": "4" * 64})
    assert chain.one(old_again).code == "revoked_sender"
    assert chain.state("gov", "member/st-marys/dr-a")["signing_key"] == fresh.key_id
    assert chain.one(hospital.sign("member.revoke", {"member_id": "dr-a"})).ok
    new_doctor = chain.signer("dr-a-new", fresh)
    again = new_doctor.sign("key.rotate", {"signing_key": "5" * 64, "encryption_key": "6" * 64})
    assert chain.one(again).code == "revoked_sender"


def test_patient_registers_with_their_own_key(chain: Chain) -> None:
    patient_keys = KeyPair.generate()
    patient = chain.signer("patient", patient_keys)
    result = chain.one(
        patient.sign("patient.register", patient_register_payload(patient_keys, CHAIN))
    )
    assert result.ok
    patient_id = derive_patient_id(patient_keys.key_id)
    assert result.events[0]["patient"] == patient_id
    record = chain.state("gov", f"patient/{patient_id}")
    assert record["signing_key"] == patient_keys.key_id
    assert "name" not in record  # pseudonymous: nothing but keys and heights
    twice = patient.sign("patient.register", patient_register_payload(patient_keys, CHAIN))
    assert chain.one(twice).code == "unauthorized"


def test_permission_table_is_enforced(chain: Chain) -> None:
    stranger = chain.signer("stranger", KeyPair.generate())
    assert chain.one(stranger.sign("org.approve", {"proposal_id": "prop-" + "0" * 16})).code == (
        "unknown_sender"
    )
    patient_keys = KeyPair.generate()
    patient = chain.signer("p", patient_keys)
    chain.one(patient.sign("patient.register", patient_register_payload(patient_keys, CHAIN)))
    attempt = patient.sign("org.propose", {"action": "add", "org": org_spec("evil")})
    assert chain.one(attempt).code == "unauthorized"
