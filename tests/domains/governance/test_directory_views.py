"""The directory views (organisations, members, validators) over a real store: paging, the
records as governance wrote them, validators' power as organisations join and leave.
Who may call them over HTTP is tested in tests/api/test_read_access.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Chain, make_genesis, seeded_keys
from healthledger.app.application import Application
from healthledger.app.reader import run_view
from healthledger.domains.governance.errors import NoOrg
from healthledger.domains.governance.views import (
    VIEWS,
    MemberPage,
    MembersParams,
    NoParams,
    OrgPage,
    PageParams,
    ValidatorList,
)
from healthledger.ledger.store import Store

FOUNDERS = [("st-marys", "hospital"), ("acme", "insurer"), ("fda", "regulator")]
ORGS, MEMBERS, VALIDATORS = VIEWS[:3]


@pytest.fixture
def gov(tmp_path: Path) -> Iterator[Chain]:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(make_genesis(FOUNDERS))
    yield Chain(app, store)
    store.close()


def ok(chain: Chain, by: str, tx_type: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    result = chain.one(chain.signer(by).sign(tx_type, payload))
    assert result.ok, result
    return list(result.events)


def admit_lab(chain: Chain, pub_key: str) -> None:
    keys = seeded_keys("lab")
    spec = {
        "id": "lab",
        "name": "Lab",
        "role": "laboratory",
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
        "validator": {"pub_key": pub_key, "power": 10},
    }
    events = ok(chain, "st-marys", "org.propose", {"action": "add", "org": spec})
    proposal = next(e["proposal"] for e in events if e["type"] == "org.proposed")
    for voter in ("acme", "fda"):
        ok(chain, voter, "org.approve", {"proposal_id": proposal})


def enroll(chain: Chain, org: str, member_id: str, role: str) -> None:
    keys = seeded_keys(f"{org}/{member_id}")
    payload = {
        "member_id": member_id,
        "name": member_id.title(),
        "role": role,
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    ok(chain, org, "member.enroll", payload)


def orgs(chain: Chain, **params: Any) -> OrgPage:
    answer = run_view(chain.store, ORGS, PageParams(**params))
    assert isinstance(answer, OrgPage)
    return answer


def test_organisations_page_in_id_order(gov: Chain) -> None:
    everyone = orgs(gov)
    assert [o.id for o in everyone.orgs] == ["acme", "fda", "st-marys"]
    assert everyone.next_after is None
    assert everyone.orgs[2].signing_key == seeded_keys("st-marys").key_id
    pages, after = [], None
    while True:
        page = orgs(gov, limit=2, after=after)
        pages.append([o.id for o in page.orgs])
        if page.next_after is None:
            break
        after = page.next_after
    assert pages == [["acme", "fda"], ["st-marys"]]


def test_members_of_one_organisation_only(gov: Chain) -> None:
    enroll(gov, "st-marys", "nurse-1", "nurse")
    enroll(gov, "st-marys", "dr-a", "practitioner")
    enroll(gov, "acme", "auditor", "auditor")
    page = run_view(gov.store, MEMBERS, MembersParams(org="st-marys"))
    assert isinstance(page, MemberPage)
    assert [(m.member_id, m.role, m.status) for m in page.members] == [
        ("dr-a", "practitioner", "active"),
        ("nurse-1", "nurse", "active"),
    ]
    first = run_view(gov.store, MEMBERS, MembersParams(org="st-marys", limit=1))
    assert isinstance(first, MemberPage) and first.next_after == "dr-a"
    with pytest.raises(NoOrg):
        run_view(gov.store, MEMBERS, MembersParams(org="st"))


def test_validators_gain_power_on_admission_and_lose_it_on_removal(gov: Chain) -> None:
    empty = run_view(gov.store, VALIDATORS, NoParams())
    assert isinstance(empty, ValidatorList) and empty.validators == []
    admit_lab(gov, "ab" * 32)
    joined = run_view(gov.store, VALIDATORS, NoParams())
    assert isinstance(joined, ValidatorList)
    assert [(v.org, v.pub_key, v.power, v.org_status) for v in joined.validators] == [
        ("lab", "ab" * 32, 10, "active")
    ]
    events = ok(gov, "st-marys", "org.propose", {"action": "remove", "org_id": "lab"})
    proposal = next(e["proposal"] for e in events if e["type"] == "org.proposed")
    for voter in ("acme", "fda"):
        ok(gov, voter, "org.approve", {"proposal_id": proposal})
    left = run_view(gov.store, VALIDATORS, NoParams())
    assert isinstance(left, ValidatorList)
    assert [(v.org, v.power, v.org_status) for v in left.validators] == [("lab", 0, "removed")]
