"""The records read side over one committed snapshot: typed answers, same decisions."""

from __future__ import annotations

import pytest

from conftest import Chain, seeded_keys
from domains.records.test_records_state import APP, CNS, HOSPITAL, REC, REC2, _pid, scripted_run
from healthledger.app.reader import SnapshotReader
from healthledger.domains.governance.queries import resolve_actor
from healthledger.domains.records import queries
from healthledger.domains.records.errors import ConsentRevoked, NoConsent, RecordShredded
from healthledger.ledger.context import Actor, StateReader

NOW = 1_700_000_000_100


def _actor(chain: Chain, name: str) -> Actor:
    return resolve_actor(
        StateReader(chain.store.state_get), seeded_keys(name).key_id, allow_new=False
    )


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


def test_the_typed_answers_dump_exactly_the_stored_json(ran: Chain) -> None:
    """The vault's replies carry these models: the wire must be the JSON the state holds."""
    alice = _pid("alice")
    with ran.store.snapshot():
        ledger = SnapshotReader(ran.store)
        file = queries.patient_file(ledger, alice)
        record = queries.record(ledger.state, REC2)
        consent = queries.consent(ledger.state, CNS)
        trail = queries.audit_trail(ledger, alice)
        keys = [k for k, _ in ledger.scan_newest("records", f"audit/{alice}/", 100)]
    assert record.model_dump(mode="json") == ran.state("records", f"record/{REC2}")
    assert consent.model_dump(mode="json") == ran.state("records", f"consent/{CNS}")
    assert [c.model_dump(mode="json") for c in file.consents] == [
        ran.state("records", f"consent/{CNS}")
    ]
    assert [e.model_dump(mode="json") for e in trail] == [ran.state("records", k) for k in keys]
    entry = queries.LocatorEntry.of(record).model_dump(mode="json")
    stored = ran.state("records", f"record/{REC2}")
    assert entry == {k: stored[k] for k in queries.LocatorEntry.model_fields}
    assert "wrapped_keys" not in entry and "blob_id" not in entry
