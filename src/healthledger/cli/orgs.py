"""`healthledger orgs ...`: the directory of where each organisation's data is served."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from healthledger.cli.keyfile import open_key
from healthledger.cli.output import JsonOpt, emit, fail
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


def register(app: typer.Typer) -> None:
    app.add_typer(orgs_app, name="orgs")


__all__ = ["node_key_id", "publish_payload", "register"]
