"""The demo network: a consortium with people, patients, governance, drugs and records.

`Runner` creates the network folder and runs the stories in order through the node's
own engine and vault, as any client would: governance (staff, a new organisation by
quorum vote, key rotation and revocation, refusals), the drug supply chain, patient
registration, patient records, then staff credentials (signed documents in
`DIR/credentials/`). `DIR/demo-users.json` lists every actor and its
key file so a user can act as any of them. The seed fixes every key and every
synthetic record, so each run tells the same story.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from healthledger.crypto.keys import load_keypair
from healthledger.demo.chain import (
    CHAIN_ID,
    COUNTRIES,
    DEMO_SEED,
    GLNS,
    ORGS,
    DemoChain,
    Progress,
)
from healthledger.demo.credentials import credentials_story
from healthledger.demo.governance import NAMED_PATIENTS, governance_story, register_patients
from healthledger.demo.records import records_story
from healthledger.demo.supply import supply_story
from healthledger.errors import ErrorCode, LedgerError
from healthledger.node.custodian import RecordService
from healthledger.node.home import DEFAULT_PORT, Home, init_home
from healthledger.node.node import Node

DEFAULT_TXS = 400


class Runner:
    """Builds the demo folder at `directory` with about `total_txs` transactions."""

    def __init__(
        self,
        directory: Path,
        total_txs: int = DEFAULT_TXS,
        seed: int = DEMO_SEED,
        block_interval_ms: int | None = None,
    ) -> None:
        self.directory = directory
        self.total_txs = total_txs
        self.seed = seed
        # None keeps node.json's interval; tests shorten it (the stories wait on each block).
        self.block_interval_ms = block_interval_ms

    def run(self, progress: Progress | None = None) -> dict[str, Any]:
        """Create the folder, run every story in order, write demo-users.json; a summary."""
        home = init_home(
            self.directory, CHAIN_ID, ORGS, port=DEFAULT_PORT, countries=COUNTRIES, glns=GLNS
        )
        settings = home.settings()
        if self.block_interval_ms is not None:
            settings = replace(settings, block_interval_ms=self.block_interval_ms)
        node = Node(self.directory, settings)
        node.start(parallel_check=False)
        try:
            chain = DemoChain(home, node, self.seed)
            for org_id, role, name in ORGS:
                chain.signer(org_id, load_keypair(home.key_path(org_id)))
                chain.add_user(name, "org", role, org_id, org_id)
            refused = governance_story(chain)
            supply = supply_story(chain)
            people = register_patients(
                chain, max(NAMED_PATIENTS, self.total_txs - chain.count), progress
            )
            records = records_story(chain, RecordService(node), people)
            credentials = credentials_story(chain, self.directory)
            users_path = self.directory / "demo-users.json"
            users_path.write_text(json.dumps([asdict(u) for u in chain.users], indent=2) + "\n")
            info = node.app.info()
            return {
                "ok": True,
                "dir": str(self.directory),
                "chain_id": info.chain_id,
                "height": info.height,
                "transactions": chain.count,
                "refused_examples": refused,
                "supply": supply,
                "records": records,
                "credentials": credentials,
                "users": str(users_path),
            }
        finally:
            node.stop()


def remove_if_other_rules(home: Home) -> str | None:
    """Delete a demo folder made under other rules (it cannot be read); say why, or None.

    Only a folder of the demo's own chain is deleted: any other is refused as it is.
    """
    try:
        home.check_rules_version()
    except LedgerError as exc:
        if exc.code != ErrorCode.RULES_VERSION or home.chain_id() != CHAIN_ID:
            raise
        shutil.rmtree(home.root)
        return f"the old demo folder was removed and built again: {exc.message}"
    return None
