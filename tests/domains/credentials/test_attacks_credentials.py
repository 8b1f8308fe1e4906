"""Credentials in bad faith: an issuer, a member or a patient trying to break the rules
with real transactions. Each refusal changes nothing; each bound holds for the others.

The weaknesses found (and fixed beside these tests): a hospital reinstating a privilege
the cascade suspended while the licence under it stays suspended; an exclusion missing
the organisations whose privilege was suspended or starts later when it was added; one
organisation filling a credential's PSVs or a PSV's reuses and crowding the others out; a
hospital whose flags are full making a member it granted a privilege unexcludable.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cred_net import ADA, BOB, HOUR_MS, T0, YEAR_MS, Net, credential, did_key

from healthledger.crypto.keys import KeyPair
from healthledger.domains.credentials import exclusions as ex
from healthledger.domains.credentials import psv
from healthledger.domains.credentials import state as st
from healthledger.ledger.context import StateReader

LICENCE = "ma-board:lic-1"
PRIVILEGE = "st-marys:priv-1"
REGULATOR = "health-dept"


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    network = Net(tmp_path / "ledger.sqlite")
    assert network.issue("ma-board", credential("lic-1")).ok
    payload = credential("priv-1", kind="privilege", depends_on=[LICENCE])
    assert network.issue("st-marys", payload).ok
    yield network
    network.close()


def flagged(net: Net, org: str) -> list[str]:
    return [f.member for f in ex.flags_of(StateReader(net.store.state_get), org)]


def exclude(net: Net, member: str = ADA, action: str = "add") -> Any:
    payload = {"action": action, "member": member, "reason": "fraud", "list": "sanctions"}
    return net.send(REGULATOR, "credential.exclusion", payload)


# --- weaknesses, fixed -------------------------------------------------------------------


def test_a_privilege_is_not_reinstated_while_its_licence_is_suspended(net: Net) -> None:
    assert net.status("ma-board", LICENCE, "suspend").ok
    assert net.anchor(PRIVILEGE).history[-1].by == f"cascade:{LICENCE}"
    refused = net.status("st-marys", PRIVILEGE, "reinstate")
    assert refused.code == "invalid_state" and LICENCE in refused.message
    anchor = net.anchor(PRIVILEGE)
    assert anchor.status == "suspended" and net.bit(anchor, "suspension")
    assert net.status("ma-board", LICENCE, "reinstate").ok
    assert net.status("st-marys", PRIVILEGE, "reinstate").ok  # on a licence in force again
    assert net.anchor(PRIVILEGE).status == "active"


def test_a_privilege_is_not_reinstated_on_a_licence_past_its_validity(net: Net) -> None:
    until = net.time_ms + 2 * HOUR_MS
    assert net.issue("ma-board", credential("lic-2", valid_until_ms=until)).ok
    payload = credential("priv-2", kind="privilege", depends_on=["ma-board:lic-2"])
    assert net.issue("st-marys", payload).ok
    assert net.status("st-marys", "st-marys:priv-2", "suspend").ok  # its own suspension
    net.block(at_ms=until)  # the licence's validity ends (swept or not)
    assert net.status("st-marys", "st-marys:priv-2", "reinstate").code == "invalid_state"


def test_a_privilege_reinstated_while_its_holder_stands_excluded_is_flagged(net: Net) -> None:
    assert net.status("st-marys", PRIVILEGE, "suspend").ok
    assert exclude(net).ok
    assert flagged(net, "st-marys") == []  # not held at the time
    assert net.status("st-marys", PRIVILEGE, "reinstate").ok
    assert flagged(net, "st-marys") == [ADA]
    assert exclude(net, action="lift").ok  # and lifting clears what the reinstatement raised
    assert flagged(net, "st-marys") == []


def test_an_exclusion_flags_a_privilege_that_starts_later(net: Net) -> None:
    later = credential(
        "priv-9",
        subject=BOB,
        kind="privilege",
        valid_from_ms=T0 + YEAR_MS,
        valid_until_ms=T0 + 2 * YEAR_MS,
    )
    assert net.issue("valley-clinic", later).ok
    assert exclude(net, BOB).ok
    assert flagged(net, "valley-clinic") == [BOB]


def test_a_hospital_with_full_flags_does_not_shield_a_member_from_exclusion(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    # st-marys filled its flags (here: one) with privileges to excluded members, then
    # granted Ada the privilege of the fixture: her exclusion still stands.
    monkeypatch.setattr(ex, "MAX_FLAGS_PER_ORG", 1)
    assert net.issue("st-marys", credential("priv-bob", subject=BOB, kind="privilege")).ok
    assert exclude(net, BOB).ok
    assert flagged(net, "st-marys") == [BOB]
    result = exclude(net)
    assert result.ok, result.message
    record = ex.exclusions_of(StateReader(net.store.state_get), ADA)
    assert record is not None and record.active()[0].flagged == ()
    assert flagged(net, "st-marys") == [BOB]
    # its own issuance to an excluded member is refused, as before
    late = credential("priv-late", subject=ADA, kind="privilege")
    assert net.issue("st-marys", late).code == "too_large"


def test_one_organisation_does_not_use_up_a_psvs_reuses(net: Net) -> None:
    assert net.send("ma-board", "credential.psv", psv_payload()).ok
    psv_id = f"{LICENCE}/1"
    reuse = {"psv": psv_id, "decision": "appointed"}
    txs = [
        net.tx("st-marys", "credential.psv_reuse", {**reuse, "decision": f"d{n}"})
        for n in range(psv.MAX_REUSES_PER_ORG + 1)
    ]
    codes = [r.code for r in net.block(txs)]
    assert codes == ["ok"] * psv.MAX_REUSES_PER_ORG + ["too_large"]
    assert net.send("valley-clinic", "credential.psv_reuse", reuse).ok  # room for the others
    assert net.load(psv.psv_key(psv_id), psv.Psv).reuses == psv.MAX_REUSES_PER_ORG + 1


def psv_payload(credential_id: str = LICENCE) -> dict[str, Any]:
    return {"credential_id": credential_id, "method": "ledger", "result": "ok"}


# --- attacks that hold --------------------------------------------------------------------


def test_no_organisation_issues_a_type_its_role_may_not(net: Net) -> None:
    assert net.issue("st-marys", credential("lic-x")).code == "unauthorized"  # licence
    assert net.issue("ma-board", credential("p-x", kind="privilege")).code == "unauthorized"
    assert net.issue("acme-insurance", credential("c-x", kind="ce")).code == "unauthorized"
    assert net.issue("ce-academy", credential("c-x", kind="ce")).code == "unauthorized"
    assert net.issue("st-marys/dr-ada", credential("lic-x")).code == "unauthorized"
    assert not net.has(st.NAMESPACE, st.credential_key("st-marys:lic-x"))


def test_an_issuer_cannot_write_under_another_issuers_id(net: Net) -> None:
    # the id is always `{sender}:{local_id}`; a local id holds no colon
    assert net.issue("ny-board", credential("ma-board:lic-1")).code == "invalid_field"
    assert net.issue("ny-board", credential("lic-1")).ok  # its own `ny-board:lic-1`
    assert net.anchor(LICENCE).issuer == "ma-board"
    assert net.issue("ma-board", credential("lic-1")).code == "conflict"  # no overwrite


def test_a_named_status_slot_must_be_the_next_free_one(net: Net) -> None:
    ahead = credential("lic-5", status_list=0, status_index=100)
    assert net.issue("ma-board", ahead).code == "conflict"
    assert net.issue("ma-board", credential("lic-5", status_list=999, status_index=0)).code == (
        "conflict"
    )
    taken = credential("lic-5", status_list=0, status_index=0)  # the licence's slot
    assert net.issue("ma-board", taken).code == "conflict"
    # another issuer's slots are its own lists: naming ma-board's next index changes nothing
    assert net.issue("ny-board", credential("lic-5", status_list=0, status_index=0)).ok
    assert net.anchor("ny-board:lic-5").status_list == 0
    assert not net.bit(net.anchor(LICENCE), "suspension")


@pytest.mark.parametrize(
    "change",
    [
        {"valid_from_ms": -1},
        {"valid_from_ms": 2**53 - 1},  # the largest a signature carries
        {"valid_until_ms": 253_402_300_800_000},  # past 9999-12-31
        {"valid_until_ms": T0},  # not after valid_from
        {"valid_until_ms": T0 - 1},
        {"scope": ""},
        {"scope": "x" * 201},
        {"jurisdiction": "us-ma"},
        {"subject": "st-marys/nobody"},
        {"subject": "st-marys/dr-ada/x"},
        {"hash": "AB" * 32},
        {"local_id": "é"},
        {"status_list": 0},  # half a slot
        {"status_index": 131_072},
        {"ce_minutes": 90},  # CE fields on a licence
        {"depends_on": [LICENCE]},  # only privileges depend on something
        {"type": "patient"},
    ],
)
def test_odd_inputs_are_refused_with_a_stable_code(net: Net, change: dict[str, Any]) -> None:
    result = net.issue("ma-board", credential("lic-odd") | change)
    assert not result.ok and result.code in {"invalid_field", "not_found", "malformed_input"}
    assert not net.has(st.NAMESPACE, st.credential_key("ma-board:lic-odd"))


def test_unicode_and_the_far_future_are_stored_as_sent(net: Net) -> None:
    scope = "\u202eecitcarp\u202c \U0001f489 \u0000 general"[:200]
    payload = credential("lic-u", scope=scope, valid_until_ms=253_402_300_799_999)
    assert net.issue("ma-board", payload).ok
    anchor = net.anchor("ma-board:lic-u")
    assert anchor.scope == scope and anchor.valid_until_ms == 253_402_300_799_999


def test_a_privilege_never_depends_on_another_members_or_on_a_privilege(net: Net) -> None:
    assert net.issue("ma-board", credential("lic-bob", subject=BOB)).ok
    of_bob = credential("p-x", kind="privilege", depends_on=["ma-board:lic-bob"])
    assert net.issue("st-marys", of_bob).code == "invalid_field"
    on_privilege = credential("p-y", kind="privilege", depends_on=[PRIVILEGE])
    assert net.issue("valley-clinic", on_privilege).code == "invalid_field"  # no loops
    repeated = credential("p-z", kind="privilege", depends_on=[LICENCE, LICENCE])
    assert net.issue("valley-clinic", repeated).code == "invalid_field"
    assert net.load(st.dependents_key(LICENCE), st.CredentialIds).root == (PRIVILEGE,)


def test_one_hospital_does_not_fill_a_licences_dependents(net: Net) -> None:
    txs = [
        net.tx(
            "st-marys",
            "credential.issue",
            credential(f"p{n}", kind="privilege", depends_on=[LICENCE]),
        )
        for n in range(st.MAX_DEPENDENTS_PER_ISSUER)
    ]
    codes = [r.code for r in net.block(txs)]
    assert codes[-1] == "too_large" and codes.count("ok") == st.MAX_DEPENDENTS_PER_ISSUER - 1
    honest = credential("p-honest", kind="privilege", depends_on=[LICENCE])
    assert net.issue("valley-clinic", honest).ok


def test_nobody_changes_another_issuers_credential(net: Net) -> None:
    for sender in ("ny-board", "valley-clinic", REGULATOR, "st-marys/dr-ada"):
        for action in ("suspend", "revoke"):
            assert net.status(sender, LICENCE, action).code == "unauthorized"
    assert net.status("ma-board", PRIVILEGE, "revoke").code == "unauthorized"
    assert net.anchor(LICENCE).status == "active" and len(net.anchor(LICENCE).history) == 1


def test_an_external_issuer_neither_squats_an_org_nor_anchors_for_another(net: Net) -> None:
    key = KeyPair.from_seed(b"attack/external-issuer".ljust(32, b"."))
    registration = {
        "did": did_key(key.key_id),
        "name": "Old Board",
        "types": ["licence"],
        "jurisdiction": "US-MA",
    }
    as_org = registration | {"handle": "ma-board"}
    assert net.send(REGULATOR, "credential.issuer_register", as_org).code == "conflict"
    x25519 = registration | {"handle": "old-board", "did": did_key(key.key_id, b"\xec\x01")}
    assert net.send(REGULATOR, "credential.issuer_register", x25519).code == "invalid_field"
    assert net.send("st-marys", "credential.issuer_register", as_org).code == "unauthorized"
    assert net.send(
        REGULATOR, "credential.issuer_register", registration | {"handle": "old-board"}
    ).ok
    for_bob = credential("lic-7", subject=BOB) | {"issuer": "old-board"}
    assert net.send("st-marys/dr-ada", "credential.accept", for_bob).code == "unauthorized"
    assert net.send("valley-clinic", "credential.accept", for_bob).code == "unauthorized"
    assert net.send("st-marys/dr-bob", "credential.accept", for_bob).code == "unauthorized"
    assert net.send("st-marys", "credential.accept", for_bob).ok
    # only the registering regulator changes it; nobody removes another's registration
    assert net.status("other-dept", "old-board:lic-7", "revoke").code == "unauthorized"
    removal = {"handle": "old-board"}
    assert net.send("other-dept", "credential.issuer_remove", removal).code == "unauthorized"


def test_shares_and_exclusions_are_their_owners_alone(net: Net) -> None:
    share = {"grantee": "acme-insurance", "credentials": [LICENCE], "until_ms": T0 + YEAR_MS}
    assert net.send("st-marys/dr-bob", "credential.share", share).code == "unauthorized"
    assert net.send("st-marys", "credential.share", share).code == "unauthorized"
    assert net.send("st-marys/dr-ada", "credential.share", share).ok
    theirs = {"share": f"{ADA}:1"}
    assert net.send("st-marys/dr-bob", "credential.unshare", theirs).code == "unauthorized"
    assert net.send("st-marys/dr-ada", "credential.unshare", {"share": f"{BOB}:1"}).code == (
        "not_found"
    )
    assert exclude(net).ok
    lift = {"action": "lift", "member": ADA, "reason": "cleared", "list": "sanctions"}
    assert net.send("other-dept", "credential.exclusion", lift).code == "conflict"
    assert net.send("st-marys", "credential.exclusion", lift).code == "unauthorized"
    assert flagged(net, "st-marys") == [ADA]


def test_an_organisation_does_not_reuse_its_own_psv(net: Net) -> None:
    assert net.send("ma-board", "credential.psv", psv_payload()).ok
    reuse = {"psv": f"{LICENCE}/1", "decision": "appointed"}
    assert net.send("ma-board", "credential.psv_reuse", reuse).code == "invalid_state"
    assert net.send("st-marys", "credential.psv_reuse", reuse).ok
    tx = net.tx("valley-clinic", "credential.psv_reuse", reuse)
    first, replay = net.block([tx, tx])
    assert first.ok and not replay.ok  # a replay is refused by the ledger


def test_a_flood_of_expiries_does_not_keep_an_honest_credential_in_force(net: Net) -> None:
    until = net.time_ms + 2 * HOUR_MS
    flood = [
        net.tx("ny-board", "credential.issue", credential(f"f{n}", valid_until_ms=until))
        for n in range(300)
    ]
    assert all(r.ok for r in net.block(flood))
    assert net.issue("ma-board", credential("lic-h", valid_until_ms=until)).ok  # queued last
    net.block(at_ms=until + HOUR_MS)  # the sweep marks its budget, not all 301
    assert net.anchor("ma-board:lic-h").status == "active"  # not swept yet, but past its date:
    assert net.status("ma-board", "ma-board:lic-h", "suspend").code == "invalid_state"
    on_it = credential("p-h", kind="privilege", depends_on=["ma-board:lic-h"])
    assert net.issue("st-marys", on_it).code == "invalid_state"
    for _ in range(3):
        net.block()
    expired = net.anchor("ma-board:lic-h").history[-1]
    assert (expired.status, expired.time_ms) == ("expired", until)  # on time, in the record
