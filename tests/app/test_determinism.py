"""Two independent applications fed the same blocks agree on every header, byte for byte."""

from __future__ import annotations

import random
from pathlib import Path

from conftest import CHAIN, make_genesis, patient_register_payload, seeded_keys
from healthledger.app.application import Application
from healthledger.client.sdk import Signer
from healthledger.crypto.keys import KeyPair
from healthledger.ledger.context import BlockInfo
from healthledger.ledger.store import Store
from healthledger.ledger.transaction import Transaction


def random_blocks(seed: int) -> list[list[Transaction]]:
    rng = random.Random(seed)
    hospital = Signer(seeded_keys("st-marys"), CHAIN)
    blocks = []
    enrolled: list[str] = []
    for height in range(12):
        txs = []
        for index in range(rng.randint(0, 8)):
            choice = rng.random()
            if choice < 0.5 or not enrolled:
                keys = KeyPair.from_seed(rng.randbytes(32))
                member = f"m-{height}-{index}"
                enrolled.append(member)
                payload = {
                    "member_id": member,
                    "name": "M",
                    "role": "nurse",
                    "signing_key": keys.key_id,
                    "encryption_key": keys.encryption_public.hex(),
                }
                txs.append(hospital.sign("member.enroll", payload))
            elif choice < 0.8:
                target = rng.choice(enrolled)  # sometimes twice: a recorded failure
                txs.append(hospital.sign("member.revoke", {"member_id": target}))
            else:
                keys = KeyPair.from_seed(rng.randbytes(32))
                payload = patient_register_payload(keys, CHAIN)
                txs.append(Signer(keys, CHAIN).sign("patient.register", payload))
        blocks.append(txs)
    return blocks


def run(path: Path, blocks: list[list[Transaction]]) -> list[str]:
    store = Store(path)
    app = Application(store)
    app.init_chain(make_genesis())
    hashes = []
    for height, txs in enumerate(blocks, start=1):
        app.finalize_block(BlockInfo(height, 1_700_000_000_000 + height, "p"), txs)
        hashes.append(app.commit().hash())
    store.close()
    return hashes


def test_two_instances_agree_at_every_height(tmp_path: Path) -> None:
    blocks = random_blocks(7)
    assert run(tmp_path / "a.sqlite", blocks) == run(tmp_path / "b.sqlite", blocks)


def test_restart_mid_chain_reaches_the_same_state(tmp_path: Path) -> None:
    blocks = random_blocks(11)
    straight = run(tmp_path / "straight.sqlite", blocks)
    path = tmp_path / "restarted.sqlite"
    first = run(path, blocks[:5])
    store = Store(path)
    app = Application(store)
    rest = []
    for height, txs in enumerate(blocks[5:], start=6):
        app.finalize_block(BlockInfo(height, 1_700_000_000_000 + height, "p"), txs)
        rest.append(app.commit().hash())
    store.close()
    assert first + rest == straight
