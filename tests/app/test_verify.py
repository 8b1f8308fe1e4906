"""`verify` re-checks a data folder offline; any flipped byte is caught and its height named."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import Chain, make_genesis
from healthledger.app.application import Application
from healthledger.app.verify import verify_store
from healthledger.crypto.keys import KeyPair
from healthledger.errors import Tampered
from healthledger.ledger.store import Store


@pytest.fixture(scope="module")
def ledger_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small chain of 6 blocks with ok and failed transactions."""
    path = tmp_path_factory.mktemp("verify") / "ledger.sqlite"
    store = Store(path)
    app = Application(store)
    app.init_chain(make_genesis())
    chain = Chain(app, store)
    hospital = chain.signer("st-marys")
    for height in range(1, 7):
        txs = []
        for index in range(3):
            keys = KeyPair.from_seed(bytes([height, index]) * 16)
            txs.append(
                hospital.sign(
                    "member.enroll",
                    {
                        "member_id": f"m-{height}-{index}",
                        "name": "Staff",
                        "role": "nurse",
                        "signing_key": keys.key_id,
                        "encryption_key": keys.encryption_public.hex(),
                    },
                )
            )
        txs.append(hospital.sign("member.revoke", {"member_id": "nobody"}))  # fails, is recorded
        chain.block(txs)
    store.close()
    return path


def tampered_copy(source: Path, target: Path, table: str, column: str, rowid_sql: str) -> Path:
    shutil.copy(source, target)
    conn = sqlite3.connect(target)
    row = conn.execute(f"SELECT {column} FROM {table} WHERE {rowid_sql}").fetchone()
    value = bytearray(row[0] if isinstance(row[0], bytes) else str(row[0]).encode())
    value[len(value) // 2] ^= 0x01
    new: object = bytes(value) if isinstance(row[0], bytes) else value.decode(errors="replace")
    conn.execute(f"UPDATE {table} SET {column} = ? WHERE {rowid_sql}", (new,))
    conn.commit()
    conn.close()
    return target


def test_an_untouched_folder_verifies(ledger_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    shutil.copy(ledger_file, copy)
    report = verify_store(copy)
    assert (report.ok, report.height, report.transactions) == (True, 6, 24)


@pytest.mark.parametrize(
    ("table", "column", "where", "height"),
    [
        ("blocks", "header", "height = 3", 3),
        ("blocks", "hash", "height = 2", 2),
        ("txs", "raw", "height = 4 AND position = 1", 4),
        ("txs", "result", "height = 5 AND position = 3", 5),
        ("txs", "result", "height = 1 AND position = 0", 1),
        ("txs", "id", "height = 2 AND position = 2", 2),
        ("state", "value", "key = 'member/st-marys/m-2-1'", 6),
        ("trie", "node", "length(path) = 1", 6),
        ("log_nodes", "hash", "level = 0 AND idx = 7", 6),
        ("meta", "value", "name = 'log_frontier'", 6),
    ],
)
def test_a_flipped_byte_is_caught_with_its_height(
    ledger_file: Path, tmp_path: Path, table: str, column: str, where: str, height: int
) -> None:
    copy = tampered_copy(ledger_file, tmp_path / "t.sqlite", table, column, where)
    with pytest.raises(Tampered) as caught:
        verify_store(copy)
    assert caught.value.height == height, caught.value.message


def test_a_deleted_transaction_is_caught(ledger_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "d.sqlite"
    shutil.copy(ledger_file, copy)
    conn = sqlite3.connect(copy)
    conn.execute("DELETE FROM txs WHERE height = 3 AND position = 0")
    conn.commit()
    conn.close()
    with pytest.raises(Tampered) as caught:
        verify_store(copy)
    assert caught.value.height == 3


def test_every_byte_of_a_header_is_protected(ledger_file: Path, tmp_path: Path) -> None:
    conn = sqlite3.connect(ledger_file)
    (header,) = conn.execute("SELECT header FROM blocks WHERE height = 2").fetchone()
    conn.close()
    for position in range(0, len(header), max(1, len(header) // 12)):
        copy = tmp_path / f"h{position}.sqlite"
        shutil.copy(ledger_file, copy)
        flipped = bytearray(header)
        flipped[position] ^= 0x20
        conn = sqlite3.connect(copy)
        conn.execute("UPDATE blocks SET header = ? WHERE height = 2", (bytes(flipped),))
        conn.commit()
        conn.close()
        with pytest.raises(Tampered) as caught:
            verify_store(copy)
        assert caught.value.height == 2
