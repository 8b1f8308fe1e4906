"""Records state in the `records` namespace: keys and the shape of each value.

record/<rec id>                     a record's metadata (or its tombstone)
patient/<pat>/record/<rec id>       locator index: the record id (the record is the truth)
consent/<cns id>                    a consent grant and its status
patient/<pat>/consent/<cns id>      a patient's consents
appointment/<app id>                a representative's appointment
patient/<pat>/appointment/<app id>  a patient's representatives
audit/<pat>/<height:012>/<tx id>    one access event; key order is chronological
blob/<blob id>                      the record that registered a ciphertext (once, ever)
alert/<org>/<height:012>/<tx id>    a break-glass access in an organisation's feed: the
                                    key of its event under audit/ (same transaction)
break_glass/<reader id>             block times of the reader's break-glass accesses in
                                    the last 24 hours (at most the genesis limit of them)
"""

from __future__ import annotations

NAMESPACE = "records"
ACTIVE = "active"
SUPERSEDED = "superseded"
SHREDDED = "shredded"
REVOKED = "revoked"
ENDED = "ended"


def record_key(record_id: str) -> str:
    return f"record/{record_id}"


def patient_prefix(patient: str) -> str:
    return f"patient/{patient}/"


def patient_record_key(patient: str, record_id: str) -> str:
    return f"patient/{patient}/record/{record_id}"


def consent_key(consent_id: str) -> str:
    return f"consent/{consent_id}"


def patient_consent_key(patient: str, consent_id: str) -> str:
    return f"patient/{patient}/consent/{consent_id}"


def appointment_key(appointment_id: str) -> str:
    return f"appointment/{appointment_id}"


def patient_appointment_key(patient: str, appointment_id: str) -> str:
    return f"patient/{patient}/appointment/{appointment_id}"


def audit_prefix(patient: str) -> str:
    return f"audit/{patient}/"


def audit_key(patient: str, height: int, tx_id: str) -> str:
    return f"audit/{patient}/{height:012d}/{tx_id}"


def blob_key(blob_id: str) -> str:
    return f"blob/{blob_id}"


def alert_prefix(org: str) -> str:
    return f"alert/{org}/"


def alert_key(org: str, height: int, tx_id: str) -> str:
    return f"alert/{org}/{height:012d}/{tx_id}"


def intent_key(reader_key: str, nonce: str) -> str:
    """A reader's request recorded as an access (its nonce): each is recorded once."""
    return f"intent/{reader_key}/{nonce}"


def break_glass_key(reader_id: str) -> str:
    return f"break_glass/{reader_id}"
