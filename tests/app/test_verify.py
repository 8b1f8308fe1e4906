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
        # Columns no hash covers: each must still equal what the replay writes.
        ("txs", "sender", "height = 3 AND position = 1", 3),
        ("txs", "sender", "height = 6 AND position = 3", 6),
        ("txs", "height", "height = 2 AND position = 0", 2),
        ("txs", "position", "height = 4 AND position = 2", 4),
        ("meta", "value", "name = 'chain_id'", 6),
        ("meta", "value", "name = 'genesis_state_root'", 0),
        ("state", "key", "key = 'member/st-marys/m-4-0'", 6),
        ("log_nodes", "hash", "level = 2 AND idx = 1", 6),
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


def tampered_with_sql(source: Path, target: Path, *statements: str) -> Path:
    shutil.copy(source, target)
    conn = sqlite3.connect(target)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return target


def verify_fails_at(path: Path) -> Tampered:
    with pytest.raises(Tampered) as caught:
        verify_store(path)
    return caught.value


def test_a_result_stored_in_other_bytes_is_caught(ledger_file: Path, tmp_path: Path) -> None:
    """Same meaning, other bytes (a space): the result root still matches, the row does not."""
    copy = tampered_with_sql(
        ledger_file,
        tmp_path / "r.sqlite",
        "UPDATE txs SET result = CAST(' ' || CAST(result AS TEXT) AS BLOB)"
        " WHERE height = 4 AND position = 0",
    )
    assert verify_fails_at(copy).height == 4


@pytest.mark.parametrize(
    ("statement", "height"),
    [
        # A transaction row outside every block: `/v1/senders/...` and `/v1/txs/...` would list it.
        (
            "INSERT INTO txs SELECT 9999, id, height, position, 'someone', raw, result FROM txs"
            " WHERE height = 2 AND position = 0",
            6,
        ),
        (
            "INSERT INTO txs SELECT -1, id, height, position, sender, raw, result FROM txs"
            " WHERE height = 2 AND position = 0",
            6,
        ),
        ("INSERT INTO blocks SELECT 0, 'x' || hash, header FROM blocks WHERE height = 1", 6),
        ("INSERT INTO state VALUES ('governance', 'member/st-marys/ghost', x'7b7d')", 6),
        ("DELETE FROM state WHERE key = 'member/st-marys/m-5-2'", 6),
        ("INSERT INTO trie VALUES (x'ff00ff', x'00')", 6),
        ("INSERT INTO log_nodes VALUES (9, 0, x'00')", 6),
        ("INSERT INTO meta VALUES ('admin', x'00')", 6),
        ("UPDATE txs SET log_index = 1000 WHERE height = 5 AND position = 1", 5),
    ],
)
def test_an_added_moved_or_removed_row_is_caught(
    ledger_file: Path, tmp_path: Path, statement: str, height: int
) -> None:
    copy = tampered_with_sql(ledger_file, tmp_path / "a.sqlite", statement)
    assert verify_fails_at(copy).height == height


def test_a_changed_sender_is_named(ledger_file: Path, tmp_path: Path) -> None:
    someone_else = KeyPair.from_seed(b"\x07" * 32).key_id
    copy = tampered_with_sql(
        ledger_file,
        tmp_path / "s.sqlite",
        f"UPDATE txs SET sender = '{someone_else}' WHERE log_index = 9",
    )
    caught = verify_fails_at(copy)
    assert (caught.height, "sender" in caught.message) == (3, True), caught.message


@pytest.mark.parametrize("index", ["txs_by_sender", "txs_by_id"])
def test_an_index_that_disagrees_with_its_table_is_caught(
    ledger_file: Path, tmp_path: Path, index: str
) -> None:
    """The table is restored, the index keeps the forged entry: lookups would lie."""
    copy = tmp_path / "i.sqlite"
    shutil.copy(ledger_file, copy)
    column = "sender" if index == "txs_by_sender" else "id"
    conn = sqlite3.connect(copy)
    (original,) = conn.execute(f"SELECT {column} FROM txs WHERE log_index = 5").fetchone()
    conn.execute(f"UPDATE txs SET {column} = 'forged' WHERE log_index = 5")  # index follows
    conn.commit()
    entry = conn.execute("SELECT * FROM sqlite_master WHERE name = ?", (index,)).fetchone()
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("DELETE FROM sqlite_master WHERE name = ?", (index,))
    conn.commit()
    conn.close()
    conn = sqlite3.connect(copy)  # the index is unknown now: restoring the row leaves it be
    conn.execute(f"UPDATE txs SET {column} = ? WHERE log_index = 5", (original,))
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("INSERT INTO sqlite_master VALUES (?, ?, ?, ?, ?)", entry)
    conn.commit()
    conn.close()
    conn = sqlite3.connect(copy)
    forged = conn.execute(f"SELECT log_index FROM txs WHERE {column} = 'forged'").fetchall()
    conn.close()
    assert forged == [(5,)]  # the lookup now answers with the forged value
    caught = verify_fails_at(copy)
    assert (caught.height, index in caught.message) == (6, True), caught.message


def test_an_added_trigger_is_caught(ledger_file: Path, tmp_path: Path) -> None:
    """A trigger would rewrite what the node writes next (a sender, say)."""
    copy = tampered_with_sql(
        ledger_file,
        tmp_path / "g.sqlite",
        "CREATE TRIGGER rename AFTER INSERT ON txs BEGIN"
        " UPDATE txs SET sender = 'someone' WHERE log_index = new.log_index; END",
    )
    caught = verify_fails_at(copy)
    assert (caught.height, "rename" in caught.message) == (6, True), caught.message


def test_an_untouched_copy_still_verifies_after_these_checks(
    ledger_file: Path, tmp_path: Path
) -> None:
    copy = tampered_with_sql(ledger_file, tmp_path / "u.sqlite", "SELECT 1")
    assert verify_store(copy).ok
