"""`healthledger orgs ...`: the directory of where each organisation's data is served,
and `healthledger orgs gln ...`: the GLNs organisations hold, registered by quorum."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from healthledger.cli.keyfile import open_key
from healthledger.cli.output import JsonOpt, emit, fail
from healthledger.cli.trust import PinOpt, TrustOpt, anchor_for
from healthledger.client.parties import party_resolver
from healthledger.client.sdk import Client, require_committed
from healthledger.crypto.keys import load_keypair, parse_key_id
from healthledger.domains.governance.state import OrgEndpoint
from healthledger.errors import LedgerError, MalformedInput

UrlOpt = Annotated[str, typer.Option("--url", envvar="HEALTHLEDGER_URL", help="Node API.")]
DEFAULT_URL = "http://127.0.0.1:8700"

orgs_app = typer.Typer(
    help="The directory: organisations' node endpoints and node keys.", no_args_is_help=True
)


def node_key_id(value: str) -> str:
    """A node's public key: 64 hex digits, or a node key file (its public half is taken)."""
    path = Path(value)
    if path.exists():
        return load_keypair(path).key_id
    return parse_key_id(value, "--node-key")


def publish_payload(
    endpoints: list[str],
    node_key: str,
    replica: str | None,
    replica_for: list[str] | None = None,
) -> dict[str, Any]:
    """The `org.endpoint` payload (shared with `net up`, which publishes every node's)."""
    payload: dict[str, Any] = {"endpoints": endpoints, "node_key": node_key}
    if replica is not None:
        payload["replica"] = replica
    if replica_for:
        payload["replica_for"] = replica_for
    return payload


@orgs_app.command("publish")
def publish(
    key: Annotated[Path, typer.Option("--key", help="The organisation's own key file.")],
    endpoint: Annotated[
        list[str], typer.Option("--endpoint", help="Its node's API URL (repeat for up to 4).")
    ],
    node_key: Annotated[
        str | None,
        typer.Option(
            "--node-key",
            help="The node's public key (hex) or its node_key.json; default: the node at --url's.",
        ),
    ] = None,
    replica: Annotated[
        str | None,
        typer.Option(help="The organisation whose node keeps replicas of its ciphertexts."),
    ] = None,
    replica_for: Annotated[
        list[str] | None,
        typer.Option(
            "--replica-for",
            help="An organisation whose replicas this one's node agrees to keep (repeat).",
        ),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Publish (or change) where this organisation's node serves and the key it answers with."""
    try:
        with Client(url) as client:
            keys = open_key(key)
            answer_key = node_key_id(node_key) if node_key else _served_node_key(client)
            signer = client.signer(keys)
            tx = signer.sign(
                "org.endpoint", publish_payload(endpoint, answer_key, replica, replica_for)
            )
            report = require_committed(client.submit(tx, wait=True))
            entry = next(e for e in report.result.events if e["type"] == "org.endpoint")
    except LedgerError as exc:
        fail(exc, as_json)
    emit({"ok": True, "org": entry["org"], "height": report.height, "tx": report.id}, as_json)


def _served_node_key(client: Client) -> str:
    key = client.info().node_key
    if key is None:
        raise MalformedInput("this node names no node key: give --node-key")
    return key


@orgs_app.command("list")
def list_orgs(url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Every published entry, each proven against this client's anchor."""
    try:
        with Client(url) as client:
            entries = client.orgs()
    except LedgerError as exc:
        fail(exc, as_json)
    if as_json:
        emit({"orgs": [_row(e) for e in entries]}, True)
        return
    if not entries:  # a silent terminal would look like a failure
        typer.echo("no organisation has published a directory entry (healthledger orgs publish)")
    for entry in entries:
        replica = f"  replica {entry.replica}" if entry.replica else ""
        typer.echo(
            f"{entry.org:<20} {' '.join(entry.endpoints)}  node key {entry.node_key[:16]}…"
            f"  (height {entry.height}){replica}"
        )


def _row(entry: OrgEndpoint) -> dict[str, Any]:
    return entry.model_dump(mode="json")


gln_app = typer.Typer(
    help="GS1 GLNs: claim (approved by quorum with `healthledger org approve`), release, resolve.",
    no_args_is_help=True,
)
KeyFileOpt = Annotated[Path, typer.Option("--key", help="The organisation's own key file.")]


@gln_app.command("claim")
def gln_claim(
    key: KeyFileOpt,
    party: Annotated[str | None, typer.Option("--party", help="Its party GLN.")] = None,
    location: Annotated[
        list[str] | None, typer.Option("--location", help="A location GLN (repeat, up to 64).")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Claim GLNs for this organisation: a proposal the other organisations approve."""
    try:
        with Client(url) as client:
            proposal = client.claim_glns(open_key(key), party, location or [])
    except LedgerError as exc:
        fail(exc, as_json)
    emit(
        {
            "ok": True,
            "proposal": proposal,
            "next": f"the other organisations run: healthledger org approve {proposal}",
        },
        as_json,
    )


@gln_app.command("release")
def gln_release(
    key: KeyFileOpt,
    gln: Annotated[list[str], typer.Argument(help="The GLNs to free.")],
    org: Annotated[
        str | None,
        typer.Option("--org", help="Propose freeing one GLN of this other organisation."),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Free this organisation's GLNs at once, or propose freeing another's (by quorum)."""
    try:
        with Client(url) as client:
            report = client.release_glns(open_key(key), gln, org)
    except LedgerError as exc:
        fail(exc, as_json)
    events = report.result.events
    proposal = next((e["proposal"] for e in events if e["type"] == "gln.proposed"), None)
    released = any(e["type"] == "gln.released" for e in events)
    emit({"ok": True, "released": released, "proposal": proposal}, as_json)


@gln_app.command("resolve")
def gln_resolve(
    uri: Annotated[
        str, typer.Argument(help="urn:epc:id:sgln:…, urn:epc:id:pgln:…, a Digital Link, a GLN.")
    ],
    trust: TrustOpt = None,
    pin: PinOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """The organisation a party or location URI (or a bare GLN) names.

    Proven against the trust anchor (--trust / --pin).
    """
    try:
        with Client(url, anchor=anchor_for(url, trust, pin)) as client:
            # A bare GLN reads as its Digital Link (AI 414): the same registry answers.
            target = f"https://id.gs1.org/414/{uri}" if uri.isdigit() else uri
            org = party_resolver(client)(target)
    except LedgerError as exc:
        fail(exc, as_json)
    if as_json:
        emit({"uri": uri, "org": org}, True)
    else:
        typer.echo(org)


@gln_app.command("show")
def gln_show(
    org: Annotated[str, typer.Argument(help="The organisation.")],
    trust: TrustOpt = None,
    pin: PinOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """An organisation's GLNs, proven against the trust anchor (--trust / --pin)."""
    try:
        with Client(url, anchor=anchor_for(url, trust, pin)) as client:
            held = client.org_glns(org)
    except LedgerError as exc:
        fail(exc, as_json)
    party = None if held is None else held.party
    locations = [] if held is None else list(held.locations)
    emit({"org": org, "party": party, "locations": locations}, as_json)


def register(app: typer.Typer) -> None:
    orgs_app.add_typer(gln_app, name="gln")
    app.add_typer(orgs_app, name="orgs")


__all__ = ["node_key_id", "publish_payload", "register"]
