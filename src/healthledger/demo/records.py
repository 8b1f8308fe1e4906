"""The demo's patient-records story: synthetic FHIR records, consents, reads, a break-glass.

Runs in-process through the node's own vault service, the same code the REST
API calls: records are validated, encrypted into the vault and registered;
patients grant and revoke consent; practitioners read under consent; a nurse
breaks the glass in an emergency; a read without consent is refused; and the
first patient records an organ-donation decision that a transplant coordinator
asks for (audited).
"""

from __future__ import annotations

from typing import Any

from healthledger.app.reader import SnapshotReader
from healthledger.client.records import Intent, new_reason, sign_intent
from healthledger.crypto.keys import derive_patient_id
from healthledger.crypto.signed_request import HEADER_INTENT, body_hash, sign_request
from healthledger.demo.chain import DemoChain, StoryPrecondition
from healthledger.demo.synthetic import (
    SyntheticPatient,
    patient_resource,
    small_observation,
    synthetic_records,
)
from healthledger.domains.records.queries import patient_file
from healthledger.errors import LedgerError, MalformedInput
from healthledger.node.custodian import PreparedAccess, RecordService
from healthledger.node.custodian.donation import finish_donation_query, prepare_donation_query

STORY_PATIENTS = 12
# The story reads the 1st and 2nd record of the first four patients (see records_story).
MIN_STORY_PATIENTS = 4
RECORDS_PER_PATIENT = 6
YEAR_MS = 365 * 86_400_000


def records_story(
    runner: DemoChain, service: RecordService, patients: list[tuple[str, SyntheticPatient]]
) -> dict[str, Any]:
    """`patients` pairs a demo key name with its synthetic demographics."""
    cast = patients[:STORY_PATIENTS]
    if len(cast) < MIN_STORY_PATIENTS:
        raise StoryPrecondition("records", f"{MIN_STORY_PATIENTS} patients, not {len(cast)}")
    record_ids = _add_records(runner, service, cast)
    first, second, third, fourth = (
        derive_patient_id(runner.signers[n].key_id) for n, _p in cast[:4]
    )
    now = service.store.header(service.store.last_height()).time_ms
    consents = {
        "house_treats_first": _grant(
            runner,
            cast[0][0],
            first,
            {"kind": "member", "org": "riverside-clinic", "member": "riverside-clinic/dr-house"},
            ["treatment"],
            ["Observation", "Condition"],
            now,
        ),
        "sponsor_research_second": _grant(
            runner,
            cast[1][0],
            second,
            {"kind": "role", "org": "cure-sponsor", "role": "researcher"},
            ["research"],
            [],
            now,
        ),
        "lab_operations_third": _grant(
            runner, cast[2][0], third, {"kind": "org", "org": "northlab"}, ["operations"], [], now
        ),
    }
    runner.commit(
        [
            runner.signers[cast[2][0]].sign(
                "consent.revoke",
                {"consent_id": consents["lab_operations_third"], "reason": "withdrawn"},
            )
        ]
    )
    reads = [
        _read(runner, service, "dr-house", _first_of(service, first, "Observation"), "treatment"),
        _read(runner, service, cast[0][0], record_ids[cast[0][0]][0], "patient_request"),
        _read(runner, service, "res-patel", record_ids[cast[1][0]][1], "research"),
        _read(
            runner,
            service,
            "nurse-joy",
            record_ids[cast[3][0]][1],
            "emergency",
            "patient unconscious in the emergency department",
        ),
        _read(runner, service, "tech-lee", record_ids[cast[2][0]][0], "operations"),
    ]
    return {
        "records": sum(len(ids) for ids in record_ids.values()),
        "patients_with_records": len(cast),
        "consents": consents,
        "reads": reads,
        "break_glass_patient": fourth,
        "donation": _donation(runner, service, cast[0][0], first),
    }


