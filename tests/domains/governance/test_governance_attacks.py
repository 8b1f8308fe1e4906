"""Governance under attack: duplicate proposals, late removals, re-admission (issue 10, #2).

Every rule is re-checked when a proposal executes, so the quorum can never be driven
down by removing one organisation twice or by counting votes of organisations gone since.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Chain, make_genesis, seeded_keys
from healthledger.app.application import Application
from healthledger.crypto.canonical import parse_json
from healthledger.ledger.block import TxResult
from healthledger.ledger.store import Store

SEVEN = [
    ("st-marys", "hospital"),
    ("acme-insurance", "insurer"),
    ("medico-pharma", "manufacturer"),
    ("corner-pharmacy", "pharmacy"),
    ("town-pharmacy", "pharmacy"),
    ("pharmalink", "distributor"),
    ("fda", "regulator"),
]


@pytest.fixture
def gov(tmp_path: Path) -> Iterator[Chain]:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(make_genesis(SEVEN))
    yield Chain(app, store)
    store.close()


def org_spec(org_id: str, validator: str | None = None) -> dict[str, Any]:
    keys = seeded_keys(org_id)
    spec: dict[str, Any] = {
        "id": org_id,
        "name": org_id.title(),
        "role": "laboratory",
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    if validator is not None:
        spec["validator"] = {"pub_key": validator, "power": 10}
    return spec


def propose(chain: Chain, by: str, **payload: Any) -> str:
    result = chain.one(chain.signer(by).sign("org.propose", payload))
    assert result.ok, result
    return next(e["proposal"] for e in result.events if e["type"] == "org.proposed")


def approve(chain: Chain, by: str, proposal: str) -> TxResult:
    return chain.one(chain.signer(by).sign("org.approve", {"proposal_id": proposal}))


def active_orgs_in_state(chain: Chain) -> int:
    rows = chain.store.state_scan("gov", "org/", limit=10_000)
    return sum(1 for _key, value in rows if parse_json(value)["status"] == "active")


def assert_count_invariant(chain: Chain) -> None:
    assert chain.state("gov", "stats")["active_orgs"] == active_orgs_in_state(chain)


def events_of(result: TxResult, event_type: str) -> list[dict[str, Any]]:
    return [e for e in result.events if e["type"] == event_type]


def test_removing_one_org_twice_removes_it_once_and_keeps_the_quorum(gov: Chain) -> None:
    first = propose(gov, "st-marys", action="remove", org_id="town-pharmacy")
    second = propose(gov, "acme-insurance", action="remove", org_id="town-pharmacy")
    # 6 voters (the target does not vote): > 2/3 needs 5 approvals.
    for voter in ("acme-insurance", "medico-pharma", "corner-pharmacy"):
        assert approve(gov, voter, first).ok
    executed = approve(gov, "pharmalink", first)
    assert events_of(executed, "org.removed") == [{"type": "org.removed", "org": "town-pharmacy"}]
    assert [e["proposal"] for e in events_of(executed, "org.proposal_superseded")] == [second]
    assert gov.state("gov", "stats")["active_orgs"] == 6
    # The sibling is closed: approving it again is refused and changes nothing.
    late = approve(gov, "st-marys", second)
    assert late.code == "invalid_state"
    assert gov.state("gov", f"proposal/{second}")["status"] == "superseded"
    assert gov.state("gov", "stats")["active_orgs"] == 6
    assert_count_invariant(gov)


def test_a_proposer_has_one_open_proposal_per_target(gov: Chain) -> None:
    propose(gov, "st-marys", action="remove", org_id="town-pharmacy")
    again = gov.one(
        gov.signer("st-marys").sign("org.propose", {"action": "remove", "org_id": "town-pharmacy"})
    )
    assert again.code == "conflict"


def test_votes_of_organisations_removed_since_do_not_count(gov: Chain) -> None:
    admission = propose(gov, "pharmalink", action="add", org=org_spec("northlab"))
    for voter in ("fda", "town-pharmacy", "corner-pharmacy"):
        assert approve(gov, voter, admission).ok  # 4 of 7: not yet > 2/3
    # Three of those voters are removed (each by the other six... minus themselves).
    for target in ("town-pharmacy", "corner-pharmacy", "pharmalink"):
        removal = propose(gov, "st-marys", action="remove", org_id=target)
        voters = [o for o, _ in SEVEN if o not in (target, "st-marys")]
        for voter in voters:
            if gov.state("gov", f"org/{target}")["status"] == "removed":
                break
            if gov.state("gov", f"org/{voter}")["status"] == "active":
                approve(gov, voter, removal)
        assert gov.state("gov", f"org/{target}")["status"] == "removed"
    assert gov.state("gov", "stats")["active_orgs"] == 4
    # Of the 4 approvals only fda's still counts (1 of 4); one more makes 2 of 4: not > 2/3.
    assert approve(gov, "medico-pharma", admission).ok
    assert gov.state("gov", "org/northlab") is None
    assert approve(gov, "acme-insurance", admission).ok  # 3 of 4 active approve
    assert gov.state("gov", "org/northlab")["status"] == "active"
    assert_count_invariant(gov)


def test_one_org_id_is_admitted_once_through_any_number_of_proposals(gov: Chain) -> None:
    first = propose(gov, "st-marys", action="add", org=org_spec("northlab", "aa" * 32))
    second = propose(gov, "acme-insurance", action="add", org=org_spec("northlab", "aa" * 32))
    for voter in ("acme-insurance", "medico-pharma", "corner-pharmacy"):
        assert approve(gov, voter, first).ok
    executed = approve(gov, "town-pharmacy", first)  # 5 of 7 > 2/3
    assert len(events_of(executed, "validator.update")) == 1
    assert gov.state("gov", f"proposal/{second}")["status"] == "superseded"
    assert gov.state("gov", "stats")["active_orgs"] == 8
    # A removed organisation's id is never admitted again (its history stays its own).
    removal = propose(gov, "st-marys", action="remove", org_id="northlab")
    for voter in ("acme-insurance", "medico-pharma", "corner-pharmacy", "town-pharmacy", "fda"):
        approve(gov, voter, removal)
    assert gov.state("gov", "org/northlab")["status"] == "removed"
    readd = gov.one(
        gov.signer("st-marys").sign("org.propose", {"action": "add", "org": org_spec("northlab")})
    )
    assert readd.code == "already_exists"
    assert_count_invariant(gov)


def test_execution_rechecks_a_target_removed_by_a_sibling_in_the_same_block(gov: Chain) -> None:
    """Two sibling removals reach quorum in one block: the second fails, nothing counts twice."""
    first = propose(gov, "st-marys", action="remove", org_id="town-pharmacy")
    second = propose(gov, "acme-insurance", action="remove", org_id="town-pharmacy")
    for voter in ("acme-insurance", "medico-pharma", "corner-pharmacy"):
        assert approve(gov, voter, first).ok
    for voter in ("st-marys", "medico-pharma", "corner-pharmacy"):
        assert approve(gov, voter, second).ok
    results = gov.block(
        [
            gov.signer("pharmalink").sign("org.approve", {"proposal_id": first}),
            gov.signer("fda").sign("org.approve", {"proposal_id": second}),
        ]
    )
    assert results[0].ok
    assert results[1].code == "invalid_state"  # the sibling closed when the first executed
    updates = [e for r in results for e in r.events if e["type"] == "org.removed"]
    assert len(updates) == 1
    assert gov.state("gov", "stats")["active_orgs"] == 6
    assert_count_invariant(gov)


def test_a_validator_is_not_admitted_and_removed_in_one_block(gov: Chain) -> None:
    """CometBFT refuses two updates of one validator in a block: the second change waits."""
    voters = ["acme-insurance", "medico-pharma", "corner-pharmacy", "town-pharmacy"]
    add = gov.signer("st-marys").sign(
        "org.propose", {"action": "add", "org": org_spec("newlab", "ab" * 32)}
    )
    add_id = "prop-" + add.id[:16]
    txs = [add, *(gov.signer(o).sign("org.approve", {"proposal_id": add_id}) for o in voters)]
    remove = gov.signer("st-marys").sign("org.propose", {"action": "remove", "org_id": "newlab"})
    results = gov.block([*txs, remove])
    assert all(r.ok for r in results[:-1])
    assert results[-1].code == "invalid_state"
    updates = [e for r in results for e in r.events if e["type"] == "validator.update"]
    assert [(u["pub_key"], u["power"]) for u in updates] == [("ab" * 32, 10)]
    later = propose(gov, "st-marys", action="remove", org_id="newlab")  # the next block: fine
    assert gov.state("gov", f"proposal/{later}")["status"] == "open"
    assert_count_invariant(gov)
