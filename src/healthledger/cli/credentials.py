"""`healthledger credentials ...`: issue, suspend and revoke staff credentials; verify them.

The issuing organisation's key never leaves this machine: `issue` builds the W3C VC 2.0
document here, signs it (`eddsa-jcs-2022`), anchors it, and writes the signed document
to `--out` for its holder. `verify` checks a presented credential (or a file of them)
here against the trust anchor (--trust / --pin): exit 0 when every credential is valid,
2 when one is not.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from healthledger.cli.keyfile import open_key, open_optional_key
from healthledger.cli.output import JsonOpt, console, emit, fail
from healthledger.cli.trust import PinOpt, TrustOpt, anchor_for
from healthledger.client.credentials import (
    Credentials,
    CredentialSpec,
    CredentialVerification,
    FileVerification,
)
from healthledger.client.sdk import Client
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.documents import ce_minutes_of_hours
from healthledger.domains.credentials.presentation import parse_at
from healthledger.errors import ErrorCode, InvalidField, LedgerError, MalformedInput

UrlOpt = Annotated[str, typer.Option("--url", envvar="HEALTHLEDGER_URL", help="Node API.")]
KeyOpt = Annotated[Path, typer.Option("--key", help="Key file of the acting organisation.")]
ReaderKeyOpt = Annotated[
    Path, typer.Option("--key", help="Key file that signs the read (a member's, or your own).")
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded on the ledger).")]
AtOpt = Annotated[
    str | None,
    typer.Option(
        "--at", help="YYYY-MM-DD (the close of that day, UTC) or a dateTime; default now."
    ),
]
DEFAULT_URL = "http://127.0.0.1:8700"
# Exit code of `verify` when a credential is not valid (the checks say why).
NOT_VALID = 2

credentials_app = typer.Typer(
    help="Staff credentials (W3C VC 2.0, eddsa-jcs-2022, Bitstring Status List).",
    no_args_is_help=True,
)


@credentials_app.command("issue")
def issue(
    key: KeyOpt,
    credential_type: Annotated[
        str, typer.Option("--type", help="licence, degree, certification, ce or privilege.")
    ],
    subject: Annotated[str, typer.Option("--subject", help="The member: ORG/MEMBER.")],
    scope: Annotated[str, typer.Option("--scope", help="What it covers (e.g. 'Physician').")],
    jurisdiction: Annotated[str, typer.Option("--jurisdiction", help="e.g. US-MA.")],
    valid_from: Annotated[str, typer.Option("--from", help="YYYY-MM-DD or a dateTime (UTC).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the signed credential.")],
    valid_until: Annotated[
        str | None, typer.Option("--until", help="YYYY-MM-DD or a dateTime (UTC).")
    ] = None,
    ce_hours: Annotated[
        str | None, typer.Option("--ce-hours", help="CE hours (to the minute: 1.5, 0.25).")
    ] = None,
    ce_category: Annotated[str | None, typer.Option("--ce-category", help="CE category.")] = None,
    depends_on: Annotated[
        list[str] | None,
        typer.Option("--depends-on", help="A credential id a privilege depends on; repeat."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The holder's name (in the document only).")
    ] = None,
    local_id: Annotated[
        str | None, typer.Option("--id", help="The issuer's own id for it (default: derived).")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Build, sign (with --key, here) and anchor a credential; write it to --out."""
    try:
        if out.exists():
            raise MalformedInput(f"{out} exists; refusing to overwrite a credential")
        spec = CredentialSpec(
            type=_credential_type(credential_type),
            subject=subject,
            scope=scope,
            jurisdiction=jurisdiction,
            valid_from=parse_moment("--from", valid_from),
            valid_until=None if valid_until is None else parse_moment("--until", valid_until),
            ce_minutes=None if ce_hours is None else ce_minutes_of_hours(ce_hours),
            ce_category=ce_category,
            depends_on=tuple(depends_on or ()),
            name=name,
            local_id=local_id,
        )
        keys = open_key(key)
        with Client(url) as client:
            issued = Credentials(client, keys).issue(spec)
        out.write_text(json.dumps(issued.document, indent=2) + "\n", encoding="utf-8")
    except (LedgerError, OSError) as exc:
        fail(exc if isinstance(exc, LedgerError) else MalformedInput(str(exc)), as_json)
    emit({"ok": True, "id": issued.id, "tx": issued.tx, "height": issued.height,
          "out": str(out)}, as_json)  # fmt: skip


def _status(
    url: str, key: Path, action: str, credential_id: str, reason: str, as_json: bool
) -> None:
    try:
        keys = open_key(key)
        with Client(url) as client:
            committed = getattr(Credentials(client, keys), action)(credential_id, reason)
    except LedgerError as exc:
        fail(exc, as_json)
    emit(committed.wire(), as_json)


