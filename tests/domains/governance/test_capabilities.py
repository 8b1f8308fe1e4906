"""Capabilities: granted to an organisation by quorum, passed by it to its members, used by
a domain's permission table (supply's `inspector` quarantines and clears beside the
regulator), withdrawn the same way; every refusal with its code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Chain, make_genesis
from healthledger.app.application import Application
from healthledger.crypto.keys import KeyPair
from healthledger.domains.governance import queries
from healthledger.domains.supply.gs1 import gtin_check_digit
from healthledger.ledger.block import TxResult
from healthledger.ledger.context import StateReader
from healthledger.ledger.store import Store

# Six organisations; quorum 2/3 of those who vote: the target does not vote on its own
# capabilities, so a grant to the laboratory needs 4 of the other 5.
FOUNDERS = [
    ("st-marys", "hospital"),
    ("acme-insurance", "insurer"),
    ("medico-pharma", "manufacturer"),
    ("corner-pharmacy", "pharmacy"),
    ("fda", "regulator"),
    ("city-lab", "laboratory"),
]
VOTERS = ("st-marys", "acme-insurance", "medico-pharma", "fda")
GTIN = "0031234500001" + str(gtin_check_digit("0031234500001"))
TECH = KeyPair.from_seed(b"capabilities/tech".ljust(32, b"."))


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Chain]:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(make_genesis(FOUNDERS))
    chain = Chain(app, store)
    chain.signer("city-lab/tech", TECH)
    enrol = {
        "member_id": "tech",
        "name": "Tech",
        "role": "technician",
        "signing_key": TECH.key_id,
        "encryption_key": TECH.encryption_public.hex(),
    }
    commission = {"gtin": GTIN, "lot": "L1", "expiry": "2030-01-31", "serials": ["1", "2"]}
    setup = chain.block(
        [
            chain.signer("city-lab").sign("member.enroll", enrol),
            chain.signer("medico-pharma").sign("supply.commission", commission),
        ]
    )
    assert all(r.ok for r in setup), setup
    yield chain
    store.close()


def propose(chain: Chain, sender: str, action: str, capability: str = "inspector") -> TxResult:
    payload = {"action": action, "org_id": "city-lab", "capability": capability}
    return chain.one(chain.signer(sender).sign("capability.propose", payload))


def proposal_of(result: TxResult) -> str:
    assert result.ok, result
    return str(next(e["proposal"] for e in result.events if e["type"] == "capability.proposed"))


def approve(chain: Chain, voters: tuple[str, ...], proposal: str) -> list[TxResult]:
    payload = {"proposal_id": proposal}
    return chain.block([chain.signer(v).sign("org.approve", payload) for v in voters])


def by_quorum(chain: Chain, action: str) -> str:
    """Propose as St Mary's and approve with the other three voters: 4 of 5."""
    proposal = proposal_of(propose(chain, "st-marys", action))
    assert all(r.ok for r in approve(chain, VOTERS[1:], proposal))
    assert chain.state("gov", f"proposal/{proposal}")["status"] == "executed"
    return proposal


def quarantine(chain: Chain, sender: str, serial: str = "1") -> TxResult:
    payload = {"gtin": GTIN, "serial": serial, "reason": "suspect counterfeit"}
    return chain.one(chain.signer(sender).sign("supply.quarantine", payload))


def clear(chain: Chain, sender: str, serial: str = "1") -> TxResult:
    payload = {"gtin": GTIN, "serial": serial, "reason": "genuine"}
    return chain.one(chain.signer(sender).sign("supply.clear", payload))


def pass_on(chain: Chain, action: str, capability: str = "inspector") -> TxResult:
    payload = {"action": action, "member_id": "tech", "capability": capability}
    return chain.one(chain.signer("city-lab").sign("member.capability", payload))


def test_a_laboratory_quarantines_only_while_a_quorum_grants_it_inspector(net: Chain) -> None:
    assert quarantine(net, "city-lab").code == "unauthorized"
    proposal = by_quorum(net, "grant")
    assert net.state("gov", "cap/city-lab") == {"granted": {"inspector": proposal}}
    assert quarantine(net, "city-lab").ok
    assert clear(net, "city-lab").ok
    assert net.state("supply", f"pkg/{GTIN}/1")["quarantined"] is False
    by_quorum(net, "withdraw")
    assert net.state("gov", "cap/city-lab") is None  # holding none leaves no key
    assert quarantine(net, "city-lab").code == "unauthorized"
    assert quarantine(net, "fda").ok  # the regulator's role is untouched


def test_the_grant_waits_for_the_quorum(net: Chain) -> None:
    proposal = proposal_of(propose(net, "st-marys", "grant"))
    assert all(r.ok for r in approve(net, VOTERS[1:3], proposal))  # 3 of 5: not > 2/3
    assert net.state("gov", f"proposal/{proposal}")["status"] == "open"
    assert quarantine(net, "city-lab").code == "unauthorized"
    (last,) = approve(net, VOTERS[3:], proposal)
    assert [e["type"] for e in last.events] == [
        "org.approved",
        "capability.granted",
        "org.proposal_executed",
    ]
    assert quarantine(net, "city-lab").ok


