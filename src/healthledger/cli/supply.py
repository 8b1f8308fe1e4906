"""`healthledger supply ...`: commission, move, verify, recall and audit drug packages."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from healthledger.cli.keyfile import open_key
from healthledger.cli.output import JsonOpt, emit, fail, progress_bar
from healthledger.cli.trust import PinOpt, TrustOpt, anchor_for
from healthledger.client.epcis_import import sender_org
from healthledger.client.sdk import Client, Signer, require_committed
from healthledger.domains.shared import coldchain
from healthledger.domains.supply import epcis, gs1, ti
from healthledger.domains.supply.messages import MAX_COMMISSION
from healthledger.errors import InvalidField, LedgerError, MalformedInput

UrlOpt = Annotated[str, typer.Option("--url", envvar="HEALTHLEDGER_URL", help="Node API.")]
KeyOpt = Annotated[Path, typer.Option("--key", help="Key file of the acting organisation.")]
ReaderKeyOpt = Annotated[
    Path, typer.Option("--key", help="Key file of the member organisation (or auditor) reading.")
]
Items = Annotated[list[str], typer.Argument(help="Packages as GTIN:serial, or SSCCs.")]
DEFAULT_URL = "http://127.0.0.1:8700"

supply_app = typer.Typer(help="Drug supply chain (GS1 / DSCSA).", no_args_is_help=True)
transaction_app = typer.Typer(
    help="DSCSA transaction information and statements (TI/TS).", no_args_is_help=True
)
supply_app.add_typer(transaction_app, name="transaction")
PoOpt = Annotated[str | None, typer.Option("--po", help="Purchase order id.")]
InvOpt = Annotated[str | None, typer.Option("--inv", help="Invoice id.")]
DesadvOpt = Annotated[str | None, typer.Option("--desadv", help="Despatch advice id.")]


def _run(url: str, key: Path, tx_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Sign, submit, wait; a refused or failed transaction becomes its LedgerError."""
    with Client(url) as client:
        signer = client.signer(open_key(key))
        return require_committed(client.submit(signer.sign(tx_type, payload), wait=True)).wire()


def _serials(count: int | None, prefix: str, start: int, file: Path | None) -> list[str]:
    if file is not None:
        return [line.strip() for line in file.read_text().splitlines() if line.strip()]
    if count is None or count < 1:
        raise MalformedInput("give --count N or --serials-file FILE")
    return [f"{prefix}{number}" for number in range(start, start + count)]


