"""`healthledger keys` writes passphrase-protected key files, and every `--key` opens them:
the passphrase typed twice (hidden) or read from HEALTHLEDGER_PASSPHRASE."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from healthledger.cli.keyfile import PASSPHRASE_ENV
from healthledger.cli.main import app
from healthledger.cli.output import exit_code_for
from healthledger.crypto.keys import (
    PROTECTED_FORMAT,
    KeyPair,
    load_keypair,
    save_keypair,
)
from healthledger.errors import ErrorCode
from healthledger.ledger.transaction import decode_transaction

PASSPHRASE = "correct horse battery staple"


def invoke(args: list[str], *, typed: str | None = None, env: str | None = None) -> tuple[int, str]:
    environment = {PASSPHRASE_ENV: env} if env is not None else {}
    outcome = CliRunner().invoke(app, args, input=typed, env=environment)
    return outcome.exit_code, outcome.stdout


@pytest.fixture(autouse=True)
def no_passphrase_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)


def test_keys_new_protect_asks_twice_and_writes_a_0600_protected_file(tmp_path: Path) -> None:
    out = tmp_path / "me.json"
    code, text = invoke(
        ["keys", "new", str(out), "--protect", "--json"], typed=f"{PASSPHRASE}\n{PASSPHRASE}\n"
    )
    assert code == 0, text
    summary = json.loads(text.splitlines()[-1])
    data = json.loads(out.read_text())
    assert data["format"] == PROTECTED_FORMAT and data["key_id"] == summary["key_id"]
    assert "signing_seed" not in data and "encryption_secret" not in data
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert load_keypair(out, PASSPHRASE).key_id == summary["key_id"]


def test_the_two_typed_passphrases_must_match(tmp_path: Path) -> None:
    out = tmp_path / "me.json"
    code, _text = invoke(["keys", "new", str(out), "--protect"], typed="one phrase\nanother\n")
    assert code == exit_code_for(ErrorCode.MALFORMED)  # asked again, then no more input
    assert not out.exists()


def test_keys_protect_reads_the_passphrase_from_the_environment(tmp_path: Path) -> None:
    plain = tmp_path / "plain.json"
    keys = KeyPair.generate()
    save_keypair(keys, plain)
    out = tmp_path / "protected.json"
    protect = ["keys", "protect", str(plain), "--out", str(out), "--json"]
    code, text = invoke(protect, env=PASSPHRASE)
    assert code == 0, text
    assert json.loads(text)["protected"] is True
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert load_keypair(out, PASSPHRASE) == keys
    assert load_keypair(plain) == keys  # the plain file is left for its owner to delete
    code, _ = invoke(["keys", "protect", str(plain), "--out", str(out)], env=PASSPHRASE)
    assert code == exit_code_for(ErrorCode.MALFORMED)  # never overwrites a key


def test_a_key_option_opens_a_protected_file(tmp_path: Path) -> None:
    keys = KeyPair.generate()
    key_file = tmp_path / "protected.json"
    save_keypair(keys, key_file, PASSPHRASE)
    args = ["tx", "sign", "--key", str(key_file), "--type", "patient.register"]
    args += ["--nonce", "1", "--chain-id", "test-chain", "--payload", "{}"]
    code, text = invoke(args, env=PASSPHRASE)
    assert code == 0, text
    tx = decode_transaction(text.strip())
    assert tx.sender == keys.key_id
    tx.verify_signature()
    code, typed = invoke(args, typed=f"{PASSPHRASE}\n")  # asked on the terminal instead
    assert code == 0 and decode_transaction(typed.splitlines()[-1]).sender == keys.key_id


def test_a_wrong_or_missing_passphrase_is_a_clear_error_with_its_exit_code(tmp_path: Path) -> None:
    key_file = tmp_path / "protected.json"
    save_keypair(KeyPair.generate(), key_file, PASSPHRASE)
    code, text = invoke(["keys", "show", str(key_file), "--json"], env="not the passphrase")
    assert code == exit_code_for(ErrorCode.MALFORMED) == 2
    error = json.loads(text)["error"]
    assert error["code"] == "malformed" and "wrong passphrase" in error["message"]
    code, text = invoke(["keys", "show", str(key_file), "--json"], typed="")
    assert code == 2
    assert "no passphrase given" in json.loads(text.splitlines()[-1])["error"]["message"]
