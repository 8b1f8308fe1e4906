"""The directory: `org.endpoint` publishes where an organisation's node serves, and refusals."""

from __future__ import annotations

import pytest

from conftest import Chain, seeded_keys
from healthledger.app.reader import SnapshotReader
from healthledger.crypto.keys import KeyPair
from healthledger.domains.governance import queries as gov
from healthledger.domains.governance.views import DirectoryParams, OrgParams, directory
from healthledger.domains.governance.views import directory_entry as one_entry
from healthledger.errors import TooLarge
from healthledger.ledger.block import TxResult
from healthledger.ledger.context import StateReader

NODE_KEY = KeyPair.from_seed(b"node-key".ljust(32, b"\x00")).key_id


def publish(chain: Chain, sender: str, **payload: object) -> TxResult:
    body = {"endpoints": ["http://127.0.0.1:8700"], "node_key": NODE_KEY, **payload}
    return chain.one(chain.signer(sender).sign("org.endpoint", body))


def entry(chain: Chain, org: str) -> gov.OrgEndpoint | None:
    return gov.org_endpoint(StateReader(chain.store.state_get), org)


def test_an_org_publishes_its_endpoint_and_a_change_is_a_new_version(chain: Chain) -> None:
    result = publish(chain, "st-marys", replica="acme-insurance")
    assert result.ok, result
    first = entry(chain, "st-marys")
    assert first is not None
    assert first.endpoints == ("http://127.0.0.1:8700",)
    assert (first.org, first.node_key, first.replica) == ("st-marys", NODE_KEY, "acme-insurance")
    urls = ["https://st-marys.example.org/hl", "http://10.0.0.5:8700"]
    assert publish(chain, "st-marys", endpoints=urls).ok
    second = entry(chain, "st-marys")
    assert second is not None and second.endpoints == tuple(urls) and second.replica is None
    assert second.height > first.height
    assert entry(chain, "acme-insurance") is None


def test_directory_views_list_entries_with_proofs(chain: Chain) -> None:
    for org in ("st-marys", "acme-insurance", "corner-pharmacy"):
        assert publish(chain, org).ok
    with chain.store.snapshot():
        reader = SnapshotReader(chain.store)
        page = directory(reader, DirectoryParams(limit=2))
        rest = directory(reader, DirectoryParams(limit=2, after=page.next_after))
        missing = one_entry(reader, OrgParams(org="medico-pharma"))
    assert [e.org for e in page.orgs] == ["acme-insurance", "corner-pharmacy"]
    assert [e.org for e in rest.orgs] == ["st-marys"] and rest.next_after is None
    assert page.orgs[0].proof.key == "endpoint/acme-insurance"
    assert page.orgs[0].proof.value == page.orgs[0].entry.model_dump(mode="json")  # type: ignore[union-attr]
    assert missing.entry is None and missing.proof.value is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://127.0.0.1:21", "http or https"),
        ("http://user:pw@127.0.0.1:8700", "credentials"),
        ("http://127.0.0.1:8700/#frag", "fragment"),
        ("http://127.0.0.1:8700/?q=1", "query"),
        ("http://:8700/path", "host"),
        ("http://127.0.0.1:99999", "port"),
        ("http://exa mple.org/", "spaces"),
        ("http://example.org/" + "a" * 300, "too long"),
        ("http://exämple.org/", "ASCII"),
    ],
)
def test_bad_urls_are_refused(chain: Chain, url: str, why: str) -> None:
    result = publish(chain, "st-marys", endpoints=[url])
    assert not result.ok and result.code in {"invalid_field", "malformed"}, result
    assert why in result.message, result.message
    assert entry(chain, "st-marys") is None


