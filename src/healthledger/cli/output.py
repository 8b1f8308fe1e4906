"""How the CLI reports: JSON with --json, rich text otherwise; error codes to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from healthledger.errors import ErrorCode, LedgerError

# No emoji codes: an identifier such as `did:key:z6Mk...` holds `:key:`, which rich would
# print as a key emoji (markup is escaped where printed; emoji codes are not markup).
console = Console(emoji=False)
errors = Console(stderr=True, emoji=False)

# Complete over ErrorCode (a test holds it so): 1 the data is not what the chain says,
# 2 bad input, 3 not there, 4 not allowed, 5 the node cannot now, 6 other software needed.
EXIT_CODES: dict[ErrorCode, int] = {
    ErrorCode.MALFORMED: 2,
    ErrorCode.FLOAT_NOT_ALLOWED: 2,
    ErrorCode.INTEGER_OUT_OF_RANGE: 2,
    ErrorCode.INVALID_FIELD: 2,
    ErrorCode.UNKNOWN_TX_TYPE: 2,
    ErrorCode.WRONG_CHAIN: 2,
    ErrorCode.TOO_LARGE: 2,
    ErrorCode.APPLY_FAILED: 2,
    ErrorCode.DUPLICATE_NONCE: 2,
    ErrorCode.ALREADY_EXISTS: 2,
    ErrorCode.CONFLICT: 2,
    ErrorCode.INVALID_STATE: 2,
    ErrorCode.RATE_LIMITED: 2,
    ErrorCode.CYCLE: 2,
    ErrorCode.MEMPOOL_FULL: 2,
    ErrorCode.INVALID_RESOURCE: 2,
    ErrorCode.DECRYPTION_FAILED: 2,
    ErrorCode.BODY_MISMATCH: 2,
    ErrorCode.REQUEST_EXPIRED: 2,
    ErrorCode.REQUEST_REPLAYED: 2,
    ErrorCode.METHOD_NOT_ALLOWED: 2,
    ErrorCode.TAMPERED: 1,
    ErrorCode.INVALID_PROOF: 1,
    ErrorCode.HEADER_UNVERIFIED: 1,
    ErrorCode.NOT_FOUND: 3,
    ErrorCode.UNKNOWN_PARTY: 3,
    # a route the node does not have (an older node): as not_found was before it had a code
    ErrorCode.NO_ROUTE: 3,
    ErrorCode.UNKNOWN_SENDER: 4,
    ErrorCode.REVOKED_SENDER: 4,
    ErrorCode.UNAUTHORIZED: 4,
    ErrorCode.BAD_SIGNATURE: 4,
    ErrorCode.NO_CONSENT: 4,
    ErrorCode.CONSENT_REVOKED: 4,
    ErrorCode.CONSENT_EXPIRED: 4,
    ErrorCode.NOT_CUSTODIAN: 4,
    ErrorCode.WRONG_AUDIENCE: 4,
    ErrorCode.RECORD_SHREDDED: 3,
    ErrorCode.BLOB_MISSING: 3,
    ErrorCode.HASH_MISMATCH: 1,
    ErrorCode.UNAVAILABLE: 5,
    ErrorCode.TIMEOUT: 5,
    ErrorCode.AUDIT_FAILED: 5,
    # another try may work once the custodian's node is back
    ErrorCode.CUSTODIAN_UNAVAILABLE: 5,
    # a fault of the node, not of the request: another try may work
    ErrorCode.INTERNAL: 5,
    # The folder needs other software (or a new chain), not another try.
    ErrorCode.RULES_VERSION: 6,
}

# The one `--json` flag of every command that reports.
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def exit_code_for(code: ErrorCode) -> int:
    """The one mapping from error codes to exit codes."""
    return EXIT_CODES[code]


def emit(value: Any, as_json: bool) -> None:
    """Print a report: compact JSON for machines, pretty for people."""
    if as_json:
        sys.stdout.write(orjson.dumps(value).decode() + "\n")
    else:
        console.print_json(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def fail(exc: LedgerError, as_json: bool) -> NoReturn:
    """Report an error with its stable code and leave with its exit code."""
    if as_json:
        sys.stdout.write(orjson.dumps({"ok": False, "error": exc.to_dict()}).decode() + "\n")
    else:
        errors.print(f"[bold red]error[/] {escape(f'[{exc.code}]')} {escape(exc.message)}")
    raise typer.Exit(exit_code_for(exc.code))


Advance = Callable[[int, int], None]  # (done, total)
Report = Callable[[str, int, int], None]  # (phase, done, total)


@contextmanager
def progress_bar(description: str, enabled: bool) -> Iterator[Advance]:
    """One progress bar on a terminal; `advance(done, total)` is a no-op elsewhere."""
    with phase_bars(enabled) as report:

        def advance(done: int, total: int) -> None:
            if report is not None:
                report(description, done, total)

        yield advance


@contextmanager
def phase_bars(enabled: bool) -> Iterator[Report | None]:
    """One progress bar per named phase of a long job, on a terminal only."""
    if not enabled or not errors.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield report
