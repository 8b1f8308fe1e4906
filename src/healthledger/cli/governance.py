"""`healthledger org ...` and `healthledger member ...`: capabilities and approvals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from healthledger.cli.keyfile import open_key
from healthledger.cli.output import JsonOpt, emit, fail
from healthledger.client.sdk import Client, Committed, require_committed
from healthledger.errors import LedgerError, MalformedInput

UrlOpt = Annotated[str, typer.Option("--url", envvar="HEALTHLEDGER_URL", help="Node API.")]
KeyOpt = Annotated[Path, typer.Option("--key", help="Key file of the acting organisation.")]
GrantOpt = Annotated[str | None, typer.Option("--grant", help="Capability to grant.")]
WithdrawOpt = Annotated[str | None, typer.Option("--withdraw", help="Capability to withdraw.")]
DEFAULT_URL = "http://127.0.0.1:8700"

org_app = typer.Typer(
    help="Organisations: capabilities by quorum, approvals.", no_args_is_help=True
)
member_app = typer.Typer(help="An organisation's members: capabilities.", no_args_is_help=True)


def _change(grant: str | None, withdraw: str | None) -> tuple[str, str]:
    if (grant is None) == (withdraw is None):
        raise MalformedInput("give exactly one of --grant CAPABILITY or --withdraw CAPABILITY")
    return ("grant", grant) if grant is not None else ("withdraw", str(withdraw))


def _run(url: str, key: Path, tx_type: str, payload: dict[str, Any]) -> Committed:
    """Sign, submit, wait; a refused or failed transaction becomes its LedgerError."""
    with Client(url) as client:
        signer = client.signer(open_key(key))
        return require_committed(client.submit(signer.sign(tx_type, payload), wait=True))


def _events(report: Committed) -> list[dict[str, Any]]:
    return list(report.result.events)


@org_app.command("propose")
def org_propose(
    key: KeyOpt,
    org_id: Annotated[str, typer.Argument(help="The organisation the capability is for.")],
    grant: GrantOpt = None,
    withdraw: WithdrawOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Propose granting an organisation a capability, or withdrawing it (by quorum)."""
    try:
        action, capability = _change(grant, withdraw)
        payload = {"action": action, "org_id": org_id, "capability": capability}
        events = _events(_run(url, key, "capability.propose", payload))
    except LedgerError as exc:
        fail(exc, as_json)
    proposal = next(e["proposal"] for e in events if e["type"] == "capability.proposed")
    executed = any(e["type"] == "org.proposal_executed" for e in events)
    emit({"ok": True, "proposal": proposal, "executed": executed}, as_json)


@org_app.command("approve")
def org_approve(
    key: KeyOpt,
    proposal: Annotated[str, typer.Argument(help="The proposal id (prop-…).")],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Approve an open proposal: an admission, a removal or a capability."""
    try:
        events = _events(_run(url, key, "org.approve", {"proposal_id": proposal}))
    except LedgerError as exc:
        fail(exc, as_json)
    executed = any(e["type"] == "org.proposal_executed" for e in events)
    emit({"ok": True, "proposal": proposal, "executed": executed}, as_json)


@member_app.command("capability")
def member_capability(
    key: KeyOpt,
    member_id: Annotated[str, typer.Argument(help="The member, enrolled by this organisation.")],
    grant: GrantOpt = None,
    withdraw: WithdrawOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Pass one of the organisation's capabilities to a member, or take it back."""
    try:
        action, capability = _change(grant, withdraw)
        payload = {"action": action, "member_id": member_id, "capability": capability}
        _run(url, key, "member.capability", payload)
    except LedgerError as exc:
        fail(exc, as_json)
    emit({"ok": True, "member": member_id, action: capability}, as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")
    app.add_typer(member_app, name="member")


__all__ = ["register"]
