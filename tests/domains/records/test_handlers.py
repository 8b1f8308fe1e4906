"""Records transactions applied block by block: every refusal changes nothing."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import pytest

from conftest import CHAIN, Chain, patient_register_payload, seeded_keys
from healthledger.crypto.envelope import new_data_key, wrap_key
from healthledger.crypto.keys import KeyPair, derive_patient_id
from healthledger.domains.records.messages import intent_message

FAR = 1_800_000_000_000
HOSPITAL = "st-marys"


def _enroll(chain: Chain, org: str, member: str, role: str) -> None:
    keys = seeded_keys(member)
    payload = {
        "member_id": member,
        "name": member,
        "role": role,
        "signing_key": keys.key_id,
        "encryption_key": keys.encryption_public.hex(),
    }
    assert chain.one(chain.signer(org).sign("member.enroll", payload)).ok


def _register(chain: Chain, name: str) -> str:
    keys = seeded_keys(name)
    signer = chain.signer(name)
    payload = patient_register_payload(keys, CHAIN)
    assert chain.one(signer.sign("patient.register", payload)).ok
    return derive_patient_id(keys.key_id)


def _record(patient: str, record_id: str, **extra: Any) -> dict[str, Any]:
    key = new_data_key()
    wrapped = wrap_key(key, seeded_keys("x").encryption_public)
    return {
        "record_id": record_id,
        "patient": patient,
        "resource_type": "Observation",
        "code": "http://loinc.org|8867-4",
        "date": "2026-03-02",
        "media_type": "application/fhir+json",
        "content_hash": "a" * 64,
        # one ciphertext per record: a blob id may be registered once
        "blob_id": hashlib.sha256(record_id.encode()).hexdigest(),
        "size": 120,
        "wrapped_keys": {"patient": wrapped, "custodian": wrapped},
        **extra,
    }


@pytest.fixture
def clinic(chain: Chain) -> Chain:
    _enroll(chain, HOSPITAL, "dr-ada", "practitioner")
    _enroll(chain, HOSPITAL, "clerk-bo", "staff")
    _register(chain, "alice")
    _register(chain, "bruno")
    return chain


def pid(name: str) -> str:
    return derive_patient_id(seeded_keys(name).key_id)


REC = "rec-" + "1" * 24
CNS = "cns-" + "2" * 24
REASON = "e" * 64  # a break-glass reason's salted hash; the text stays in a vault


def _add(chain: Chain, record_id: str = REC, **extra: Any) -> Any:
    payload = _record(pid("alice"), record_id, author=f"{HOSPITAL}/dr-ada", **extra)
    return chain.one(chain.signer(HOSPITAL).sign("record.add", payload))


def test_a_custodian_registers_metadata_and_the_locator_indexes_it(clinic: Chain) -> None:
    assert _add(clinic).ok
    record = clinic.state("records", f"record/{REC}")
    assert record["custodian"] == HOSPITAL and record["status"] == "active"
    assert clinic.state("records", f"patient/{pid('alice')}/record/{REC}") == REC
    assert _add(clinic).code == "already_exists"


def test_records_are_registered_by_an_org_for_a_known_patient(clinic: Chain) -> None:
    payload = _record(pid("alice"), REC)
    assert clinic.one(clinic.signer("dr-ada").sign("record.add", payload)).code == "unauthorized"
    stranger = _record(derive_patient_id(KeyPair.generate().key_id), REC)
    assert clinic.one(clinic.signer(HOSPITAL).sign("record.add", stranger)).code == "not_found"
    insurer = clinic.signer("acme-insurance").sign("record.add", payload)
    assert clinic.one(insurer).code == "unauthorized"
    assert clinic.state("records", f"record/{REC}") is None


def _grant(chain: Chain, who: str, **extra: Any) -> Any:
    payload = {
        "consent_id": CNS,
        "patient": pid("alice"),
        "grantee": {"kind": "org", "org": "acme-insurance"},
        "purposes": ["payment"],
        "expires_ms": FAR,
        **extra,
    }
    return chain.one(chain.signer(who).sign("consent.grant", payload))


def test_only_the_patient_grants_and_revokes(clinic: Chain) -> None:
    assert _add(clinic).ok
    assert _grant(clinic, "bruno").code == "unauthorized"
    assert _grant(clinic, "dr-ada").code == "unauthorized"
    assert _grant(clinic, "alice", expires_ms=1).code == "invalid_field"
    assert _grant(clinic, "alice", record_ids=["rec-" + "9" * 24]).code == "not_found"
    assert _grant(clinic, "alice").ok
    revoke = {"consent_id": CNS, "reason": "withdrawn"}
    assert clinic.one(clinic.signer("bruno").sign("consent.revoke", revoke)).code == "unauthorized"
    assert clinic.one(clinic.signer("alice").sign("consent.revoke", revoke)).ok
    assert clinic.state("records", f"consent/{CNS}")["status"] == "revoked"
    assert clinic.one(clinic.signer("alice").sign("consent.revoke", revoke)).code == "conflict"


READER_KEYS: dict[str, KeyPair] = {}
NONCES = itertools.count()
BLOCK_TIME = 1_700_000_000_000  # what Chain.block's times are close to


def _reader_key(name: str) -> KeyPair:
    keys = seeded_keys(name)
    READER_KEYS[keys.key_id] = keys
    return keys


def _with_intent(
    payload: dict[str, Any], time_ms: int = BLOCK_TIME, **changes: Any
) -> dict[str, Any]:
    """The reader's signature of the access the vault records in their name."""
    nonce = f"{next(NONCES):032x}"
    break_glass = payload.get("basis") == "break_glass"
    intent = {
        "time_ms": time_ms,
        "nonce": nonce,
        "reason_hash": payload.get("reason_hash") if break_glass else None,
        **changes,
    }
    subject = payload["record_id"] if payload["action"] == "read" else payload["patient"]
    message = intent_message(
        CHAIN,
        payload["action"],
        subject,
        payload["purpose"],
        intent["reason_hash"],
        intent["time_ms"],
        nonce,
    )
    intent["signature"] = READER_KEYS[payload["reader"]].sign(message).hex()
    return {**payload, "intent": intent}


