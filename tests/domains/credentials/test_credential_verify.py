"""check_credential: the verdict on a presented document against an anchor at a date,
each check with a stable reason; failures are results, not exceptions."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthledger.crypto import data_integrity as di
from healthledger.crypto import status_list as sl
from healthledger.crypto.keys import KeyPair
from healthledger.domains.credentials import documents as docs
from healthledger.domains.credentials.errors import MalformedCredential
from healthledger.domains.credentials.state import CredentialAnchor, Status, StatusChange
from healthledger.domains.credentials.verify import CredentialCheck, check_credential

BOARD_KEY = KeyPair.from_seed(b"\x11" * 32)
ROTATED_KEY = KeyPair.from_seed(b"\x33" * 32)
JAN_2026 = 1_767_225_600_000
JAN_2028 = 1_830_297_600_000
DAY = 86_400_000
ISSUED = JAN_2026 + DAY
NOW = JAN_2026 + 400 * DAY


def document(key: KeyPair = BOARD_KEY, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "issuer": "ma-board",
        "issuer_name": "Massachusetts Board of Registration in Medicine",
        "issuer_key": key.key_id,
        "local_id": "lic-0001",
        "subject": "mgh/dr-lee",
        "type": "licence",
        "scope": "Physician and Surgeon",
        "jurisdiction": "US-MA",
        "valid_from_ms": JAN_2026,
        "valid_until_ms": JAN_2028,
        "name": "Dr. Ada Lee",
        "status_list": 0,
        "status_index": 4711,
    }
    fields.update(changes)
    return docs.sign_credential(docs.build_credential(**fields), key, ISSUED)


def anchor_for(
    presented: dict[str, Any], *history: StatusChange, **changes: Any
) -> CredentialAnchor:
    """The anchor core's handler would store for `presented` (built here directly)."""
    issue = docs.anchor_of(presented)
    fields: dict[str, Any] = {
        "id": docs.credential_id_of(presented),
        "issuer": docs.issuer_org_of(presented),
        "issuer_key": docs.issuer_key_of(presented),
        "external": False,
        **issue.model_dump(exclude={"local_id"}),
        "depends_on": tuple(issue.depends_on),
        "issued_height": 10,
        "issued_time_ms": ISSUED,
        "history": (
            StatusChange(
                height=10, time_ms=ISSUED, status="active", reason="issued", by="ma-board"
            ),
            *history,
        ),
    }
    fields.update(changes)
    return CredentialAnchor(**fields)


def change(time_ms: int, status: Status) -> StatusChange:
    return StatusChange(
        height=20, time_ms=time_ms, status=status, reason="board order", by="ma-board"
    )


def failed(check: CredentialCheck) -> dict[str, str]:
    names = ("proof", "issuer_key", "anchored", "status", "validity", "status_list")
    return {
        name: outcome.reason
        for name in names
        if (outcome := getattr(check, name)) is not None and not outcome.ok
    }


def test_a_genuine_anchored_active_credential_passes_every_check() -> None:
    presented = document()
    check = check_credential(presented, anchor_for(presented), ISSUED + DAY, NOW)
    assert check.ok and failed(check) == {}
    assert check.credential_id == "ma-board:lic-0001"
    assert check.status.reason == "active" and check.status_list is None


def test_a_changed_field_fails_the_proof_and_the_anchor() -> None:
    presented = document()
    anchor = anchor_for(presented)
    tampered = copy.deepcopy(presented)
    tampered["credentialSubject"]["scope"] = "Neurosurgery"
    check = check_credential(tampered, anchor, ISSUED + DAY, NOW)
    assert not check.ok
    assert failed(check) == {
        "proof": "signature_mismatch",
        "issuer_key": "proof_invalid",
        "anchored": "hash_mismatch",
    }


def test_a_document_signed_by_another_key_fails_the_issuer_key() -> None:
    presented = document()
    impostor = KeyPair.from_seed(b"\x44" * 32)
    forged = document(key=impostor)
    check = check_credential(forged, anchor_for(presented), ISSUED + DAY, NOW)
    assert failed(check)["issuer_key"] == "key_mismatch"
    assert failed(check)["anchored"] == "hash_mismatch"
    assert check.proof.ok  # a valid signature, by the wrong key


