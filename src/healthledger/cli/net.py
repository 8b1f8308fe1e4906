"""`healthledger net ...`: a local multi-organisation network on CometBFT.

`net up` creates the folder (first time) and starts a detached supervisor that
runs every node's pair of processes; `net down` stops it and them. `net status`
asks each node's CometBFT for its height, app hash and peers.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from healthledger.cli.orgs import publish_payload
from healthledger.cli.output import JsonOpt, emit, fail
from healthledger.client.sdk import Client, Signer, require_committed
from healthledger.crypto.keys import load_keypair
from healthledger.domains.governance.messages import OrgSpec
from healthledger.errors import ErrorCode, InvalidState, LedgerError
from healthledger.node.cometbft import cometbft_binary
from healthledger.node.home import parse_org_arg
from healthledger.node.network import (
    DEFAULT_CHAIN,
    NetNode,
    Network,
    create_network,
    join_network,
    load_network,
)
from healthledger.node.process import (
    await_exit,
    await_nodes,
    rpc_result,
    signal_pid_file,
    start_supervisor,
    stop_network,
    supervisor_pid,
)
from healthledger.node.supervisor import halted_mark, held_mark, supervise

net_app = typer.Typer(help="A multi-organisation network on CometBFT.", no_args_is_help=True)
DirOpt = Annotated[Path, typer.Option("--dir", help="The network folder.")]
NodeOpt = Annotated[str, typer.Option("--node", help="The node's organisation id.")]
UP_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0


def register(app: typer.Typer) -> None:
    app.add_typer(net_app, name="net")


@net_app.command("up")
def net_up(
    directory: DirOpt = Path("testnet"),
    validators: Annotated[int, typer.Option(help="Founding organisations, one per validator.")] = 4,
    chain_id: Annotated[str, typer.Option(help="Chain id of a new network.")] = DEFAULT_CHAIN,
    base_port: Annotated[
        int | None, typer.Option(help="First of 3 ports per node (default: free ports).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create the network (first time) and start every node; print each node's API address."""
    try:
        binary = cometbft_binary()
        if (directory / "network.json").exists():
            network = load_network(directory)
        else:
            network = create_network(
                directory, binary, validators, chain_id=chain_id, base_port=base_port
            )
        start_supervisor(network.root)
        await_nodes(network, UP_TIMEOUT_S)
        published = publish_directory(network, [node.org for node in network.nodes])
    except LedgerError as exc:
        fail(exc, as_json)
    report: dict[str, Any] = {"ok": True, "dir": str(network.root), "chain_id": network.chain_id}
    report["nodes"] = [_node_summary(node) for node in network.nodes]
    report["directory"] = published
    if as_json:
        emit(report, True)
        return
    typer.echo(f"network {network.chain_id} in {network.root}")
    for node in network.nodes:
        kind = "validator" if node.validator else "full node"
        typer.echo(f"  {node.org:<16} {kind:<10} API {node.api_url}  CometBFT RPC {node.rpc_url}")
    typer.echo(
        f"logs: {network.root}/nodes/<org>/logs/   stop: healthledger net down --dir {directory}"
    )


def publish_directory(network: Network, orgs: list[str]) -> list[str]:
    """Each member organisation's directory entry: its node's API URL and node key.

    Signed with the organisation's own key and sent to its own node; an entry already
    as it should be is left alone (a restarted network publishes nothing new), and an
    organisation not admitted yet is skipped (`net admit` publishes its entry).
    """
    published = []
    for org in orgs:
        node = network.node(org)
        payload = publish_payload([node.api_url], network.home(org).node_key().key_id, None)
        with Client(node.api_url, timeout=60) as client:
            current = client.org_endpoint(org)
            if current is not None and (list(current.endpoints), current.node_key) == (
                payload["endpoints"],
                payload["node_key"],
            ):
                continue
            try:
                signer = client.signer(load_keypair(network.keys_dir / f"{org}.json"))
                tx = signer.sign("org.endpoint", payload)
                require_committed(client.submit(tx, wait=True, timeout_ms=60_000))
            except LedgerError as exc:
                if exc.code in (ErrorCode.UNKNOWN_SENDER, ErrorCode.REVOKED_SENDER):
                    continue  # not a member (yet, or any more): nothing to publish
                raise
        published.append(org)
    return published


def _node_summary(node: NetNode) -> dict[str, Any]:
    return {
        "org": node.org,
        "role": node.role,
        "validator": node.validator,
        "api": node.api_url,
        "rpc": node.rpc_url,
        "p2p": node.p2p_address,
    }


