"""A folder made under other transaction rules is refused, with RULES_VERSION, before it is read."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from healthledger.app.application import Application
from healthledger.app.genesis import RULES_VERSION
from healthledger.app.verify import verify_store
from healthledger.crypto.canonical import canonical_bytes, parse_json
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.store import Store
from healthledger.node.home import Home, init_home
from healthledger.node.node import Node

CHAIN = "rules-test"


def set_rules_version(root: Path, version: int | None, *, stored: bool, file: bool) -> None:
    """Rewrite a folder as if made under `version` (None: before versions were recorded)."""
    home = Home(root)
    if file:
        document = json.loads(home.genesis_path.read_text())
        document.pop("rules_version")
        if version is not None:
            document["rules_version"] = version
        home.genesis_path.write_text(json.dumps(document))
    if stored:
        conn = sqlite3.connect(home.db_path)
        (raw,) = conn.execute("SELECT value FROM meta WHERE name = 'genesis'").fetchone()
        document = parse_json(bytes(raw))
        assert isinstance(document, dict)
        document.pop("rules_version")
        if version is not None:
            document["rules_version"] = version
        conn.execute(
            "UPDATE meta SET value = ? WHERE name = 'genesis'", (canonical_bytes(document),)
        )
        conn.commit()
        conn.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A network folder whose node has opened (and so stored) its chain."""
    home = init_home(tmp_path / "net", CHAIN, [("st-marys", "hospital", "St Mary's")])
    Node(home.root).stop()
    return home.root


@pytest.mark.parametrize("version", [None, 1, RULES_VERSION + 1])
def test_a_node_refuses_a_stored_chain_of_other_rules(folder: Path, version: int | None) -> None:
    set_rules_version(folder, version, stored=True, file=False)
    with pytest.raises(LedgerError) as refused:
        Node(folder)
    assert refused.value.code == ErrorCode.RULES_VERSION
    assert f"rules version {version or 1}" in refused.value.message
    # The application refuses it too (the ABCI server opens the store this way).
    store = Store(Home(folder).db_path)
    try:
        with pytest.raises(LedgerError) as again:
            Application(store)
        assert again.value.code == ErrorCode.RULES_VERSION
    finally:
        store.close()


def test_a_node_refuses_a_genesis_file_of_other_rules(tmp_path: Path) -> None:
    """Before any database exists: the folder's genesis.json alone decides."""
    home = init_home(tmp_path / "net", CHAIN, [("st-marys", "hospital", "St Mary's")])
    set_rules_version(home.root, None, stored=False, file=True)
    with pytest.raises(LedgerError) as refused:
        Node(home.root)
    assert refused.value.code == ErrorCode.RULES_VERSION
    assert not home.db_path.exists()  # refused before anything was written


def test_verify_refuses_a_chain_of_other_rules(folder: Path) -> None:
    set_rules_version(folder, 1, stored=True, file=True)
    with pytest.raises(LedgerError) as refused:
        verify_store(Home(folder).db_path)
    assert refused.value.code == ErrorCode.RULES_VERSION


def test_a_folder_of_these_rules_opens_and_verifies(folder: Path) -> None:
    node = Node(folder)
    node.stop()
    assert verify_store(Home(folder).db_path).ok