def test_a_proof_key_that_is_not_the_issuer_named_in_the_document_fails() -> None:
    presented = document()
    anchor = anchor_for(presented)
    relabelled = copy.deepcopy(presented)
    relabelled["issuer"]["id"] = di.did_key(ROTATED_KEY.public_key)
    del relabelled["proof"]
    relabelled = di.create_proof(relabelled, BOARD_KEY, ISSUED)
    check = check_credential(relabelled, anchor, ISSUED + DAY, NOW)
    assert failed(check)["issuer_key"] == "issuer_mismatch"


def test_a_credential_issued_before_a_key_rotation_still_verifies() -> None:
    # The anchor keeps the key the board held at issue; the board's current key is
    # another one (ROTATED_KEY), which plays no part in checking this credential.
    presented = document()
    anchor = anchor_for(presented)
    assert anchor.issuer_key == BOARD_KEY.key_id != ROTATED_KEY.key_id
    assert check_credential(presented, anchor, NOW, NOW).ok
    after_rotation = document(key=ROTATED_KEY, local_id="lic-0002")
    assert check_credential(after_rotation, anchor_for(after_rotation), NOW, NOW).ok


def test_status_at_a_date_before_and_after_a_revocation() -> None:
    presented = document()
    revoked_at = ISSUED + 100 * DAY
    anchor = anchor_for(presented, change(revoked_at, "revoked"))
    before = check_credential(presented, anchor, revoked_at - 1, NOW)
    after = check_credential(presented, anchor, revoked_at, NOW)
    assert before.ok and before.status.reason == "active"
    assert not after.ok and failed(after) == {"status": "revoked"}


def test_suspension_then_reinstatement() -> None:
    presented = document()
    anchor = anchor_for(
        presented, change(ISSUED + 10 * DAY, "suspended"), change(ISSUED + 20 * DAY, "active")
    )
    assert failed(check_credential(presented, anchor, ISSUED + 15 * DAY, NOW)) == {
        "status": "suspended"
    }
    assert check_credential(presented, anchor, ISSUED + 25 * DAY, NOW).ok


def test_before_it_was_anchored_there_is_no_status() -> None:
    presented = document()
    check = check_credential(presented, anchor_for(presented), ISSUED - 1, NOW)
    assert failed(check) == {"status": "not_yet_anchored"}


def test_validity_period_of_the_document() -> None:
    presented = document(valid_from_ms=JAN_2026 + 30 * DAY)
    anchor = anchor_for(presented)
    assert failed(check_credential(presented, anchor, ISSUED, NOW)) == {"validity": "not_yet_valid"}
    assert failed(check_credential(presented, anchor, JAN_2028, NOW)) == {"validity": "expired"}
    assert check_credential(presented, anchor, JAN_2028 - 1, NOW).ok


def test_no_anchor_means_not_anchored_but_the_proof_is_still_checked() -> None:
    check = check_credential(document(), None, ISSUED + DAY, NOW)
    assert check.proof.ok and check.validity.ok
    assert failed(check) == {
        "issuer_key": "not_anchored",
        "anchored": "not_anchored",
        "status": "not_anchored",
    }


def test_an_anchor_with_other_fields_than_the_document_fails_naming_them() -> None:
    presented = document()
    anchor = anchor_for(presented, scope="Dentistry", status_index=5)
    check = check_credential(presented, anchor, ISSUED + DAY, NOW)
    assert check.anchored.reason == "field_mismatch"
    assert "scope" in check.anchored.message and "status_index" in check.anchored.message


def test_another_credentials_anchor_fails() -> None:
    presented = document()
    other = document(local_id="lic-0002")
    check = check_credential(presented, anchor_for(other), ISSUED + DAY, NOW)
    assert check.anchored.reason == "hash_mismatch"


def test_an_unsupported_cryptosuite_is_a_failed_check() -> None:
    presented = document()
    anchor = anchor_for(presented)
    presented["proof"]["cryptosuite"] = "ecdsa-jcs-2019"
    check = check_credential(presented, anchor, ISSUED + DAY, NOW)
    assert check.proof.reason == "unsupported_cryptosuite"
    assert "ecdsa-jcs-2019" in check.proof.message


