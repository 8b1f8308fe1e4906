"""The demo's credentials story: the documents it writes verify against their proven
anchors, and the board's suspension suspended the privilege resting on it, in its block."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from healthledger.app.queries import state_in_snapshot
from healthledger.app.reader import SnapshotReader
from healthledger.client.sdk import verify_state_view
from healthledger.demo.credentials import GREY, HOUSE, SUSPENDED
from healthledger.demo.runner import Runner
from healthledger.domains.credentials import documents as docs
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.ce import ce_cycles
from healthledger.domains.credentials.verify import CredentialCheck, check_credential
from healthledger.node.home import Home
from healthledger.node.node import Node


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("credentials") / "demo-net"
    summary = Runner(directory, total_txs=20, block_interval_ms=20).run()
    return directory, summary["credentials"]


def checks(directory: Path) -> dict[str, tuple[CredentialCheck, st.CredentialAnchor]]:
    """Each written document checked against its anchor, proven against the state root."""
    node = Node(directory, Home(directory).settings())
    node.start(parallel_check=False)
    now = int(time.time() * 1000)
    found = {}
    try:
        for path in sorted((directory / "credentials").glob("*.json")):
            document = json.loads(path.read_text())
            key = st.credential_key(docs.credential_id_of(document))
            with node.store.snapshot():
                view = state_in_snapshot(node.store, st.NAMESPACE, key, prove=True)
            verify_state_view(view)
            anchor = st.CredentialAnchor.model_validate_json(view.raw_value or "null")
            found[path.stem] = (check_credential(document, anchor, now, now), anchor)
    finally:
        node.stop()
    return found


def test_every_document_verifies_but_the_suspended_licence_and_its_privilege(
    demo: tuple[Path, dict[str, Any]],
) -> None:
    directory, story = demo
    found = checks(directory)
    assert set(found) == {
        "ce-ethics",
        "ce-trauma",
        "certification",
        "degree",
        "licence",
        "licence-house",
        "privilege",
        "privilege-house",
    }
    assert len(story["credentials"]) == len(found)
    for name, (check, _anchor) in found.items():
        assert check.proof.ok and check.issuer_key.ok and check.anchored.ok, name
        suspended = name in ("licence-house", "privilege-house")
        assert check.ok is not suspended, name
        assert check.status.reason == ("suspended" if suspended else "active"), name
    assert found["ce-trauma"][1].issuer == "relief-charity"  # the CE provider the vote made


def test_the_suspension_cascades_in_the_same_block(demo: tuple[Path, dict[str, Any]]) -> None:
    directory, story = demo
    assert story["suspended"] == SUSPENDED
    assert story["suspended_with_it"] == ["riverside-clinic:priv-dx-0001"]
    found = checks(directory)
    licence, privilege = found["licence-house"][1], found["privilege-house"][1]
    assert licence.history[-1].height == privilege.history[-1].height
    assert privilege.history[-1].by.endswith(SUSPENDED)
    assert list(privilege.depends_on) == [SUSPENDED]


def test_the_file_sums_ce_against_the_board_rule_and_the_story_shares_checks_and_excludes(
    demo: tuple[Path, dict[str, Any]],
) -> None:
    directory, story = demo
    node = Node(directory, Home(directory).settings())
    node.start(parallel_check=False)
    try:
        with node.store.snapshot():
            cycles = ce_cycles(SnapshotReader(node.store).state, GREY, int(time.time() * 1000))
    finally:
        node.stop()
    (cycle,) = cycles  # her licence from the board is the cycle; the certification is not
    assert (cycle.board, cycle.licence) == ("medical-board", "medical-board:lic-0001")
    assert cycle.minutes == 480 + 90 and cycle.required_minutes == 480
    assert cycle.compliant is True and cycle.shortfall == 0
    assert story["share"] == "st-marys/dr-grey:1"
    assert story["psv"] == "medical-board:lic-0001/1"
    assert story["psv_reused_age_days"] == 0
    assert story["excluded"] == HOUSE and story["excluded_flagged_orgs"] == 1