def _access(chain: Chain, reader: str, basis: str, purpose: str = "payment", **extra: Any) -> Any:
    payload = {
        "action": "read",
        "patient": pid("alice"),
        "record_id": REC,
        "reader": _reader_key(reader).key_id,
        "purpose": purpose,
        "basis": basis,
        "request_id": "c" * 64,
        **extra,
    }
    return chain.one(chain.signer(HOSPITAL).sign("record.access", _with_intent(payload)))


def test_the_access_handler_rechecks_the_basis_the_vault_claims(clinic: Chain) -> None:
    assert _add(clinic).ok
    assert _access(clinic, "alice", "self").ok
    assert _access(clinic, "dr-ada", "author").ok
    assert _access(clinic, "clerk-bo", "author").code == "unauthorized"
    assert _access(clinic, "clerk-bo", "consent", consent_id=CNS).code == "no_consent"
    assert _grant(clinic, "alice", grantee={"kind": "org", "org": HOSPITAL}).ok
    assert _access(clinic, "clerk-bo", "consent", consent_id=CNS).ok
    assert _access(clinic, "clerk-bo", "consent", "treatment", consent_id=CNS).code == "no_consent"
    r = _access(clinic, "clerk-bo", "break_glass", "emergency", reason_hash=REASON)
    assert r.code == ("unauthorized")
    # no reason committed: the reader did not ask for break-glass
    assert _access(clinic, "dr-ada", "break_glass", "emergency").code == "unauthorized"
    assert _access(clinic, "dr-ada", "break_glass", "emergency", reason_hash=REASON).ok
    events = [v for k, v in _scan(clinic, f"audit/{pid('alice')}/")]
    assert [e["basis"] for e in events] == ["self", "author", "consent", "break_glass"]
    assert events[-1]["break_glass"] is True


def test_a_country_limited_consent_is_rechecked_by_the_access_handler(clinic: Chain) -> None:
    """The genesis organisations name no country: a consent limited to one covers none."""
    assert _add(clinic).ok
    assert _grant(clinic, "alice", countries=["XX"]).code == "invalid_field"
    assert _grant(clinic, "alice", countries=["FR", "FR", "BE"]).ok
    assert clinic.state("records", f"consent/{CNS}")["countries"] == ["BE", "FR"]
    refused = _access(clinic, "acme-insurance", "consent", consent_id=CNS)
    assert refused.code == "no_consent" and "limited to organisations in BE, FR" in refused.message
    assert _scan(clinic, f"audit/{pid('alice')}/") == []


def test_only_the_custodian_records_reads_of_its_records(clinic: Chain) -> None:
    assert _add(clinic).ok
    payload = {
        "action": "read",
        "patient": pid("alice"),
        "record_id": REC,
        "reader": _reader_key("alice").key_id,
        "purpose": "treatment",
        "basis": "self",
        "request_id": "d" * 64,
    }
    other = clinic.signer("acme-insurance").sign("record.access", _with_intent(payload))
    assert clinic.one(other).code == "not_custodian"