@net_app.command("down")
def net_down(directory: DirOpt = Path("testnet"), as_json: JsonOpt = False) -> None:
    """Stop the supervisor, which stops every node (CometBFT first, then the application)."""
    try:
        network = load_network(directory)
    except LedgerError as exc:
        fail(exc, as_json)
    stragglers = stop_network(network)
    emit({"ok": True, "dir": str(network.root), "stopped_stragglers": stragglers}, as_json)


@net_app.command("status")
def net_status(directory: DirOpt = Path("testnet"), as_json: JsonOpt = False) -> None:
    """Each node's state, height, app hash, peers; whether all agree at a common height."""
    try:
        network = load_network(directory)
    except LedgerError as exc:
        fail(exc, as_json)
    nodes = [_status_of(network, node) for node in network.nodes]
    report = {
        "dir": str(network.root),
        "chain_id": network.chain_id,
        "supervisor": supervisor_pid(network.root) is not None,
        "nodes": nodes,
        **_agreement(network, nodes),
    }
    if as_json:
        emit(report, True)
        return
    typer.echo(f"network {network.chain_id}: supervisor {'up' if report['supervisor'] else 'down'}")
    for row in nodes:
        typer.echo(
            f"  {row['org']:<16} {row['state']:<9} height {row['height']!s:<7} "
            f"app hash {str(row['app_hash'])[:16]:<16} peers {row['peers']!s:<3} {row['api']}"
        )
    agreed = "yes" if report["agree"] else "NO, diverged: " + ", ".join(report["diverged"])
    typer.echo(f"app hashes agree with the chain: {agreed}")
    for row in nodes:
        if row["halt_reason"]:
            typer.echo(f"  {row['org']} halted: {row['halt_reason']}")


def _status_of(network: Network, node: NetNode) -> dict[str, Any]:
    run = network.run_dir(node.org)
    try:
        supervised = json.loads((run / "status.json").read_text())
    except (OSError, ValueError):
        supervised = {"state": "unknown", "restarts": 0}
    halted = halted_mark(run)
    status = rpc_result(node, "status") or {}
    sync = status.get("sync_info", {})
    net_info = rpc_result(node, "net_info") or {}
    return {
        **_node_summary(node),
        "state": supervised["state"],
        "restarts": supervised.get("restarts", 0),
        "halt_reason": halted.read_text().strip() if halted.exists() else None,
        "height": int(sync["latest_block_height"]) if sync else None,
        "app_hash": sync.get("latest_app_hash", "").lower() or None,
        "catching_up": sync.get("catching_up"),
        "peers": int(net_info["n_peers"]) if net_info else None,
        "voting_power": int(status["validator_info"]["voting_power"]) if status else None,
    }


