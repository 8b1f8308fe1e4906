"""`healthledger records|consent|audit ...`: patient records from the command line.

Every command acts as the person whose key file is given with `--key`: a
practitioner adds and reads, a patient grants, revokes, reads their own and
audits who read them. Reads decrypt on this machine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from healthledger.cli.keyfile import open_key
from healthledger.cli.output import JsonOpt, emit, fail
from healthledger.cli.trust import PinOpt, TrustOpt, anchor_for
from healthledger.client.held import PAYLOAD_PREFIX, hold_summary, open_held, open_held_with
from healthledger.client.records import RecordCopy, Records, Via, verify_copy
from healthledger.client.sdk import Client, Signer
from healthledger.domains.records.replies import JsonObject
from healthledger.errors import LedgerError, MalformedInput, Unauthorized

UrlOpt = Annotated[str, typer.Option("--url", envvar="HEALTHLEDGER_URL", help="Node API.")]
KeyOpt = Annotated[Path, typer.Option("--key", help="Key file of the person acting.")]
PurposeOpt = Annotated[
    str,
    typer.Option(
        help="treatment, payment, research, emergency, operations, public_health, patient_request"
    ),
]
DEFAULT_URL = "http://127.0.0.1:8700"
DAY_MS = 86_400_000

records_app = typer.Typer(help="Patient records: add, locate, read, history.", no_args_is_help=True)
consent_app = typer.Typer(help="A patient's consents: grant, revoke, list.", no_args_is_help=True)
audit_app = typer.Typer(help="Accounting of disclosures.", no_args_is_help=True)


@contextmanager
def _acting(url: str, key: Path, as_json: bool, via: Via = "direct") -> Iterator[Records]:
    """Records operations as the key's holder; any error leaves with its code."""
    try:
        with Client(url) as client:
            records = Records(client, open_key(key), via=via)
            try:
                yield records
            finally:
                records.close()
    except LedgerError as exc:
        fail(exc, as_json)
    except OSError as exc:
        fail(MalformedInput(str(exc)), as_json)


def _signer(records: Records) -> Signer:
    signer = Signer(records.keys, records.chain_id)
    signer.sync_nonce(records.client)
    return signer


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise MalformedInput(f"{path} is not JSON: {exc}") from exc