def test_representatives_act_within_their_powers_and_period(clinic: Chain) -> None:
    assert _add(clinic).ok
    app_id = "app-" + "3" * 24
    appoint = {
        "appointment_id": app_id,
        "representative": pid("bruno"),
        "relation": "parent",
        "powers": ["grant", "read"],
        "until_ms": FAR,
    }
    assert clinic.one(clinic.signer("dr-ada").sign("representative.appoint", appoint)).code == (
        "unauthorized"
    )
    assert clinic.one(clinic.signer("bruno").sign("representative.appoint", appoint)).code == (
        "invalid_field"
    )
    assert clinic.one(clinic.signer("alice").sign("representative.appoint", appoint)).ok
    assert _grant(clinic, "bruno").code == "unauthorized"  # must name the appointment
    assert _grant(clinic, "bruno", appointment_id=app_id).ok
    assert clinic.state("records", f"consent/{CNS}")["granted_by"] == pid("bruno")
    revoke = {"consent_id": CNS, "appointment_id": app_id}
    assert clinic.one(clinic.signer("bruno").sign("consent.revoke", revoke)).code == "unauthorized"
    assert _access(clinic, "bruno", "representative", appointment_id=app_id).ok
    end = {"appointment_id": app_id}
    assert clinic.one(clinic.signer("bruno").sign("representative.end", end)).ok
    assert _access(clinic, "bruno", "representative", appointment_id=app_id).code == "no_consent"


def test_shredding_leaves_a_tombstone_without_keys(clinic: Chain) -> None:
    assert _add(clinic).ok
    shred = {"record_id": REC, "reason": "patient_request"}
    assert clinic.one(clinic.signer("bruno").sign("record.shred", shred)).code == "unauthorized"
    result = clinic.one(clinic.signer("alice").sign("record.shred", shred))
    assert result.ok and result.events[0]["blob"] == _record("", REC)["blob_id"]
    record = clinic.state("records", f"record/{REC}")
    assert record["status"] == "shredded" and record["wrapped_keys"] is None
    assert record["content_hash"] == "a" * 64
    assert _access(clinic, "alice", "self").code == "record_shredded"


def test_a_correction_supersedes_the_old_version(clinic: Chain) -> None:
    assert _add(clinic).ok
    new = "rec-" + "4" * 24
    assert _add(clinic, new, replaces=REC).ok
    assert clinic.state("records", f"record/{REC}")["superseded_by"] == new
    assert _add(clinic, "rec-" + "5" * 24, replaces=REC).code == "invalid_state"


def _scan(chain: Chain, prefix: str) -> list[tuple[str, Any]]:
    from healthledger.crypto.canonical import parse_json

    return [(k, parse_json(v)) for k, v in chain.store.state_scan("records", prefix)]


def test_a_blob_id_is_registered_once_even_within_one_block(clinic: Chain) -> None:
    victim = _record(pid("alice"), REC)
    attacker = {**_record(pid("alice"), "rec-" + "6" * 24), "blob_id": victim["blob_id"]}
    results = clinic.block(
        [
            clinic.signer(HOSPITAL).sign("record.add", victim),
            clinic.signer("corner-pharmacy").sign("record.add", attacker),
        ]
    )
    assert [r.code for r in results] == ["ok", "already_exists"]
    assert clinic.state("records", f"blob/{victim['blob_id']}") == REC
    assert clinic.state("records", "record/rec-" + "6" * 24) is None
    # a later block, and after the victim's own shred: still refused, the id stays taken
    shred = {"record_id": REC, "reason": "patient_request"}
    assert clinic.one(clinic.signer("alice").sign("record.shred", shred)).ok
    later = clinic.one(clinic.signer("corner-pharmacy").sign("record.add", attacker))
    assert later.code == "already_exists"


def _at(chain: Chain, time_ms: int, payload: dict[str, Any], sender: str = HOSPITAL) -> Any:
    """One block at a chosen block time (the rate limit counts block time, not wall time)."""
    from healthledger.ledger.context import BlockInfo

    height = chain.app.info().height + 1
    tx = chain.signer(sender).sign("record.access", _with_intent(payload, time_ms))
    pending = chain.app.finalize_block(BlockInfo(height, time_ms, "test"), [tx])
    chain.app.commit()
    ((*_rest, result),) = pending.txs
    return result


