"""The records read side over one committed snapshot: typed answers, same decisions."""

from __future__ import annotations

import pytest

from conftest import Chain, seeded_keys
from domains.records.test_records_state import APP, CNS, HOSPITAL, REC, REC2, _pid, scripted_run
from healthledger.app import record_views
from healthledger.app.reader import SnapshotReader
from healthledger.domains.governance.queries import resolve_actor
from healthledger.domains.records import queries
from healthledger.domains.records.errors import ConsentRevoked, NoConsent, RecordShredded
from healthledger.domains.records.state import Consent, RecordMeta
from healthledger.ledger.context import Actor

NOW = 1_700_000_000_100


def _actor(chain: Chain, name: str) -> Actor:
    return resolve_actor(chain.store.state_get, seeded_keys(name).key_id, allow_new=False)


@pytest.fixture
def ran(chain: Chain) -> Chain:
    scripted_run(chain)
    return chain


def test_a_patient_file_is_typed_and_read_through_the_patients_index(ran: Chain) -> None:
    with ran.store.snapshot():
        file = queries.patient_file(SnapshotReader(ran.store), _pid("alice"))
    assert [r.id for r in file.records] == [REC, REC2]
    assert [r.status for r in file.records] == ["shredded", "active"]
    assert [(c.id, c.status) for c in file.consents] == [(CNS, "revoked")]
    assert [(a.id, a.status) for a in file.appointments] == [(APP, "ended")]


def test_decisions_over_the_file(ran: Chain) -> None:
    with ran.store.snapshot():
        reader = SnapshotReader(ran.store)
        file = queries.patient_file(reader, _pid("alice"))
        current = queries.record(reader.state, REC2)
    alice, insurer = _actor(ran, "alice"), _actor(ran, "acme-insurance")
    assert queries.read_basis(file, current, alice, "treatment", NOW).basis == "self"
    with pytest.raises(ConsentRevoked):  # the most telling refusal, not plain no-consent
        queries.read_basis(file, current, insurer, "payment", NOW)
    with pytest.raises(RecordShredded):
        queries.read_basis(file, file.records[0], alice, "treatment", NOW)
    shown = queries.locatable_records(file, alice, None, NOW)
    assert [(e.id, e.status, e.replaces) for e in shown] == [
        (REC, "shredded", None),
        (REC2, "active", REC),
    ]
    with pytest.raises(NoConsent):
        queries.locatable_records(file, insurer, "payment", NOW)
    hospital = _actor(ran, HOSPITAL)
    assert [e.id for e in queries.locatable_records(file, hospital, None, NOW)] == [REC, REC2]


def test_the_audit_trail_is_newest_first(ran: Chain) -> None:
    with ran.store.snapshot():
        trail = queries.audit_trail(SnapshotReader(ran.store), _pid("alice"))
    assert [e.basis for e in trail] == ["representative", "consent", "self"]
    assert [e.reader.id for e in trail] == [_pid("bruno"), "acme-insurance", _pid("alice")]


def test_the_transitional_views_answer_the_stored_json_as_before(ran: Chain) -> None:
    """app/record_views.py keeps node/records.py running until it uses the typed queries."""
    alice = _pid("alice")
    with ran.store.snapshot():
        file = record_views.patient_file(ran.store, alice)
        record = record_views.record(ran.store, REC2)
        trail = record_views.audit_events(ran.store, alice)
    assert record == ran.state("records", f"record/{REC2}")
    assert file.consents == [ran.state("records", f"consent/{CNS}")]
    assert [e["basis"] for e in trail] == ["representative", "consent", "self"]
    assert record_views.consent(ran.store, CNS) == ran.state("records", f"consent/{CNS}")
    reader = _actor(ran, "alice")
    assert queries.choose_read_basis(file, record, reader, "treatment", NOW).basis == "self"
    entries = queries.visible_records(file, reader, None, NOW)
    assert entries == [queries.locator_entry(r) for r in file.records]
    assert entries[1] == queries.LocatorEntry.of(RecordMeta.model_validate(record)).model_dump()
    assert queries.representative_for(file, _actor(ran, "bruno"), "read", NOW) is None
    assert Consent.model_validate(file.consents[0]).status == "revoked"
    assert record_views.patient_exists(ran.store, alice)
    assert not record_views.patient_exists(ran.store, "pat_" + "0" * 32)
    key = record_views.encryption_key(ran.store, reader)
    assert key == seeded_keys("alice").encryption_public
