"""`healthledger vault backup|restore`: a node's vault to and from a sealed backup file.

The backup is sealed under a passphrase (HEALTHLEDGER_PASSPHRASE, else asked on the
terminal), never under a key the node holds: a backup must open after the node's
disk is gone. The logic is node/continuity.py; this module parses and prints.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from healthledger.cli.keyfile import PASSPHRASE_ENV, new_passphrase
from healthledger.cli.output import JsonOpt, emit, exit_code_for, fail
from healthledger.errors import ErrorCode, LedgerError, MalformedInput
from healthledger.node.continuity import (
    backup_vault,
    pull_missing,
    replicate_all,
    restore_vault,
)
from healthledger.node.home import Home

DirOpt = Annotated[Path, typer.Option("--dir", help="The node's folder (holds data/vault).")]


def register(app: typer.Typer) -> None:
    vault_app = typer.Typer(help="A node's vault: backup and restore.", no_args_is_help=True)
    app.add_typer(vault_app, name="vault")
    vault_app.command("backup")(backup)
    vault_app.command("restore")(restore)
    vault_app.command("pull")(pull)
    vault_app.command("replicate")(replicate)


def backup(
    directory: DirOpt,
    out: Annotated[Path, typer.Option("--out", help="Backup file to write.")],
    as_json: JsonOpt = False,
) -> None:
    """Write a sealed, consistent backup of the vault (the node may keep running)."""
    try:
        passphrase = new_passphrase()
        partial = out.with_name(out.name + ".part")
        # Owner-only, like key files: the seal is a passphrase, and a copy of the file is
        # all an offline guesser needs.
        partial.unlink(missing_ok=True)  # a stale part file keeps its own mode
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            summary = backup_vault(Home(directory), handle, passphrase)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(out)  # a crash never leaves a half backup under the final name
    except LedgerError as exc:
        fail(exc, as_json)
    except OSError as exc:
        fail(MalformedInput(str(exc)), as_json)
    emit(
        {
            "ok": True,
            "out": str(out),
            "index_bytes": summary.index_bytes,
            "blob_files": summary.blob_files,
            "blob_bytes": summary.blob_bytes,
            "vanished": summary.vanished,
        },
        as_json,
    )


def restore(
    directory: DirOpt,
    source: Annotated[Path | None, typer.Option("--from", help="Backup file to restore.")] = None,
    from_replica: Annotated[
        bool,
        typer.Option(
            "--from-replica",
            help="Instead of a file: fetch every missing ciphertext from the replica"
            " organisation each custodian names in the directory.",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Restore into a vault that is not empty.")
    ] = False,
    only_missing: Annotated[
        bool,
        typer.Option(
            "--only-missing",
            help="Take only blobs of this node's records that its vault lacks"
            " (a successor custodian importing from the old custodian's backup).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Restore a backup, checking every record of this node's organisations against the chain."""
    if from_replica:
        if source is not None:
            fail(MalformedInput("give --from FILE or --from-replica, not both"), as_json)
        _pulled(Home(directory), None, None, as_json)
        return
    if source is None:
        fail(MalformedInput("give --from FILE (a backup) or --from-replica"), as_json)
    try:
        passphrase = _passphrase()
        with source.open("rb") as handle:
            report = restore_vault(Home(directory), handle, passphrase, force, only_missing)
    except LedgerError as exc:
        fail(exc, as_json)
    except OSError as exc:
        fail(MalformedInput(str(exc)), as_json)
    emit(report.wire(), as_json)
    if report.mismatched:  # reported above; the exit code says the data is not the chain's
        raise typer.Exit(exit_code_for(ErrorCode.HASH_MISMATCH))


def pull(
    directory: DirOpt,
    source: Annotated[str, typer.Option("--from", help="API address of the node to ask.")],
    org: Annotated[
        str | None,
        typer.Option(
            help="The organisation that node serves (default: each record's previous custodian)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch the ciphertexts of this node's records that its vault lacks from another node.

    A successor custodian takes moved records from the old custodian's node this way;
    each blob is checked against the chain (blob id, content hash) before it is kept.
    """
    _pulled(Home(directory), source, org, as_json)


def replicate(directory: DirOpt, as_json: JsonOpt = False) -> None:
    """Send every ciphertext of this node's records to the replica its organisation names
    (the node sends each new record itself; this catches up after a replica was down)."""
    try:
        report = replicate_all(Home(directory))
    except LedgerError as exc:
        fail(exc, as_json)
    emit({"ok": not report.failed, "sent": sorted(report.pulled), "failed": report.failed}, as_json)
    if report.failed:
        raise typer.Exit(exit_code_for(ErrorCode.UNAVAILABLE))


def _pulled(home: Home, url: str | None, org: str | None, as_json: bool) -> None:
    try:
        report = pull_missing(home, url, org)
    except LedgerError as exc:
        fail(exc, as_json)
    emit(report.wire(), as_json)
    if report.failed:
        raise typer.Exit(exit_code_for(ErrorCode.BLOB_MISSING))


def _passphrase() -> str:
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is None:
        passphrase = typer.prompt("Passphrase of the backup", hide_input=True)
    return passphrase
