"""Shared fixtures: a small consortium with deterministic keys, and an application over SQLite."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from healthledger.app.application import Application
from healthledger.app.genesis import Genesis
from healthledger.client.sdk import Client, Signer, registration_payload, require_committed
from healthledger.crypto.keys import KeyPair, load_keypair
from healthledger.ledger.block import TxResult
from healthledger.ledger.context import BlockInfo
from healthledger.ledger.store import Store
from healthledger.ledger.transaction import Transaction
from healthledger.node.home import NodeSettings, init_home
from healthledger.node.process import free_port, node_command, wait_until_up

CHAIN = "test-chain"
# The key that vouches for patients registered on a network `serve_network` started, by URL.
VOUCHERS: dict[str, KeyPair] = {}
FOUNDERS = [
    ("st-marys", "hospital"),
    ("acme-insurance", "insurer"),
    ("medico-pharma", "manufacturer"),
    ("corner-pharmacy", "pharmacy"),
]


def seeded_keys(name: str) -> KeyPair:
    return KeyPair.from_seed(name.encode().ljust(32, b"\x00")[:32])


def make_genesis(founders: Sequence[tuple[str, str]] = FOUNDERS) -> Genesis:
    return Genesis.model_validate(
        {
            "chain_id": CHAIN,
            "genesis_time_ms": 1_700_000_000_000,
            "organisations": [
                {
                    "id": org_id,
                    "name": org_id.title(),
                    "role": role,
                    "signing_key": seeded_keys(org_id).key_id,
                    "encryption_key": seeded_keys(org_id).encryption_public.hex(),
                }
                for org_id, role in founders
            ],
        }
    )


@dataclass
class Chain:
    """An application over a real SQLite store, driven block by block like an engine would."""

    app: Application
    store: Store
    signers: dict[str, Signer] = field(default_factory=dict)

    def signer(self, name: str, keys: KeyPair | None = None) -> Signer:
        if name not in self.signers:
            self.signers[name] = Signer(keys or seeded_keys(name), CHAIN)
        return self.signers[name]

    def block(self, txs: Sequence[Transaction]) -> list[TxResult]:
        height = self.app.info().height + 1
        pending = self.app.finalize_block(
            BlockInfo(height, 1_700_000_000_000 + height, "test"), txs
        )
        self.app.commit()
        return [result for *_rest, result in pending.txs]

    def one(self, tx: Transaction) -> TxResult:
        (result,) = self.block([tx])
        return result

    def domain_state(self) -> list[tuple[object, ...]]:
        """Every state row but the senders' nonces (which every included tx consumes)."""
        return [row for row in self.store.table_rows("state") if row[0] != "nonce"]

    def state(self, ns: str, key: str) -> Any:
        from healthledger.crypto.canonical import parse_json

        raw = self.store.state_get(ns, key)
        return None if raw is None else parse_json(raw)


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[Chain]:
    store = Store(tmp_path / "ledger.sqlite")
    app = Application(store)
    app.init_chain(make_genesis())
    yield Chain(app, store)
    store.close()


def start_node(root: Path) -> subprocess.Popen[bytes]:
    """`healthledger node run --data root` as a real process."""
    return subprocess.Popen(
        node_command(root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def serve_network(
    root: Path, chain: str, orgs: Sequence[tuple[str, str, str]], block_interval_ms: int = 50
) -> tuple[str, subprocess.Popen[bytes]]:
    """A fresh network folder served by a node process on a free port; returns (url, process)."""
    port = free_port()
    home = init_home(root, chain, list(orgs), port=port)
    home.write_settings(
        NodeSettings(org=orgs[0][0], port=port, block_interval_ms=block_interval_ms)
    )
    process = start_node(root)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, process)
    carers = [org_id for org_id, role, _name in orgs if role in ("hospital", "clinic")]
    if carers:
        VOUCHERS[url] = load_keypair(home.key_path(carers[0]))
    return url, process


def stop_node(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=30)


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> None:
    """Poll until `predicate()` is truthy (for processes and servers, not for speed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def enroll_member(client: Client, org: Signer, member_id: str, role: str) -> KeyPair:
    """An organisation enrols a person with fresh keys (committed, or the test fails)."""
    keys = KeyPair.generate()
    payload = {
        "member_id": member_id,
        "name": member_id,
        "role": role,
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    require_committed(client.submit(org.sign("member.enroll", payload), wait=True))
    return keys


def register_patient(client: Client, chain_id: str, voucher: KeyPair | None = None) -> KeyPair:
    """A patient registers fresh keys (committed, or the test fails).

    The voucher defaults to the first care-giving organisation of the network that
    `serve_network` started at the client's address.
    """
    keys = KeyPair.generate()
    voucher = voucher or VOUCHERS[str(client.base_url)]
    tx = Signer(keys, chain_id).sign(
        "patient.register", patient_register_payload(keys, chain_id, voucher)
    )
    require_committed(client.submit(tx, wait=True))
    return keys


def patient_register_payload(
    patient: KeyPair, chain_id: str, voucher: KeyPair | None = None
) -> dict[str, Any]:
    """The payload of `patient.register` for `patient`, vouched for by `voucher`
    (St Mary's hospital of `make_genesis` unless another key is given)."""
    return registration_payload(patient, chain_id, voucher or seeded_keys("st-marys"))


def process_group(pgid: int) -> list[int]:
    """Live processes of a process group, from /proc (zombies excluded: they are gone).

    A command started with `start_new_session=True` leads its own group, and every
    process it starts keeps that group even once orphaned: what survives it is here.
    """
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended while we looked
        # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its ')'.
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            members.append(int(entry.name))
    return members
