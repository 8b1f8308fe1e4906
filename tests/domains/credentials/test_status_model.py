"""Status changes, cascade and expiry held against a simple reference model (hypothesis).

A licence and a certification of one member, three privileges on them at two carers;
random blocks of suspensions, reinstatements and revocations by anyone, and hours that
pass. After each block every status and every status-list bit is what the model says.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cred_net import HOUR_MS, Net, credential
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthledger.domains.credentials import state as cs

ISSUERS = {
    "ma-board:lic": "ma-board",
    "ma-board:cert": "ma-board",
    "st-marys:p1": "st-marys",
    "st-marys:p2": "st-marys",
    "valley-clinic:p3": "valley-clinic",
}
DEPENDS_ON = {
    "st-marys:p1": ["ma-board:lic"],
    "st-marys:p2": ["ma-board:lic", "ma-board:cert"],
    "valley-clinic:p3": ["ma-board:cert"],
}
ACTIONS = ("suspend", "reinstate", "revoke")


@dataclass
class Model:
    """What the rules say, written the obvious way."""

    until: dict[str, int]
    status: dict[str, str] = field(default_factory=lambda: dict.fromkeys(ISSUERS, "active"))
    suspended_when_expired: set[str] = field(default_factory=set)

    def act(self, sender: str, cid: str, action: str, now: int) -> bool:
        current = self.status[cid]
        if sender != ISSUERS[cid] or current == "revoked":
            return False
        if (current == "expired" or self.until[cid] <= now) and action != "revoke":
            return False
        wanted = {"suspend": "active", "reinstate": "suspended"}.get(action)
        if wanted is not None and current != wanted:
            return False
        if action == "reinstate" and any(  # a privilege stands only on what is in force
            self.status[dep] != "active" or self.until[dep] <= now
            for dep in DEPENDS_ON.get(cid, [])
        ):
            return False
        new = {"suspend": "suspended", "reinstate": "active", "revoke": "revoked"}[action]
        self.status[cid] = new
        if new != "active":
            for privilege, deps in DEPENDS_ON.items():
                live = self.status[privilege] == "active" and self.until[privilege] > now
                if cid in deps and live:
                    self.status[privilege] = "suspended"
        return True

    def sweep(self, now: int) -> None:
        for cid, until in self.until.items():
            if until <= now and self.status[cid] not in ("revoked", "expired"):
                if self.status[cid] == "suspended":
                    self.suspended_when_expired.add(cid)
                self.status[cid] = "expired"

    def bits(self, cid: str) -> tuple[bool, bool]:
        status = self.status[cid]
        suspended = status == "suspended" or (
            status == "expired" and cid in self.suspended_when_expired
        )
        return status == "revoked", suspended


step = st.one_of(
    st.tuples(
        st.just("act"),
        st.sampled_from(["ma-board", "st-marys", "valley-clinic"]),
        st.sampled_from(sorted(ISSUERS)),
        st.sampled_from(ACTIONS),
    ),
    st.tuples(st.just("hours"), st.integers(1, 30)),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    hours=st.lists(st.integers(5, 60), min_size=5, max_size=5),
    blocks=st.lists(st.lists(step, min_size=1, max_size=3), min_size=1, max_size=12),
)
def test_statuses_and_bits_follow_the_model(hours: list[int], blocks: list[list[tuple]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        net = Net(Path(folder) / "ledger.sqlite")
        try:
            _run(net, hours, blocks)
        finally:
            net.close()


def _run(net: Net, hours: list[int], blocks: list[list[tuple]]) -> None:
    start = (net.time_ms // HOUR_MS + 1) * HOUR_MS  # block times on the hour from here
    # validity ends on the hour: the sweep's buckets are hours, so expiry is exact here
    until = {cid: start + h * HOUR_MS for cid, h in zip(ISSUERS, hours, strict=True)}
    issued = []
    for cid, issuer in ISSUERS.items():
        kind = "privilege" if cid in DEPENDS_ON else "licence"
        kind = "certification" if cid.endswith("cert") else kind
        payload = credential(
            cid.split(":")[1],
            kind=kind,
            valid_until_ms=until[cid],
            depends_on=DEPENDS_ON.get(cid, []),
        )
        issued.append(net.tx(issuer, "credential.issue", payload))
    assert all(r.ok for r in net.block(issued, at_ms=start))
    model, now = Model(until), start
    for block in blocks:
        txs, expected = [], []
        for entry in block:
            if entry[0] == "hours":
                now += entry[1] * HOUR_MS
                continue
            _, sender, cid, action = entry
            payload = {"credential_id": cid, "action": action, "reason": "model"}
            txs.append(net.tx(sender, "credential.status", payload))
            expected.append((sender, cid, action))
        now += 1000
        results = net.block(txs, at_ms=now)
        for (sender, cid, action), result in zip(expected, results, strict=True):
            assert result.ok == model.act(sender, cid, action, now), (sender, cid, action, result)
        model.sweep(now)
        for cid in ISSUERS:
            anchor = net.anchor(cid)
            assert anchor.status == model.status[cid], (cid, anchor.history)
            bits = (net.bit(anchor, "revocation"), net.bit(anchor, "suspension"))
            assert bits == model.bits(cid), cid
            assert len(anchor.history) <= cs.MAX_STATUS_CHANGES
