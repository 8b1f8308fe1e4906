"""A local multi-organisation network: one folder, one node folder per organisation.

DIR/network.json           chain id and every node: organisation, ports, CometBFT node id
DIR/keys/<org>.json        the organisations' keys (the operator of a local testnet holds all)
DIR/nodes/<org>/           a HealthLedger node folder (genesis.json, node.json, keys, data)
DIR/nodes/<org>/cometbft/  that node's CometBFT home (config, validator key, block store)
DIR/nodes/<org>/logs/      app.log and cometbft.log
DIR/nodes/<org>/run/       pids, status and the held/halted marks the supervisor keeps

Each node is a pair of processes: `healthledger node run` (the Application, its
REST API and its ABCI server) and `cometbft node` (consensus, p2p, block sync).
"""

from __future__ import annotations

import json
import shutil
import socket
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from healthledger.crypto.keys import KeyPair, load_keypair, save_keypair
from healthledger.domains.governance.messages import OrgSpec, ValidatorSpec
from healthledger.errors import (
    AlreadyExists,
    InvalidState,
    MalformedInput,
    NotFound,
)
from healthledger.node.cometbft import (
    PRIVATE_NETWORK_CONFIG,
    VALIDATOR_POWER,
    CometIdentity,
    configure,
    genesis_document,
    init_cometbft_home,
)
from healthledger.node.home import Home, NodeSettings, company_glns, init_home

NETWORK_FILE = "network.json"
DEFAULT_CHAIN = "healthledger-testnet"
# The founding organisations of a local testnet, one per validator, in this order.
FOUNDERS: tuple[tuple[str, str, str], ...] = (
    ("st-marys", "hospital", "St Mary's Hospital"),
    ("acme-insurance", "insurer", "Acme Insurance"),
    ("pharmaco", "manufacturer", "PharmaCo Manufacturing"),
    ("citypharm", "pharmacy", "City Pharmacy"),
    ("northlab", "laboratory", "North Laboratory"),
    ("health-board", "regulator", "Health Board"),
    ("westclinic", "clinic", "West Clinic"),
)
# Where each founder is (ISO 3166-1 alpha-2): country-limited consents have something to
# tell apart on a local testnet. The clinic is abroad: where a travelling patient falls ill.
FOUNDER_COUNTRIES: dict[str, str] = {
    "st-marys": "GB",
    "acme-insurance": "GB",
    "pharmaco": "DE",
    "citypharm": "GB",
    "northlab": "NL",
    "health-board": "GB",
    "westclinic": "FR",
}
# Each founder's GS1 company prefix: its party GLN and two site GLNs derive from it, so
# EPCIS documents on a testnet can name its parties by GLN (0614141 and 4012345 are the
# prefixes of GS1's own examples; the others are made up, distinct per founder).
FOUNDER_GLNS: dict[str, dict[str, Any]] = {
    org: company_glns(prefix)
    for org, prefix in {
        "st-marys": "5011111",
        "acme-insurance": "5033333",
        "pharmaco": "0614141",
        "citypharm": "4012345",
        "northlab": "5022222",
        "health-board": "5066666",
        "westclinic": "3011111",
    }.items()
}
# Unix socket paths must stay under the kernel's 108 bytes; longer folders use TCP.
MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class Ports:
    """The three 127.0.0.1 ports of one node."""

    api: int
    rpc: int
    p2p: int


@dataclass(frozen=True)
class NetNode:
    """One organisation's node as network.json records it."""

    org: str
    role: str
    ports: Ports
    node_id: str
    validator: bool
    # The command that runs this node's application; empty means `healthledger node run`.
    app_command: list[str] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rpc}"

    @property
    def p2p_address(self) -> str:
        return f"{self.node_id}@127.0.0.1:{self.ports.p2p}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetNode:
        return cls(**{**data, "ports": Ports(**data["ports"])})


@dataclass(frozen=True)
class Network:
    """A network folder and what network.json says about it."""

    root: Path
    chain_id: str
    nodes: tuple[NetNode, ...]

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    def node_dir(self, org: str) -> Path:
        return self.root / "nodes" / org

    def node(self, org: str) -> NetNode:
        for node in self.nodes:
            if node.org == org:
                return node
        raise NotFound(f"the network has no node {org!r}")

    def home(self, org: str) -> Home:
        return Home(self.node_dir(org))

    def run_dir(self, org: str) -> Path:
        return self.node_dir(org) / "run"

    def save(self) -> None:
        data = {"chain_id": self.chain_id, "nodes": [asdict(node) for node in self.nodes]}
        path = self.root / NETWORK_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=2) + "\n")
        temporary.replace(path)  # the supervisor re-reads it; it never sees half a file

    def with_node(self, node: NetNode) -> Network:
        others = tuple(n for n in self.nodes if n.org != node.org)
        return replace(self, nodes=(*others, node))


