"""The domain kit: what a declaration may say, and the one permission check reading it."""

from __future__ import annotations

import sqlite3

import pytest

from conftest import Chain
from healthledger.app.permissions import check_permission
from healthledger.app.registry import BASE_NAMESPACES, DOMAINS, REGISTRY, build_registry
from healthledger.crypto.keys import KeyPair
from healthledger.domains.kit import Domain, TxType, capability, org
from healthledger.errors import InvalidState, Unauthorized
from healthledger.ledger.context import Actor, BlockInfo, Payload, TxContext
from healthledger.ledger.store import StoreFault

BASE = BASE_NAMESPACES


class _Nothing(Payload):
    """A payload with no fields: these tests declare types, they never send one."""


def _noop(_ctx: TxContext, _payload: _Nothing) -> None:
    return None


def _domain(name: str, *txs: TxType, capabilities: dict[str, str] | None = None) -> Domain:
    return Domain(name=name, namespace=name, summary=name, txs=txs, capabilities=capabilities or {})


def test_every_type_of_every_listed_domain_is_registered_with_its_domain() -> None:
    for domain in DOMAINS:
        for tx in domain.txs:
            assert REGISTRY[tx.type].domain is domain
            assert REGISTRY[tx.type].namespace == domain.namespace


def test_a_type_declared_twice_is_refused() -> None:
    tx = TxType("x.do", _Nothing, _noop, frozenset({org("hospital")}), "do")
    with pytest.raises(ValueError, match="registered twice"):
        build_registry([_domain("one", tx), _domain("two", tx)])


def test_a_namespace_claimed_twice_is_refused() -> None:
    first = TxType("a.do", _Nothing, _noop, frozenset(), "do")
    second = TxType("b.do", _Nothing, _noop, frozenset(), "do")
    with pytest.raises(ValueError, match="claimed by two domains"):
        build_registry([_domain("same", first), _domain("same", second)])


def test_a_grant_naming_an_undeclared_capability_is_refused() -> None:
    tx = TxType("x.issue", _Nothing, _noop, frozenset({capability("issuer")}), "issue")
    with pytest.raises(ValueError, match="undeclared capability cap:issuer"):
        build_registry([_domain("x", tx)])
    build_registry([_domain("x", tx, capabilities={"issuer": "issues units"})])


def test_a_sweep_without_a_budget_and_a_bad_name_are_refused() -> None:
    with pytest.raises(ValueError, match="needs a budget"):
        Domain(name="x", namespace="x", summary="", txs=(), end_block=lambda _c, _b: None)
    with pytest.raises(ValueError, match="lower-case"):
        Domain(name="Bad Name", namespace="x", summary="", txs=())


def _actor(kind: str, role: str, capabilities: frozenset[str] = frozenset()) -> Actor:
    return Actor("k", kind, "id", None, role, capabilities)


def test_a_sender_is_admitted_by_its_role_or_by_nothing() -> None:
    check_permission("supply.commission", _actor("org", "manufacturer"))
    with pytest.raises(Unauthorized, match=r"org:pharmacy may not send supply\.commission"):
        check_permission("supply.commission", _actor("org", "pharmacy"))
    with pytest.raises(Unauthorized):
        check_permission("no.such.type", _actor("org", "manufacturer"))


def test_a_capability_only_admits_types_that_name_it() -> None:
    # A capability no type of supply.commission names does not widen what one may send.
    with pytest.raises(Unauthorized):
        check_permission("supply.commission", _actor("org", "pharmacy", frozenset({"x"})))


def test_within_opens_only_a_base_domains_namespace() -> None:
    block = BlockInfo(1, 0, "p")
    ctx = TxContext(lambda _ns, _key: None, "supply", _actor("org", "x"), block, "tx", bases=BASE)
    ctx.within("gov").put("allowance/x", {"times": []})
    assert ("gov", "allowance/x") in ctx.writes  # shared with the caller's transaction
    with pytest.raises(InvalidState, match="records is not the namespace of a base domain"):
        ctx.within("records")


def test_a_fault_of_the_store_stops_the_block_instead_of_failing_a_transaction(
    chain: Chain,
) -> None:
    """A broken disk on one node must not become a result the other nodes would not share."""
    nurse = KeyPair.generate()
    payload = {
        "member_id": "nurse-1",
        "name": "nurse-1",
        "role": "nurse",
        "signing_key": nurse.key_id,
        "encryption_key": nurse.encryption_public.hex(),
    }
    tx = chain.signer("st-marys").sign("member.enroll", payload)
    with sqlite3.connect(chain.store.path) as other:
        other.execute("ALTER TABLE state RENAME TO state_elsewhere")
    with pytest.raises(StoreFault, match="reading state"):
        chain.block([tx])