@credentials_app.command("suspend")
def suspend(
    credential_id: str,
    key: KeyOpt,
    reason: ReasonOpt,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Suspend one of your credentials (its dependent privileges are suspended with it)."""
    _status(url, key, "suspend", credential_id, reason, as_json)


@credentials_app.command("reinstate")
def reinstate(
    credential_id: str,
    key: KeyOpt,
    reason: ReasonOpt,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Reinstate a suspended credential (dependent privileges stay as they are)."""
    _status(url, key, "reinstate", credential_id, reason, as_json)


@credentials_app.command("revoke")
def revoke(
    credential_id: str,
    key: KeyOpt,
    reason: ReasonOpt,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Revoke one of your credentials, for good (dependent privileges are suspended)."""
    _status(url, key, "revoke", credential_id, reason, as_json)


@credentials_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="A credential, or a presentation of several.")],
    at: AtOpt = None,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="Read anchors signed with this key (else through the "
            "node's public verify route; the proofs are checked here either way).",
        ),
    ] = None,
    trust: TrustOpt = None,
    pin: PinOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Verify presented credentials here: proof, issuer key, hash, status at --at, each
    anchor's state proof against the trust anchor. Exit 0 if all are valid, 2 if not."""
    try:
        moment = None if at is None else parse_at(at)
        keys = open_optional_key(key)
        with Client(url, keys=keys, anchor=anchor_for(url, trust, pin)) as client:
            report = Credentials(client, keys).verify_file(file, moment)
    except LedgerError as exc:
        fail(exc, as_json)
    if as_json:
        emit(report.model_dump(mode="json"), True)
    else:
        _print_report(report)
    if not report.valid:
        raise typer.Exit(NOT_VALID)


def _print_report(report: FileVerification) -> None:
    for result in report.credentials:
        _print_verdict(result)
    verdict = "[bold green]VALID[/]" if report.valid else "[bold red]NOT VALID[/]"
    console.print(f"{verdict}: {len(report.credentials)} credential(s)")


def _print_verdict(result: CredentialVerification) -> None:
    state = "[green]valid[/]" if result.valid else "[red]not valid[/]"
    console.print(f"{escape(result.id or '(no id)')}: {state} at {result.at}")
    for check in result.checks:
        mark = "[green]ok[/]  " if check.get("ok") else "[red]FAIL[/]"
        name = escape(str(check.get("check", "")))
        console.print(f"  {mark} {name}: {escape(str(check.get('message', '')))}")
    against = result.anchor or "nothing: no ledger state was proven"
    console.print(f"  verified against: {escape(against)}")


@credentials_app.command("show")
def show(
    credential_id: str,
    key: ReaderKeyOpt,
    trust: TrustOpt = None,
    pin: PinOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A credential's anchor and status history, proven against the trust anchor."""
    try:
        keys = open_key(key)
        with Client(url, keys=keys, anchor=anchor_for(url, trust, pin)) as client:
            proven = Credentials(client, keys).proven_anchor(credential_id)
        if proven.view.value is None:
            raise LedgerError(f"no credential {credential_id} on the ledger", ErrorCode.NOT_FOUND)
    except LedgerError as exc:
        fail(exc, as_json)
    answer = {"anchor": proven.view.value, "proven_at_height": proven.view.height,
              "verified_against": proven.label}  # fmt: skip
    emit(answer, as_json)


@credentials_app.command("status-list")
def status_list(
    issuer: str,
    purpose: Annotated[str, typer.Argument(help="revocation or suspension.")],
    number: Annotated[int, typer.Argument(help="The issuer's list number (from 0).")],
    index: Annotated[
        int | None, typer.Option("--index", help="Also show the bit of this index.")
    ] = None,
    trust: TrustOpt = None,
    pin: PinOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Fetch a status list; check its encodedList's bits against the hash proven on chain."""
    try:
        with Client(url, anchor=anchor_for(url, trust, pin)) as client:
            checked = Credentials(client, None).status_list(issuer, _purpose(purpose), number)
        answer: dict[str, Any] = checked.summary()
        if index is not None:
            answer["index"] = index
            answer["set"] = checked.bit(index)
    except LedgerError as exc:
        fail(exc, as_json)
    emit(answer, as_json)


def parse_moment(option: str, text: str) -> datetime:
    """A date (midnight UTC) or a dateTime with its zone."""
    try:
        if len(text) == len("YYYY-MM-DD"):
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidField(f"{option}: not a date or a dateTime: {text!r}") from exc
    if moment.tzinfo is None:
        raise InvalidField(f"{option}: a dateTime needs its zone (Z for UTC)")
    return moment


def _credential_type(text: str) -> st.CredentialType:
    for known in st.CREDENTIAL_TYPES:
        if text == known:
            return known  # type: ignore[return-value]
    raise InvalidField(f"--type: one of {', '.join(st.CREDENTIAL_TYPES)}, not {text!r}")


def _purpose(text: str) -> st.StatusPurpose:
    for known in st.STATUS_PURPOSES:
        if text == known:
            return known
    raise InvalidField(f"purpose: one of {', '.join(st.STATUS_PURPOSES)}, not {text!r}")


def register(app: typer.Typer) -> None:
    app.add_typer(credentials_app, name="credentials")