def _donation(runner: DemoChain, service: RecordService, name: str, patient: str) -> dict[str, Any]:
    """The patient decides to donate; the hospital's transplant coordinator asks (audited)."""
    decision = {
        "patient": patient,
        "decision": "donate",
        "organs": ["corneas", "kidneys", "liver"],
        "research": False,
    }
    (report,) = runner.commit([runner.signers[name].sign("donation.decide", decision)])
    if report.get("code") != "ok":
        raise MalformedInput(f"demo donation decision refused: {report}")
    target = f"/v1/donation/patients/{patient}?purpose=transplant"
    intent = Intent("donation", patient, "transplant")
    request, reader = service.authenticate(
        *_request(runner, "coord-rao", service, "GET", target, intent)
    )
    prepared = prepare_donation_query(service, request, reader, patient, "transplant")
    (committed,) = service.commit([prepared])
    if isinstance(committed, LedgerError):
        raise committed
    answer = finish_donation_query(service, prepared, patient, committed)
    return {"patient": patient, "status": answer.status, "organs": answer.organs}


def _add_records(
    runner: DemoChain, service: RecordService, cast: list[tuple[str, SyntheticPatient]]
) -> dict[str, list[str]]:
    """Each patient's file: a Patient resource and a realistic mix, written by their clinician."""
    ids: dict[str, list[str]] = {}
    for index, (name, person) in enumerate(cast):
        patient = derive_patient_id(runner.signers[name].key_id)
        author_name = "dr-grey" if index % 2 == 0 else "dr-house"
        author = service.authenticate(*_request(runner, author_name, service, "POST", "/demo"))[1]
        resources = [
            patient_resource(person, patient),
            *synthetic_records(person, f"Patient/{patient}", RECORDS_PER_PATIENT - 1, seed=index),
            # The synthetic mix may hold no Observation, and the story reads one: add one.
            small_observation(f"Patient/{patient}", index),
        ]
        prepared = [service.prepare_add_resource(author, patient, r) for r in resources]
        reports = service.commit(prepared)
        ids[name] = []
        for item, report in zip(prepared, reports, strict=True):
            if isinstance(report, LedgerError):
                raise report
            ids[name].append(service.finish_add(item, report).record_id)
    return ids


def _request(
    runner: DemoChain,
    who: str,
    service: RecordService,
    method: str,
    target: str,
    intent: Intent | None = None,
) -> tuple[dict[str, str], str, str, str]:
    keys = runner.signers[who].keys
    headers = sign_request(keys, service.chain_id, method, target, audience=service.audience)
    if intent is not None:
        headers[HEADER_INTENT] = sign_intent(keys, service.chain_id, intent, headers)
    return headers, method, target, body_hash(b"")


def _grant(
    runner: DemoChain,
    name: str,
    patient: str,
    grantee: dict[str, Any],
    purposes: list[str],
    types: list[str],
    now: int,
) -> str:
    consent_id = "cns-" + runner.rng.randbytes(12).hex()
    payload = {
        "consent_id": consent_id,
        "patient": patient,
        "grantee": grantee,
        "purposes": purposes,
        "resource_types": types,
        "expires_ms": now + YEAR_MS,
    }
    (report,) = runner.commit([runner.signers[name].sign("consent.grant", payload)])
    if report.get("code") != "ok":
        raise MalformedInput(f"demo consent refused: {report}")
    return consent_id


def _first_of(service: RecordService, patient: str, resource_type: str) -> str:
    """The id of the patient's first record of `resource_type`, which the story must have."""
    with service.store.snapshot():
        records = patient_file(SnapshotReader(service.store), patient).records
    for record in records:
        if record.resource_type == resource_type:
            return record.id
    raise StoryPrecondition("records", f"an {resource_type} in the file of {patient}")


def _read(
    runner: DemoChain,
    service: RecordService,
    who: str,
    record_id: str,
    purpose: str,
    break_glass: str | None = None,
) -> dict[str, Any]:
    """One audited read as the vault serves it; a refusal is part of the story."""
    reason = None if break_glass is None else new_reason(break_glass)
    intent = Intent("read", record_id, purpose, reason.hash if reason else None)
    request, reader = service.authenticate(
        *_request(runner, who, service, "POST", f"/v1/records/{record_id}/read", intent)
    )
    try:
        prepared: PreparedAccess = service.prepare_read(request, reader, record_id, purpose, reason)
    except LedgerError as refusal:
        return {"reader": reader.id, "record": record_id, "refused": refusal.to_dict()}
    (report,) = service.commit([prepared])
    if isinstance(report, LedgerError):
        raise report
    view = service.finish_read(prepared, report)
    return {"reader": reader.id, "record": record_id, **view.access.wire()}
