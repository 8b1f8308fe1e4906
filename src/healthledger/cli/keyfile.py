"""Key files as the CLI opens and writes them: plain, or protected by a passphrase.

A protected key file (crypto/keys.py protect_keypair) needs its passphrase: from the
environment variable HEALTHLEDGER_PASSPHRASE when set (for scripts), else asked on the
terminal with hidden input. Every `--key` option goes through `open_key`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import typer
import typer.exceptions

from healthledger.crypto.keys import KeyPair, is_protected, load_keypair
from healthledger.errors import MalformedInput

PASSPHRASE_ENV = "HEALTHLEDGER_PASSPHRASE"


def _asked(prompt: str, confirm: bool) -> str:
    """A passphrase typed on the terminal (hidden); none typed is a clear error."""
    try:
        answer: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    except (click.exceptions.Abort, typer.exceptions.Abort) as exc:
        raise MalformedInput(f"no passphrase given (set {PASSPHRASE_ENV} in scripts)") from exc
    return answer


def new_passphrase() -> str:
    """The passphrase to protect a key file with: the environment's, or typed twice."""
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is None:
        passphrase = _asked("Passphrase for the key file", confirm=True)
    if not passphrase:
        raise MalformedInput("a protected key file needs a non-empty passphrase")
    return passphrase


def _is_protected_file(path: Path) -> bool:
    try:
        return is_protected(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return False  # load_keypair says what is wrong with it


def open_key(path: Path) -> KeyPair:
    """The keys in a key file; a protected one is opened with its passphrase."""
    if not _is_protected_file(path):
        return load_keypair(path)
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is None:
        passphrase = _asked(f"Passphrase for {path}", confirm=False)
    return load_keypair(path, passphrase)


def open_optional_key(path: Path | None) -> KeyPair | None:
    """`open_key` for an optional `--key`."""
    return None if path is None else open_key(path)