def _agreement(network: Network, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether each answering node's latest app hash is the one the chain committed to.

    Node at height h agrees if its app hash equals the app hash in the highest node's
    header h+1 (CometBFT puts the hash after block h into block h+1's header).
    """
    live = [row for row in rows if row["height"] is not None]
    if not live:
        return {"top_height": None, "agree": False, "diverged": []}
    top = max(live, key=lambda row: int(row["height"]))
    diverged = []
    for row in live:
        if row["height"] == top["height"]:
            expected = top["app_hash"]
        else:
            block = rpc_result(network.node(top["org"]), "block", height=int(row["height"]) + 1)
            expected = block["block"]["header"]["app_hash"].lower() if block else None
        if expected is not None and row["app_hash"] != expected:
            diverged.append(row["org"])
    return {"top_height": top["height"], "agree": not diverged, "diverged": diverged}


@net_app.command("stop")
def net_stop(
    node: NodeOpt,
    directory: DirOpt = Path("testnet"),
    kill: Annotated[bool, typer.Option("--kill", help="SIGKILL: no clean shutdown.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Hold one node down (the supervisor will not restart it) and stop its processes."""
    try:
        network = load_network(directory)
        network.node(node)
    except LedgerError as exc:
        fail(exc, as_json)
    run = network.run_dir(node)
    run.mkdir(parents=True, exist_ok=True)
    held_mark(run).write_text("held by `healthledger net stop`\n")
    signum = signal.SIGKILL if kill else signal.SIGTERM
    pids = [
        pid for name in ("cometbft.pid", "app.pid") if (pid := signal_pid_file(run / name, signum))
    ]
    for pid in pids:
        await_exit(pid, STOP_TIMEOUT_S)
    emit({"ok": True, "node": node, "state": "held", "signal": signum.name}, as_json)


@net_app.command("start")
def net_start(node: NodeOpt, directory: DirOpt = Path("testnet"), as_json: JsonOpt = False) -> None:
    """Let the supervisor run a held or halted node again."""
    try:
        network = load_network(directory)
        network.node(node)
    except LedgerError as exc:
        fail(exc, as_json)
    run = network.run_dir(node)
    held_mark(run).unlink(missing_ok=True)
    halted_mark(run).unlink(missing_ok=True)
    emit({"ok": True, "node": node, "state": "starting"}, as_json)


@net_app.command("join")
def net_join(
    org: Annotated[str, typer.Option("--org", help="The new organisation as id:role[:Name].")],
    directory: DirOpt = Path("testnet"),
    country: Annotated[
        str | None, typer.Option(help="Its ISO 3166-1 alpha-2 country (e.g. FR).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a new organisation's node; it syncs by replaying blocks (admit it with `net admit`,
    which also publishes its directory entry)."""
    try:
        org_id, role, name = parse_org_arg(org)
        network, _spec = join_network(
            load_network(directory), cometbft_binary(), org_id, role, name, country=country
        )
        node = network.node(org_id)
        if supervisor_pid(network.root) is not None:
            await_nodes(Network(network.root, network.chain_id, (node,)), UP_TIMEOUT_S)
    except LedgerError as exc:
        fail(exc, as_json)
    report = {
        "ok": True,
        **_node_summary(node),
        "admit": f"healthledger net admit --dir {directory} --org {org_id}",
    }
    emit(report, as_json)


@net_app.command("admit")
def net_admit(
    org: Annotated[str, typer.Option("--org", help="A joined organisation's id.")],
    directory: DirOpt = Path("testnet"),
    validator: Annotated[
        bool, typer.Option("--validator/--member-only", help="Also make its node a validator.")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Propose the organisation's admission and approve it with the founders' keys to quorum."""
    try:
        network = load_network(directory)
        report = admit(network, org, validator)
    except LedgerError as exc:
        fail(exc, as_json)
    emit(report, as_json)


def admit(network: Network, org: str, validator: bool) -> dict[str, Any]:
    """Each founder in turn signs (the proposal, then approvals) until the proposal executes."""
    spec = OrgSpec.model_validate_json((network.node_dir(org) / "org.json").read_bytes())
    if not validator:
        spec = spec.model_copy(update={"validator": None})
    voters = [node.org for node in network.nodes if node.org != org]
    entry = next(node for node in network.nodes if node.org != org)
    with Client(entry.api_url) as client:
        chain = client.info().chain_id
        proposal_id, executed_at = None, None
        for voter in voters:
            signer = Signer(load_keypair(network.keys_dir / f"{voter}.json"), chain)
            signer.sync_nonce(client)
            if proposal_id is None:
                tx = signer.sign("org.propose", {"action": "add", "org": spec.model_dump()})
            else:
                tx = signer.sign("org.approve", {"proposal_id": proposal_id})
            report = require_committed(client.submit(tx, wait=True, timeout_ms=60_000))
            proposal_id = proposal_id or "prop-" + tx.id[:16]
            if any(e["type"] == "org.proposal_executed" for e in report.result.events):
                executed_at = report.height
                break
    if executed_at is None:
        raise InvalidState(f"proposal {proposal_id} did not reach quorum")
    if validator:
        network = network.with_node(_as_validator(network.node(org)))
        network.save()
    # Admitted, it can say where its node serves (its node has replayed the admission
    # once it is level; the entry goes through a founder's node, which is).
    published = _publish_admitted(network, org, entry)
    return {
        "ok": True,
        "org": org,
        "proposal": proposal_id,
        "height": executed_at,
        "validator": validator,
        "directory": published,
    }


def _publish_admitted(network: Network, org: str, via: NetNode) -> bool:
    node = network.node(org)
    payload = publish_payload([node.api_url], network.home(org).node_key().key_id, None)
    with Client(via.api_url, timeout=60) as client:
        signer = client.signer(load_keypair(network.keys_dir / f"{org}.json"))
        report = client.submit(signer.sign("org.endpoint", payload), wait=True, timeout_ms=60_000)
    require_committed(report)
    return True


def _as_validator(node: NetNode) -> NetNode:
    return NetNode(node.org, node.role, node.ports, node.node_id, True, node.app_command)


@net_app.command("supervise", hidden=True)
def net_supervise(directory: DirOpt = Path("testnet")) -> None:
    """Run the supervisor in the foreground (what `net up` starts detached)."""
    supervise(directory)
