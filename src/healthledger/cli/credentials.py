"""`healthledger credentials ...`: issue, suspend and revoke staff credentials; verify them.

The issuing organisation's key never leaves this machine: `issue` builds the W3C VC 2.0
document here, signs it (`eddsa-jcs-2022`), anchors it, and writes the signed document
to `--out` for its holder. `verify` checks a presented credential (or a file of them)
here against the trust anchor (--trust / --pin): exit 0 when every credential is valid,
2 when one is not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import JsonValue
from rich.markup import escape

from healthledger.cli.keyfile import open_key, open_optional_key
from healthledger.cli.output import JsonOpt, console, emit, fail
from healthledger.cli.trust import PinOpt, TrustOpt, anchor_for
from healthledger.client.credentials import (
    Credentials,
    CredentialSpec,
    CredentialVerification,
    FileVerification,
    Issued,
    read_presentation,
)
from healthledger.client.sdk import Client, Committed
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.documents import ce_minutes_of_hours
from healthledger.domains.credentials.messages import StatusAction
from healthledger.domains.credentials.presentation import parse_at
from healthledger.errors import InvalidField, LedgerError, MalformedInput, NotFound

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
CredentialArg = Annotated[
    str,
    typer.Argument(
        help="The credential's id: ISSUER:LOCAL, or its document id "
        "(urn:healthledger:credential:ISSUER:LOCAL)."
    ),
]
MemberArg = Annotated[str, typer.Argument(help="The member: ORG/MEMBER.")]
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
        spec = CredentialSpec(
            type=_credential_type(credential_type),
            subject=subject,
            scope=scope,
            jurisdiction=jurisdiction,
            valid_from=parse_moment("--from", valid_from),
            valid_until=None if valid_until is None else parse_moment("--until", valid_until),
            ce_minutes=None if ce_hours is None else _minutes("--ce-hours", ce_hours),
            ce_category=ce_category,
            depends_on=tuple(depends_on or ()),
            name=name,
            local_id=local_id,
        )
        keys = open_key(key)
        with Client(url) as client:
            issued = _issue_to(out, lambda: Credentials(client, keys).issue(spec))
    except LedgerError as exc:
        fail(exc, as_json)
    emit({"ok": True, "id": issued.id, "tx": issued.tx, "height": issued.height,
          "out": str(out)}, as_json)  # fmt: skip


def _issue_to(out: Path, issue: Callable[[], Issued]) -> Issued:
    """Claim --out before anchoring: a credential anchored but never written would be on
    the ledger with no document for its holder. Nothing anchored: the claim is undone."""
    try:
        handle = out.open("x", encoding="utf-8")
    except FileExistsError as exc:
        raise MalformedInput(f"{out} exists; refusing to overwrite a credential") from exc
    except OSError as exc:
        raise MalformedInput(f"cannot write {out}: {exc}") from exc
    with handle:
        try:
            issued = issue()
        except BaseException:
            handle.close()
            out.unlink(missing_ok=True)
            raise
        handle.write(json.dumps(issued.document, indent=2) + "\n")
    return issued


def _signed(url: str, key: Path, as_json: bool, act: Callable[[Credentials], JsonValue]) -> None:
    """Act with --key (a signed read or a transaction); report the answer, or the error's
    code and its exit code. Input is parsed inside `act`, so a bad one fails the same way."""
    try:
        keys = open_key(key)
        with Client(url) as client:
            answer = act(Credentials(client, keys))
    except LedgerError as exc:
        fail(exc, as_json)
    emit(answer, as_json)


def _commit(url: str, key: Path, as_json: bool, send: Callable[[Credentials], Committed]) -> None:
    """Sign with --key, submit, wait; report the committed result or the refusal's code."""
    _signed(url, key, as_json, lambda c: send(c).wire())


def _status_command(action: StatusAction, summary: str) -> None:
    """The three status commands differ only in their action (the SDK checks the rest)."""

    def command(
        credential_id: CredentialArg,
        key: KeyOpt,
        reason: ReasonOpt,
        url: UrlOpt = DEFAULT_URL,
        as_json: JsonOpt = False,
    ) -> None:
        _commit(url, key, as_json, lambda c: c.change_status(credential_id, action, reason))

    command.__doc__ = summary
    credentials_app.command(action)(command)


_status_command(
    "suspend", "Suspend one of your credentials (its dependent privileges are suspended with it)."
)
_status_command(
    "reinstate", "Reinstate a suspended credential (dependent privileges stay as they are)."
)
_status_command(
    "revoke", "Revoke one of your credentials, for good (dependent privileges are suspended)."
)


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
    """Verify presented credentials here; exit 0 if all are valid, 2 if not.

    Each credential's proof, issuer key, anchored hash, status at --at and validity,
    against its anchor, whose state proof is checked against the trust anchor.
    """
    try:
        moment = _moment(at)
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
    against = result.verified_against or "nothing: no ledger state was proven"
    console.print(f"  verified against: {escape(against)}")


