"""`healthledger`: init a network folder, keys, run a node, submit, query, prove, verify."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from healthledger.api.serve import serve
from healthledger.app.verify import verify_store
from healthledger.app.views import SubmitReport
from healthledger.cli.keyfile import new_passphrase, open_key, open_optional_key
from healthledger.cli.output import JsonOpt, emit, fail, progress_bar
from healthledger.cli.trust import PinOpt, TrustOpt, anchor_for
from healthledger.client.sdk import Client, Signer
from healthledger.crypto.keys import (
    KeyPair,
    derive_patient_id,
    parse_key_id,
    save_keypair,
)
from healthledger.domains.governance.messages import voucher_message
from healthledger.errors import LedgerError, MalformedInput
from healthledger.ledger.transaction import decode_transaction
from healthledger.node.home import DEFAULT_PORT, Home, init_home, parse_org_arg
from healthledger.node.node import Node

app = typer.Typer(
    help="HealthLedger: a permissioned blockchain for healthcare.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Key files.", no_args_is_help=True)
node_app = typer.Typer(help="Run a node.", no_args_is_help=True)
tx_app = typer.Typer(help="Submit and read transactions.", no_args_is_help=True)
block_app = typer.Typer(help="Read blocks.", no_args_is_help=True)
state_app = typer.Typer(help="Read state, with proofs.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(node_app, name="node")
app.add_typer(tx_app, name="tx")
app.add_typer(block_app, name="block")
app.add_typer(state_app, name="state")

UrlOpt = Annotated[str, typer.Option("--url", envvar="HEALTHLEDGER_URL", help="Node API address.")]
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
ReaderKeyOpt = Annotated[
    Path, typer.Option("--key", help="Key file that signs the read (a member's, or your own).")
]


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Network folder to create.")],
    org: Annotated[
        list[str], typer.Option("--org", help="Founding org as id:role[:Name]; repeat.")
    ],
    chain_id: Annotated[str, typer.Option(help="Chain id.")] = "healthledger-local",
    port: Annotated[int, typer.Option(help="API port of this node.")] = DEFAULT_PORT,
    as_json: JsonOpt = False,
) -> None:
    """Create a network folder: genesis, one key per founding organisation, node settings."""
    try:
        home = init_home(directory, chain_id, [parse_org_arg(o) for o in org], port=port)
        genesis = home.genesis()
    except LedgerError as exc:
        fail(exc, as_json)
    emit(
        {
            "ok": True,
            "dir": str(home.root),
            "chain_id": genesis.chain_id,
            "organisations": [
                {"id": o.id, "role": o.role, "key_file": str(home.key_path(o.id))}
                for o in genesis.organisations
            ],
        },
        as_json,
    )


ProtectOpt = Annotated[
    bool,
    typer.Option(
        "--protect",
        help="Seal the key file under a passphrase (asked twice, or HEALTHLEDGER_PASSPHRASE).",
    ),
]


@keys_app.command("new")
def keys_new(
    out: Annotated[Path, typer.Argument(help="Key file to write (mode 0600).")],
    protect: ProtectOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Generate an Ed25519 signing key and an X25519 encryption key."""
    if out.exists():
        fail(MalformedInput(f"{out} exists; refusing to overwrite a key"), as_json)
    try:
        passphrase = new_passphrase() if protect else None
    except LedgerError as exc:
        fail(exc, as_json)
    keys = KeyPair.generate()
    save_keypair(keys, out, passphrase)
    emit(_key_summary(keys, out) | {"protected": protect}, as_json)


@keys_app.command("protect")
def keys_protect(
    path: Annotated[Path, typer.Argument(help="A plain key file.")],
    out: Annotated[Path, typer.Option("--out", help="The protected key file to write (0600).")],
    as_json: JsonOpt = False,
) -> None:
    """Write a passphrase-protected copy of a key file (Argon2id, then XSalsa20-Poly1305).

    The portal opens it in the browser with the passphrase; the plain file is left as it
    is: delete it yourself once the protected copy works.
    """
    try:
        if out.exists():
            raise MalformedInput(f"{out} exists; refusing to overwrite a key")
        keys = open_key(path)
        save_keypair(keys, out, new_passphrase())
    except LedgerError as exc:
        fail(exc, as_json)
    emit(_key_summary(keys, out) | {"protected": True}, as_json)