@supply_app.command("commission")
def commission(
    key: KeyOpt,
    gtin: Annotated[str, typer.Option(help="GTIN (8, 12, 13 or 14 digits).")],
    lot: Annotated[str, typer.Option(help="Lot / batch number.")],
    expiry: Annotated[str, typer.Option(help="Expiry date YYYY-MM-DD.")],
    count: Annotated[int | None, typer.Option(help="Generate this many serials.")] = None,
    prefix: Annotated[str, typer.Option(help="Prefix of generated serials.")] = "",
    start: Annotated[int, typer.Option(help="First generated serial number.")] = 1,
    serials_file: Annotated[Path | None, typer.Option(help="One serial per line.")] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Serialize packages in bulk (100,000 in one call is fine), with a progress bar."""
    try:
        gtin14 = gs1.validate_gtin(gtin)
        serials = _serials(count, prefix, start, serials_file)
        committed = _commission(url, key, gtin14, lot, expiry, serials, as_json)
    except (LedgerError, OSError) as exc:
        fail(exc if isinstance(exc, LedgerError) else MalformedInput(str(exc)), as_json)
    emit({"ok": True, "gtin": gtin14, "lot": lot, "commissioned": committed}, as_json)


def _commission(
    url: str, key: Path, gtin: str, lot: str, expiry: str, serials: list[str], quiet: bool
) -> int:
    chunks = [serials[i : i + MAX_COMMISSION] for i in range(0, len(serials), MAX_COMMISSION)]
    done = 0
    keys = open_key(key)  # before the progress bar: a protected key asks its passphrase
    with (
        Client(url, timeout=120) as client,
        progress_bar("commissioning", not quiet) as advance,
    ):
        signer = client.signer(keys)
        for group in _groups(chunks, 10):
            txs = [
                signer.sign(
                    "supply.commission",
                    {"gtin": gtin, "lot": lot, "expiry": expiry, "serials": chunk},
                )
                for chunk in group
            ]
            for report in client.submit_batch(txs, wait=True, timeout_ms=120_000):
                require_committed(report)
            done += sum(len(chunk) for chunk in group)
            advance(done, len(serials))
    return done


def _groups(chunks: list[list[str]], size: int) -> list[list[list[str]]]:
    return [chunks[i : i + size] for i in range(0, len(chunks), size)]


def _act(url: str, key: Path, as_json: bool, tx_type: str, payload: dict[str, Any]) -> None:
    """Run one custody step and report its committed result."""
    try:
        report = _run(url, key, tx_type, payload)
    except LedgerError as exc:
        fail(exc, as_json)
    emit(report, as_json)


@supply_app.command("aggregate")
def aggregate(
    key: KeyOpt,
    sscc: Annotated[str, typer.Option(help="SSCC of the case or pallet.")],
    items: Items,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Pack items into a case or pallet."""
    _act(url, key, as_json, "supply.aggregate", {"sscc": sscc, "items": items})


@supply_app.command("disaggregate")
def disaggregate(
    key: KeyOpt, sscc: str, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False
) -> None:
    """Unpack a case or pallet."""
    _act(url, key, as_json, "supply.disaggregate", {"sscc": sscc})


@supply_app.command("ship")
def ship(
    key: KeyOpt,
    to: Annotated[str, typer.Option(help="Receiving organisation id.")],
    items: Items,
    po: PoOpt = None,
    inv: InvOpt = None,
    desadv: DesadvOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Ship items (a pallet moves everything inside it).

    --po/--inv/--desadv name the transaction information (recorded first with
    `supply transaction record`) they travel under.
    """
    payload: dict[str, Any] = {"items": items, "to": to}
    refs = _biz_refs(po, inv, desadv, [])
    if refs:
        payload["biz_transactions"] = refs
    _act(url, key, as_json, "supply.ship", payload)


def _biz_refs(
    po: str | None, inv: str | None, desadv: str | None, others: list[str]
) -> list[dict[str, str]]:
    refs = [
        {"type": kind, "id": ref}
        for kind, ref in (("po", po), ("inv", inv), ("desadv", desadv))
        if ref is not None
    ]
    for other in others:
        kind, sep, ref = other.partition(":")
        if not sep or not ref:
            raise MalformedInput(f"--biz {other!r}: expected TYPE:ID (rma:RMA-7)")
        refs.append({"type": kind, "id": ref})
    return refs


def _ti_line(text: str) -> dict[str, Any]:
    """GTIN:LOT:QUANTITY (a lot may itself hold ':')."""
    gtin, _sep, rest = text.partition(":")
    lot, sep, quantity = rest.rpartition(":")
    if not sep or not lot or not quantity.isdigit():
        raise MalformedInput(f"--line {text!r}: expected GTIN:LOT:QUANTITY")
    return {"gtin": gs1.validate_gtin(gtin), "lot": lot, "quantity": int(quantity)}


def _ti_payload(
    file: Path | None,
    buyer: str | None,
    refs: list[dict[str, str]],
    lines: list[str],
    items: list[str],
) -> dict[str, Any]:
    """The TI from a JSON file (fields of `supply.transaction`) and/or the flags."""
    payload: dict[str, Any] = {}
    if file is not None:
        document = _read_json(file)
        if not isinstance(document, dict):
            raise MalformedInput(f"{file}: expected a JSON object of transaction information")
        payload.update(document)
    if buyer is not None:
        payload["buyer"] = buyer
    if refs:
        payload["biz_transactions"] = [*payload.get("biz_transactions", []), *refs]
    if lines:
        payload["lines"] = [*payload.get("lines", []), *(_ti_line(line) for line in lines)]
    if items:
        payload["items"] = [*payload.get("items", []), *items]
    if "buyer" not in payload:
        raise MalformedInput("give --buyer (or a file with a buyer)")
    # Recording the TI is making the statement: its hash is filled in, the text shown.
    payload.setdefault("statement", ti.STATEMENT_SHA256)
    return payload


@transaction_app.command("record")
def transaction_record(
    key: KeyOpt,
    buyer: Annotated[str | None, typer.Option(help="Buying organisation id.")] = None,
    po: PoOpt = None,
    inv: InvOpt = None,
    desadv: DesadvOpt = None,
    biz: Annotated[
        list[str] | None, typer.Option(help="Another business transaction, TYPE:ID.")
    ] = None,
    line: Annotated[
        list[str] | None, typer.Option(help="Packages sold: GTIN:LOT:QUANTITY (repeat).")
    ] = None,
    item: Annotated[
        list[str] | None, typer.Option(help="A package GTIN:serial or SSCC sold (repeat).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="JSON object with the fields of supply.transaction.")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Record a sale's DSCSA transaction information and statement.

    Signing it makes the transaction statement, whose text the report shows.
    """
    try:
        refs = _biz_refs(po, inv, desadv, biz or [])
        payload = _ti_payload(file, buyer, refs, line or [], item or [])
        report = _run(url, key, "supply.transaction", payload)
    except LedgerError as exc:
        fail(exc, as_json)
    emit({**report, "statement": ti.STATEMENT}, as_json)


@transaction_app.command("show")
def transaction_show(
    seller: str,
    kind: Annotated[str, typer.Argument(metavar="TYPE", help="po, inv, desadv, rma...")],
    ref: Annotated[str, typer.Argument(metavar="ID", help="The business transaction id.")],
    key: ReaderKeyOpt,
    trust: TrustOpt = None,
    pin: PinOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A seller's transaction information, by one of its business transactions.

    Its proofs are checked here against the trust anchor (--trust / --pin).
    """
    try:
        with Client(url, keys=open_key(key), anchor=anchor_for(url, trust, pin)) as client:
            view = client.supply_transaction(seller, kind, ref)
            anchor = client.anchor.check_state(client, view.index)  # names what it was
    except LedgerError as exc:
        fail(exc, as_json)
    answer = {
        "transaction": view.record().model_dump(mode="json"),
        "statement": view.statement_text,
        "proven_at_height": view.index.height,
        "verified_proofs": True,
        "anchor": anchor,
    }
    emit(answer, as_json)


@supply_app.command("transactions")
def transactions(
    gtin: str,
    serial: str,
    key: ReaderKeyOpt,
    trust: TrustOpt = None,
    pin: PinOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A package's full TI/TS history: every transaction it travelled under.

    Each is proven here against the trust anchor (--trust / --pin).
    """
    try:
        with Client(url, keys=open_key(key), anchor=anchor_for(url, trust, pin)) as client:
            view = client.supply_transactions(gtin, serial)
            anchor = client.anchor.check_state(client, view.history)  # names what it was
    except LedgerError as exc:
        fail(exc, as_json)
    answer = {
        "gtin": view.gtin,
        "serial": view.serial,
        "statement": view.statement_text,
        "transactions": [record.model_dump(mode="json") for record in view.records()],
        "proven_at_height": view.history.height,
        "verified_proofs": True,
        "anchor": anchor,
    }
    emit(answer, as_json)


@supply_app.command("receive")
def receive(key: KeyOpt, items: Items, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False) -> None:
    """Receive items shipped to you."""
    _act(url, key, as_json, "supply.receive", {"items": items})


@supply_app.command("dispense")
def dispense(
    key: KeyOpt,
    gtin: Annotated[str, typer.Option()],
    serial: Annotated[str, typer.Option()],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Dispense one package (no patient data is recorded)."""
    _act(url, key, as_json, "supply.dispense", {"gtin": gtin, "serial": serial})


@supply_app.command("transform")
def transform(
    key: KeyOpt,
    inputs: Annotated[
        list[str] | None,
        typer.Option("--in", help="A package consumed (GTIN:serial) or an SSCC; repeat."),
    ] = None,
    gtin: Annotated[str | None, typer.Option(help="GTIN of the packages produced.")] = None,
    lot: Annotated[str | None, typer.Option(help="Their lot.")] = None,
    expiry: Annotated[str | None, typer.Option(help="Their expiry YYYY-MM-DD.")] = None,
    serials: Annotated[
        list[str] | None, typer.Option("--serial", help="A serial produced; repeat.")
    ] = None,
    count: Annotated[int | None, typer.Option(help="Or generate this many serials.")] = None,
    prefix: Annotated[str, typer.Option(help="Prefix of generated serials.")] = "",
    start: Annotated[int, typer.Option(help="First generated serial number.")] = 1,
    transformation_id: Annotated[
        str | None,
        typer.Option(help="An EPCIS transformationID (URI) several steps share."),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Repackage, kit or compound: consume packages and commission new ones, linked both ways."""
    payload: dict[str, Any] = {"inputs": inputs or []}
    try:
        produced = serials or ([] if count is None else _serials(count, prefix, start, None))
        if produced:
            if gtin is None or lot is None or expiry is None:
                raise MalformedInput("outputs need --gtin, --lot and --expiry")
            output = {"gtin": gs1.validate_gtin(gtin), "lot": lot, "expiry": expiry}
            payload["outputs"] = [{**output, "serials": produced}]
        if transformation_id is not None:
            payload["transformation_id"] = transformation_id
        report = _run(url, key, "supply.transform", payload)
    except LedgerError as exc:
        fail(exc, as_json)
    emit(report, as_json)


@supply_app.command("transformation")
def transformation(
    transformation_id: Annotated[str, typer.Argument(help="The transformation's id.")],
    key: ReaderKeyOpt,
    trust: TrustOpt = None,
    pin: PinOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A transformation's inputs and outputs (a member organisation's signed read).

    Proven here against the trust anchor (--trust / --pin).
    """
    try:
        anchor = anchor_for(url, trust, pin)
        with Client(url, keys=open_key(key), anchor=anchor) as client:
            record = client.supply_transformation(transformation_id)
    except LedgerError as exc:
        fail(exc, as_json)
    answer = record.model_dump(mode="json")
    emit({**answer, "inputs": record.inputs, "outputs": record.outputs}, as_json)


@supply_app.command("recall")
def recall(
    key: KeyOpt,
    gtin: Annotated[str, typer.Option()],
    reason: Annotated[str, typer.Option()],
    lot: Annotated[str | None, typer.Option(help="Recall this lot...")] = None,
    serial_from: Annotated[str | None, typer.Option("--from", help="...or this range.")] = None,
    serial_to: Annotated[str | None, typer.Option("--to")] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Recall a lot or a serial range; the result lists the holders to notify."""
    payload = {
        "gtin": gtin,
        "reason": reason,
        "lot": lot,
        "serial_from": serial_from,
        "serial_to": serial_to,
    }
    _act(url, key, as_json, "supply.recall", payload)


@supply_app.command("verify")
def verify(
    scan: Annotated[str | None, typer.Option(help="Raw 2D barcode data.")] = None,
    gtin: Annotated[str | None, typer.Option()] = None,
    serial: Annotated[str | None, typer.Option()] = None,
    lot: Annotated[str | None, typer.Option()] = None,
    expiry: Annotated[str | None, typer.Option(help="YYYY-MM-DD.")] = None,
    record: Annotated[
        Path | None, typer.Option(help="Also record the scan on the ledger, signed with this key.")
    ] = None,
    trust: TrustOpt = None,
    pin: PinOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Verify a package against the ledger.

    The node's proofs are checked here, against the trust anchor (--trust / --pin),
    before the verdict is shown.
    """
    try:
        year = time.gmtime().tm_year
        product = gs1.product_from(scan, gtin, serial, lot, expiry, reference_year=year)
        with Client(url, anchor=anchor_for(url, trust, pin)) as client:
            view = client.supply_verification(
                product.gtin, product.serial, product.lot, product.expiry
            )
            anchor = client.prove_supply(view, product)
        answer: dict[str, Any] = {
            "verdict": view.verdict,
            "expired": view.expired,
            "package": view.package,
            "proven_at_height": view.proofs.package.height,
            "verified_proofs": True,
            "anchor": anchor,
        }
        if record is not None:
            fields = {
                "gtin": product.gtin,
                "serial": product.serial,
                "lot": product.lot,
                "expiry": product.expiry,
            }
            report = _run(url, record, "supply.verify", fields)
            events = report["result"]["events"]
            answer["recorded"] = next(e for e in events if e["type"] == "supply.verified")
    except LedgerError as exc:
        fail(exc, as_json)
    emit(answer, as_json)


@supply_app.command("history")
def history(
    gtin: str,
    serial: str,
    key: ReaderKeyOpt,
    as_epcis: Annotated[
        bool, typer.Option("--epcis", help="As an EPCIS 2.0 JSON document.")
    ] = False,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A package's full chain of custody (a member organisation's signed read)."""
    try:
        with Client(url, keys=open_key(key)) as client:
            gtin14 = gs1.validate_gtin(gtin)
            if as_epcis:
                emit(client.supply_epcis(gtin14, serial), as_json)
            else:
                emit(client.supply_history(gtin14, serial), as_json)
    except LedgerError as exc:
        fail(exc, as_json)


@supply_app.command("lot-history")
def lot_history(
    gtin: str,
    lot: str,
    key: ReaderKeyOpt,
    limit: Annotated[int, typer.Option(help="At most this many packages.")] = 10_000,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """The chain of custody of a lot's packages as one EPCIS 2.0 document (fetched in pages)."""
    try:
        with Client(url, timeout=120, keys=open_key(key)) as client:
            emit(client.supply_lot_epcis(gs1.validate_gtin(gtin), lot, limit), as_json)
    except LedgerError as exc:
        fail(exc, as_json)


@supply_app.command("alerts")
def alerts(
    key: ReaderKeyOpt,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Newest first, at most.")] = 100,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Counterfeit and diversion alerts (a member organisation's signed read)."""
    _signed_read(url, key, as_json, lambda client: client.supply_alerts(limit))


@supply_app.command("recalls")
def recalls(
    key: ReaderKeyOpt,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Recalls per page.")] = 100,
    after: Annotated[str | None, typer.Option(help="The previous page's next_after.")] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Recalls issued, with the holders notified and who acknowledged (a member's signed read)."""
    try:
        with Client(url, keys=key) as client:
            emit(client.supply_recalls(limit, after).model_dump(mode="json"), as_json)
    except LedgerError as exc:
        fail(exc, as_json)


range_app = typer.Typer(help="A GTIN's allowed temperature range.", no_args_is_help=True)
excursion_app = typer.Typer(help="Temperature excursions.", no_args_is_help=True)
supply_app.add_typer(range_app, name="range")
supply_app.add_typer(excursion_app, name="excursion")
Degrees = Annotated[str | None, typer.Option(help="Degrees (decimals allowed, e.g. -2.5).")]


def _exact_milli(name: str, text: str) -> int:
    """A limit the user wrote, in milli-units; more than three decimals is refused, not rounded."""
    try:
        low, high = coldchain.milli(text, "floor"), coldchain.milli(text, "ceiling")
    except ValueError as exc:
        raise InvalidField(f"--{name}: {exc}") from None
    if low != high:
        raise InvalidField(f"--{name} {text}: at most three decimals (milli-degrees)")
    return low


def _reading_milli(name: str, text: str | None, rounding: coldchain.Rounding) -> int | None:
    if text is None:
        return None
    try:
        return coldchain.milli(text, rounding)
    except ValueError as exc:
        raise InvalidField(f"--{name}: {exc}") from None


@range_app.command("set")
def range_set(
    key: KeyOpt,
    gtin: Annotated[str, typer.Option(help="GTIN of your product.")],
    low: Annotated[str, typer.Option("--min", help="Lowest allowed, in °C (e.g. 2 or -2.5).")],
    high: Annotated[str, typer.Option("--max", help="Highest allowed, in °C.")],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Set or change the allowed temperature range of your GTIN (its manufacturer only)."""
    try:
        payload = {
            "gtin": gs1.validate_gtin(gtin),
            "min_mc": _exact_milli("min", low),
            "max_mc": _exact_milli("max", high),
        }
    except LedgerError as exc:
        fail(exc, as_json)
    _act(url, key, as_json, "supply.product_range", payload)


@range_app.command("show")
def range_show(
    gtin: str, key: ReaderKeyOpt, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False
) -> None:
    """A GTIN's allowed range (m°C) and its latest changes (a member's signed read)."""
    _signed_read(url, key, as_json, lambda client: client.supply_range(gs1.validate_gtin(gtin)))


@supply_app.command("sensor")
def sensor(
    key: KeyOpt,
    items: Annotated[
        # --item as in `transaction record`; --items kept for scripts written before.
        list[str],
        typer.Option("--item", "--items", help="A package GTIN:serial or SSCC (repeat)."),
    ],
    low: Annotated[str | None, typer.Option("--min", help="Lowest reading.")] = None,
    high: Annotated[str | None, typer.Option("--max", help="Highest reading.")] = None,
    mean: Annotated[str | None, typer.Option(help="Mean reading.")] = None,
    value: Annotated[str | None, typer.Option(help="A single reading.")] = None,
    unit: Annotated[str, typer.Option(help="CEL, FAR or KEL (UN/CEFACT).")] = "CEL",
    device: Annotated[str | None, typer.Option(help="The logger's id (a URI).")] = None,
    at: Annotated[str | None, typer.Option("--time", help="RFC 3339 time of the reading.")] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Record a temperature reading on items you hold; out of range quarantines them."""
    try:
        reading: dict[str, Any] = {
            "type": coldchain.TEMPERATURE,
            "uom": unit,
            "value": _reading_milli("value", value, "half_even"),
            "min": _reading_milli("min", low, "floor"),
            "mean": _reading_milli("mean", mean, "half_even"),
            "max": _reading_milli("max", high, "ceiling"),
            "device": device,
            "time_ms": None if at is None else epcis.parse_time("--time", at),
        }
    except LedgerError as exc:
        fail(exc, as_json)
    payload = {
        "items": items,
        "readings": [{k: v for k, v in reading.items() if v is not None}],
        "device": device,
    }
    _act(url, key, as_json, "supply.sensor", payload)


@supply_app.command("excursions")
def excursions(
    key: ReaderKeyOpt,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Excursions per page.")] = 100,
    after: Annotated[int | None, typer.Option(help="The previous page's next_after.")] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Temperature excursions, oldest first, with the custodian named (a member's signed read)."""
    _signed_read(url, key, as_json, lambda client: client.supply_excursions(limit, after))


@excursion_app.command("show")
def excursion_show(
    number: int, key: ReaderKeyOpt, url: UrlOpt = DEFAULT_URL, as_json: JsonOpt = False
) -> None:
    """One excursion (a member's signed read)."""
    _signed_read(url, key, as_json, lambda client: client.supply_excursion(number))


@excursion_app.command("resolve")
def excursion_resolve(
    number: int,
    key: KeyOpt,
    reason: Annotated[str, typer.Option(help="Why (stability data, inspection...).")],
    clear: Annotated[bool, typer.Option("--clear", help="Release the goods.")] = False,
    destroy: Annotated[bool, typer.Option("--destroy", help="Destroy the goods.")] = False,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """The manufacturer's decision on an excursion of its product: --clear or --destroy."""
    if clear == destroy:
        fail(InvalidField("give exactly one of --clear or --destroy"), as_json)
    decision = "clear" if clear else "destroy"
    payload = {"number": number, "decision": decision, "reason": reason}
    _act(url, key, as_json, "supply.excursion_resolve", payload)


@supply_app.command("import-epcis")
def import_epcis(
    file: Annotated[
        Path, typer.Argument(help="An EPCIS 2.0 JSON document (EPCISDocument or query result).")
    ],
    key: KeyOpt,
    check: Annotated[
        bool, typer.Option("--check", help="Only ask the node what each event would become.")
    ] = False,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Import a partner's EPCIS 2.0 feed; --check only asks what each event would become.

    Every event is checked before any is sent; the report says what each became (custody,
    observation, ...) and in which transaction, or why not. Exit code 2 if any was refused.
    """
    try:
        document = _read_json(file)
        keys = open_key(key)
        with Client(url, timeout=120, keys=keys) as client:
            signer = client.signer(keys)
            if check:
                answer = client.supply_check_epcis(document, sender_org(client, signer))
            else:
                answer = client.supply_import_epcis(document, signer)
    except LedgerError as exc:
        fail(exc, as_json)
    emit(answer, as_json)
    if not answer.get("ok"):
        raise typer.Exit(2)


def _signed_read(
    url: str, key: Path, as_json: bool, read: Callable[[Client], BaseModel | list[Any]]
) -> None:
    """Show what a member's signed read answers (a model as its JSON), or fail with its code."""
    try:
        with Client(url, keys=open_key(key)) as client:
            answer = read(client)
    except LedgerError as exc:
        fail(exc, as_json)
    emit(answer.model_dump(mode="json") if isinstance(answer, BaseModel) else answer, as_json)


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise MalformedInput(f"{file}: not a JSON document: {exc}") from exc


def register(app: typer.Typer) -> None:
    app.add_typer(supply_app, name="supply")


__all__ = ["Signer", "register"]
