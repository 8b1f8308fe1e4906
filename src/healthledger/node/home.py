"""A node's folder: genesis, node settings, keys and the database.

DIR/genesis.json       the network's genesis (same on every node)
DIR/node.json          this node's settings (organisation, API port, block timing)
DIR/keys/<name>.json   key files (owner-readable only)
DIR/node_key.json      the key this node signs its answers with (owner-readable, never
                       leaves the node; its public half is in the directory)
DIR/data/ledger.sqlite blocks, state, proofs (SQLite, WAL)
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from healthledger.app.genesis import Genesis, check_rules_version, load_genesis
from healthledger.crypto.canonical import parse_json
from healthledger.crypto.keys import KeyPair, load_keypair, save_keypair
from healthledger.domains.governance.messages import ORG_ROLES, Limits, OrgSpec
from healthledger.domains.shared.gln import with_check_digit
from healthledger.errors import AlreadyExists, LedgerError, MalformedInput
from healthledger.ledger.store import Store

DEFAULT_PORT = 8700


@dataclass(frozen=True)
class NodeSettings:
    """What `node.json` holds."""

    org: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    block_interval_ms: int = 200
    max_block_txs: int = 5000
    check_workers: int = 2
    # "solo" orders blocks in-process; "cometbft" serves ABCI at `abci_address` to a
    # CometBFT node whose RPC answers at `cometbft_rpc` (see `healthledger net`).
    engine: str = "solo"
    abci_address: str = ""
    cometbft_rpc: str = ""


@dataclass(frozen=True)
class Home:
    """Paths of one node folder."""

    root: Path

    @property
    def genesis_path(self) -> Path:
        return self.root / "genesis.json"

    @property
    def settings_path(self) -> Path:
        return self.root / "node.json"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def db_path(self) -> Path:
        return self.root / "data" / "ledger.sqlite"

    def key_path(self, name: str) -> Path:
        return self.keys_dir / f"{name}.json"

    @property
    def node_key_path(self) -> Path:
        """Outside keys/: the vault takes every key there for an organisation's."""
        return self.root / "node_key.json"

    def node_key(self) -> KeyPair:
        """This node's answer-signing key, made (0600) the first time it is asked for."""
        if not self.node_key_path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            save_keypair(KeyPair.generate(), self.node_key_path)
        return load_keypair(self.node_key_path)

    def exists(self) -> bool:
        return self.genesis_path.exists()

    @property
    def cometbft_dir(self) -> Path:
        """CometBFT's own home (config, keys, block store) under a network node's folder."""
        return self.root / "cometbft"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def genesis(self) -> Genesis:
        return load_genesis(self.genesis_path)

    def check_rules_version(self) -> None:
        """Refuse a folder made under other rules, by its genesis.json or its stored chain."""
        if self.genesis_path.exists():
            check_rules_version(self.genesis_path.read_bytes(), str(self.genesis_path))
        if self.db_path.exists():
            store = Store(self.db_path, readonly=True)
            try:
                raw = store.meta("genesis")
            finally:
                store.close()
            if raw is not None:
                check_rules_version(raw, f"the chain in {self.db_path}")

    def chain_id(self) -> str | None:
        """The chain id genesis.json names, read without judging the rest of it."""
        try:
            document = parse_json(self.genesis_path.read_bytes())
        except (OSError, LedgerError):
            return None
        value = document.get("chain_id") if isinstance(document, dict) else None
        return value if isinstance(value, str) else None

    def settings(self) -> NodeSettings:
        try:
            data = json.loads(self.settings_path.read_text())
            return NodeSettings(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise MalformedInput(f"cannot read {self.settings_path}: {exc}") from exc

    def write_settings(self, settings: NodeSettings) -> None:
        self.settings_path.write_text(json.dumps(asdict(settings), indent=2) + "\n")


def parse_org_arg(value: str) -> tuple[str, str, str]:
    """`id:role[:Display Name]` from the command line."""
    parts = value.split(":", 2)
    if len(parts) < 2 or parts[1] not in ORG_ROLES:
        raise MalformedInput(
            f"--org {value!r}: expected id:role[:name] with role one of {', '.join(ORG_ROLES)}"
        )
    org_id, role = parts[0], parts[1]
    name = parts[2] if len(parts) == 3 else org_id.replace("-", " ").title()
    return org_id, role, name


def _country_of(org_id: str, countries: Mapping[str, str] | None) -> dict[str, str]:
    country = (countries or {}).get(org_id)
    return {} if country is None else {"country": country}


def company_glns(company_prefix: str, sites: int = 2) -> dict[str, Any]:
    """GLNs under one GS1 company prefix: the party GLN (reference 0) and `sites` location
    GLNs (references 1, 2, ...), each with its check digit; as `OrgSpec.glns` takes them."""
    width = 12 - len(company_prefix)

    def gln(reference: int) -> str:
        return with_check_digit(f"{company_prefix}{reference:0{width}d}")

    return {"party": gln(0), "locations": [gln(n) for n in range(1, sites + 1)]}


def _glns_of(org_id: str, glns: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    held = (glns or {}).get(org_id)
    return {} if held is None else {"glns": dict(held)}


def init_home(
    root: Path,
    chain_id: str,
    orgs: list[tuple[str, str, str]],
    *,
    port: int = DEFAULT_PORT,
    genesis_time_ms: int | None = None,
    quorum: tuple[int, int] = (2, 3),
    limits: Limits | None = None,
    countries: Mapping[str, str] | None = None,
    glns: Mapping[str, Mapping[str, Any]] | None = None,
) -> Home:
    """Create a network folder: one key per organisation, genesis, settings for the first org.

    `countries` names an organisation's ISO 3166-1 alpha-2 country (by id), where known;
    `glns` the GS1 GLNs a founder holds from genesis (`{"party": ..., "locations": [...]}`)."""
    home = Home(Path(root))
    if home.exists():
        raise AlreadyExists(f"{root} already holds a network")
    if not orgs:
        raise MalformedInput("name at least one founding organisation")
    specs = []
    for org_id, role, name in orgs:
        keys = KeyPair.generate()
        save_keypair(keys, home.key_path(org_id))
        specs.append(
            OrgSpec.model_validate(
                {
                    "id": org_id,
                    "name": name,
                    "role": role,  # validated here against the roles governance knows
                    "signing_key": keys.key_id,
                    "encryption_key": keys.encryption_public.hex(),
                    **_country_of(org_id, countries),
                    **_glns_of(org_id, glns),
                }
            )
        )
    genesis = Genesis.model_validate(
        {
            "chain_id": chain_id,
            "genesis_time_ms": genesis_time_ms
            if genesis_time_ms is not None
            else int(time.time() * 1000),
            "admission_quorum": {"numerator": quorum[0], "denominator": quorum[1]},
            "limits": (limits or Limits()).model_dump(),
            "organisations": [spec.model_dump() for spec in specs],
        }
    )
    home.root.mkdir(parents=True, exist_ok=True)
    home.genesis_path.write_text(json.dumps(genesis.model_dump(mode="json"), indent=2) + "\n")
    home.write_settings(NodeSettings(org=specs[0].id, port=port))
    home.node_key()
    return home