@records_app.command("add")
def add(
    key: KeyOpt,
    patient: Annotated[str, typer.Option(help="Patient pseudonym (pat_…).")],
    resource: Annotated[
        Path | None,
        typer.Option(help="A FHIR R4 resource (JSON file); a Bundle imports one record per entry."),
    ] = None,
    file: Annotated[Path | None, typer.Option(help="A large file to stream instead.")] = None,
    kind: Annotated[
        str, typer.Option(help="With --file: vcf, fastq, bam, dicom, pdf, other.")
    ] = "other",
    date: Annotated[str, typer.Option(help="With --file: clinical date YYYY-MM-DD.")] = "",
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Add a record for a patient: the node validates, encrypts and registers it.

    A FHIR Bundle given with --resource is imported whole (as `records import`)."""
    with _acting(url, key, as_json) as records:
        if (resource is None) == (file is None):
            raise MalformedInput("give either --resource FILE.json or --file FILE")
        if resource is not None:
            value = _load_json(resource)
            if isinstance(value, dict) and value.get("resourceType") == "Bundle":
                emit(records.import_bundle(patient, value).wire(), as_json)
                return
            added = records.add(patient, value)
        else:
            assert file is not None
            added = records.add_file(patient, kind, date or time.strftime("%Y-%m-%d"), file)
        emit(added.wire(), as_json)


@records_app.command("import")
def import_bundle(
    key: KeyOpt,
    patient: Annotated[str, typer.Option(help="Patient pseudonym (pat_…).")],
    bundle: Annotated[Path, typer.Argument(help="A FHIR R4 Bundle (JSON file).")],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Import a FHIR Bundle for one patient: one record per entry, all or none.

    Prints each entry's outcome (added or duplicate, and its record id)."""
    with _acting(url, key, as_json) as records:
        emit(records.import_bundle(patient, _load_json(bundle)).wire(), as_json)


@records_app.command("locate")
def locate(
    key: KeyOpt,
    patient: Annotated[str, typer.Argument(help="Patient pseudonym (pat_…).")],
    purpose: Annotated[
        str | None, typer.Option(help="Only records consented for this purpose.")
    ] = None,
    break_glass: Annotated[
        str | None,
        typer.Option(help="Emergency search; the reason (kept in the vault, hashed on chain)."),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Where has this patient been treated? Only what the caller's consent allows."""
    with _acting(url, key, as_json) as records:
        purpose = "emergency" if break_glass and purpose is None else purpose
        emit(records.locate(patient, purpose, break_glass).wire(), as_json)


@records_app.command("get")
def get(
    key: KeyOpt,
    record_id: Annotated[str | None, typer.Argument(help="Record id (rec-…).")] = None,
    purpose: PurposeOpt = "treatment",
    out: Annotated[Path | None, typer.Option(help="Write the decrypted record here.")] = None,
    break_glass: Annotated[
        str | None,
        typer.Option(help="Emergency read; the reason (kept in the vault, hashed on chain)."),
    ] = None,
    all_records: Annotated[
        bool, typer.Option("--all", help="Right of access: every own record.")
    ] = False,
    via: Annotated[
        str,
        typer.Option(
            help="A record another organisation holds: read it at its node found in the "
            "directory (direct), or through this node, which forwards the request (node)."
        ),
    ] = "direct",
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Read a record (audited): decrypt here, check its hash and the access receipt."""
    if via not in ("direct", "node"):
        fail(MalformedInput("--via is direct or node"), as_json)
    with _acting(url, key, as_json, "node" if via == "node" else "direct") as records:
        if all_records:
            emit(
                {"records": [_copy_view(c) for c in records.pull_all(records.patient_id)]}, as_json
            )
            return
        if record_id is None:
            raise MalformedInput("name a record id, or use --all")
        if out is not None and break_glass is None:
            copy = records.read_to_file(record_id, purpose, out)
            emit({**_copy_view(copy), "written": str(out)}, as_json)
            return
        copy = records.read(record_id, "emergency" if break_glass else purpose, break_glass)
        if out is not None:
            out.write_bytes(copy.plaintext)
        emit({**_copy_view(copy), "content": _content(copy.plaintext)}, as_json)


def _copy_view(copy: RecordCopy) -> JsonObject:
    return {
        "record": copy.record,
        "salt": copy.salt.hex(),
        "access": copy.access.wire(),
    }


def _content(plaintext: bytes) -> Any:
    try:
        return json.loads(plaintext)
    except ValueError:
        return f"<{len(plaintext)} bytes>"


@records_app.command("verify-copy")
def verify_copy_cmd(
    record_id: Annotated[str, typer.Argument(help="Record id (rec-…).")],
    file: Annotated[Path, typer.Option(help="The copy you hold.")],
    salt: Annotated[str, typer.Option(help="The salt printed when you read the record.")],
    key: KeyOpt,
    trust: TrustOpt = None,
    pin: PinOpt = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Prove a copy is the exact version registered on the chain (hash + state proof,
    checked against the trust anchor given by --trust / --pin)."""
    try:
        with Client(url, keys=open_key(key), anchor=anchor_for(url, trust, pin)) as client:
            record = client.verified_state("records", f"record/{record_id}")
        if record is None:
            raise MalformedInput(f"no record {record_id}")
        verify_copy(record, file.read_bytes(), bytes.fromhex(salt))
    except (LedgerError, OSError, ValueError) as exc:
        fail(exc if isinstance(exc, LedgerError) else MalformedInput(str(exc)), as_json)
    emit({"ok": True, "record": record_id, "added_height": record["added_height"]}, as_json)


SummaryPurposeOpt = Annotated[
    str,
    typer.Option(
        help="treatment (a consented clinician), patient_request (the patient or their"
        " representative) or emergency (with --break-glass, or under a consent for it)"
    ),
]
SUMMARY_PURPOSES = ("treatment", "patient_request", "emergency")


@records_app.command("summary")
def summary(
    key: KeyOpt,
    patient: Annotated[str, typer.Argument(help="Patient pseudonym (pat_…).")],
    purpose: SummaryPurposeOpt = "treatment",
    break_glass: Annotated[
        str | None,
        typer.Option(help="Emergency summary; the reason (kept in the vault, hashed on chain)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the IPS Bundle (JSON) here.")] = None,
    hold: Annotated[
        Path | None,
        typer.Option(help="Also write a signed, encrypted copy to hold (the patient's key)."),
    ] = None,
    qr_payload: Annotated[
        Path | None, typer.Option(help="With --hold: write the payload that opens it here.")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """The International Patient Summary (FHIR IPS document) from the patient's records at
    every custodian; each read is audited there. Lists what could not be read and why."""
    with _acting(url, key, as_json) as records:
        if purpose not in SUMMARY_PURPOSES:
            raise MalformedInput(f"--purpose is one of {', '.join(SUMMARY_PURPOSES)}")
        if qr_payload is not None and hold is None:
            raise MalformedInput("--qr-payload goes with --hold")
        if hold is not None and records.patient_id != patient:
            # A clinician abroad checks a held copy by the patient's key alone (offline), or
            # against the key directory; a representative's appointment is not theirs to read.
            raise Unauthorized(f"only {patient} holds a signed copy, signed with their key")
        purpose = "emergency" if break_glass else purpose
        made = records.summary(patient, purpose, break_glass)
        report = made.wire()
        if out is not None:
            out.write_bytes(orjson.dumps(made.bundle, option=orjson.OPT_INDENT_2))
            report = {**report, "bundle": str(out)}
        if hold is not None:
            held = hold_summary(made.bundle, patient, records.keys, hold.name)
            hold.write_bytes(held.file)
            report = {**report, "held": str(hold), "payload": held.payload}
            if qr_payload is not None:
                qr_payload.write_text(held.payload + "\n")
        emit(report, as_json)


@records_app.command("summary-open")
def summary_open(
    file: Annotated[Path, typer.Argument(help="The held summary file.")],
    payload: Annotated[
        str, typer.Option(help="The payload (HLIPS1:…), or a file holding it (from the QR).")
    ],
    out: Annotated[Path | None, typer.Option(help="Write the IPS Bundle (JSON) here.")] = None,
    url: Annotated[
        str | None,
        typer.Option(help="A node to prove the signing key is the patient's current key."),
    ] = None,
    key: Annotated[
        Path | None, typer.Option(help="With --url: your key file (signs the ledger read).")
    ] = None,
    trust: TrustOpt = None,
    pin: PinOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open a summary a patient holds: pointer, decryption, signature, the patient's key
    (offline from the key; with --url proven on the ledger). Prints what it checked."""
    try:
        data = file.read_bytes()
        text = payload if payload.startswith(PAYLOAD_PREFIX) else Path(payload).read_text()
        if url is None:
            opened = open_held(data, text)
        else:
            if key is None:
                raise MalformedInput("--url needs --key: the ledger answers those it knows")
            with Client(url, anchor=anchor_for(url, trust, pin)) as client:
                opened = open_held_with(data, text, client, open_key(key))
        if out is not None:
            out.write_bytes(orjson.dumps(opened.bundle, option=orjson.OPT_INDENT_2))
    except LedgerError as exc:
        fail(exc, as_json)
    except OSError as exc:
        fail(MalformedInput(str(exc)), as_json)
    view = opened.model_dump(mode="json", exclude={"bundle"} if out is not None else set())
    emit({**view, **({"bundle": str(out)} if out is not None else {})}, as_json)


@records_app.command("history")
def history(
    key: KeyOpt,
    record_id: Annotated[str, typer.Argument(help="Record id (rec-…).")],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A record's versions (corrections) and every access to it."""
    with _acting(url, key, as_json) as records:
        emit(records.history(record_id).wire(), as_json)


@records_app.command("shred")
def shred(
    key: KeyOpt,
    record_id: Annotated[str, typer.Argument(help="Record id (rec-…).")],
    reason: Annotated[
        str,
        typer.Option(
            help="Why, as a code (kept on the chain): patient_request, entered_in_error,"
            " retention_expired, legal_order or other."
        ),
    ] = "patient_request",
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Crypto-shred a record; prints the deletion certificate (the proven tombstone)."""
    with _acting(url, key, as_json) as records:
        emit(records.shred(_signer(records), record_id, reason), as_json)


RecordIdsArg = Annotated[list[str], typer.Argument(help="Record ids (rec-…), at most 200.")]
SuccessorOpt = Annotated[
    str, typer.Option("--to", help="The successor: a hospital, clinic, laboratory or pharmacy.")
]


@records_app.command("offer")
def offer(
    key: KeyOpt,
    successor: SuccessorOpt,
    record_ids: RecordIdsArg,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """As a custodian organisation: offer records to a successor (the patient decides)."""
    with _acting(url, key, as_json) as records:
        emit(records.offer_successor(_signer(records), successor, record_ids), as_json)


@records_app.command("move")
def move(
    key: KeyOpt,
    successor: SuccessorOpt,
    record_ids: RecordIdsArg,
    patient: Annotated[
        str | None, typer.Option(help="The patient, when a representative moves them.")
    ] = None,
    appointment: Annotated[
        str | None, typer.Option(help="A representative's appointment (with the grant power).")
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """As the patient: move records to a successor custodian, their history kept."""
    with _acting(url, key, as_json) as records:
        moved = records.accept_successor(
            _signer(records), successor, record_ids, patient, appointment
        )
        emit(moved, as_json)


def _grantee(org: str, member: str | None, role: str | None) -> dict[str, str]:
    if member is not None and role is not None:
        raise MalformedInput("give --member or --role, not both")
    if member is not None:
        return {"kind": "member", "org": org, "member": f"{org}/{member}"}
    if role is not None:
        return {"kind": "role", "org": org, "role": role}
    return {"kind": "org", "org": org}


@consent_app.command("grant")
def grant(
    key: KeyOpt,
    org: Annotated[str, typer.Option(help="The organisation granted access.")],
    member: Annotated[
        str | None, typer.Option(help="Only this person of the organisation.")
    ] = None,
    role: Annotated[
        str | None, typer.Option(help="Only this role within the organisation.")
    ] = None,
    purpose: Annotated[list[str] | None, typer.Option(help="Purpose of use (repeatable).")] = None,
    resource_type: Annotated[
        list[str] | None, typer.Option(help="FHIR type in scope (repeatable).")
    ] = None,
    record: Annotated[
        list[str] | None, typer.Option(help="Record id in scope (repeatable).")
    ] = None,
    days: Annotated[int, typer.Option(help="Days until the consent expires.")] = 365,
    country: Annotated[
        list[str] | None,
        typer.Option(help="Only organisations in this country, ISO 3166 code (repeatable)."),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Grant access to an organisation, a person, or a role within an organisation."""
    with _acting(url, key, as_json) as records:
        report = records.grant(
            _signer(records),
            _grantee(org, member, role),
            purpose or ["treatment"],
            int(time.time() * 1000) + days * DAY_MS,
            resource_type or [],
            record or [],
            countries=country or [],
        )
        emit(report.wire(), as_json)


@consent_app.command("revoke")
def revoke(
    key: KeyOpt,
    consent_id: Annotated[str, typer.Argument(help="Consent id (cns-…).")],
    reason: Annotated[
        str | None,
        typer.Option(
            help="Why, as a code (kept on the chain): withdrawn, care_ended,"
            " changed_provider or other."
        ),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a consent from the next block; prints the revocation receipt."""
    with _acting(url, key, as_json) as records:
        emit(records.revoke(_signer(records), consent_id, reason), as_json)


@consent_app.command("list")
def list_consents(
    key: KeyOpt,
    patient: Annotated[str | None, typer.Argument(help="Patient (default: the key's own).")] = None,
    fhir: Annotated[bool, typer.Option(help="As FHIR Consent resources.")] = False,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """A patient's consents (for the patient or their representative)."""
    with _acting(url, key, as_json) as records:
        emit(records.consents(patient or records.patient_id, fhir).wire(), as_json)


@audit_app.command("patient")
def audit_patient(
    key: KeyOpt,
    patient: Annotated[str | None, typer.Argument(help="Patient (default: the key's own).")] = None,
    fhir: Annotated[bool, typer.Option(help="As FHIR AuditEvent resources.")] = False,
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """Every access to a patient's records: who, when, why, under which consent."""
    with _acting(url, key, as_json) as records:
        emit(records.audit(patient or records.patient_id, fhir).wire(), as_json)


@audit_app.command("org")
def audit_org(
    key: KeyOpt,
    org: Annotated[str, typer.Argument(help="Organisation id (its own key, admins, auditors).")],
    url: UrlOpt = DEFAULT_URL,
    as_json: JsonOpt = False,
) -> None:
    """An organisation's break-glass alerts, newest first, with their reasons opened."""
    with _acting(url, key, as_json) as records:
        emit({"org": org, "break_glass": records.alerts(org)}, as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(records_app, name="records")
    app.add_typer(consent_app, name="consent")
    app.add_typer(audit_app, name="audit")


__all__ = ["register"]
