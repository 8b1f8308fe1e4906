"""A small consortium for the credential-file tests: hospitals, clinics, boards, a CE
university, regulators, their people, and a clock the tests move (block times are theirs).

Credentials are issued through `credential.issue` and changed through `credential.status`.
A credential whose period ended before the chain's first block cannot be issued (core
refuses an expired one): such history is planted the way tests here plant state a handler
must meet (`app._pending.state` between finalize and commit), as core would have written it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from conftest import CHAIN, Chain, make_genesis, seeded_keys
from healthledger.app.application import Application
from healthledger.crypto.canonical import canonical_bytes
from healthledger.domains.credentials import state as st
from healthledger.domains.governance import queries as gov
from healthledger.ledger.block import TxResult
from healthledger.ledger.context import Actor, BlockInfo, StateReader
from healthledger.ledger.store import Store
from healthledger.ledger.transaction import Transaction

T0 = 1_760_000_000_000  # 2025-10-09
DAY = 86_400_000
YEAR = 365 * DAY
HOSPITAL = "st-marys"
CLINIC = "valley-clinic"
BOARD = "mass-board"
BOARD2 = "nursing-board"
REGULATOR = "state-regulator"
REGULATOR2 = "federal-oig"
INSURER = "acme-insurance"
NORTH = "north-hosp"
OLD_CLINIC = "old-clinic"
UNIVERSITY = "cme-univ"  # a university issues CE certificates
ANN = f"{HOSPITAL}/dr-ann"
BO = f"{HOSPITAL}/dr-bo"
CY = f"{CLINIC}/nurse-cy"
AUDITOR = f"{HOSPITAL}/audit-al"
FOUNDERS = [
    (HOSPITAL, "hospital"),
    (CLINIC, "clinic"),
    (BOARD, "board"),
    (BOARD2, "board"),
    (REGULATOR, "regulator"),
    (REGULATOR2, "regulator"),
    (INSURER, "insurer"),
    (NORTH, "hospital"),
    (OLD_CLINIC, "clinic"),
    (UNIVERSITY, "university"),
]
PEOPLE = [(ANN, "practitioner"), (BO, "practitioner"), (CY, "nurse"), (AUDITOR, "auditor")]


@dataclass
class World:
    """The chain, and the time of the next block (each block moves it on by a second)."""

    chain: Chain
    now: int = T0
    anchors: dict[str, st.CredentialAnchor] = field(default_factory=dict)

    def block(self, txs: Sequence[Transaction], time_ms: int | None = None) -> list[TxResult]:
        if time_ms is not None:
            self.now = time_ms
        height = self.chain.app.info().height + 1
        pending = self.chain.app.finalize_block(BlockInfo(height, self.now, "test"), txs)
        self.chain.app.commit()
        self.now += 1_000
        return [result for *_rest, result in pending.txs]

    def send(
        self, who: str, tx_type: str, payload: dict[str, Any], time_ms: int | None = None
    ) -> TxResult:
        (result,) = self.block([self.signer(who).sign(tx_type, payload)], time_ms)
        return result

    def ok(self, who: str, tx_type: str, payload: dict[str, Any], **kw: Any) -> TxResult:
        result = self.send(who, tx_type, payload, **kw)
        assert result.ok, result.message
        return result

    def signer(self, who: str) -> Any:
        """An organisation by its id, a person by `org/member` (their key is seeded by name)."""
        return self.chain.signer(who.rpartition("/")[2])

    def reader(self) -> StateReader:
        return StateReader(self.chain.store.state_get)

    def actor(self, who: str) -> Actor:
        return gov.resolve_actor(self.reader(), seeded_keys(who.rpartition("/")[2]).key_id, False)

    def issue(
        self,
        credential_id: str,
        subject: str,
        type_: st.CredentialType,
        valid_from_ms: int,
        valid_until_ms: int | None = None,
        **extra: Any,
    ) -> str:
        """`credential.issue` by the id's issuer part; the id."""
        issuer, _, local_id = credential_id.partition(":")
        payload = {
            "local_id": local_id,
            "subject": subject,
            "type": type_,
            "scope": f"{type_} scope",
            "jurisdiction": "US-MA",
            "valid_from_ms": valid_from_ms,
            "valid_until_ms": valid_until_ms,
            "hash": hashlib.sha256(credential_id.encode()).hexdigest(),
            **extra,
        }
        self.ok(issuer, "credential.issue", payload)
        return credential_id

    def set_status(self, credential_id: str, action: str) -> None:
        """`credential.status` by the issuer: suspend, reinstate or revoke."""
        issuer = credential_id.partition(":")[0]
        payload = {"credential_id": credential_id, "action": action, "reason": "test"}
        self.ok(issuer, "credential.status", payload)

    def plant(self, *anchors: st.CredentialAnchor) -> None:
        """Write anchors (new or changed) and the members' file indexes in one block."""
        writes: dict[tuple[str, str], bytes | None] = {}
        files: dict[str, list[str]] = {}
        for anchor in anchors:
            self.anchors[anchor.id] = anchor
            ids = files.setdefault(anchor.subject, list(self._file(anchor.subject)))
            if anchor.id not in ids:
                ids.append(anchor.id)
            writes[(st.NAMESPACE, st.credential_key(anchor.id))] = canonical_bytes(
                anchor.model_dump(mode="json")
            )
        for member, ids in files.items():
            writes[(st.NAMESPACE, st.member_credentials_key(member))] = canonical_bytes(ids)
        self.commit_writes(writes)

    def commit_writes(self, writes: dict[tuple[str, str], bytes | None]) -> None:
        """A block whose state changes are these writes (and no transaction)."""
        height = self.chain.app.info().height + 1
        self.chain.app.finalize_block(BlockInfo(height, self.now, "test"), [])
        self.chain.app._pending.state.update(writes)  # type: ignore[union-attr]
        self.chain.app.commit()
        self.now += 1_000

    def change_status(self, credential_id: str, status: st.Status) -> None:
        """Plant a status change (suspend, revoke) as the issuer's transaction would."""
        anchor = self.anchors[credential_id]
        change = st.StatusChange(
            height=self.chain.app.info().height + 1,
            time_ms=self.now,
            status=status,
            reason="test",
            by=anchor.issuer,
        )
        self.plant(anchor.model_copy(update={"history": (*anchor.history, change)}))

    def _file(self, member: str) -> tuple[str, ...]:
        raw = self.chain.store.state_get(st.NAMESPACE, st.member_credentials_key(member))
        return () if raw is None else st.CredentialIds.model_validate_json(raw).root

    def state(self, key: str) -> Any:
        return self.chain.state(st.NAMESPACE, key)


