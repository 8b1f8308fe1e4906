"""The demo's cast and the chain its stories write to, through the node's own engine.

Every person's key is derived from the demo's seed and their name, so a seed tells
the same story every run: the same patient ids, hence the same synthetic records.
These keys are public knowledge (anyone can derive them): they are for the demo only.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from healthledger.client.sdk import Signer
from healthledger.crypto.keys import KeyPair, save_keypair
from healthledger.errors import InvalidState, LedgerError
from healthledger.ledger.transaction import Transaction
from healthledger.node.home import Home, company_glns
from healthledger.node.node import Node, submit_and_wait

CHAIN_ID = "healthledger-demo"
DEMO_SEED = 2026
ORGS = [
    ("st-marys", "hospital", "St Mary's Hospital"),
    ("riverside-clinic", "clinic", "Riverside Clinic"),
    ("northlab", "laboratory", "North Laboratory Services"),
    ("acme-insurance", "insurer", "Acme Health Insurance"),
    ("medico-pharma", "manufacturer", "Medico Pharma"),
    ("pharmalink", "distributor", "PharmaLink Distribution"),
    ("corner-pharmacy", "pharmacy", "Corner Pharmacy"),
    ("town-pharmacy", "pharmacy", "Town Pharmacy"),
    ("health-authority", "regulator", "National Health Authority"),
    ("medical-board", "board", "State Medical Board"),
    ("cure-sponsor", "sponsor", "Cure Trials Sponsor"),
    ("relief-charity", "charity", "Health Relief Charity"),
]
# Where each demo organisation is (ISO 3166-1 alpha-2); the clinic is across the border.
COUNTRIES = {org_id: "GB" for org_id, _role, _name in ORGS} | {"riverside-clinic": "IE"}
# Each demo organisation's GS1 company prefix: its party GLN and two site GLNs derive from
# it (`company_glns`), so EPCIS documents can name the demo's parties by GLN. 0614141 and
# 4012345 are the prefixes GS1's own examples use; every other prefix is made up.
GS1_PREFIXES = {
    "st-marys": "5011111",
    "riverside-clinic": "5391111",
    "northlab": "5022222",
    "acme-insurance": "5033333",
    "medico-pharma": "0614141",
    "pharmalink": "4012345",
    "corner-pharmacy": "5044444",
    "town-pharmacy": "5055555",
    "health-authority": "5066666",
    "medical-board": "5077777",
    "cure-sponsor": "5088888",
    "relief-charity": "5099999",
}
GLNS = {org_id: company_glns(prefix) for org_id, prefix in GS1_PREFIXES.items()}
STAFF = [
    ("st-marys", "dr-grey", "Dr Meredith Grey", "practitioner"),
    ("st-marys", "nurse-joy", "Nurse Joy Adeyemi", "nurse"),
    ("st-marys", "auditor-kim", "Kim Auditor", "auditor"),
    ("st-marys", "coord-rao", "Sam Rao", "coordinator"),  # transplant coordinator
    ("riverside-clinic", "dr-house", "Dr Gregory House", "practitioner"),
    ("northlab", "tech-lee", "Lee Technician", "technician"),
    ("corner-pharmacy", "pharm-ana", "Ana Pharmacist", "pharmacist"),
    ("cure-sponsor", "res-patel", "Dr Priya Patel", "researcher"),
    ("acme-insurance", "admin-olsen", "Olsen Admin", "admin"),
]
NEW_ORG = ("metro-university", "university", "Metro University")

Progress = Callable[[int, int], None]  # (done, total)


class StoryPrecondition(InvalidState):
    """A story found the chain without something it needs (a bug in the demo, not the user's)."""

    def __init__(self, story: str, missing: str) -> None:
        super().__init__(f"the demo's {story} story needs {missing}")
        self.story = story
        self.missing = missing


@dataclass(frozen=True)
class DemoUser:
    """One actor of the demo, as written to demo-users.json."""

    name: str
    kind: str
    role: str
    organisation: str | None
    key_file: str
    key_id: str
    patient_id: str | None = None
    demographics: dict[str, Any] | None = None


def demo_keys(seed: int, name: str) -> KeyPair:
    """The key of the demo's `name` under `seed` (the same every run)."""
    return KeyPair.from_seed(hashlib.sha256(f"healthledger-demo/{seed}/{name}".encode()).digest())


class DemoChain:
    """The demo chain as its stories see it: named signers, the users file, `commit`."""

    def __init__(self, home: Home, node: Node, seed: int) -> None:
        self.home = home
        self.node = node
        self.seed = seed
        # Ids the stories mint (consents) come from here, so a seed repeats them too.
        self.rng = random.Random(seed)
        self.users: list[DemoUser] = []
        self.signers: dict[str, Signer] = {}
        self.count = 0

    def signer(self, name: str, keys: KeyPair | None = None) -> Signer:
        """`name`'s signer; a new name gets `keys` or its seeded key, saved in keys/."""
        if name not in self.signers:
            pair = keys or demo_keys(self.seed, name)
            save_keypair(pair, self.home.key_path(name))
            self.signers[name] = Signer(pair, CHAIN_ID)
        return self.signers[name]

    def synced_signer(self, name: str) -> Signer:
        """`name`'s signer, continuing after every nonce the ledger has seen from its key:
        a story that signs through a node service too (records) leaves it behind."""
        signer = self.signers[name]
        with self.node.store.snapshot():
            raw = self.node.store.state_get("nonce", signer.key_id)
        signer.continue_after(0 if raw is None else int(json.loads(raw)["max"]))
        return signer

    def commit(self, txs: list[Transaction]) -> list[dict[str, Any]]:
        """Submit in order and wait for the commits: each result, or why it was refused."""
        reports = submit_and_wait(self.node, txs)
        self.count += len(txs)
        return [
            r.to_dict()
            if isinstance(r, LedgerError)
            else {"height": r.height, **r.result.to_dict()}
            for r in reports
        ]

    def add_user(self, name: str, kind: str, role: str, org: str | None, file: str) -> None:
        key_id = self.signers[file].key_id
        path = str(self.home.key_path(file))
        self.users.append(DemoUser(name, kind, role, org, path, key_id))