def test_refusals_change_nothing(chain: Chain) -> None:
    five = [f"http://127.0.0.1:{8700 + i}" for i in range(5)]
    cases = [
        ({"endpoints": five}, "invalid_field"),
        ({"endpoints": []}, "invalid_field"),
        ({"endpoints": ["http://a.example:1", "http://a.example:1"]}, "invalid_field"),
        ({"node_key": "zz"}, "invalid_field"),
        ({"replica": "st-marys"}, "invalid_field"),
        ({"replica": "nobody"}, "not_found"),
        ({"replica_for": ["st-marys"]}, "invalid_field"),
        ({"replica_for": ["nobody"]}, "not_found"),
        ({"replica_for": ["acme-insurance", "acme-insurance"]}, "invalid_field"),
        ({"replica_for": [f"org-{i}" for i in range(17)]}, "invalid_field"),
        # No one publishes for another organisation: the entry names only its sender.
        ({"org": "acme-insurance"}, "invalid_field"),
    ]
    for payload, code in cases:
        result = publish(chain, "st-marys", **payload)
        assert not result.ok and result.code in {code, "malformed", "too_large"}, (payload, result)
    # A huge payload is no transaction at all: refused before it is signed or sent.
    with pytest.raises(TooLarge):
        publish(chain, "st-marys", endpoints=["http://127.0.0.1:1/" + "x" * 70_000])
    assert entry(chain, "st-marys") is None


def test_people_and_patients_cannot_publish(chain: Chain) -> None:
    nurse = KeyPair.generate()
    enrol = {
        "member_id": "nurse-1",
        "name": "Nurse",
        "role": "nurse",
        "signing_key": nurse.key_id,
        "encryption_key": nurse.encryption_public.hex(),
    }
    assert chain.one(chain.signer("st-marys").sign("member.enroll", enrol)).ok
    result = publish(chain, "nurse-1", endpoints=["http://127.0.0.1:1"])  # unknown seeded key
    assert not result.ok
    member = chain.signer("nurse", nurse).sign(
        "org.endpoint", {"endpoints": ["http://127.0.0.1:1"], "node_key": NODE_KEY}
    )
    assert chain.one(member).code == "unauthorized"
    assert entry(chain, "st-marys") is None


def test_a_removed_orgs_entry_ends_with_it(chain: Chain) -> None:
    assert publish(chain, "corner-pharmacy").ok
    proposal = chain.one(
        chain.signer("st-marys").sign(
            "org.propose", {"action": "remove", "org_id": "corner-pharmacy"}
        )
    )
    assert proposal.ok
    prop_id = next(e["proposal"] for e in proposal.events if e["type"] == "org.proposed")
    for voter in ("acme-insurance", "medico-pharma"):
        result = chain.one(chain.signer(voter).sign("org.approve", {"proposal_id": prop_id}))
        assert result.ok, result
    assert "org.endpoint_ended" in [e["type"] for e in result.events]
    assert entry(chain, "corner-pharmacy") is None
    # Removed, it can publish no more (its key is revoked).
    assert publish(chain, "corner-pharmacy").code == "revoked_sender"


def test_country_is_optional_and_validated(chain: Chain) -> None:
    from healthledger.domains.governance.messages import OrgSpec

    keys = seeded_keys("northlab")
    base = {
        "id": "northlab",
        "name": "North",
        "role": "laboratory",
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    assert "country" not in OrgSpec.model_validate(base).model_dump()
    assert OrgSpec.model_validate({**base, "country": "FR"}).model_dump()["country"] == "FR"
    for bad in ("fr", "XX", "FRA", ""):
        with pytest.raises(ValueError):
            OrgSpec.model_validate({**base, "country": bad})


def test_a_replica_agrees_in_its_own_entry(chain: Chain) -> None:
    """`replica_for` names the organisations whose replicas the sender's node keeps; an
    entry without it stores the bytes it stored before the field existed."""
    assert publish(chain, "acme-insurance", replica_for=["st-marys"]).ok
    agreed = entry(chain, "acme-insurance")
    assert agreed is not None and agreed.replica_for == ("st-marys",)
    assert publish(chain, "acme-insurance").ok
    plain = entry(chain, "acme-insurance")
    assert plain is not None and plain.replica_for is None
    assert "replica_for" not in plain.model_dump()
