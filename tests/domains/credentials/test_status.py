"""credential.status: suspend, reinstate, revoke; the cascade to dependent privileges; the
status-list bits and their hash; expiry at block time; status at a date."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cred_net import BOB, HOUR_MS, T0, Net, credential

from healthledger.app.reader import SnapshotReader
from healthledger.crypto.status_list import bit_at, bitstring_hash, decode_list, encode_list
from healthledger.domains.credentials import queries as q
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials import status, views
from healthledger.domains.credentials.status import LIST_BYTES

LICENCE = "ma-board:lic-1"


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    network = Net(tmp_path / "ledger.sqlite")
    assert network.issue("ma-board", credential("lic-0", subject=BOB)).ok  # slot 0: not Ada's
    assert network.issue("ma-board", credential("lic-1")).ok
    yield network
    network.close()


def test_suspend_reinstate_revoke_and_the_bits(net: Net) -> None:
    clear = net.status_list("ma-board", "suspension").bits_hash
    assert net.status("ma-board", LICENCE, "suspend", "complaint under review").ok
    anchor = net.anchor(LICENCE)
    assert anchor.status == "suspended" and anchor.history[-1].reason == "complaint under review"
    assert net.bit(anchor, "suspension") and not net.bit(anchor, "revocation")
    listed = net.status_list("ma-board", "suspension")
    assert listed.bits_hash != clear and listed.height == net.height
    assert not net.bit(net.anchor("ma-board:lic-0"), "suspension")  # its neighbour's bit
    hash_view = views.VIEWS[2]
    answer = net.view(hash_view, issuer="ma-board", purpose="suspension", list=0)
    assert (answer.bits_hash, answer.height) == (listed.bits_hash, net.height)

    assert net.status("ma-board", LICENCE, "suspend").code == "invalid_state"
    assert net.status("ma-board", LICENCE, "reinstate", "cleared").ok
    anchor = net.anchor(LICENCE)
    assert anchor.status == "active" and not net.bit(anchor, "suspension")
    assert net.status_list("ma-board", "suspension").bits_hash == clear
    assert net.status("ma-board", LICENCE, "reinstate").code == "invalid_state"

    revocations = net.status_list("ma-board", "revocation").height
    assert net.status("ma-board", LICENCE, "revoke", "fraud").ok
    anchor = net.anchor(LICENCE)
    assert anchor.status == "revoked" and net.bit(anchor, "revocation")
    assert net.status_list("ma-board", "revocation").height > revocations
    for action in ("suspend", "reinstate", "revoke"):  # revoked is final
        assert net.status("ma-board", LICENCE, action).code == "invalid_state"
    assert [c.status for c in anchor.history] == [
        "active",
        "suspended",
        "active",
        "revoked",
    ]


def test_only_the_issuer_changes_a_status(net: Net) -> None:
    assert net.status("ny-board", LICENCE, "revoke").code == "unauthorized"
    assert net.status("health-dept", LICENCE, "suspend").code == "unauthorized"
    assert net.status("st-marys/dr-ada", LICENCE, "suspend").code == "unauthorized"
    assert net.status("ma-board", "ma-board:nothing", "suspend").code == "not_found"
    assert net.status("ma-board", LICENCE, "suspend", "x" * 201).code == "invalid_field"
    assert net.status("ma-board", LICENCE, "cancel").code == "invalid_field"
    assert net.anchor(LICENCE).status == "active"


def test_suspension_cascades_in_the_same_transaction_and_restores_nothing(net: Net) -> None:
    assert net.issue("ma-board", credential("cert-1", kind="certification")).ok
    privileges = {
        "st-marys:priv-1": ("st-marys", [LICENCE]),
        "valley-clinic:priv-2": ("valley-clinic", [LICENCE, "ma-board:cert-1"]),
        "st-marys:priv-3": ("st-marys", ["ma-board:cert-1"]),  # not on the licence
        "st-marys:priv-4": ("st-marys", [LICENCE]),  # suspended by its hospital first
    }
    for credential_id, (issuer, depends_on) in privileges.items():
        local = credential_id.split(":")[1]
        payload = credential(local, kind="privilege", depends_on=depends_on)
        assert net.issue(issuer, payload).ok
    assert net.status("st-marys", "st-marys:priv-4", "suspend", "on leave").ok

    result = net.status("ma-board", LICENCE, "suspend", "complaint")
    assert result.ok
    height = net.height
    for credential_id in ("st-marys:priv-1", "valley-clinic:priv-2"):
        anchor = net.anchor(credential_id)
        last = anchor.history[-1]
        assert (anchor.status, last.by, last.height) == ("suspended", f"cascade:{LICENCE}", height)
        assert net.bit(anchor, "suspension")  # in its own issuer's list
    assert net.anchor("st-marys:priv-3").status == "active"
    assert net.anchor("st-marys:priv-4").history[-1].by == "st-marys"  # not touched again
    cascaded = [e["credential"] for e in result.events if e["type"] == "credential.status"]
    assert cascaded == [LICENCE, "st-marys:priv-1", "valley-clinic:priv-2"]

    assert net.status("ma-board", LICENCE, "reinstate").ok
    assert net.anchor(LICENCE).status == "active"
    assert net.anchor("st-marys:priv-1").status == "suspended"  # restores nothing
    assert net.anchor("valley-clinic:priv-2").status == "suspended"
    # its issuer may reinstate it (the cascade said why it was suspended)
    assert net.status("st-marys", "st-marys:priv-1", "reinstate").ok
    assert not net.bit(net.anchor("st-marys:priv-1"), "suspension")

    # a revocation cascades too, to what is active again
    assert net.status("ma-board", "ma-board:cert-1", "revoke").ok
    assert net.anchor("st-marys:priv-3").history[-1].by == "cascade:ma-board:cert-1"
    assert net.anchor("st-marys:priv-3").status == "suspended"


def test_expiry_at_block_time_without_a_transaction(net: Net) -> None:
    until = net.time_ms + 10 * HOUR_MS
    assert net.issue("ma-board", credential("lic-2", valid_until_ms=until)).ok
    assert net.issue("ma-board", credential("lic-3", valid_until_ms=until)).ok
    assert net.status("ma-board", "ma-board:lic-3", "revoke").ok
    net.block(at_ms=until - 1)
    assert net.anchor("ma-board:lic-2").status == "active"
    net.block(at_ms=until + HOUR_MS)  # the first block of the hour after: no transaction
    anchor = net.anchor("ma-board:lic-2")
    last = anchor.history[-1]
    assert (last.status, last.by, last.time_ms, last.height) == (
        "expired",
        "expiry",
        until,
        net.height,
    )
    assert net.anchor("ma-board:lic-3").status == "revoked"  # skipped
    assert net.status("ma-board", "ma-board:lic-2", "reinstate").code == "invalid_state"
    assert net.status("ma-board", "ma-board:lic-2", "suspend").code == "invalid_state"
    net.block(at_ms=until + 100 * HOUR_MS)
    assert len(net.anchor("ma-board:lic-2").history) == 2  # never twice, never undone
    assert net.status("ma-board", "ma-board:lic-2", "revoke").ok  # revocation still possible


def test_past_its_validity_only_revocation_remains_even_before_the_sweep(net: Net) -> None:
    until = net.time_ms + 5000
    assert net.issue("ma-board", credential("lic-2", valid_until_ms=until)).ok
    payload = {"credential_id": "ma-board:lic-2", "action": "suspend", "reason": "late"}
    (late,) = net.block([net.tx("ma-board", "credential.status", payload)], at_ms=until)
    assert late.code == "invalid_state"


def test_status_at_a_date_before_and_after_a_revocation(net: Net) -> None:
    issued = net.anchor(LICENCE).issued_time_ms
    net.block(at_ms=T0 + 30 * 24 * HOUR_MS)
    assert net.status("ma-board", LICENCE, "revoke", "fraud").ok
    revoked_at = net.time_ms
    anchor = net.anchor(LICENCE)
    assert q.status_at(anchor, issued - 1) is None
    assert q.status_at(anchor, revoked_at - 1) == "active"
    assert q.valid_at(anchor, revoked_at - 1)
    assert q.status_at(anchor, revoked_at) == "revoked"
    assert not q.valid_at(anchor, revoked_at)
    then = net.view(views.VIEWS[0], credential_id=LICENCE, at_ms=revoked_at - 1)
    assert (then.status, then.status_at, then.valid_at) == ("revoked", "active", True)
    now = net.view(views.VIEWS[0], credential_id=LICENCE, at_ms=revoked_at)
    assert (now.status_at, now.valid_at) == ("revoked", False)


def test_an_issuer_stops_short_of_the_bound_so_cascades_always_land(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(st, "MAX_STATUS_CHANGES", 7)
    privilege = credential("priv-1", kind="privilege", depends_on=[LICENCE])
    assert net.issue("st-marys", privilege).ok
    for action in ("suspend", "reinstate", "suspend", "reinstate"):
        assert net.status("st-marys", "st-marys:priv-1", action).ok
    assert net.status("st-marys", "st-marys:priv-1", "suspend").code == "too_large"
    assert net.anchor("st-marys:priv-1").status == "active"
    # the hospital churned its own privilege; the board's suspension still cascades
    assert net.status("ma-board", LICENCE, "suspend").ok
    cascaded = net.anchor("st-marys:priv-1")
    assert (cascaded.status, cascaded.history[-1].by) == ("suspended", f"cascade:{LICENCE}")
    # a revocation may still take the last place: nothing follows it
    assert net.status("st-marys", "st-marys:priv-1", "revoke").ok
    assert len(net.anchor("st-marys:priv-1").history) == st.MAX_STATUS_CHANGES


def test_cascade_bits_of_several_privileges_in_one_list(net: Net) -> None:
    for n in range(3):
        payload = credential(f"priv-{n}", kind="privilege", depends_on=[LICENCE])
        assert net.issue("st-marys", payload).ok
    assert net.status("ma-board", LICENCE, "revoke").ok
    raw = net.status_list("st-marys", "suspension").raw_bits()
    assert [bit_at(raw, i) for i in range(4)] == [True, True, True, False]
    assert net.status_list("st-marys", "suspension").bits_hash == bitstring_hash(raw)
    assert len(raw) == LIST_BYTES


def test_views_of_an_anchor(net: Net) -> None:
    answer = net.view(views.VIEWS[0], credential_id=LICENCE)
    assert answer.status == "active" and answer.anchor.raw_value is not None
    assert answer.anchor.key == st.credential_key(LICENCE)
    with pytest.raises(Exception, match="no credential"):
        net.view(views.VIEWS[0], credential_id="ma-board:none")


def test_more_expiries_than_the_budget_are_spread_over_blocks(net: Net) -> None:
    until = net.time_ms + 2 * HOUR_MS
    total = status.EXPIRY_SWEEP_BUDGET + 12
    txs = [
        net.tx("ma-board", "credential.issue", credential(f"bulk-{n}", valid_until_ms=until))
        for n in range(total)
    ]
    assert all(r.ok for r in net.block(txs))

    def expired() -> int:
        return sum(net.anchor(f"ma-board:bulk-{n}").status == "expired" for n in range(total))

    net.block(at_ms=until + HOUR_MS)
    first = expired()
    assert 0 < first <= status.EXPIRY_SWEEP_BUDGET
    net.block(at_ms=until + HOUR_MS + 1000)
    assert expired() == total


def test_a_replayed_status_change_is_refused(net: Net) -> None:
    payload = {"credential_id": LICENCE, "action": "suspend", "reason": "review"}
    tx = net.tx("ma-board", "credential.status", payload)
    assert net.block([tx])[0].ok
    assert net.status("ma-board", LICENCE, "reinstate").ok
    assert net.block([tx])[0].code == "duplicate_nonce"
    assert net.anchor(LICENCE).status == "active"


def test_queries_give_the_bits_the_published_list_encodes(net: Net) -> None:
    assert net.status("ma-board", LICENCE, "revoke").ok
    anchor = net.anchor(LICENCE)
    with net.store.snapshot():
        state = SnapshotReader(net.store).state
        raw = q.status_list_bits(state, "ma-board", "revocation", 0)
        assert q.status_list_bits(state, "ma-board", "revocation", 1) is None
        assert q.next_status_slot(state, "ma-board").index == 2
        assert [p.key for p in q.issuer_keys(state, "ma-board")] == [
            net.signers["ma-board"].keys.key_id
        ]
    assert raw is not None and anchor.status_index is not None
    published = encode_list(raw)  # off the consensus path, as the API publishes it
    assert bit_at(decode_list(published), anchor.status_index)
    assert (
        bitstring_hash(decode_list(published))
        == net.status_list("ma-board", "revocation").bits_hash
    )
