"""`healthledger bench ...`: parse each benchmark's options, run it, print its figures."""

from __future__ import annotations

from typing import Annotated

import typer

from healthledger.bench.api import run_api
from healthledger.bench.credentials import run_credentials
from healthledger.bench.ingest import run_ingest
from healthledger.bench.net import run_net_bench
from healthledger.bench.records import run_records
from healthledger.bench.supply import run_supply
from healthledger.bench.trie import run_trie
from healthledger.cli.output import JsonOpt, emit, phase_bars


def register(app: typer.Typer) -> None:
    bench_app = typer.Typer(
        help="Benchmarks (figures go in docs/benchmarks.md).", no_args_is_help=True
    )
    app.add_typer(bench_app, name="bench")
    for command in (ingest, trie, supply, records, credentials, api, net):
        bench_app.command(command.__name__)(command)


def ingest(
    txs: Annotated[int, typer.Option(help="Transactions in the throughput run.")] = 20_000,
    workers: Annotated[int, typer.Option(help="Signature-check processes.")] = 2,
    block_txs: Annotated[int, typer.Option(help="max_block_txs.")] = 5000,
    interval_ms: Annotated[int, typer.Option(help="block_interval_ms.")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """check → order → apply → commit, end to end, in one process."""
    with phase_bars(not as_json) as report:
        result = run_ingest(txs, workers, block_txs, interval_ms, report)
    emit(result, as_json)


def trie(
    keys: Annotated[int, typer.Option(help="Keys already in the state.")] = 1_000_000,
    batch: Annotated[int, typer.Option(help="Keys written per block.")] = 15_000,
    rounds: Annotated[int, typer.Option(help="Blocks to time.")] = 5,
    as_json: JsonOpt = False,
) -> None:
    """State-root cost per block on a large state (trie alone, nodes in memory)."""
    emit(run_trie(keys, batch, rounds), as_json)


def supply(
    serials: Annotated[int, typer.Option(help="Serials commissioned first.")] = 10_000_000,
    events: Annotated[int, typer.Option(help="Custody events (one package each).")] = 20_000,
    verifies: Annotated[int, typer.Option(help="Verification requests timed.")] = 2_000,
    epcis_events: Annotated[
        int, typer.Option(help="Events in the mixed EPCIS 2.0 feed imported.")
    ] = 100_000,
    as_json: JsonOpt = False,
) -> None:
    """Serials commissioned per second, custody events per second, verify latency, EPCIS
    events imported per second."""
    with phase_bars(not as_json) as report:
        result = run_supply(serials, events, verifies, report, epcis_events)
    emit(result, as_json)


def records(
    records: Annotated[int, typer.Option(help="Records on the ledger for locate.")] = 1_000_000,
    patients: Annotated[int, typer.Option(help="Patients they belong to.")] = 100_000,
    adds: Annotated[int, typer.Option(help="FHIR records added through the API.")] = 10_000,
    reads: Annotated[int, typer.Option(help="Audited reads through the API.")] = 3_000,
    locates: Annotated[int, typer.Option(help="Locator queries timed.")] = 2_000,
    clients: Annotated[int, typer.Option(help="Concurrent API clients.")] = 32,
    as_json: JsonOpt = False,
) -> None:
    """Records added/s, consent-checked reads/s, locate p50/p99 at N records."""
    with phase_bars(not as_json) as report:
        result = run_records(records, patients, adds, reads, locates, clients, report)
    emit(result, as_json)


def credentials(
    credentials: Annotated[int, typer.Option(help="Credentials issued (signed first).")] = 100_000,
    members: Annotated[int, typer.Option(help="Practitioners they are issued to.")] = 10_000,
    status_changes: Annotated[
        int, typer.Option(help="Suspend, reinstate and revoke transactions (a third each).")
    ] = 10_000,
    verifies: Annotated[int, typer.Option(help="Verifications timed.")] = 2_000,
    as_json: JsonOpt = False,
) -> None:
    """Credentials issued/s, status changes/s, verify p50/p99 (proof, anchor's state
    proof, status at a date)."""
    with phase_bars(not as_json) as report:
        result = run_credentials(credentials, members, status_changes, verifies, report)
    emit(result, as_json)


def api(
    txs: Annotated[int, typer.Option(help="Transactions to submit.")] = 20_000,
    clients: Annotated[int, typer.Option(help="Concurrent HTTP clients.")] = 16,
    batch: Annotated[int, typer.Option(help="Transactions per request (1 = single).")] = 250,
    as_json: JsonOpt = False,
) -> None:
    """Signed transactions through POST /v1/txs/batch?wait=true from concurrent clients."""
    emit(run_api(txs, clients, batch), as_json)


def net(
    validators: Annotated[int, typer.Option(help="Validators (one per organisation).")] = 4,
    txs: Annotated[int, typer.Option(help="Transactions per run.")] = 8_000,
    batch: Annotated[int, typer.Option(help="Transactions per broadcast batch.")] = 50,
    clients: Annotated[int, typer.Option(help="Closed-loop clients per node.")] = 8,
    as_json: JsonOpt = False,
) -> None:
    """Committed tx/s and commit latency of the network, and of kvstore on the same setup."""
    emit(run_net_bench(validators, txs, batch, clients), as_json)
