"""GLNs registered through governance: a claim takes effect at quorum, no one holds another's
GLN, releases free them, and every refusal changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Chain, make_genesis, seeded_keys
from healthledger.app.genesis import Genesis
from healthledger.domains.governance import queries as gov
from healthledger.domains.governance.messages import MAX_LOCATION_GLNS
from healthledger.domains.shared.gln import check_gln, with_check_digit
from healthledger.ledger.block import TxResult
from healthledger.ledger.context import StateReader

ORGS = ("st-marys", "acme-insurance", "medico-pharma", "corner-pharmacy")
PHARMA_PARTY = with_check_digit("061414100000")  # 0614141000005
PHARMA_SITE = with_check_digit("061414100001")
PHARMACY_PARTY = with_check_digit("401234500000")  # 4012345000009


def gln(n: int, prefix: str = "0614142") -> str:
    return with_check_digit(f"{prefix}{n:05d}")


def reader(chain: Chain) -> StateReader:
    return StateReader(chain.store.state_get)


def send(chain: Chain, sender: str, tx_type: str, payload: dict[str, Any]) -> TxResult:
    return chain.one(chain.signer(sender).sign(tx_type, payload))


def claim(chain: Chain, org: str, party: str | None = None, *locations: str) -> TxResult:
    payload: dict[str, Any] = {"locations": list(locations)}
    if party is not None:
        payload["party"] = party
    return send(chain, org, "gln.claim", payload)


def proposal_of(result: TxResult) -> str:
    assert result.ok, result
    return str(next(e["proposal"] for e in result.events if e["type"] == "gln.proposed"))


def approve(chain: Chain, proposal: str, *voters: str) -> list[TxResult]:
    return [send(chain, v, "org.approve", {"proposal_id": proposal}) for v in voters]


def others(org: str) -> list[str]:
    return [o for o in ORGS if o != org]


def claimed(chain: Chain, org: str, party: str | None = None, *locations: str) -> None:
    proposal = proposal_of(claim(chain, org, party, *locations))
    results = approve(chain, proposal, *others(org))
    assert all(r.ok for r in results), results
    assert "gln.registered" in [e["type"] for e in results[-1].events]


def test_a_claim_takes_effect_when_the_others_approve(chain: Chain) -> None:
    proposal = proposal_of(claim(chain, "medico-pharma", PHARMA_PARTY, PHARMA_SITE))
    first, second = approve(chain, proposal, "st-marys", "acme-insurance")
    assert first.ok and second.ok
    # Three others vote; two of three is not more than two thirds: nothing yet.
    assert gov.org_of_gln(reader(chain), PHARMA_PARTY) is None
    (third,) = approve(chain, proposal, "corner-pharmacy")
    assert third.ok, third
    assert gov.org_of_gln(reader(chain), PHARMA_PARTY) == "medico-pharma"
    assert gov.org_of_gln(reader(chain), PHARMA_SITE) == "medico-pharma"
    held = gov.glns_of(reader(chain), "medico-pharma")
    assert (held.party, held.locations) == (PHARMA_PARTY, (PHARMA_SITE,))
    holder = gov.gln_holder(reader(chain), PHARMA_SITE)
    assert holder is not None and (holder.kind, holder.proposal) == ("location", proposal)
    assert gov.glns_of(reader(chain), "st-marys").all() == ()


def test_another_orgs_gln_is_refused_at_proposal(chain: Chain) -> None:
    claimed(chain, "medico-pharma", PHARMA_PARTY, PHARMA_SITE)
    before = chain.domain_state()
    for wanted in ({"party": PHARMA_PARTY}, {"locations": [gln(1), PHARMA_SITE]}):
        result = send(chain, "corner-pharmacy", "gln.claim", wanted)
        assert result.code == "already_exists", result
        assert "is already registered to medico-pharma" in result.message
    # Its own GLN again: refused too, naming itself.
    again = claim(chain, "medico-pharma", None, PHARMA_SITE)
    assert again.code == "already_exists" and "medico-pharma" in again.message
    assert chain.domain_state() == before


def test_racing_claims_approved_in_turn_the_second_is_refused(chain: Chain) -> None:
    contested = gln(7)
    first = proposal_of(claim(chain, "medico-pharma", None, contested))
    second = proposal_of(claim(chain, "corner-pharmacy", None, contested, gln(8)))
    assert all(r.ok for r in approve(chain, first, *others("medico-pharma")))
    *earlier, last = approve(chain, second, "st-marys", "acme-insurance", "medico-pharma")
    assert all(r.ok for r in earlier)
    assert last.code == "already_exists" and f"GLN {contested}" in last.message, last
    assert gov.org_of_gln(reader(chain), contested) == "medico-pharma"
    assert gov.org_of_gln(reader(chain), gln(8)) is None
    # The loser's claim never blocks it: a new claim replaces the open one.
    replaced = claim(chain, "corner-pharmacy", None, gln(8))
    assert replaced.ok and "org.proposal_superseded" in [e["type"] for e in replaced.events]
    assert chain.state("gov", f"proposal/{second}")["status"] == "superseded"


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"party": "0614141000006"}, "check digit should be 5"),
        ({"locations": ["061414100000"]}, "13 digits"),
        ({"locations": ["061414100000x"]}, "13 digits"),
        ({"locations": ["\uff10" * 13]}, "13 digits"),  # full-width digits
        ({"party": PHARMA_PARTY, "locations": [PHARMA_PARTY]}, "named twice"),
        ({"locations": [PHARMA_SITE, PHARMA_SITE]}, "named twice"),
        ({"locations": []}, "at least one"),
        ({"locations": [gln(n) for n in range(MAX_LOCATION_GLNS + 1)]}, "too many"),
        ({"party": PHARMA_PARTY, "org_id": "st-marys"}, "not a field"),
    ],
)
def test_bad_claims_are_refused(chain: Chain, payload: dict[str, Any], why: str) -> None:
    before = chain.domain_state()
    result = send(chain, "medico-pharma", "gln.claim", payload)
    assert result.code == "invalid_field" and why in result.message, result
    assert chain.domain_state() == before


def test_at_most_64_locations_counting_those_held(chain: Chain) -> None:
    claimed(chain, "medico-pharma", None, *(gln(n) for n in range(60)))
    more = claim(chain, "medico-pharma", None, *(gln(n) for n in range(60, 65)))
    assert more.code == "invalid_field" and "at most 64" in more.message
    assert claim(chain, "medico-pharma", None, *(gln(n) for n in range(60, 64))).ok


def test_a_second_party_gln_is_refused(chain: Chain) -> None:
    claimed(chain, "medico-pharma", PHARMA_PARTY)
    result = claim(chain, "medico-pharma", gln(99))
    assert result.code == "invalid_state" and "release it first" in result.message


def test_approving_twice_and_voting_on_ones_own_are_refused(chain: Chain) -> None:
    proposal = proposal_of(claim(chain, "medico-pharma", PHARMA_PARTY))
    (once,) = approve(chain, proposal, "st-marys")
    assert once.ok
    (twice,) = approve(chain, proposal, "st-marys")
    assert twice.code == "conflict", twice
    (own,) = approve(chain, proposal, "medico-pharma")
    assert own.code == "conflict", own  # its claim already counts it as proposer
    release = send(chain, "st-marys", "gln.release", {"glns": [gln(3)], "org_id": "acme-insurance"})
    assert release.code == "not_found"


def test_people_and_strangers_cannot_claim(chain: Chain) -> None:
    from healthledger.crypto.keys import KeyPair

    nurse = KeyPair.generate()
    enrol = {
        "member_id": "nurse-1",
        "name": "Nurse",
        "role": "nurse",
        "signing_key": nurse.key_id,
        "encryption_key": nurse.encryption_public.hex(),
    }
    assert send(chain, "st-marys", "member.enroll", enrol).ok
    member = chain.signer("nurse-1", nurse).sign("gln.claim", {"party": PHARMA_PARTY})
    assert chain.one(member).code == "unauthorized"
    stranger = chain.signer("stranger", seeded_keys("stranger")).sign(
        "gln.claim", {"party": PHARMA_PARTY}
    )
    assert chain.one(stranger).code == "unknown_sender"
    assert gov.org_of_gln(reader(chain), PHARMA_PARTY) is None


def test_the_holder_releases_at_once(chain: Chain) -> None:
    claimed(chain, "medico-pharma", PHARMA_PARTY, PHARMA_SITE)
    result = send(chain, "medico-pharma", "gln.release", {"glns": [PHARMA_PARTY]})
    assert result.ok, result
    assert gov.org_of_gln(reader(chain), PHARMA_PARTY) is None
    assert gov.glns_of(reader(chain), "medico-pharma").all() == (PHARMA_SITE,)
    assert send(chain, "medico-pharma", "gln.release", {"glns": [PHARMA_SITE]}).ok
    assert chain.state("gov", "glns/medico-pharma") is None
    # Freed, another may claim it.
    claimed(chain, "corner-pharmacy", PHARMA_PARTY)
    assert gov.org_of_gln(reader(chain), PHARMA_PARTY) == "corner-pharmacy"


def test_no_one_releases_anothers_gln_but_by_quorum(chain: Chain) -> None:
    claimed(chain, "medico-pharma", PHARMA_PARTY, PHARMA_SITE)
    both = {"glns": [PHARMA_PARTY, PHARMA_SITE], "org_id": "medico-pharma"}
    assert send(chain, "st-marys", "gln.release", both).code == "invalid_field"
    opened = send(chain, "st-marys", "gln.release", {**both, "glns": [PHARMA_SITE]})
    proposal = proposal_of(opened)
    assert gov.org_of_gln(reader(chain), PHARMA_SITE) == "medico-pharma"
    (own,) = approve(chain, proposal, "medico-pharma")
    assert own.code == "unauthorized", own
    results = approve(chain, proposal, "acme-insurance", "corner-pharmacy")
    assert all(r.ok for r in results), results
    assert gov.org_of_gln(reader(chain), PHARMA_SITE) is None
    assert gov.org_of_gln(reader(chain), PHARMA_PARTY) == "medico-pharma"


def test_a_release_proposal_lapses_when_the_gln_is_freed(chain: Chain) -> None:
    claimed(chain, "medico-pharma", None, PHARMA_SITE)
    proposal = proposal_of(
        send(chain, "st-marys", "gln.release", {"glns": [PHARMA_SITE], "org_id": "medico-pharma"})
    )
    assert send(chain, "medico-pharma", "gln.release", {"glns": [PHARMA_SITE]}).ok
    assert chain.state("gov", f"proposal/{proposal}")["status"] == "superseded"
    # Votes cast to free it from medico-pharma never free it from its next holder.
    claimed(chain, "medico-pharma", None, PHARMA_SITE)
    (late,) = approve(chain, proposal, "acme-insurance")
    assert late.code == "invalid_state"


def test_releasing_what_one_does_not_hold_is_refused(chain: Chain) -> None:
    claimed(chain, "medico-pharma", PHARMA_PARTY)
    before = chain.domain_state()
    for payload in (
        {"glns": [PHARMA_PARTY]},
        {"glns": [gln(5)]},
        {"glns": [PHARMA_PARTY, PHARMA_PARTY]},
        {"glns": []},
    ):
        result = send(chain, "corner-pharmacy", "gln.release", payload)
        assert result.code in {"not_found", "invalid_field"}, (payload, result)
    assert chain.domain_state() == before


def test_a_removed_orgs_glns_are_freed(chain: Chain) -> None:
    claimed(chain, "corner-pharmacy", PHARMACY_PARTY, gln(1))
    opened = send(
        chain, "st-marys", "org.propose", {"action": "remove", "org_id": "corner-pharmacy"}
    )
    assert opened.ok
    proposal = next(e["proposal"] for e in opened.events if e["type"] == "org.proposed")
    results = approve(chain, proposal, "acme-insurance", "medico-pharma")
    assert "gln.released" in [e["type"] for e in results[-1].events]
    assert gov.org_of_gln(reader(chain), PHARMACY_PARTY) is None
    assert gov.org_of_gln(reader(chain), gln(1)) is None


def genesis_with_glns() -> Genesis:
    base = make_genesis().model_dump()
    base["organisations"][2]["glns"] = {"party": PHARMA_PARTY, "locations": [PHARMA_SITE]}
    base["organisations"][3]["glns"] = {"party": PHARMACY_PARTY}
    return Genesis.model_validate(base)


def test_founders_carry_glns_from_genesis(tmp_path: Any) -> None:
    from healthledger.app.application import Application
    from healthledger.ledger.store import Store

    store = Store(tmp_path / "ledger.sqlite")
    try:
        Application(store).init_chain(genesis_with_glns())
        state = StateReader(store.state_get)
        assert gov.org_of_gln(state, PHARMA_SITE) == "medico-pharma"
        assert gov.org_of_gln(state, PHARMACY_PARTY) == "corner-pharmacy"
        assert gov.glns_of(state, "st-marys").all() == ()
        # The org record keeps the bytes it always had: GLNs live under keys of their own.
        assert "glns" not in (gov.org(state, "medico-pharma") or pytest.fail()).model_dump()
    finally:
        store.close()


def test_genesis_refuses_a_gln_given_to_two_founders() -> None:
    base = genesis_with_glns().model_dump()
    base["organisations"][0]["glns"] = {"locations": [PHARMA_SITE]}
    with pytest.raises(ValueError, match=f"GLN {PHARMA_SITE}"):
        Genesis.model_validate(base)


def test_an_admission_may_carry_glns_checked_again_at_quorum(chain: Chain) -> None:
    keys = seeded_keys("northlab")
    spec = {
        "id": "northlab",
        "name": "North",
        "role": "laboratory",
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
        "glns": {"party": gln(50)},
    }
    opened = send(chain, "st-marys", "org.propose", {"action": "add", "org": spec})
    proposal = next(e["proposal"] for e in opened.events if e["type"] == "org.proposed")
    claimed(chain, "medico-pharma", gln(50))  # meanwhile, another takes that GLN
    results = approve(chain, proposal, "acme-insurance", "medico-pharma")
    assert results[-1].code == "already_exists", results
    assert gov.org(reader(chain), "northlab") is None


def test_check_gln_vectors() -> None:
    # GS1's own examples: GenSpecs figure of a GLN, and the EPCIS 2.0 examples' parties.
    for value in ("0614141000005", "4012345000009", "9520123456788", "0614141000012"):
        assert check_gln(value) == value
    with pytest.raises(ValueError, match="check digit"):
        check_gln("9520123456789")


def test_the_directory_lists_endpoints_and_glns_with_proofs(chain: Chain) -> None:
    from healthledger.app.reader import SnapshotReader
    from healthledger.domains.governance.views import (
        DirectoryParams,
        GlnParams,
        directory,
        gln_entry,
    )

    claimed(chain, "medico-pharma", PHARMA_PARTY)
    claimed(chain, "acme-insurance", None, gln(1))
    node_key = seeded_keys("node").key_id
    body = {"endpoints": ["http://127.0.0.1:8700"], "node_key": node_key}
    assert send(chain, "corner-pharmacy", "org.endpoint", body).ok
    assert send(chain, "acme-insurance", "org.endpoint", body).ok
    pages: list[list[str]] = []
    after = None
    with chain.store.snapshot():
        snapshot = SnapshotReader(chain.store)
        while True:
            page = directory(snapshot, DirectoryParams(limit=1, after=after))
            pages.append([row.org for row in page.orgs])
            if page.next_after is None:
                break
            after = page.next_after
        whole = directory(snapshot, DirectoryParams(limit=50)).orgs
        held = gln_entry(snapshot, GlnParams(gln=PHARMA_PARTY))
        free = gln_entry(snapshot, GlnParams(gln=gln(2)))
    assert pages == [["acme-insurance"], ["corner-pharmacy"], ["medico-pharma"]]
    rows = {row.org: row for row in whole}
    assert rows["medico-pharma"].entry is None and rows["medico-pharma"].glns is not None
    assert rows["medico-pharma"].glns_proof.value == rows["medico-pharma"].glns.model_dump(
        mode="json"
    )
    assert rows["corner-pharmacy"].glns is None and rows["corner-pharmacy"].glns_proof.value is None
    assert (held.org, held.kind, held.proof.key) == (
        "medico-pharma",
        "party",
        f"gln/{PHARMA_PARTY}",
    )
    assert free.org is None and free.proof.value is None
