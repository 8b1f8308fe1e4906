"""Passphrase-protected key files (crypto/keys.py): the round trip, a wrong passphrase,
tampering, and the file's mode."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import nacl.pwhash
import pytest

from healthledger.crypto.keys import (
    PROTECTED_FORMAT,
    KeyPair,
    is_protected,
    load_keypair,
    protect_keypair,
    save_keypair,
    unprotect_keypair,
)
from healthledger.errors import ErrorCode, MalformedInput

FAST = {
    "opslimit": nacl.pwhash.argon2id.OPSLIMIT_MIN,
    "memlimit": nacl.pwhash.argon2id.MEMLIMIT_MIN,
}


def rotated() -> KeyPair:
    return KeyPair.generate().rotated_to(KeyPair.generate())


def test_protect_then_unprotect_gives_the_same_keys_and_keyring() -> None:
    keys = rotated()
    sealed = protect_keypair(keys, "pass phrase", **FAST)
    assert is_protected(sealed) and sealed["format"] == PROTECTED_FORMAT
    assert sealed["key_id"] == keys.key_id
    assert keys.signing_seed.hex() not in json.dumps(sealed)
    assert KeyPair.from_dict(unprotect_keypair(sealed, "pass phrase")) == keys


def test_a_wrong_passphrase_is_malformed_input() -> None:
    sealed = protect_keypair(KeyPair.generate(), "right", **FAST)
    with pytest.raises(MalformedInput, match="wrong passphrase") as caught:
        unprotect_keypair(sealed, "wrong")
    assert caught.value.code is ErrorCode.MALFORMED


def test_a_changed_ciphertext_or_salt_is_refused() -> None:
    sealed = protect_keypair(KeyPair.generate(), "right", **FAST)
    salt = sealed["kdf"]["salt"]
    flipped = ("0" if salt[0] != "0" else "1") + salt[1:]
    other_salt = {**sealed, "kdf": {**sealed["kdf"], "salt": flipped}}
    with pytest.raises(MalformedInput):
        unprotect_keypair(other_salt, "right")
    cut = {**sealed, "ciphertext": sealed["ciphertext"][:-8] + "AAAAAAA="}
    with pytest.raises(MalformedInput):
        unprotect_keypair(cut, "right")


def test_an_empty_passphrase_is_refused() -> None:
    with pytest.raises(MalformedInput):
        protect_keypair(KeyPair.generate(), "")


def test_a_saved_protected_file_is_0600_and_needs_its_passphrase(tmp_path: Path) -> None:
    keys = KeyPair.generate()
    path = tmp_path / "k.json"
    save_keypair(keys, path, "pass phrase")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(MalformedInput, match="protected"):
        load_keypair(path)
    assert load_keypair(path, "pass phrase") == keys


def test_a_file_asking_for_an_unbounded_passphrase_cost_is_refused_before_any_work() -> None:
    """The cost parameters come from the file: a crafted one must not hang whoever opens it."""
    protected = protect_keypair(KeyPair.generate(), "pass", opslimit=1, memlimit=8192)
    for field, cost in (("memlimit", 1 << 40), ("opslimit", 10**9), ("opslimit", 0)):
        crafted = {**protected, "kdf": {**protected["kdf"], field: cost}}
        with pytest.raises(MalformedInput, match="cost outside the bounds"):
            unprotect_keypair(crafted, "pass")
