"""The credential file (order, status now and at a time, CE, exclusions, shares) and its FHIR
R4 export (Practitioner.qualification, VerificationResult), validated by fhir.resources."""

from __future__ import annotations

from pathlib import Path

import pytest
from cred_world import (
    ANN,
    BOARD,
    CLINIC,
    DAY,
    HOSPITAL,
    INSURER,
    REGULATOR,
    T0,
    UNIVERSITY,
    YEAR,
    World,
    anchor,
    make_world,
)
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.verificationresult import VerificationResult

from healthledger.app.reader import SnapshotReader
from healthledger.domains.credentials import fhir
from healthledger.domains.credentials.file import FileParams, credential_file, file_view
from healthledger.errors import InvalidResource

LICENCE = f"{BOARD}:lic-1"
CE = f"{UNIVERSITY}:ce-1"
PRIVILEGE = f"{HOSPITAL}:priv-1"
FUTURE = f"{BOARD}:cert-2"
OLD = f"{BOARD}:lic-0"


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = make_world(tmp_path)
    world.ok(BOARD, "credential.ce_rule", {"minutes_per_cycle": 60, "effective_from_ms": 0})
    world.issue(LICENCE, ANN, "licence", T0 - YEAR, T0 + YEAR)
    world.issue(CE, ANN, "ce", T0 - DAY, ce_minutes=90, ce_category="AMA-1")
    world.issue(PRIVILEGE, ANN, "privilege", T0 - DAY, T0 + YEAR)
    world.issue(FUTURE, ANN, "certification", T0 + 10 * YEAR)
    # Ended before the chain began: planted as core would have anchored it.
    world.plant(anchor(OLD, ANN, "licence", T0 - 3 * YEAR, T0 - YEAR))
    return world


def test_the_file_lists_credentials_in_order_with_status_now_and_then(world: World) -> None:
    then = world.now - 1
    world.set_status(PRIVILEGE, "suspend")
    assert world.send(
        REGULATOR,
        "credential.exclusion",
        {"action": "add", "member": ANN, "reason": "fraud", "list": "sanctions"},
    ).ok
    assert world.send(
        ANN,
        "credential.share",
        {"grantee": INSURER, "credentials": [LICENCE], "until_ms": world.now + DAY},
    ).ok
    now = credential_file(world.reader(), ANN, world.now)
    assert [c.id for c in now.credentials] == [LICENCE, CE, PRIVILEGE, FUTURE, OLD]
    privilege = now.credentials[2]
    assert (privilege.status, privilege.status_at, privilege.valid_at) == (
        "suspended",
        "suspended",
        False,
    )
    assert [(c.valid_at, c.status_at) for c in now.credentials] == [
        (True, "active"),
        (True, "active"),
        (False, "suspended"),
        (False, "active"),  # not yet in force
        (False, "active"),  # its period ended
    ]
    assert [(c.licence, c.minutes, c.compliant) for c in now.ce_cycles] == [
        (LICENCE, 90, True),
        (OLD, 0, False),
    ]
    assert now.excluded and [e.regulator for e in now.exclusions] == [REGULATOR]
    assert [(s.grantee, s.credentials) for s in now.shares] == [(INSURER, [LICENCE])]
    earlier = credential_file(world.reader(), ANN, then)
    assert earlier.credentials[2].status == "suspended"  # now
    assert (earlier.credentials[2].status_at, earlier.credentials[2].valid_at) == ("active", True)
    before_anchoring = credential_file(world.reader(), ANN, T0 - 1)
    assert before_anchoring.credentials[0].status_at is None


def test_the_view_answers_as_the_caller_may_see(world: World) -> None:
    assert world.send(
        ANN,
        "credential.share",
        {"grantee": INSURER, "credentials": [CE], "until_ms": world.now + DAY},
    ).ok
    store = world.chain.store
    with store.snapshot():
        reader = SnapshotReader(store)
        whole = file_view(
            reader, FileParams(org=HOSPITAL, member_id="dr-ann"), world.actor(HOSPITAL)
        )
        part = file_view(reader, FileParams(org=HOSPITAL, member_id="dr-ann"), world.actor(INSURER))
    assert len(whole.credentials) == 5 and not whole.partial
    assert [c.id for c in part.credentials] == [CE] and part.partial


