"""CometBFT's side of a network node: the pinned binary, its home folder, keys and config.

`cometbft init` writes a home (config.toml, node key, validator key, genesis); we
then give every node of a network one genesis (our chain id and the validators
of the founding organisations) and set the config a private network wants.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from healthledger.errors import InvalidState, Unavailable

PINNED_VERSION = "0.38.25"
ENV_BINARY = "HEALTHLEDGER_COMETBFT"
# src/healthledger/node/cometbft.py -> the repository root is three folders up.
_REPO_ROOT = Path(__file__).resolve().parents[3]
INSTALLED_BINARY = _REPO_ROOT / ".tools" / f"cometbft-v{PINNED_VERSION}" / "bin" / "cometbft"
VALIDATOR_POWER = 10

# A private network of a few organisations on fast links: short commit pause, no
# empty blocks (CometBFT still makes the block that carries a new app hash), no
# recheck of the whole mempool after every block (a stale transaction fails in its
# block, recorded as failed), quick p2p flushes and large JSON-RPC batches.
PRIVATE_NETWORK_CONFIG: dict[str, dict[str, str]] = {
    "": {"log_level": '"state:info,*:error"', "db_backend": '"goleveldb"'},
    "rpc": {"max_body_bytes": "10000000", "max_request_batch_size": "1000"},
    "p2p": {
        "addr_book_strict": "false",
        "allow_duplicate_ip": "true",
        "pex": "false",
        "flush_throttle_timeout": '"10ms"',
        "send_rate": "52428800",
        "recv_rate": "52428800",
    },
    "mempool": {"recheck": "false", "size": "50000", "cache_size": "100000"},
    "consensus": {
        "timeout_commit": '"200ms"',
        "create_empty_blocks": "false",
        "peer_gossip_sleep_duration": '"10ms"',
    },
}


@dataclass(frozen=True)
class CometIdentity:
    """What other nodes and the genesis need to know of one CometBFT home."""

    node_id: str
    validator_address: str
    validator_pub_key: bytes


def cometbft_binary() -> Path:
    """The pinned binary: $HEALTHLEDGER_COMETBFT, else the one scripts/install-cometbft built."""
    configured = os.environ.get(ENV_BINARY)
    candidate = Path(configured) if configured else INSTALLED_BINARY
    if candidate.is_file():
        return candidate
    on_path = shutil.which("cometbft")
    if not configured and on_path:
        return Path(on_path)
    raise Unavailable(
        f"no CometBFT binary at {candidate}: run scripts/install-cometbft (or `make cometbft`)"
    )


def init_cometbft_home(binary: Path, home: Path) -> CometIdentity:
    """`cometbft init` (new node and validator keys); the identity it created."""
    result = subprocess.run(
        [str(binary), "init", "--home", str(home)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise Unavailable(f"cometbft init failed: {result.stderr.strip()}")
    return read_identity(binary, home)


def read_identity(binary: Path, home: Path) -> CometIdentity:
    node_id = subprocess.run(
        [str(binary), "show-node-id", "--home", str(home)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    key = json.loads((home / "config" / "priv_validator_key.json").read_text())
    return CometIdentity(
        node_id=node_id,
        validator_address=key["address"],
        validator_pub_key=base64.b64decode(key["pub_key"]["value"]),
    )


def genesis_document(
    template: dict[str, Any],
    chain_id: str,
    genesis_time: str,
    validators: list[tuple[str, CometIdentity]],
) -> dict[str, Any]:
    """CometBFT's genesis: our chain id and time, the founders' validators, no app_state.

    Our own genesis (organisations, quorum) stays in the node folder; InitChain checks
    that both name the same chain.
    """
    return {
        **template,
        "chain_id": chain_id,
        "genesis_time": genesis_time,
        "initial_height": "1",
        "app_hash": "",
        "validators": [
            {
                "address": identity.validator_address,
                "pub_key": {
                    "type": "tendermint/PubKeyEd25519",
                    "value": base64.b64encode(identity.validator_pub_key).decode(),
                },
                "power": str(VALIDATOR_POWER),
                "name": name,
            }
            for name, identity in validators
        ],
    }


def configure(home: Path, settings: dict[str, dict[str, str]]) -> None:
    """Set `key = value` lines of config.toml, section by section ("" is the top)."""
    path = home / "config" / "config.toml"
    text = path.read_text()
    for section, values in settings.items():
        for key, value in values.items():
            text = set_toml_value(text, section, key, value)
    path.write_text(text)


def set_toml_value(text: str, section: str, key: str, value: str) -> str:
    """Replace one key's value inside `[section]` of a config.toml written by CometBFT."""
    start, end = _section_bounds(text, section)
    body, count = re.subn(
        rf"(?m)^{re.escape(key)} = .*$", lambda _: f"{key} = {value}", text[start:end], count=1
    )
    if count != 1:
        raise InvalidState(f"config.toml has no {key!r} in [{section}]")
    return text[:start] + body + text[end:]


def _section_bounds(text: str, section: str) -> tuple[int, int]:
    headers = list(re.finditer(r"(?m)^\[([a-z0-9_.]+)\]\s*$", text))
    if not section:
        return 0, headers[0].start() if headers else len(text)
    for index, header in enumerate(headers):
        if header.group(1) == section:
            end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
            return header.end(), end
    raise InvalidState(f"config.toml has no [{section}] section")
