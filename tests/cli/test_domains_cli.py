"""`healthledger domains` prints what the node runs on: every declared type and its senders."""

from __future__ import annotations

import json
import subprocess
import sys

from healthledger.app.registry import DOMAINS, REGISTRY


def test_domains_lists_every_type_with_its_senders_capabilities_and_views() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "healthledger", "domains", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    listed = json.loads(done.stdout)
    assert [d["name"] for d in listed] == [d.name for d in DOMAINS]
    types = {tx["type"]: tx for d in listed for tx in d["transactions"]}
    assert set(types) == set(REGISTRY)
    assert types["supply.quarantine"]["senders"] == ["cap:inspector", "org:regulator"]
    assert types["patient.register"]["senders"] == ["new:new"]
    supply = next(d for d in listed if d["name"] == "supply")
    assert "inspector" in supply["capabilities"]
    assert {"path": "/v1/supply/alerts", "access": "member"}.items() <= next(
        v for v in supply["views"] if v["path"] == "/v1/supply/alerts"
    ).items()
    assert supply["end_of_block_budget"] == 128