def load_network(root: Path) -> Network:
    path = Path(root) / NETWORK_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotFound(
            f"{root} holds no network (no {NETWORK_FILE}): create one with `healthledger net up`"
        ) from None
    except ValueError as exc:
        raise InvalidState(f"cannot read {path}: {exc}") from exc
    nodes = tuple(NetNode.from_dict(node) for node in data["nodes"])
    return Network(Path(root), data["chain_id"], nodes)


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 right now (held open until all are chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def allocate_ports(count: int, base_port: int | None) -> list[Ports]:
    """Consecutive ports from `base_port` (api, rpc, p2p per node), else free ones."""
    if base_port is None:
        flat = free_ports(3 * count)
    else:
        flat = list(range(base_port, base_port + 3 * count))
    return [Ports(*flat[3 * i : 3 * i + 3]) for i in range(count)]


def create_network(
    root: Path,
    binary: Path,
    validators: int,
    *,
    chain_id: str = DEFAULT_CHAIN,
    base_port: int | None = None,
) -> Network:
    """A new network folder with `validators` founding organisations, each a validator."""
    root = Path(root)
    if (root / NETWORK_FILE).exists():
        raise AlreadyExists(f"{root} already holds a network")
    if not 1 <= validators <= len(FOUNDERS):
        raise MalformedInput(f"--validators must be between 1 and {len(FOUNDERS)}")
    founders = FOUNDERS[:validators]
    ports = allocate_ports(validators, base_port)
    identities = [
        init_cometbft_home(binary, root / "nodes" / org / "cometbft") for org, _, _ in founders
    ]
    genesis_time_ms = int(time.time() * 1000)
    staging = root / "genesis-staging"
    init_home(
        staging,
        chain_id,
        [(org, role, name) for org, role, name in founders],
        genesis_time_ms=genesis_time_ms,
        countries=FOUNDER_COUNTRIES,
        glns=FOUNDER_GLNS,
    )
    _add_validators_to_genesis(staging, identities)
    comet_genesis = _comet_genesis(root, founders, identities, chain_id, genesis_time_ms)
    nodes = []
    for (org, role, _), port, identity in zip(founders, ports, identities, strict=True):
        _make_node_folder(root, staging, org, port, comet_genesis)
        nodes.append(NetNode(org, role, port, identity.node_id, validator=True))
    _share_keys(root, staging, [org for org, _, _ in founders])
    shutil.rmtree(staging)
    network = Network(root, chain_id, tuple(nodes))
    _connect_peers(network)
    network.save()
    return network


def _add_validators_to_genesis(staging: Path, identities: list[CometIdentity]) -> None:
    """Each founder's OrgSpec names its validator key, so governance can later remove it."""
    path = staging / "genesis.json"
    genesis = json.loads(path.read_text())
    for org, identity in zip(genesis["organisations"], identities, strict=True):
        org["validator"] = ValidatorSpec(
            pub_key=identity.validator_pub_key.hex(), power=VALIDATOR_POWER
        ).model_dump()
    path.write_text(json.dumps(genesis, indent=2) + "\n")


def _comet_genesis(
    root: Path,
    founders: tuple[tuple[str, str, str], ...],
    identities: list[CometIdentity],
    chain_id: str,
    genesis_time_ms: int,
) -> dict[str, Any]:
    template_path = root / "nodes" / founders[0][0] / "cometbft" / "config" / "genesis.json"
    template = json.loads(template_path.read_text())
    instant = datetime.fromtimestamp(genesis_time_ms / 1000, tz=UTC)
    genesis_time = instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond:06d}Z"
    named = [(org, identity) for (org, _, _), identity in zip(founders, identities, strict=True)]
    return genesis_document(template, chain_id, genesis_time, named)


def _make_node_folder(
    root: Path, staging: Path, org: str, ports: Ports, comet_genesis: dict[str, Any]
) -> None:
    """Our genesis, this organisation's key and settings; CometBFT's shared genesis."""
    home = Home(root / "nodes" / org)
    home.root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(staging / "genesis.json", home.genesis_path)
    save_keypair(load_keypair(Home(staging).key_path(org)), home.key_path(org))
    home.write_settings(node_settings(home, org, ports))
    home.node_key()  # made here, so its public half can be published before the node runs
    home.logs_dir.mkdir(exist_ok=True)
    (home.cometbft_dir / "config" / "genesis.json").write_text(
        json.dumps(comet_genesis, indent=2) + "\n"
    )


