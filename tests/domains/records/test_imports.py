"""`record.import` applied block by block: all of a Bundle's records or none, with reasons."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from conftest import CHAIN, Chain, make_genesis, patient_register_payload, seeded_keys
from healthledger.app.application import Application
from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.envelope import new_data_key, wrap_key
from healthledger.crypto.keys import derive_patient_id
from healthledger.domains.records.bundles import MAX_BUNDLE_ENTRIES
from healthledger.domains.records.imports import MAX_IMPORT_ENTRIES, RecordImport
from healthledger.ledger.store import Store
from healthledger.ledger.transaction import MAX_TX_BYTES, sign_transaction

HOSPITAL = "st-marys"
PHARMACY = "corner-pharmacy"


def _register(chain: Chain, name: str) -> str:
    keys = seeded_keys(name)
    assert chain.one(
        chain.signer(name).sign("patient.register", patient_register_payload(keys, CHAIN))
    ).ok
    return derive_patient_id(keys.key_id)


def _enroll(chain: Chain, org: str, member: str) -> None:
    keys = seeded_keys(member)
    payload = {
        "member_id": member,
        "name": member,
        "role": "practitioner",
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    assert chain.one(chain.signer(org).sign("member.enroll", payload)).ok


def _wrapped() -> dict[str, str]:
    wrapped = wrap_key(new_data_key(), seeded_keys("x").encryption_public)
    return {"patient": wrapped, "custodian": wrapped}


def rec(n: int) -> str:
    return f"rec-{n:024x}"


def _entry(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "record_id": rec(n),
        "resource_type": "Observation",
        "code": "http://loinc.org|8867-4",
        "date": "2026-03-02",
        "content_hash": "a" * 64,
        "blob_id": hashlib.sha256(rec(n).encode()).hexdigest(),
        "size": 120,
        "wrapped_keys": _wrapped(),
        **extra,
    }


def _import(
    chain: Chain, patient: str, entries: list[dict[str, Any]], sender: str = HOSPITAL
) -> Any:
    payload = {"patient": patient, "author": f"{HOSPITAL}/dr-ada", "entries": entries}
    if sender != HOSPITAL:
        payload["author"] = None
    return chain.one(chain.signer(sender).sign("record.import", payload))


@pytest.fixture
def clinic(chain: Chain) -> Chain:
    _enroll(chain, HOSPITAL, "dr-ada")
    _register(chain, "alice")
    _register(chain, "bruno")
    return chain


def pid(name: str) -> str:
    return derive_patient_id(seeded_keys(name).key_id)


def test_an_import_registers_every_entry(clinic: Chain) -> None:
    result = _import(clinic, pid("alice"), [_entry(1), _entry(2, resource_type="Goal", code="")])
    assert result.ok, result
    for n, kind in ((1, "Observation"), (2, "Goal")):
        record = clinic.state("records", f"record/{rec(n)}")
        assert record["resource_type"] == kind and record["custodian"] == HOSPITAL
        assert record["media_type"] == "application/fhir+json"
        assert record["author"] == f"{HOSPITAL}/dr-ada" and record["status"] == "active"
        assert clinic.state("records", f"patient/{pid('alice')}/record/{rec(n)}") is not None
    events = [e["type"] for e in result.events]
    assert events == ["record.added", "record.added", "record.imported"]


def _fresh_chain(root: Path) -> Chain:
    root.mkdir()
    store = Store(root / "ledger.sqlite")
    app = Application(store)
    app.init_chain(make_genesis())
    chain = Chain(app, store)
    _enroll(chain, HOSPITAL, "dr-ada")
    _register(chain, "alice")
    return chain


def test_an_imported_record_is_stored_as_an_added_one(tmp_path: Path) -> None:
    """Same fields, same block height: the same bytes, so the same state root."""
    added, imported = _fresh_chain(tmp_path / "a"), _fresh_chain(tmp_path / "b")
    entry = _entry(7)
    fields = {
        **entry,
        "patient": pid("alice"),
        "media_type": "application/fhir+json",
        "author": f"{HOSPITAL}/dr-ada",
    }
    assert added.one(added.signer(HOSPITAL).sign("record.add", fields)).ok
    assert _import(imported, pid("alice"), [entry]).ok
    rows = [[row for row in c.domain_state() if row[0] == "records"] for c in (added, imported)]
    assert rows[0] == rows[1] and rows[0]
    for chain in (added, imported):
        chain.store.close()


def test_one_failing_entry_stores_nothing(clinic: Chain) -> None:
    assert _import(clinic, pid("alice"), [_entry(1)]).ok
    before = clinic.domain_state()
    # the third entry names a record id already registered: the first two must not stay
    result = _import(clinic, pid("alice"), [_entry(2), _entry(3), _entry(1)])
    assert not result.ok and result.code == "already_exists" and rec(1) in result.message
    assert clinic.domain_state() == before


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("patient sender", "unauthorized"),
        ("insurer sender", "unauthorized"),
        ("unknown patient", "not_found"),
        ("another custodian's record id", "already_exists"),
        ("a registered ciphertext", "already_exists"),
        ("a record id twice", "invalid_field"),
        ("a ciphertext twice", "invalid_field"),
        ("a stranger as author", "invalid_field"),
    ],
)
def test_refusals_change_nothing(clinic: Chain, case: str, code: str) -> None:
    assert _import(clinic, pid("alice"), [_entry(1)]).ok
    before = clinic.domain_state()
    alice = pid("alice")
    payload: dict[str, Any] = {"patient": alice, "entries": [_entry(2)]}
    sender = PHARMACY
    if case == "patient sender":
        sender = "alice"
    elif case == "insurer sender":
        sender = "acme-insurance"
    elif case == "unknown patient":
        payload["patient"] = "pat_" + "0" * 32
    elif case == "another custodian's record id":
        payload["entries"] = [_entry(1, blob_id="b" * 64)]
    elif case == "a registered ciphertext":
        payload["entries"] = [_entry(2, blob_id=_entry(1)["blob_id"])]
    elif case == "a record id twice":
        payload["entries"] = [_entry(2), _entry(2, blob_id="c" * 64)]
    elif case == "a ciphertext twice":
        payload["entries"] = [_entry(2), _entry(3, blob_id=_entry(2)["blob_id"])]
    elif case == "a stranger as author":
        payload["author"] = f"{HOSPITAL}/dr-ada"  # not a member of the pharmacy
    result = clinic.one(clinic.signer(sender).sign("record.import", payload))
    assert not result.ok and result.code == code, result
    assert clinic.domain_state() == before


def test_a_replayed_import_is_refused(clinic: Chain) -> None:
    tx = clinic.signer(HOSPITAL).sign(
        "record.import", {"patient": pid("alice"), "entries": [_entry(1)]}
    )
    assert clinic.one(tx).ok
    before = clinic.domain_state()
    replay = clinic.block([tx])
    assert not replay or not replay[0].ok
    assert clinic.domain_state() == before


def test_too_many_entries_or_none_are_refused(clinic: Chain) -> None:
    many = [_entry(n) for n in range(MAX_IMPORT_ENTRIES + 1)]
    for entries in (many, []):
        result = clinic.one(
            clinic.signer(HOSPITAL).sign(
                "record.import", {"patient": pid("alice"), "entries": entries}
            )
        )
        assert not result.ok and result.code == "invalid_field", result


def test_the_largest_import_fits_one_transaction() -> None:
    """MAX_IMPORT_ENTRIES entries with the longest code, type and size the payload allows."""
    assert MAX_IMPORT_ENTRIES == MAX_BUNDLE_ENTRIES
    entries = [
        _entry(
            n,
            resource_type="A" * 64,
            code="x" * 200,
            size=2**50,
            wrapped_keys={"patient": "A" * 120 + "==", "custodian": "A" * 120 + "=="},
        )
        for n in range(MAX_IMPORT_ENTRIES)
    ]
    payload = {"patient": pid("alice"), "author": "a" * 63 + "/" + "b" * 63, "entries": entries}
    # sign_transaction refuses (TOO_LARGE) anything over MAX_TX_BYTES
    signed = sign_transaction(seeded_keys(HOSPITAL), "c" * 64, "record.import", 2**53 - 1, payload)
    RecordImport.model_validate(payload)  # the worst case is a payload the domain takes
    assert len(canonical_bytes(signed.to_dict())) <= MAX_TX_BYTES
