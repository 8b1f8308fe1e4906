"""The demo's governance story: staff enrolled, an organisation admitted by quorum vote,
keys rotated and revoked, refused transactions, and patients registered with a voucher.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from healthledger.client.sdk import Signer, registration_payload
from healthledger.crypto.keys import derive_patient_id, save_keypair
from healthledger.demo.chain import (
    CHAIN_ID,
    NEW_ORG,
    ORGS,
    STAFF,
    DemoChain,
    DemoUser,
    Progress,
    StoryPrecondition,
    demo_keys,
)
from healthledger.demo.synthetic import SyntheticPatient, synthetic_patients
from healthledger.ledger.transaction import Transaction

NAMED_PATIENTS = 20  # patients with synthetic demographics in demo-users.json
REGISTRATION_BATCH = 100


def governance_story(chain: DemoChain) -> list[dict[str, Any]]:
    """Run the story in order; return the refused examples it shows."""
    _enrol_staff(chain)
    _admit_new_org(chain)
    _rotate_and_revoke(chain)
    return _show_refusals(chain)


def _enrol_staff(chain: DemoChain) -> None:
    txs = []
    for org_id, member_id, name, role in STAFF:
        person = chain.signer(member_id)
        txs.append(
            chain.signers[org_id].sign(
                "member.enroll",
                {
                    "member_id": member_id,
                    "name": name,
                    "role": role,
                    "signing_key": person.key_id,
                    "encryption_key": person.keys.encryption_public.hex(),
                },
            )
        )
        chain.add_user(name, "member", role, org_id, member_id)
    chain.commit(txs)


def _admit_new_org(chain: DemoChain) -> None:
    org_id, role, name = NEW_ORG
    newcomer = chain.signer(org_id)
    spec = {
        "id": org_id,
        "name": name,
        "role": role,
        "signing_key": newcomer.key_id,
        "encryption_key": newcomer.keys.encryption_public.hex(),
    }
    (proposal,) = chain.commit(
        [chain.signers["st-marys"].sign("org.propose", {"action": "add", "org": spec})]
    )
    proposed = [e["proposal"] for e in proposal.get("events", []) if e["type"] == "org.proposed"]
    if not proposed:
        raise StoryPrecondition("governance", f"its org.propose to commit, not {proposal}")
    # 12 founders: the proposer and 8 more make 9 > 2/3 of 12.
    voters = [org for org, _role, _name in ORGS[1:9]]
    chain.commit(
        [chain.signers[v].sign("org.approve", {"proposal_id": proposed[0]}) for v in voters]
    )
    chain.add_user(name, "org", role, org_id, org_id)


def _rotate_and_revoke(chain: DemoChain) -> None:
    clinic = chain.signers["riverside-clinic"]
    temp = chain.signer("temp-locum")
    chain.commit(
        [
            clinic.sign(
                "member.enroll",
                {
                    "member_id": "locum-smith",
                    "name": "Dr Locum Smith",
                    "role": "practitioner",
                    "signing_key": temp.key_id,
                    "encryption_key": temp.keys.encryption_public.hex(),
                },
            )
        ]
    )
    chain.commit(
        [clinic.sign("member.revoke", {"member_id": "locum-smith", "reason": "contract_ended"})]
    )
    lab = chain.signers["northlab"]
    fresh = demo_keys(chain.seed, "northlab-rotated")
    chain.commit(
        [
            lab.sign(
                "key.rotate",
                {"signing_key": fresh.key_id, "encryption_key": fresh.encryption_public.hex()},
            )
        ]
    )
    save_keypair(lab.keys.rotated_to(fresh), chain.home.key_path("northlab"))  # keyring
    chain.signers["northlab"] = Signer(fresh, CHAIN_ID)
    for user in chain.users:
        if user.key_file == str(chain.home.key_path("northlab")):
            chain.users[chain.users.index(user)] = DemoUser(
                user.name, user.kind, user.role, user.organisation, user.key_file, fresh.key_id
            )


def _show_refusals(chain: DemoChain) -> list[dict[str, Any]]:
    """Refused transactions are part of the story: they are recorded and change nothing."""
    nurse = chain.signers["nurse-joy"]
    outsider = Signer(demo_keys(chain.seed, "outsider"), CHAIN_ID)
    attempts = [
        nurse.sign(
            "member.enroll",
            {
                "member_id": "x",
                "name": "X",
                "role": "admin",
                "signing_key": "0" * 64,
                "encryption_key": "0" * 64,
            },
        ),
        outsider.sign("org.approve", {"proposal_id": "prop-0000000000000000"}),
        chain.signers["st-marys"].sign("member.revoke", {"member_id": "nobody"}),
    ]
    return chain.commit(attempts)


def register_patients(
    chain: DemoChain, count: int, progress: Progress | None
) -> list[tuple[str, SyntheticPatient]]:
    """Register patients; the first 20 get synthetic demographics in demo-users.json."""
    people = synthetic_patients(NAMED_PATIENTS, seed=chain.seed)
    named: list[tuple[str, SyntheticPatient]] = []
    batch: list[Transaction] = []
    voucher = chain.signer("st-marys").keys  # the demo hospital vouches for its patients
    for index in range(count):
        name = f"patient-{index + 1:04d}"
        patient = chain.signer(name)
        batch.append(
            patient.sign("patient.register", registration_payload(patient.keys, CHAIN_ID, voucher))
        )
        if index < len(people):
            person = people[index]
            named.append((name, person))
            chain.users.append(
                DemoUser(
                    f"{person.given} {person.family}",
                    "patient",
                    "patient",
                    None,
                    str(chain.home.key_path(name)),
                    patient.key_id,
                    derive_patient_id(patient.key_id),
                    asdict(person),  # what a user needs to act as them
                )
            )
        if len(batch) == REGISTRATION_BATCH or index == count - 1:
            chain.commit(batch)
            batch = []
            if progress is not None:
                progress(index + 1, count)
    return named