def _glass(reader: str, request: str, **extra: Any) -> dict[str, Any]:
    return {
        "action": "read",
        "patient": pid("alice"),
        "record_id": REC,
        "reader": _reader_key(reader).key_id,
        "purpose": "emergency",
        "basis": "break_glass",
        "reason_hash": REASON,
        "request_id": request * 64,
        **extra,
    }


def test_break_glass_is_only_for_clinicians_of_care_giving_organisations(clinic: Chain) -> None:
    assert _add(clinic).ok
    _enroll(clinic, "acme-insurance", "dr-claims", "practitioner")
    _enroll(clinic, HOSPITAL, "nurse-cy", "nurse")
    insurer = _access(clinic, "dr-claims", "break_glass", "emergency", reason_hash=REASON)
    assert insurer.code == "unauthorized"
    assert _access(clinic, "nurse-cy", "break_glass", "emergency", reason_hash=REASON).ok
    # a reason belongs to break-glass alone: no hash rides on an ordinary read
    assert _access(clinic, "alice", "self", reason_hash=REASON).code == "invalid_field"
    assert clinic.state("gov", "allowance/break_glass/acme-insurance/dr-claims") is None


def test_break_glass_is_limited_per_reader_per_24h_of_block_time(clinic: Chain) -> None:
    assert _add(clinic).ok
    start = 1_800_000_000_000
    day = 24 * 60 * 60 * 1000
    for i in range(5):  # the genesis default: 5 a day
        assert _at(clinic, start + i, _glass("dr-ada", str(i))).ok
    before = clinic.domain_state()
    refused = _at(clinic, start + day - 1, _glass("dr-ada", "5"))
    assert (refused.code, refused.message) == (
        "rate_limited",
        "at most 5 break-glass accesses per reader in 24 hours",
    )
    # Atomic: neither the audit entry written before the count nor the count itself stays.
    assert clinic.domain_state() == before
    # a day after the first, one slot is free again; the stored window stays bounded
    assert _at(clinic, start + day, _glass("dr-ada", "6")).ok
    # The allowance is governance's state, beside the reader's other governance records.
    assert clinic.state("records", f"break_glass/{HOSPITAL}/dr-ada") is None
    times = clinic.state("gov", f"allowance/break_glass/{HOSPITAL}/dr-ada")["times"]
    assert times == [start + 1, start + 2, start + 3, start + 4, start + day]


def test_a_break_glass_event_lands_in_the_patient_and_custodian_feeds_at_once(
    clinic: Chain,
) -> None:
    assert _add(clinic).ok
    result = _access(clinic, "dr-ada", "break_glass", "emergency", reason_hash=REASON)
    assert result.ok
    assert [e["type"] for e in result.events] == ["record.accessed", "record.break_glass"]
    (_alert_key, audit_key), *_ = _scan(clinic, f"alert/{HOSPITAL}/")
    event = clinic.state("records", audit_key)
    assert event["patient"] == pid("alice") and event["break_glass"] is True
    assert event["reason_hash"] == REASON and "reason" not in event
    assert _access(clinic, "alice", "self").ok  # ordinary reads raise no alert
    assert len(_scan(clinic, f"alert/{HOSPITAL}/")) == 1


def test_a_custodian_cannot_record_reads_in_a_readers_name(clinic: Chain) -> None:
    """Attack review: a custodian naming another's clinician spent their break-glass
    allowance and showed reads that never happened. The reader's signature now rides along."""
    assert _add(clinic).ok
    start = 1_800_000_000_000
    forged = _with_intent(_glass("dr-ada", "a"), start)
    forged["intent"]["signature"] = seeded_keys(HOSPITAL).sign(b"anything").hex()
    assert _at_raw(clinic, start, forged).code == "bad_signature"
    # Signed by the reader, but for another record: not this access.
    signed = _with_intent(_glass("dr-ada", "b"), start)
    other_record = {**signed, "record_id": "rec-" + "7" * 24}
    assert _at_raw(clinic, start, other_record).code == "bad_signature"
    # The reader asked an ordinary read: the vault may not turn it into break-glass.
    ordinary = _with_intent(_glass("dr-ada", "c"), start, reason_hash=None)
    assert _at_raw(clinic, start, ordinary).code == "unauthorized"
    # The reader committed to their reason: the custodian records no other.
    other_reason = {**_with_intent(_glass("dr-ada", "9"), start), "reason_hash": "f" * 64}
    got = _at_raw(clinic, start, other_reason)
    assert got.code == "unauthorized", got
    assert clinic.state("gov", "allowance/break_glass/st-marys/dr-ada") is None
    assert _scan(clinic, f"audit/{pid('alice')}/") == []