def test_fhir_export_is_valid_r4(world: World) -> None:
    world.change_status(OLD, "revoked")
    file = credential_file(world.reader(), ANN, world.now)
    bundle = fhir.practitioner_bundle(file, name="Dr Ann", issuer_names={BOARD: "Mass Board"})
    Bundle.model_validate(bundle)
    practitioner, *results = [entry["resource"] for entry in bundle["entry"]]
    model = Practitioner.model_validate(practitioner)
    assert model.qualification is not None and len(model.qualification) == 5
    first = practitioner["qualification"][0]
    assert first["identifier"] == [{"system": fhir.CREDENTIAL_ID_SYSTEM, "value": LICENCE}]
    assert first["code"]["coding"][0] == {
        "system": fhir.CREDENTIAL_TYPE_SYSTEM,
        "code": "licence",
        "display": "Licence",
    }
    assert first["period"] == {"start": "2024-10-09T08:53:20Z", "end": "2026-10-09T08:53:20Z"}
    assert first["issuer"]["display"] == "Mass Board"
    assert practitioner["qualification"][2]["issuer"]["display"] == HOSPITAL  # no name given
    for result in results:
        VerificationResult.model_validate(result)
        assert result["target"] == [{"reference": f"urn:healthledger:member:{ANN}"}]
        assert result["validationType"]["coding"][0]["code"] == "primary"
        assert result["validator"] == [{"organization": {"display": "HealthLedger"}}]
    assert [r["status"] for r in results] == [
        "validated",
        "validated",
        "validated",
        "in-process",
        "val-fail",
    ]
    assert [r["targetLocation"] for r in results][4] == ["Practitioner.qualification[4]"]
    assert results[0]["primarySource"][0]["type"][0]["coding"][0]["code"] == "lic-board"
    assert results[1]["primarySource"][0]["type"][0]["coding"][0]["code"] == "cont-ed"


def test_statuses_map_to_fhir_validation_statuses(world: World) -> None:
    world.set_status(LICENCE, "suspend")
    world.issue(f"{BOARD}:short", ANN, "certification", T0, world.now + 1_000)
    world.block([], time_ms=world.now + 2 * 3_600_000)  # the sweep expires it (hour buckets)
    file = credential_file(world.reader(), ANN, world.now)
    assert file.credentials[-1].status == "expired"
    statuses = [fhir.validation_status(c, file.at_ms) for c in file.credentials]
    # suspended, active, active, not yet in force, active past its period (planted), expired
    assert statuses == [
        "req-revalid",
        "validated",
        "validated",
        "in-process",
        "req-revalid",
        "req-revalid",
    ]
    world.set_status(CE, "revoke")
    file = credential_file(world.reader(), ANN, world.now)
    assert fhir.validation_status(file.credentials[1], file.at_ms) == "val-fail"


def test_an_empty_file_exports_a_bare_practitioner(world: World) -> None:
    file = credential_file(world.reader(), f"{CLINIC}/nurse-cy", world.now)
    bundle = fhir.practitioner_bundle(file)
    assert len(bundle["entry"]) == 1
    assert "qualification" not in bundle["entry"][0]["resource"]


def test_times_are_utc_with_milliseconds_only_when_present() -> None:
    assert fhir.iso_time(0) == "1970-01-01T00:00:00Z"
    assert fhir.iso_time(1_767_225_600_123) == "2026-01-01T00:00:00.123Z"


def test_an_invalid_resource_is_refused_in_our_words() -> None:
    with pytest.raises(InvalidResource, match="Practitioner"):
        fhir._validate("Practitioner", {"resourceType": "Practitioner", "active": "maybe"})
