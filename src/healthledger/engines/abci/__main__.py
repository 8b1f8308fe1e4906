"""`python -m healthledger.engines.abci --home DIR --socket unix:///path/app.sock`.

Opens the node folder's ledger and serves it to CometBFT over ABCI until SIGTERM
or SIGINT, then finishes the request in progress and closes the database.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from healthledger.app.application import Application
from healthledger.app.genesis import load_genesis
from healthledger.engines.abci.adapter import AbciAdapter
from healthledger.engines.abci.protos import abci_types
from healthledger.engines.abci.server import AbciServer, ListenAddress
from healthledger.errors import LedgerError
from healthledger.ledger.store import Store

log = logging.getLogger("healthledger.engines.abci")

# The node folder's layout (node/home.py's Home); engines sit below node, so these
# two paths are named here rather than imported.
GENESIS_FILE = "genesis.json"
DATABASE_FILE = Path("data") / "ledger.sqlite"
# Where `cometbft node` looks for its application unless --proxy_app says otherwise.
DEFAULT_ADDRESS = "tcp://127.0.0.1:26658"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """--home and --socket (by default CometBFT's own default --proxy_app address)."""
    parser = argparse.ArgumentParser(
        prog="python -m healthledger.engines.abci",
        description="Serve a HealthLedger node folder to CometBFT over ABCI.",
    )
    parser.add_argument("--home", required=True, type=Path, help="the node folder")
    parser.add_argument(
        "--socket",
        default=DEFAULT_ADDRESS,
        help=f"unix:///path/app.sock or tcp://host:port (default {DEFAULT_ADDRESS})",
    )
    return parser.parse_args(argv)


async def serve(home: Path, address: str) -> None:
    """Open the ledger, serve ABCI until a stop signal, then close everything in order."""
    ListenAddress.parse(address)  # refuse a bad address before touching the database
    types = abci_types()
    genesis = load_genesis(home / GENESIS_FILE)
    (home / DATABASE_FILE).parent.mkdir(parents=True, exist_ok=True)
    store = Store(home / DATABASE_FILE)
    app = Application(store)
    try:
        server = AbciServer(AbciAdapter(app, genesis, types).handle, types)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        await server.serve(address, stopping)
    finally:
        app.close()
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until stopped; 0 on a clean stop, 1 (with the reason logged) if it cannot start."""
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve(args.home, args.socket))
    except LedgerError as exc:
        log.error("%s", exc.message)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