def node_settings(home: Home, org: str, ports: Ports) -> NodeSettings:
    """A node run by CometBFT: ABCI on a Unix socket in its folder (TCP if the path is long)."""
    socket_path = home.root.resolve() / "run" / "abci.sock"
    if len(str(socket_path)) <= MAX_SOCKET_PATH:
        abci = f"unix://{socket_path}"
    else:
        abci = f"tcp://127.0.0.1:{free_ports(1)[0]}"
    return NodeSettings(
        org=org,
        port=ports.api,
        engine="cometbft",
        abci_address=abci,
        cometbft_rpc=f"http://127.0.0.1:{ports.rpc}",
    )


def _share_keys(root: Path, staging: Path, orgs: list[str]) -> None:
    for org in orgs:
        save_keypair(load_keypair(Home(staging).key_path(org)), root / "keys" / f"{org}.json")


def _connect_peers(network: Network) -> None:
    """Every node's CometBFT: its ports, our app's address, all other nodes as peers."""
    for node in network.nodes:
        peers = ",".join(n.p2p_address for n in network.nodes if n.org != node.org)
        home = network.home(node.org)
        configure(home.cometbft_dir, {**PRIVATE_NETWORK_CONFIG, **_node_config(network, node)})
        configure(home.cometbft_dir, {"p2p": {"persistent_peers": f'"{peers}"'}})


def _node_config(network: Network, node: NetNode) -> dict[str, dict[str, str]]:
    settings = network.home(node.org).settings()
    return {
        "": {
            **PRIVATE_NETWORK_CONFIG[""],
            "moniker": f'"{node.org}"',
            "proxy_app": f'"{settings.abci_address}"',
        },
        "rpc": {**PRIVATE_NETWORK_CONFIG["rpc"], "laddr": f'"tcp://127.0.0.1:{node.ports.rpc}"'},
        "p2p": {**PRIVATE_NETWORK_CONFIG["p2p"], "laddr": f'"tcp://127.0.0.1:{node.ports.p2p}"'},
    }


def _country(country: str | None) -> dict[str, str]:
    return {} if country is None else {"country": country}


def join_network(
    network: Network,
    binary: Path,
    org: str,
    role: str,
    name: str,
    base_port: int | None = None,
    country: str | None = None,
) -> tuple[Network, OrgSpec]:
    """A new organisation's node: keys, our genesis, CometBFT's genesis, peers to all.

    It syncs by replaying every block from height 1. It is not a member (nor a
    validator) until governance admits it: `healthledger net admit`.
    """
    if any(node.org == org for node in network.nodes):
        raise AlreadyExists(f"the network already has a node {org!r}")
    first = network.home(network.nodes[0].org)
    home = network.home(org)
    if home.root.exists():
        raise AlreadyExists(f"{home.root} exists")
    identity = init_cometbft_home(binary, home.cometbft_dir)
    keys = KeyPair.generate()
    save_keypair(keys, home.key_path(org))
    save_keypair(keys, network.keys_dir / f"{org}.json")
    shutil.copyfile(first.genesis_path, home.genesis_path)
    shutil.copyfile(
        first.cometbft_dir / "config" / "genesis.json",
        home.cometbft_dir / "config" / "genesis.json",
    )
    (ports,) = allocate_ports(1, base_port)
    home.write_settings(node_settings(home, org, ports))
    home.node_key()
    home.logs_dir.mkdir(exist_ok=True)
    node = NetNode(org, role, ports, identity.node_id, validator=False)
    grown = network.with_node(node)
    peers = ",".join(n.p2p_address for n in network.nodes)
    configure(home.cometbft_dir, {**PRIVATE_NETWORK_CONFIG, **_node_config(grown, node)})
    configure(home.cometbft_dir, {"p2p": {"persistent_peers": f'"{peers}"'}})
    spec = OrgSpec.model_validate(
        {
            "id": org,
            "name": name,
            "role": role,  # validated here against the roles governance knows
            "signing_key": keys.key_id,
            "encryption_key": keys.encryption_public.hex(),
            "validator": ValidatorSpec(
                pub_key=identity.validator_pub_key.hex(), power=VALIDATOR_POWER
            ),
            **_country(country or FOUNDER_COUNTRIES.get(org)),
        }
    )
    (home.root / "org.json").write_text(json.dumps(spec.model_dump(), indent=2) + "\n")
    grown.save()
    return grown, spec