def test_a_future_dated_proof_is_a_failed_check() -> None:
    presented = document()
    check = check_credential(presented, anchor_for(presented), ISSUED, ISSUED - DAY)
    assert check.proof.reason == "future_proof"


def test_a_malformed_document_is_a_failed_check_when_it_parses_at_all() -> None:
    presented = document()
    anchor = anchor_for(presented)
    broken = copy.deepcopy(presented)
    broken["validFrom"] = "first of January"
    del broken["proof"]["proofValue"]
    check = check_credential(broken, anchor, ISSUED + DAY, NOW)
    assert failed(check) == {
        "proof": "malformed_proof",
        "issuer_key": "proof_invalid",
        "anchored": "malformed",
        "validity": "malformed",
    }
    assert check_credential({}, anchor, ISSUED, NOW).credential_id is None


def test_a_document_that_is_not_an_object_raises() -> None:
    with pytest.raises(MalformedCredential):
        check_credential([1, 2], None, 0, 0)  # type: ignore[arg-type]


def test_status_lists_when_given() -> None:
    presented = document()
    anchor = anchor_for(presented)
    clear = sl.empty_list()
    revoked = sl.with_bit(clear, 4711, True)
    ok = check_credential(presented, anchor, NOW, NOW, {"revocation": clear, "suspension": clear})
    assert ok.ok and ok.status_list is not None and ok.status_list.reason == "clear"
    listed = check_credential(presented, anchor, NOW, NOW, {"revocation": revoked})
    assert failed(listed) == {"status_list": "revoked"}
    suspended = check_credential(presented, anchor, NOW, NOW, {"suspension": revoked})
    assert failed(suspended) == {"status_list": "suspended"}
    # another index's bit does not matter
    other = sl.with_bit(clear, 4712, True)
    assert check_credential(presented, anchor, NOW, NOW, {"revocation": other}).ok


def test_status_lists_for_a_credential_without_a_status_entry() -> None:
    presented = document(status_list=None, status_index=None)
    check = check_credential(
        presented, anchor_for(presented), NOW, NOW, {"revocation": sl.empty_list()}
    )
    assert failed(check) == {"status_list": "no_status_entry"}


def test_a_short_status_list_is_a_failed_check() -> None:
    presented = document()
    check = check_credential(presented, anchor_for(presented), NOW, NOW, {"revocation": b"\0"})
    assert failed(check) == {"status_list": "index_out_of_range"}


def test_the_verdict_is_frozen_and_serialisable() -> None:
    presented = document()
    check = check_credential(presented, anchor_for(presented), NOW, NOW)
    dumped = check.model_dump()
    assert dumped["proof"]["reason"] == "valid"
    assert CredentialCheck.model_validate(dumped) == check
    with pytest.raises(ValueError):
        check.ok = False  # type: ignore[misc]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
_PATHS = [
    ("id",),
    ("type",),
    ("@context",),
    ("issuer",),
    ("issuer", "id"),
    ("issuer", "healthledgerOrg"),
    ("validFrom",),
    ("validUntil",),
    ("credentialSubject",),
    ("credentialSubject", "id"),
    ("credentialSubject", "credentialType"),
    ("credentialSubject", "ceMinutes"),
    ("credentialSubject", "dependsOn"),
    ("credentialStatus",),
    ("proof",),
    ("proof", "proofValue"),
    ("proof", "created"),
    ("proof", "verificationMethod"),
    ("proof", "@context"),
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_PATHS), _JSON)
def test_any_altered_field_gives_a_verdict_never_a_crash(path: tuple[str, ...], value: Any) -> None:
    presented = document()
    anchor = anchor_for(presented)
    altered = copy.deepcopy(presented)
    target = altered
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    check = check_credential(altered, anchor, NOW, NOW, {"revocation": sl.empty_list()})
    if altered != presented:
        assert not check.ok
    with contextlib.suppress(MalformedCredential):  # anything else would be a bug
        docs.anchor_of(altered)