def make_world(tmp_path: Any) -> World:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(make_genesis(FOUNDERS))
    world = World(Chain(app, store))
    for person, role in PEOPLE:
        org, _, member_id = person.partition("/")
        keys = seeded_keys(member_id)
        payload = {
            "member_id": member_id,
            "name": member_id,
            "role": role,
            "signing_key": keys.key_id,
            "encryption_key": keys.encryption_public.hex(),
        }
        world.ok(org, "member.enroll", payload)
    return world


def anchor(
    credential_id: str,
    subject: str,
    type_: st.CredentialType,
    valid_from_ms: int,
    valid_until_ms: int | None = None,
    ce_minutes: int | None = None,
    ce_category: str | None = None,
    at_ms: int = T0,
) -> st.CredentialAnchor:
    """An anchor as core's `credential.issue` writes it, issued by the id's issuer part."""
    issuer = credential_id.partition(":")[0]
    return st.CredentialAnchor(
        id=credential_id,
        issuer=issuer,
        issuer_key=seeded_keys(issuer).key_id,
        external=False,
        subject=subject,
        type=type_,
        scope=f"{type_} scope",
        jurisdiction="US-MA",
        valid_from_ms=valid_from_ms,
        valid_until_ms=valid_until_ms,
        ce_minutes=ce_minutes,
        ce_category=ce_category,
        depends_on=(),
        hash="ab" * 32,
        status_list=0,
        status_index=0,
        issued_height=1,
        issued_time_ms=at_ms,
        history=(
            st.StatusChange(height=1, time_ms=at_ms, status="active", reason="issued", by=issuer),
        ),
    )


__all__ = ["CHAIN"]