def test_a_member_holds_what_its_organisation_passed_on_while_the_org_holds_it(
    net: Chain,
) -> None:
    assert pass_on(net, "grant").code == "unauthorized"  # the org lacks it
    by_quorum(net, "grant")
    assert quarantine(net, "city-lab/tech").code == "unauthorized"  # not passed on yet
    assert pass_on(net, "grant").ok
    assert quarantine(net, "city-lab/tech").ok
    assert pass_on(net, "grant").code == "already_exists"
    assert pass_on(net, "withdraw").ok
    assert quarantine(net, "city-lab/tech", "2").code == "unauthorized"
    assert pass_on(net, "withdraw").code == "not_found"
    # Passed on again, then the organisation loses it: the member loses it with it,
    # and a later grant to the organisation does not bring the member's old one back.
    assert pass_on(net, "grant").ok
    by_quorum(net, "withdraw")
    assert quarantine(net, "city-lab/tech", "2").code == "unauthorized"
    by_quorum(net, "grant")
    assert quarantine(net, "city-lab/tech", "2").code == "unauthorized"
    assert quarantine(net, "city-lab", "2").ok


def test_resolve_actor_reports_capabilities(net: Chain) -> None:
    state = StateReader(net.store.state_get)
    lab_key = net.signer("city-lab").keys.key_id
    assert queries.resolve_actor(state, lab_key, allow_new=False).capabilities == frozenset()
    by_quorum(net, "grant")
    assert pass_on(net, "grant").ok
    state = StateReader(net.store.state_get)
    assert queries.resolve_actor(state, lab_key, allow_new=False).capabilities == {"inspector"}
    tech = queries.resolve_actor(state, TECH.key_id, allow_new=False)
    assert tech.capabilities == {"inspector"}
    hospital = queries.resolve_actor(state, net.signer("st-marys").keys.key_id, allow_new=False)
    assert hospital.capabilities == frozenset()


def test_refusals(net: Chain) -> None:
    unknown = propose(net, "st-marys", "grant", "astronaut")
    assert (unknown.code, unknown.message) == (
        "invalid_field",
        "no domain declares the capability astronaut",
    )
    assert propose(net, "st-marys", "withdraw").code == "not_found"  # not held
    assert propose(net, "city-lab", "grant").code == "unauthorized"  # its own
    proposal = proposal_of(propose(net, "st-marys", "grant"))
    again = propose(net, "st-marys", "grant")
    assert (again.code, again.message) == (
        "conflict",
        f"st-marys already has proposal {proposal} open on city-lab's capability inspector",
    )
    assert approve(net, ("st-marys",), proposal)[0].code == "conflict"  # the same vote twice
    assert approve(net, ("city-lab",), proposal)[0].code == "unauthorized"  # its own
    assert all(r.ok for r in approve(net, VOTERS[1:], proposal))
    twice = propose(net, "acme-insurance", "grant")
    assert (twice.code, twice.message) == (
        "already_exists",
        "city-lab already holds the capability inspector",
    )
    assert pass_on(net, "grant", "astronaut").code == "invalid_field"
    member = {"action": "grant", "member_id": "nobody", "capability": "inspector"}
    assert net.one(net.signer("city-lab").sign("member.capability", member)).code == "not_found"
    by_patient = {"action": "grant", "org_id": "city-lab", "capability": "inspector"}
    assert net.one(net.signer("city-lab/tech").sign("capability.propose", by_patient)).code == (
        "unauthorized"
    )


def test_a_removed_organisation_cannot_be_granted_or_use_a_capability(net: Chain) -> None:
    by_quorum(net, "grant")
    opened = proposal_of(propose(net, "st-marys", "withdraw"))
    removal = net.one(
        net.signer("st-marys").sign("org.propose", {"action": "remove", "org_id": "city-lab"})
    )
    assert removal.ok
    removal_id = next(e["proposal"] for e in removal.events if e["type"] == "org.proposed")
    assert all(r.ok for r in approve(net, VOTERS[1:], removal_id))
    assert net.state("gov", "org/city-lab")["status"] == "removed"
    assert quarantine(net, "city-lab").code == "revoked_sender"
    assert propose(net, "acme-insurance", "grant").message == "no active organisation city-lab"
    # A capability proposal opened before the removal is re-checked when it would execute.
    refused = approve(net, VOTERS[1:], opened)
    assert refused[-1].code == "not_found"
    assert net.state("gov", f"proposal/{opened}")["status"] == "open"


def test_a_capability_transaction_changes_no_existing_record(net: Chain) -> None:
    """Capabilities live under `cap/`: organisation, member and key records keep their bytes."""
    before = {
        key: net.store.state_get("gov", key)
        for key in ("org/city-lab", "member/city-lab/tech", f"key/{TECH.key_id}")
    }
    by_quorum(net, "grant")
    assert pass_on(net, "grant").ok
    assert {key: net.store.state_get("gov", key) for key in before} == before
    assert net.state("gov", "cap/city-lab/tech") == {
        "granted": net.state("gov", "cap/city-lab")["granted"]
    }