@keys_app.command("show")
def keys_show(
    path: Path,
    field: Annotated[
        str | None, typer.Option(help="Print only this field (key_id, encryption_key, ...).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Public parts of a key file: key id, encryption key, patient id."""
    try:
        summary = _key_summary(open_key(path), path)
    except LedgerError as exc:
        fail(exc, as_json)
    if field is None:
        emit(summary, as_json)
    elif field in summary:
        typer.echo(summary[field])
    else:
        fail(MalformedInput(f"no field {field!r}; one of {', '.join(summary)}"), as_json)


@keys_app.command("vouch")
def keys_vouch(
    key: Annotated[Path, typer.Option(help="Key file of the voucher (hospital, clinic, staff).")],
    chain_id: Annotated[str, typer.Option(help="Chain id the registration is for.")],
    patient_key: Annotated[str, typer.Option(help="The new patient's signing key id.")],
    encryption_key: Annotated[str, typer.Option(help="The new patient's encryption key.")],
) -> None:
    """Print the payload of a vouched `patient.register` for a patient's public keys."""
    try:
        voucher = open_key(key)
        keys_id = parse_key_id(patient_key, "--patient-key")
        message = voucher_message(chain_id, keys_id, encryption_key)
    except LedgerError as exc:
        fail(exc, True)
    payload = {
        "encryption_key": encryption_key,
        "voucher": {"key": voucher.key_id, "signature": voucher.sign(message).hex()},
    }
    typer.echo(json.dumps(payload))


def _key_summary(keys: KeyPair, path: Path) -> dict[str, Any]:
    return {
        "file": str(path),
        "key_id": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
        "patient_id": derive_patient_id(keys.key_id),
    }


@node_app.command("run")
def node_run(
    data: Annotated[Path, typer.Option("--data", help="Network folder (from `init`).")],
    port: Annotated[int | None, typer.Option(help="API port (default: node.json).")] = None,
    host: Annotated[str | None, typer.Option(help="API host (default: node.json).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Run a single-node network and serve its REST API until Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        home = Home(data)
        settings = home.settings()
        node = Node(data, settings)
    except LedgerError as exc:
        fail(exc, False)
    bind_host, bind_port = host or settings.host, port or settings.port
    typer.echo(f"HealthLedger node {node.app.chain_id} at height {node.app.info().height}")
    typer.echo(f"API http://{bind_host}:{bind_port}  (docs at /docs)  Ctrl-C stops")
    serve(node, bind_host, bind_port, log_level)


@tx_app.command("submit")
def tx_submit(
    key: Annotated[Path | None, typer.Option(help="Key file of the sender.")] = None,
    tx_type: Annotated[str | None, typer.Option("--type", help="Transaction type.")] = None,
    payload: Annotated[str, typer.Option(help="Payload JSON, or @file.json.")] = "{}",
    signed: Annotated[
        Path | None, typer.Option(help="Submit an already-signed transaction file.")
    ] = None,
    nonce: Annotated[int | None, typer.Option(help="Nonce (default: next for the key).")] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the commit.")] = True,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Sign and submit one transaction (or submit a signed one)."""
    try:
        with Client(url) as client:
            if signed is not None:
                tx = decode_transaction(signed.read_bytes())
            else:
                if key is None or tx_type is None:
                    raise MalformedInput("give --key and --type, or --signed FILE")
                signer = client.signer(open_key(key))
                tx = signer.sign(tx_type, _read_payload(payload), nonce)
            emit(client.submit(tx, wait=wait).wire(), as_json)
    except LedgerError as exc:
        fail(exc, as_json)


@tx_app.command("sign")
def tx_sign(
    key: Annotated[Path, typer.Option(help="Key file of the sender.")],
    tx_type: Annotated[str, typer.Option("--type", help="Transaction type.")],
    nonce: Annotated[int, typer.Option(help="Nonce: unused by this key on this chain.")],
    chain_id: Annotated[str, typer.Option(help="Chain id the transaction is for.")],
    payload: Annotated[str, typer.Option(help="Payload JSON, or @file.json.")] = "{}",
) -> None:
    """Sign offline and print the transaction as one JSON line (for `submit-batch`)."""
    try:
        tx = Signer(open_key(key), chain_id).sign(tx_type, _read_payload(payload), nonce)
    except LedgerError as exc:
        fail(exc, True)
    typer.echo(tx.raw.decode())


@tx_app.command("submit-batch")
def tx_submit_batch(
    file: Annotated[Path, typer.Argument(help="Signed transactions, one JSON per line.")],
    chunk: Annotated[int, typer.Option(help="Transactions per request.")] = 500,
    wait: Annotated[bool, typer.Option(help="Wait for each chunk to commit.")] = True,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Submit many signed transactions; report how many committed, failed or were refused."""
    try:
        lines = [line for line in file.read_text().splitlines() if line.strip()]
        txs = [decode_transaction(line) for line in lines]
    except (OSError, LedgerError) as exc:
        fail(exc if isinstance(exc, LedgerError) else MalformedInput(str(exc)), as_json)
    counts = {"committed_ok": 0, "committed_failed": 0, "pending": 0, "refused": 0}
    try:
        with Client(url) as client, progress_bar("submitting", not as_json) as advance:
            for start in range(0, len(txs), chunk):
                for report in client.submit_batch(txs[start : start + chunk], wait=wait):
                    counts[_batch_outcome(report)] += 1
                advance(min(len(txs), start + chunk), len(txs))
    except LedgerError as exc:
        fail(exc, as_json)
    emit({"ok": True, "submitted": len(txs), **counts}, as_json)


def _batch_outcome(report: SubmitReport) -> str:
    if report.error is not None:
        return "refused"
    if report.status != "committed" or report.result is None:
        return "pending"
    return "committed_ok" if report.result.ok else "committed_failed"


def _read_payload(value: str) -> dict[str, Any]:
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise MalformedInput(f"payload is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise MalformedInput("payload must be a JSON object")
    return payload


@tx_app.command("get")
def tx_get(
    tx_id: str,
    key: ReaderKeyOpt,
    proof: Annotated[bool, typer.Option(help="Fetch and verify inclusion proofs.")] = False,
    trust: TrustOpt = None,
    pin: PinOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A committed transaction and its result; with --proof, verified against a trust anchor.

    Signed with --key: a member organisation's (or auditor's) key, or the sender's own.
    """
    try:
        with Client(url, keys=open_key(key), anchor=anchor_for(url, trust, pin)) as client:
            if proof:
                view = client.committed_tx(tx_id, proof=True)
                answer = view.wire() | {"verified": True, "anchor": client.prove_tx(view, tx_id)}
            else:
                answer = client.tx(tx_id).wire()
        emit(answer, as_json)
    except LedgerError as exc:
        fail(exc, as_json)


@block_app.command("get")
def block_get(
    height: Annotated[str, typer.Argument(help="Height, or 'latest'.")] = "latest",
    key: Annotated[
        Path | None,
        typer.Option(help="A member organisation's key: the whole block, not only its header."),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A block's header (public); with --key, the whole block: transactions and results."""
    at = None if height == "latest" else _int(height)
    try:
        with Client(url, keys=open_optional_key(key)) as client:
            emit((client.block(at) if key is not None else client.header(at)).wire(), as_json)
    except LedgerError as exc:
        fail(exc, as_json)


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise MalformedInput(f"not a height: {value!r}") from exc


@state_app.command("get")
def state_get(
    namespace: str,
    key: str,
    reader: ReaderKeyOpt,
    proof: Annotated[bool, typer.Option(help="Fetch and verify a state proof.")] = False,
    trust: TrustOpt = None,
    pin: PinOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A state value (or its proven absence), read with a member's key or a person's own;
    with --proof, verified against a trust anchor."""
    try:
        with Client(url, keys=open_key(reader), anchor=anchor_for(url, trust, pin)) as client:
            view = client.state(namespace, key, proof=proof)
            answer = view.wire()
            if proof:
                answer |= {"verified": True, "anchor": client.prove_state(view, namespace, key)}
        emit(answer, as_json)
    except LedgerError as exc:
        fail(exc, as_json)


@app.command()
def verify(
    data: Annotated[Path, typer.Option("--data", help="Network folder to verify offline.")],
    as_json: JsonOpt = False,
) -> None:
    """Re-check a data folder offline: links, signatures, roots, and a full replay."""
    db_path = Home(data).db_path
    try:
        with progress_bar("verifying blocks", not as_json) as advance:
            report = verify_store(db_path, advance)
    except LedgerError as exc:
        fail(exc, as_json)
    emit({"ok": report.ok, "height": report.height, "transactions": report.transactions}, as_json)


def _register_extras() -> None:
    from healthledger.cli import (
        bench,
        consensus,
        credentials,
        demo,
        domains,
        donation,
        governance,
        net,
        orgs,
        records,
        supply,
        vault,
    )

    demo.register(app)
    net.register(app)
    consensus.register(app)
    bench.register(app)
    supply.register(app)
    credentials.register(app)
    records.register(app)
    donation.register(app)
    governance.register(app)
    orgs.register(app)
    domains.register(app)
    vault.register(app)


def main() -> None:
    _register_extras()
    app()
