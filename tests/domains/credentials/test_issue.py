"""credential.issue: issuer roles, the subject, validity, CE fields, a privilege's
dependencies, the status slot, bounds, and every refusal with its code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cred_net import (
    ADA,
    BOB,
    CY,
    T0,
    YEAR_MS,
    Net,
    credential,
    grant_ce_provider,
    member_keys,
)

from conftest import CHAIN
from healthledger.client.sdk import Signer
from healthledger.crypto.status_list import bitstring_hash
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials import views
from healthledger.domains.credentials.status import LIST_BYTES

ZERO_LIST_HASH = bitstring_hash(bytes(LIST_BYTES))


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    network = Net(tmp_path / "ledger.sqlite")
    yield network
    network.close()


def test_a_board_issues_a_licence(net: Net) -> None:
    result = net.issue("ma-board", credential("lic-1"))
    assert result.ok, result
    anchor = net.anchor("ma-board:lic-1")
    assert (anchor.issuer, anchor.subject, anchor.type, anchor.external) == (
        "ma-board",
        ADA,
        "licence",
        False,
    )
    assert anchor.issuer_key == net.signers["ma-board"].keys.key_id
    assert (anchor.status_list, anchor.status_index) == (0, 0)
    assert anchor.status == "active" and anchor.history[0].by == "ma-board"
    assert (anchor.issued_height, anchor.issued_time_ms) == (net.height, net.time_ms)
    assert net.load(st.member_credentials_key(ADA), st.CredentialIds).root == ("ma-board:lic-1",)
    for purpose in st.STATUS_PURPOSES:  # the list's first slot opens both lists, clear
        record = net.status_list("ma-board", purpose)
        assert (record.bits_hash, record.height, record.size) == (
            ZERO_LIST_HASH,
            net.height,
            131_072,
        )
    (event,) = [e for e in result.events if e["type"] == "credential.issued"]
    assert (event["credential"], event["status_list"], event["status_index"]) == (
        "ma-board:lic-1",
        0,
        0,
    )
    assert net.view(views.VIEWS[1], issuer="ma-board").model_dump() == {"list": 0, "index": 1}


@pytest.mark.parametrize(
    ("issuer", "kind", "code"),
    [
        ("ma-board", "licence", None),
        ("health-dept", "licence", None),
        ("state-univ", "degree", None),
        ("ma-board", "certification", None),
        ("state-univ", "ce", None),
        ("st-marys", "privilege", None),
        ("valley-clinic", "privilege", None),
        ("st-marys", "licence", "unauthorized"),
        ("ma-board", "degree", "unauthorized"),
        ("state-univ", "certification", "unauthorized"),
        ("health-dept", "privilege", "unauthorized"),
        ("ce-academy", "ce", "unauthorized"),  # no ce_provider capability yet
        ("acme-insurance", "licence", "unauthorized"),  # no role that issues anything
        ("ma-board", "ce", "unauthorized"),
    ],
)
def test_issuer_roles(net: Net, issuer: str, kind: str, code: str | None) -> None:
    result = net.issue(issuer, credential("c-1", kind=kind))
    assert result.code == code if code else result.ok, result
    assert net.has(st.NAMESPACE, st.credential_key(f"{issuer}:c-1")) == (code is None)


def test_ce_by_a_holder_of_the_capability(net: Net) -> None:
    assert net.issue("ce-academy", credential("ce-1", kind="ce")).code == "unauthorized"
    grant_ce_provider(net)
    assert net.issue("ce-academy", credential("ce-1", kind="ce")).ok
    # the capability is for CE only
    assert net.issue("ce-academy", credential("lic-1")).code == "unauthorized"
    assert net.anchor("ce-academy:ce-1").ce_minutes == 90


def test_only_the_organisations_key_issues(net: Net) -> None:
    result = net.issue("st-marys/dr-bob", credential("priv-1", kind="privilege"))
    assert result.code == "unauthorized"


@pytest.mark.parametrize(
    ("subject", "code"),
    [
        ("st-marys/nobody", "not_found"),
        ("ghost-org/dr-ada", "not_found"),
        ("pat_" + "0" * 32, "invalid_field"),  # a patient is never a subject
        ("st-marys", "invalid_field"),
    ],
)
def test_the_subject_is_an_active_member(net: Net, subject: str, code: str) -> None:
    result = net.issue("ma-board", credential("lic-1", subject=subject))
    assert result.code == code, result
    assert not net.has(st.NAMESPACE, st.credential_key("ma-board:lic-1"))


def test_a_revoked_member_gets_nothing_new(net: Net) -> None:
    revoke = {"member_id": "dr-bob", "reason": "left"}
    assert net.send("st-marys", "member.revoke", revoke).ok
    assert net.issue("ma-board", credential("lic-1", subject=BOB)).code == "not_found"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"valid_until_ms": T0}, "invalid_field"),  # not after valid_from
        ({"valid_from_ms": T0 - YEAR_MS, "valid_until_ms": T0 - 1}, "invalid_field"),  # past
        ({"valid_until_ms": None}, None),  # no end: fine
        ({"ce_minutes": 60}, "invalid_field"),  # CE fields on a licence
        ({"depends_on": ["ma-board:lic-0"]}, "invalid_field"),  # only privileges depend
        ({"status_list": 0}, "invalid_field"),  # half a slot
        ({"scope": "x" * 201}, "invalid_field"),
        ({"hash": "AB" * 32}, "invalid_field"),
        ({"valid_from_ms": str(T0)}, "invalid_field"),  # strict: no numeric strings
        ({"jurisdiction": "Massachusetts"}, "invalid_field"),
        ({"colour": "red"}, "invalid_field"),
        ({"local_id": "a/b"}, "invalid_field"),
    ],
)
def test_fields_of_a_licence(net: Net, fields: dict[str, object], code: str | None) -> None:
    result = net.issue("ma-board", credential("lic-1") | fields)
    assert (result.code == code) if code else result.ok, result
    assert net.has(st.NAMESPACE, st.credential_key("ma-board:lic-1")) == (code is None)


def test_ce_fields_are_required_for_ce(net: Net) -> None:
    payload = credential("ce-1", kind="ce")
    del payload["ce_category"]
    assert net.issue("state-univ", payload).code == "invalid_field"
    assert net.issue("state-univ", credential("ce-1", kind="ce")).ok


def test_a_duplicate_id_and_a_replay_are_refused(net: Net) -> None:
    tx = net.tx("ma-board", "credential.issue", credential("lic-1"))
    (first,) = net.block([tx])
    assert first.ok
    (replayed,) = net.block([tx])
    assert replayed.code == "duplicate_nonce"
    again = net.issue("ma-board", credential("lic-1", hash="ab" * 32))
    assert again.code == "conflict" and "ma-board:lic-1" in again.message
    assert net.anchor("ma-board:lic-1").hash != "ab" * 32
    # another issuer's id space is its own
    assert net.issue("health-dept", credential("lic-1")).ok


def test_a_named_slot_must_be_the_next_free_one(net: Net) -> None:
    assert net.issue("ma-board", credential("lic-1", status_list=0, status_index=0)).ok
    taken = net.issue("ma-board", credential("lic-2", status_list=0, status_index=0))
    assert taken.code == "conflict" and "list 0 index 1" in taken.message
    assert net.issue("ma-board", credential("lic-2", status_list=0, status_index=1)).ok
    # two issuances in flight for one slot, in one block: the second is refused
    a, b = (
        net.tx("ma-board", "credential.issue", credential(n, status_list=0, status_index=2))
        for n in ("lic-3", "lic-4")
    )
    first, second = net.block([a, b])
    assert first.ok and second.code == "conflict"
    assert net.anchor("ma-board:lic-3").status_index == 2
    # slots are per issuer
    assert net.issue("health-dept", credential("lic-1", status_list=0, status_index=0)).ok


def test_a_privilege_depends_on_the_same_members_credentials(net: Net) -> None:
    assert net.issue("ma-board", credential("lic-ada")).ok
    assert net.issue("ma-board", credential("lic-bob", subject=BOB)).ok
    assert net.issue("st-marys", credential("priv-0", kind="privilege")).ok

    def privilege(local_id: str, depends_on: list[str]) -> dict[str, object]:
        return credential(local_id, kind="privilege", depends_on=depends_on)

    refusals = {
        "not_found": ["ma-board:nothing"],
        "invalid_field": ["ma-board:lic-bob"],  # another member's
    }
    for code, depends_on in refusals.items():
        assert net.issue("st-marys", privilege("priv-x", depends_on)).code == code
    assert net.issue("st-marys", privilege("p", ["st-marys:priv-0"])).code == "invalid_field"
    twice = ["ma-board:lic-ada", "ma-board:lic-ada"]
    assert net.issue("st-marys", privilege("p", twice)).code == "invalid_field"

    assert net.issue("st-marys", privilege("priv-1", ["ma-board:lic-ada"])).ok
    dependents = net.load(st.dependents_key("ma-board:lic-ada"), st.CredentialIds)
    assert dependents.root == ("st-marys:priv-1",)
    assert net.anchor("st-marys:priv-1").depends_on == ("ma-board:lic-ada",)

    assert net.status("ma-board", "ma-board:lic-ada", "suspend").ok
    suspended = net.issue("st-marys", privilege("priv-2", ["ma-board:lic-ada"]))
    assert suspended.code == "invalid_state"


def test_a_dependency_past_its_validity_is_refused_before_the_sweep(net: Net) -> None:
    until = net.time_ms + 10_000
    assert net.issue("ma-board", credential("lic-1", valid_until_ms=until)).ok
    payload = credential("priv-1", kind="privilege", depends_on=["ma-board:lic-1"])
    (result,) = net.block([net.tx("st-marys", "credential.issue", payload)], at_ms=until)
    assert result.code == "invalid_state" and "validity" in result.message


def test_bounds_of_a_file_and_of_dependents(net: Net, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(st, "MAX_CREDENTIALS_PER_MEMBER", 3)
    monkeypatch.setattr(st, "MAX_FILE_SHARE_PER_ISSUER", 1)
    monkeypatch.setattr(st, "MAX_DEPENDENTS", 1)
    assert net.issue("ma-board", credential("lic-1")).ok
    assert net.issue("ma-board", credential("cert-1", kind="certification")).code == "too_large"
    assert net.issue(
        "st-marys", credential("p-1", kind="privilege", depends_on=["ma-board:lic-1"])
    ).ok
    full = net.issue(
        "valley-clinic", credential("p-2", kind="privilege", depends_on=["ma-board:lic-1"])
    )
    assert full.code == "too_large"
    assert net.issue("state-univ", credential("deg-1", kind="degree")).ok
    assert net.issue("health-dept", credential("lic-2")).code == "too_large"
    assert net.issue("health-dept", credential("lic-2", subject=CY)).ok


def test_a_huge_payload_is_refused(net: Net) -> None:
    deps = [f"ma-board:lic-{n}" for n in range(st.MAX_DEPENDS_ON + 1)]
    result = net.issue("st-marys", credential("p-1", kind="privilege", depends_on=deps))
    assert result.code == "invalid_field"
    assert net.issue("ma-board", credential("x" * 65)).code == "invalid_field"


def test_a_full_dependents_list_drops_final_privileges_and_shares_places(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(st, "MAX_DEPENDENTS", 2)
    monkeypatch.setattr(st, "MAX_DEPENDENTS_PER_ISSUER", 1)
    assert net.issue("ma-board", credential("lic-1")).ok

    def privilege(issuer: str, local_id: str) -> str:
        payload = credential(local_id, kind="privilege", depends_on=["ma-board:lic-1"])
        return net.issue(issuer, payload).code

    assert privilege("st-marys", "p-1") == "ok"
    assert privilege("st-marys", "p-2") == "too_large"  # one place per issuer here
    assert privilege("valley-clinic", "p-3") == "ok"
    assert privilege("valley-clinic", "p-4") == "too_large"  # the list is full
    assert net.status("st-marys", "st-marys:p-1", "revoke").ok
    assert privilege("st-marys", "p-5") == "ok"  # the revoked one made room
    dependents = net.load(st.dependents_key("ma-board:lic-1"), st.CredentialIds).root
    assert dependents == ("valley-clinic:p-3", "st-marys:p-5")


def test_a_member_holding_ce_provider_still_cannot_issue(net: Net) -> None:
    """The capability passed to a member admits it past the permission table; the handler
    still wants the organisation's own key."""
    grant_ce_provider(net)
    keys = member_keys("ce-academy/clerk")
    enrol = {
        "member_id": "clerk",
        "name": "clerk",
        "role": "staff",
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    assert net.send("ce-academy", "member.enroll", enrol).ok
    passed = {"action": "grant", "member_id": "clerk", "capability": "ce_provider"}
    assert net.send("ce-academy", "member.capability", passed).ok
    net.signers["ce-academy/clerk"] = Signer(keys, CHAIN)
    result = net.issue("ce-academy/clerk", credential("ce-1", kind="ce"))
    assert result.code == "unauthorized" and "organisation's own key" in result.message