def test_a_readers_request_is_recorded_once_and_only_while_fresh(clinic: Chain) -> None:
    assert _add(clinic).ok
    start = 1_800_000_000_000
    genuine = _with_intent(_glass("dr-ada", "d"), start)
    assert _at_raw(clinic, start, genuine).ok
    again = {**genuine, "request_id": "e" * 64}
    assert _at_raw(clinic, start + 1, again).code == "request_replayed"
    stale = _with_intent(_glass("dr-ada", "f"), start)
    assert _at_raw(clinic, start + 11 * 60 * 1000, stale).code == "request_expired"
    assert len(_scan(clinic, f"audit/{pid('alice')}/")) == 1


def _at_raw(chain: Chain, time_ms: int, payload: dict[str, Any]) -> Any:
    """One block at a chosen block time, the payload's intent left as it is."""
    from healthledger.ledger.context import BlockInfo

    height = chain.app.info().height + 1
    tx = chain.signer(HOSPITAL).sign("record.access", payload)
    pending = chain.app.finalize_block(BlockInfo(height, time_ms, "test"), [tx])
    chain.app.commit()
    ((*_rest, result),) = pending.txs
    return result


def test_refusals_keep_their_codes_and_words(clinic: Chain) -> None:
    """Refusals are hashed into blocks: the typed errors write the texts the bare ones did."""
    alice = pid("alice")
    assert _add(clinic).ok
    got: list[tuple[str, str]] = []

    def refused(result: Any) -> None:
        assert not result.ok
        got.append((result.code, result.message))

    refused(_add(clinic))
    other_blob = _record(alice, "rec-" + "8" * 24)
    other_blob["blob_id"] = _record(alice, REC)["blob_id"]
    refused(clinic.one(clinic.signer(HOSPITAL).sign("record.add", other_blob)))
    stranger = _record(pid("bruno"), "rec-" + "9" * 24, author="acme-insurance/nobody")
    refused(clinic.one(clinic.signer(HOSPITAL).sign("record.add", stranger)))
    refused(_add(clinic, "rec-" + "a" * 24, replaces="rec-" + "b" * 24))
    correction = _record(alice, "rec-" + "c" * 24, replaces=REC)
    refused(clinic.one(clinic.signer("corner-pharmacy").sign("record.add", correction)))
    refused(_access(clinic, "clerk-bo", "consent", consent_id=CNS))
    refused(_access(clinic, "clerk-bo", "author"))
    refused(_grant(clinic, "alice", grantee={"kind": "org", "org": "nowhere"}))
    revoke = {"consent_id": CNS, "reason": "withdrawn"}
    refused(clinic.one(clinic.signer("alice").sign("consent.revoke", revoke)))
    assert _grant(clinic, "alice").ok
    refused(_access(clinic, "acme-insurance", "consent", "treatment", consent_id=CNS))
    assert clinic.one(clinic.signer("alice").sign("consent.revoke", revoke)).ok
    refused(_access(clinic, "acme-insurance", "consent", consent_id=CNS))
    refused(_access(clinic, "bruno", "representative", appointment_id="app-" + "1" * 24))
    appoint = {
        "appointment_id": "app-" + "1" * 24,
        "representative": "st-marys/ghost",
        "relation": "proxy",
        "powers": ["read"],
        "until_ms": FAR,
    }
    refused(clinic.one(clinic.signer("alice").sign("representative.appoint", appoint)))
    shred = {"record_id": REC, "reason": "patient_request"}
    assert clinic.one(clinic.signer("alice").sign("record.shred", shred)).ok
    refused(clinic.one(clinic.signer("alice").sign("record.shred", shred)))
    refused(_access(clinic, "alice", "self"))
    assert got == [
        ("already_exists", f"record {REC} exists"),
        ("already_exists", f"blob {_record(alice, REC)['blob_id']} is already registered"),
        ("invalid_field", "acme-insurance/nobody is not an active member of st-marys"),
        ("not_found", f"no record rec-{'b' * 24}"),
        ("not_custodian", "only the custodian may correct its record"),
        ("no_consent", f"no consent {CNS}"),
        ("unauthorized", "the reader is not the record's author"),
        ("invalid_field", "no active organisation nowhere"),
        ("not_found", f"no consent {CNS}"),
        ("no_consent", f"consent {CNS} does not allow the purpose treatment"),
        ("consent_revoked", f"consent {CNS} was revoked"),
        ("no_consent", "no active appointment allows read"),
        ("not_found", "no registered person st-marys/ghost"),
        ("conflict", f"record {REC} is already shredded"),
        ("record_shredded", f"record {REC} was shredded"),
    ]