@credentials_app.command("show")
def show(
    credential_id: CredentialArg,
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
            raise NotFound(f"no credential {credential_id} on the ledger")
    except LedgerError as exc:
        fail(exc, as_json)
    # The status now is derived from the history (the record holds no status field).
    status = st.CredentialAnchor.model_validate(proven.view.value).status
    answer = {"anchor": proven.view.value, "status": status,
              "proven_at_height": proven.view.height,
              "verified_against": proven.label}  # fmt: skip
    emit(answer, as_json)


@credentials_app.command("status-list")
def status_list(
    issuer: Annotated[str, typer.Argument(help="The issuing organisation's id.")],
    purpose: Annotated[str, typer.Argument(help="revocation or suspension.")],
    number: Annotated[int, typer.Argument(help="The issuer's list number (from 0).")],
    index: Annotated[
        int | None, typer.Option("--index", help="Also show the bit of this index.")
    ] = None,
    sign: Annotated[
        Path | None,
        typer.Option("--sign", help="The issuer's key: also write the list signed by it."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write the signed list (--sign).")
    ] = None,
    trust: TrustOpt = None,
    pin: PinOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Fetch a status list; check its encodedList's bits against the hash proven on chain.

    With --sign and --out, the issuer writes the checked list as its own signed
    BitstringStatusListCredential (eddsa-jcs-2022), for verifiers outside the ledger.
    """
    try:
        if (sign is None) != (out is None):
            raise MalformedInput("--sign and --out go together")
        keys = open_optional_key(sign)
        with Client(url, anchor=anchor_for(url, trust, pin)) as client:
            credentials = Credentials(client, keys)
            checked = credentials.status_list(issuer, _purpose(purpose), number)
            answer: dict[str, Any] = checked.summary()
            if out is not None:
                signed = credentials.signed_status_list(checked)
                out.write_text(json.dumps(signed, indent=2) + "\n", encoding="utf-8")
                answer["signed"] = str(out)
        if index is not None:
            answer["index"] = index
            answer["set"] = checked.bit(index)  # the bit at --index (set_bits: how many)
    except (LedgerError, OSError) as exc:
        fail(exc if isinstance(exc, LedgerError) else MalformedInput(str(exc)), as_json)
    emit(answer, as_json)


@credentials_app.command("file")
def member_file(
    member: MemberArg,
    key: ReaderKeyOpt,
    at: AtOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A member's credential file: credentials in order, CE per cycle, exclusions, shares.

    Signed with --key: the member's, their organisation's, a regulator's, an auditor's,
    an organisation where they hold a privilege, or a share's grantee. The node's word:
    no state proof comes with it (`verify` checks each credential against the anchor).
    """
    _signed(url, key, as_json, lambda c: c.file(member, _moment(at)).model_dump(mode="json"))


@credentials_app.command("fhir")
def member_fhir(
    member: MemberArg,
    key: ReaderKeyOpt,
    at: AtOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A member's credential file as a FHIR R4 Bundle (statuses at --at).

    The Practitioner with a qualification per credential, and a VerificationResult per
    credential. The same readers as `file`; the node's word, as `file` is.
    """
    _signed(url, key, as_json, lambda c: c.fhir(member, _moment(at)))


@credentials_app.command("flags")
def flags(
    org: Annotated[str, typer.Argument(help="The organisation (yours).")],
    key: ReaderKeyOpt,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Members excluded by a regulator while they hold privileges at the organisation."""
    _signed(url, key, as_json, lambda c: c.flags(org).model_dump(mode="json"))


@credentials_app.command("share")
def share(
    grantee: Annotated[str, typer.Argument(help="An organisation id, or ORG/MEMBER.")],
    key: Annotated[Path, typer.Option("--key", help="The member's own key file.")],
    until: Annotated[
        str, typer.Option("--until", help="YYYY-MM-DD (through that day) or a dateTime.")
    ],
    credential: Annotated[
        list[str] | None,
        typer.Option("--credential", help="Share only this credential; repeat (default: all)."),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Share your credential file (or chosen credentials) with an organisation or a person."""
    _commit(url, key, as_json, lambda c: c.share(grantee, parse_at(until), credential or ()))


@credentials_app.command("unshare")
def unshare(
    share_id: Annotated[str, typer.Argument(help="The share's id (ORG/MEMBER:N).")],
    key: Annotated[Path, typer.Option("--key", help="The member's own key file.")],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """End one of your shares now."""
    _commit(url, key, as_json, lambda c: c.unshare(share_id))


@credentials_app.command("ce-rule")
def ce_rule(
    key: KeyOpt,
    hours: Annotated[str, typer.Option("--hours", help="CE hours required per licence cycle.")],
    effective: Annotated[str, typer.Option("--from", help="In force from: YYYY-MM-DD.")],
    category: Annotated[
        list[str] | None,
        typer.Option("--category", help="NAME:HOURS, at least that much of a category; repeat."),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A board publishes its CE requirement per licence cycle (a new version of its rule)."""

    def send(c: Credentials) -> Committed:
        categories = dict(_category(text) for text in category or ())
        start = parse_moment("--from", effective)
        return c.ce_rule(_minutes("--hours", hours), start, categories)

    _commit(url, key, as_json, send)


def _category(text: str) -> tuple[str, int]:
    name, sep, hours = text.rpartition(":")
    if not sep or not name:
        raise InvalidField(f"--category {text!r}: expected NAME:HOURS (AMA-1:20)")
    return name, _minutes(f"--category {name}", hours)


def _minutes(option: str, hours: str) -> int:
    """Hours as whole minutes, refused with the domain's code but naming the option (the
    domain's message speaks of a document's ceMinutes, which this person did not write)."""
    try:
        return ce_minutes_of_hours(hours)
    except LedgerError as exc:
        message = f"{option} {hours!r}: a positive number of hours to the minute (1.5, 0.25)"
        raise LedgerError(message, exc.code) from exc


ListOpt = Annotated[str, typer.Option("--list", help="The regulator's exclusion list's name.")]
CodeOpt = Annotated[str, typer.Option("--reason", help="A short reason code.")]


ExclusionSend = Callable[[Credentials, str, str, str], Committed]


def _exclusion_command(name: str, send: ExclusionSend, summary: str) -> None:
    """`exclude` and `lift` differ only in the SDK call they make."""

    def command(
        member: MemberArg,
        key: KeyOpt,
        exclusion_list: ListOpt,
        reason: CodeOpt,
        url: UrlOpt = DEFAULT_URL,
        as_json: JsonOpt = False,
    ) -> None:
        _commit(url, key, as_json, lambda c: send(c, member, exclusion_list, reason))

    command.__doc__ = summary
    credentials_app.command(name)(command)


_exclusion_command(
    "exclude",
    Credentials.exclude,
    "A regulator excludes a member (flagged to every organisation they hold privileges at).",
)
_exclusion_command("lift", Credentials.lift, "A regulator lifts its exclusion of a member.")


@credentials_app.command("psv")
def psv(
    credential_id: CredentialArg,
    key: KeyOpt,
    method: Annotated[str, typer.Option("--method", help="ledger, issuer_api, board_website...")],
    result: Annotated[str, typer.Option("--result", help="ok or discrepancy.")] = "ok",
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Record a primary-source verification of a credential (reusable by others)."""
    _commit(url, key, as_json, lambda c: c.psv(credential_id, method, result))


@credentials_app.command("psv-reuse")
def psv_reuse(
    psv_id: Annotated[str, typer.Argument(help="The verification's id (ISSUER:LOCAL/N).")],
    key: KeyOpt,
    decision: Annotated[str, typer.Option("--decision", help="The decision it supports.")],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Rely on another organisation's primary-source verification (each reuse recorded)."""
    _commit(url, key, as_json, lambda c: c.psv_reuse(psv_id, decision))


issuer_app = typer.Typer(help="Issuers outside the ledger (registered by a regulator).")
credentials_app.add_typer(issuer_app, name="issuer")


@issuer_app.command("register")
def issuer_register(
    handle: Annotated[str, typer.Argument(help="Its handle: the issuer part of its ids.")],
    key: KeyOpt,
    did: Annotated[str, typer.Option("--did", help="Its did:key (Ed25519).")],
    name: Annotated[str, typer.Option("--name", help="Its name.")],
    credential_type: Annotated[
        list[str], typer.Option("--type", help="A credential type it issues; repeat.")
    ],
    jurisdiction: Annotated[str, typer.Option("--jurisdiction", help="e.g. GB.")],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A regulator registers an issuer outside the ledger by its did:key."""

    def send(c: Credentials) -> Committed:
        types = [_credential_type(text) for text in credential_type]
        return c.register_issuer(handle, did, name, types, jurisdiction)

    _commit(url, key, as_json, send)


@issuer_app.command("remove")
def issuer_remove(
    handle: Annotated[str, typer.Argument(help="The registered issuer's handle.")],
    key: KeyOpt,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """The registering regulator stops new credentials of an external issuer."""
    _commit(url, key, as_json, lambda c: c.remove_issuer(handle))


@credentials_app.command("accept")
def accept(
    file: Annotated[Path, typer.Argument(help="The credential an external issuer signed.")],
    key: Annotated[
        Path,
        typer.Option(
            "--key", help="The key of the subject's organisation, which attests the proof holds."
        ),
    ],
    issuer: Annotated[str, typer.Option("--issuer", help="The registered issuer's handle.")],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Anchor, as the subject's organisation, a credential a registered external issuer
    signed (its proof is checked first, against the did registered on chain)."""
    _commit(url, key, as_json, lambda c: c.accept(_single_credential(file), issuer))


def _single_credential(file: Path) -> dict[str, Any]:
    credentials = read_presentation(file).credentials
    if len(credentials) != 1:
        raise MalformedInput(f"{file}: one credential to accept, not {len(credentials)}")
    return credentials[0]


def _moment(at: str | None) -> int | None:
    """--at as ms since the epoch (a date: its close, UTC); none: now."""
    return None if at is None else parse_at(at)


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
