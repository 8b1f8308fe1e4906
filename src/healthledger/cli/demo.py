"""`healthledger demo`: build (or resume) the demo network and serve its API on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from healthledger.api.serve import serve
from healthledger.cli.output import emit, fail, progress_bar
from healthledger.demo.runner import DEFAULT_TXS, Runner, remove_if_other_rules
from healthledger.errors import LedgerError
from healthledger.node.home import DEFAULT_PORT, Home
from healthledger.node.node import Node
from healthledger.web.demo_keys import DemoKeys


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        directory: Annotated[Path, typer.Option("--dir", help="Demo network folder.")] = Path(
            "demo-net"
        ),
        txs: Annotated[int, typer.Option(help="About how many demo transactions.")] = DEFAULT_TXS,
        serve_api: Annotated[
            bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")
        ] = True,
        port: Annotated[int, typer.Option(help="API port.")] = DEFAULT_PORT,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Build (or resume) a demo network and serve its API on 127.0.0.1."""
        home = Home(directory)
        try:
            recreated = remove_if_other_rules(home)
        except LedgerError as exc:
            fail(exc, as_json)
        if home.exists():
            summary: dict[str, Any] = {"ok": True, "dir": str(directory), "resumed": True}
        else:
            try:
                with progress_bar("demo transactions", not as_json) as advance:
                    summary = Runner(directory, txs).run(advance)
            except LedgerError as exc:
                fail(exc, as_json)
            if recreated is not None:
                summary["recreated"] = recreated
        emit(summary, as_json)
        if serve_api:
            node = Node(directory)
            typer.echo(f"Serving {node.app.chain_id} at height {node.app.info().height}")
            typer.echo(f"Portal http://127.0.0.1:{port}/  (open it in a browser; demo sign-in)")
            typer.echo(
                f"API http://127.0.0.1:{port}  docs http://127.0.0.1:{port}/docs  Ctrl-C stops"
            )
            serve(node, "127.0.0.1", port, demo=DemoKeys(directory))
