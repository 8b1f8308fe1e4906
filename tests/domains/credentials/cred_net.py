"""A small credentials network for the core tests: issuers of every kind, staff, blocks at
chosen times, and payload builders."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conftest import CHAIN, make_genesis, seeded_keys
from healthledger.app.application import Application
from healthledger.app.reader import SnapshotReader
from healthledger.client.sdk import Signer
from healthledger.crypto.keys import KeyPair
from healthledger.domains.credentials import state as st
from healthledger.domains.kit import View
from healthledger.ledger.block import TxResult
from healthledger.ledger.context import BlockInfo
from healthledger.ledger.store import Store
from healthledger.ledger.transaction import Transaction

FOUNDERS = [
    ("ma-board", "board"),
    ("ny-board", "board"),
    ("state-univ", "university"),
    ("st-marys", "hospital"),
    ("valley-clinic", "clinic"),
    ("health-dept", "regulator"),
    ("other-dept", "regulator"),
    ("ce-academy", "charity"),
    ("acme-insurance", "insurer"),
]
STAFF = [
    ("st-marys", "dr-ada", "practitioner"),
    ("st-marys", "dr-bob", "practitioner"),
    ("valley-clinic", "nurse-cy", "nurse"),
]
ADA, BOB, CY = (f"{org}/{member}" for org, member, _role in STAFF)
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR_MS = 3_600_000
YEAR_MS = 365 * 24 * HOUR_MS


def member_keys(name: str) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(b"credentials/" + name.encode()).digest())


def doc_hash(text: str) -> str:
    """A stand-in for the SHA-256 of a signed document (the chain sees only the hash)."""
    return hashlib.sha256(text.encode()).hexdigest()


def credential(
    local_id: str, subject: str = ADA, kind: str = "licence", **extra: Any
) -> dict[str, Any]:
    """A `CredentialIssue` payload, valid for a year from T0 unless told otherwise."""
    payload: dict[str, Any] = {
        "local_id": local_id,
        "subject": subject,
        "type": kind,
        "scope": f"{kind} {local_id}",
        "jurisdiction": "US-MA",
        "valid_from_ms": T0,
        "valid_until_ms": T0 + YEAR_MS,
        "hash": doc_hash(local_id),
    }
    if kind == "ce":
        payload |= {"ce_minutes": 90, "ce_category": "AMA-1"}
    return payload | extra


class Net:
    """An application over its own SQLite file, given blocks at chosen times."""

    def __init__(self, path: Path) -> None:
        self.store = Store(path)
        self.app = Application(self.store)
        self.app.init_chain(make_genesis(FOUNDERS))
        self.time_ms = T0
        self.signers: dict[str, Signer] = {}
        for org_id, _role in FOUNDERS:
            self.signers[org_id] = Signer(seeded_keys(org_id), CHAIN)
        enrolments = []
        for org_id, member_id, role in STAFF:
            keys = member_keys(f"{org_id}/{member_id}")
            self.signers[f"{org_id}/{member_id}"] = Signer(keys, CHAIN)
            payload = {
                "member_id": member_id,
                "name": member_id,
                "role": role,
                "signing_key": keys.key_id,
                "encryption_key": keys.encryption_public.hex(),
            }
            enrolments.append(self.signers[org_id].sign("member.enroll", payload))
        assert all(r.ok for r in self.block(enrolments)), "the staff must enrol"

    @property
    def height(self) -> int:
        return self.app.info().height

    def block(self, txs: Sequence[Transaction] = (), at_ms: int | None = None) -> list[TxResult]:
        self.time_ms = self.time_ms + 1000 if at_ms is None else at_ms
        pending = self.app.finalize_block(BlockInfo(self.height + 1, self.time_ms, "test"), txs)
        self.app.commit()
        return [result for *_rest, result in pending.txs]

    def tx(self, sender: str, tx_type: str, payload: dict[str, Any]) -> Transaction:
        return self.signers[sender].sign(tx_type, payload)

    def send(
        self, sender: str, tx_type: str, payload: dict[str, Any], at_ms: int | None = None
    ) -> TxResult:
        (result,) = self.block([self.tx(sender, tx_type, payload)], at_ms)
        return result

    def issue(self, sender: str, payload: dict[str, Any]) -> TxResult:
        return self.send(sender, "credential.issue", payload)

    def status(
        self, sender: str, credential_id: str, action: str, reason: str = "board order"
    ) -> TxResult:
        payload = {"credential_id": credential_id, "action": action, "reason": reason}
        return self.send(sender, "credential.status", payload)

    def anchor(self, credential_id: str) -> st.CredentialAnchor:
        raw = self.store.state_get(st.NAMESPACE, st.credential_key(credential_id))
        assert raw is not None, f"no anchor {credential_id}"
        return st.CredentialAnchor.model_validate_json(raw)

    def has(self, ns: str, key: str) -> bool:
        return self.store.state_get(ns, key) is not None

    def load(self, key: str, model: type[Any]) -> Any:
        raw = self.store.state_get(st.NAMESPACE, key)
        return None if raw is None else model.model_validate_json(raw)

    def status_list(self, issuer: str, purpose: str, number: int = 0) -> st.StatusListRecord:
        record = self.load(st.status_list_key(issuer, purpose, number), st.StatusListRecord)
        assert record is not None
        return record  # type: ignore[no-any-return]

    def bit(self, anchor: st.CredentialAnchor, purpose: str) -> bool:
        assert anchor.status_list is not None and anchor.status_index is not None
        raw = self.status_list(anchor.issuer, purpose, anchor.status_list).raw_bits()
        return bool(raw[anchor.status_index // 8] & (0x80 >> (anchor.status_index % 8)))

    def view(self, view: View, **params: Any) -> Any:
        with self.store.snapshot():
            return view.run(SnapshotReader(self.store), view.params.model_validate(params))

    def close(self) -> None:
        self.app.close()
        self.store.close()


def grant_ce_provider(net: Net, org_id: str = "ce-academy") -> None:
    """Governance grants `ce_provider` by quorum (the proposer and four others)."""
    payload = {"action": "grant", "org_id": org_id, "capability": "ce_provider"}
    proposed = net.send("st-marys", "capability.propose", payload)
    assert proposed.ok, proposed
    proposal = next(e["proposal"] for e in proposed.events if e["type"] == "capability.proposed")
    voters = ["ma-board", "ny-board", "state-univ", "valley-clinic", "health-dept"]
    approvals = [net.tx(v, "org.approve", {"proposal_id": proposal}) for v in voters]
    assert all(r.ok for r in net.block(approvals))


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def did_key(public_key_hex: str, prefix: bytes = b"\xed\x01") -> str:
    """did:key of a public key (base58btc of multicodec prefix + key), written here so the
    test does not trust the decoder it tests."""
    raw = prefix + bytes.fromhex(public_key_hex)
    number = int.from_bytes(raw, "big")
    text = ""
    while number:
        number, digit = divmod(number, 58)
        text = _BASE58[digit] + text
    text = "1" * (len(raw) - len(raw.lstrip(b"\x00"))) + text
    return "did:key:z" + text
