"""Credential documents: the VC 2.0 shape per type, signing, hashing, and anchor_of
deriving every payload field (and refusing malformed documents, naming the field)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthledger.crypto import data_integrity as di
from healthledger.crypto.canonical import canonical_bytes
from healthledger.crypto.hashing import sha256_hex
from healthledger.crypto.keys import KeyPair
from healthledger.domains.credentials import documents as docs
from healthledger.domains.credentials.errors import MalformedCredential, WrongSigningKey
from healthledger.domains.credentials.messages import CredentialIssue
from healthledger.errors import ErrorCode

BOARD_KEY = KeyPair.from_seed(b"\x11" * 32)
JAN_2026 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
JAN_2028 = 1_830_297_600_000  # 2028-01-01T00:00:00Z
SIGNED_AT = JAN_2026 + 3_600_000


def licence(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "issuer": "ma-board",
        "issuer_name": "Massachusetts Board of Registration in Medicine",
        "issuer_key": BOARD_KEY.key_id,
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
    return docs.build_credential(**fields)


def signed(document: dict[str, Any] | None = None) -> dict[str, Any]:
    return docs.sign_credential(document or licence(), BOARD_KEY, SIGNED_AT)


def test_a_licence_has_the_shared_shape() -> None:
    document = licence()
    assert document == {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://w3id.org/healthledger/credentials/v1",
        ],
        "id": "urn:healthledger:credential:ma-board:lic-0001",
        "type": ["VerifiableCredential", "LicenceCredential"],
        "issuer": {
            "id": di.did_key(BOARD_KEY.public_key),
            "name": "Massachusetts Board of Registration in Medicine",
            "healthledgerOrg": "ma-board",
        },
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2028-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "urn:healthledger:member:mgh/dr-lee",
            "credentialType": "licence",
            "scope": "Physician and Surgeon",
            "jurisdiction": "US-MA",
            "name": "Dr. Ada Lee",
        },
        "credentialStatus": [
            {
                "id": "urn:healthledger:status-list:ma-board:revocation:0#4711",
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": "4711",
                "statusListCredential": "urn:healthledger:status-list:ma-board:revocation:0",
            },
            {
                "id": "urn:healthledger:status-list:ma-board:suspension:0#4711",
                "type": "BitstringStatusListEntry",
                "statusPurpose": "suspension",
                "statusListIndex": "4711",
                "statusListCredential": "urn:healthledger:status-list:ma-board:suspension:0",
            },
        ],
    }


@pytest.mark.parametrize(
    ("credential_type", "type_name", "extra"),
    [
        ("degree", "DegreeCredential", {}),
        ("certification", "CertificationCredential", {}),
        ("ce", "ContinuingEducationCredential", {"ce_minutes": 90, "ce_category": "AMA-1"}),
        ("privilege", "PrivilegeCredential", {"depends_on": ["ma-board:lic-0001"]}),
    ],
)
def test_each_type_names_its_credential_type(
    credential_type: str, type_name: str, extra: dict[str, Any]
) -> None:
    document = licence(type=credential_type, **extra)
    assert document["type"] == ["VerifiableCredential", type_name]
    anchor = docs.anchor_of(signed(document))
    assert anchor.type == credential_type
    assert anchor.ce_minutes == extra.get("ce_minutes")
    assert anchor.ce_category == extra.get("ce_category")
    assert anchor.depends_on == extra.get("depends_on", [])


def test_ce_minutes_and_dependencies_appear_in_the_subject() -> None:
    ce = licence(type="ce", ce_minutes=docs.ce_minutes_of_hours("1.5"), ce_category="AMA-1")
    assert ce["credentialSubject"]["ceMinutes"] == 90
    assert ce["credentialSubject"]["ceCategory"] == "AMA-1"
    privilege = licence(type="privilege", depends_on=["ma-board:lic-0001", "abim:cert-9"])
    assert privilege["credentialSubject"]["dependsOn"] == [
        "urn:healthledger:credential:ma-board:lic-0001",
        "urn:healthledger:credential:abim:cert-9",
    ]


@pytest.mark.parametrize(("hours", "minutes"), [("1.5", 90), (2, 120), ("0.25", 15)])
def test_ce_hours_become_whole_minutes(hours: str | int, minutes: int) -> None:
    assert docs.ce_minutes_of_hours(hours) == minutes


@pytest.mark.parametrize("hours", ["0.01", "0", "-1", "abc", "NaN", "Infinity"])
def test_ce_hours_that_are_not_whole_minutes_are_refused(hours: str) -> None:
    with pytest.raises(MalformedCredential):
        docs.ce_minutes_of_hours(hours)


def test_an_external_style_document_has_no_status_and_anchors_without_a_slot() -> None:
    document = licence(status_list=None, status_index=None)
    assert "credentialStatus" not in document
    anchor = docs.anchor_of(signed(document))
    assert anchor.status_list is None and anchor.status_index is None


def test_no_valid_until_leaves_it_out() -> None:
    document = licence(valid_until_ms=None)
    assert "validUntil" not in document
    assert docs.anchor_of(signed(document)).valid_until_ms is None


def test_anchor_of_derives_every_field() -> None:
    document = signed()
    assert docs.anchor_of(document) == CredentialIssue(
        local_id="lic-0001",
        subject="mgh/dr-lee",
        type="licence",
        scope="Physician and Surgeon",
        jurisdiction="US-MA",
        valid_from_ms=JAN_2026,
        valid_until_ms=JAN_2028,
        hash=sha256_hex(canonical_bytes(document)),
        status_list=0,
        status_index=4711,
    )


def test_the_holder_only_name_never_reaches_the_anchor() -> None:
    anchor = docs.anchor_of(signed())
    assert "Ada" not in json.dumps(anchor.model_dump())
    # and it is covered by the hash: a changed name is another document
    renamed = licence(name="Dr. Somebody Else")
    assert docs.anchor_of(signed(renamed)).hash != anchor.hash


def test_the_document_hash_covers_the_proof() -> None:
    document = signed()
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    assert docs.document_hash(document) != docs.document_hash(unsigned)
    assert docs.document_hash(document) == sha256_hex(canonical_bytes(document))


def test_sign_credential_adds_an_eddsa_jcs_proof_by_the_issuer_did_key() -> None:
    document = signed()
    proof = document["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["created"] == "2026-01-01T01:00:00Z"
    assert proof["verificationMethod"] == di.did_key_verification_method(BOARD_KEY.public_key)
    assert proof["@context"] == document["@context"]
    assert di.verify_proof(document, SIGNED_AT).key_id == BOARD_KEY.key_id


def test_signing_with_another_key_than_the_issuer_named_is_refused() -> None:
    with pytest.raises(WrongSigningKey):
        docs.sign_credential(licence(), KeyPair.from_seed(b"\x22" * 32), SIGNED_AT)


def test_credential_id_of() -> None:
    assert docs.credential_id_of(licence()) == "ma-board:lic-0001"
    with pytest.raises(MalformedCredential) as caught:
        docs.credential_id_of({"id": "urn:uuid:1234"})
    assert caught.value.field == "id"


def test_anchor_of_refuses_an_unsigned_document() -> None:
    with pytest.raises(MalformedCredential) as caught:
        docs.anchor_of(licence())
    assert caught.value.field == "proof"


def _set(path: str, value: Any) -> Any:
    def mutate(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = document
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is _DELETE:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


_DELETE = object()


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (_set("id", "urn:healthledger:credential:nocolon"), "id"),
        (_set("id", 7), "id"),
        (_set("id", "urn:healthledger:credential:ma-board:bad id!"), "id"),
        (_set("@context", ["https://www.w3.org/ns/credentials/v2"]), "@context"),
        (_set("type", ["VerifiableCredential", "DegreeCredential"]), "type"),
        (_set("issuer", "did:example:1"), "issuer"),
        (_set("issuer.healthledgerOrg", "other-board"), "issuer.healthledgerOrg"),
        (_set("issuer.id", "did:web:board.example"), "issuer.id"),
        (_set("credentialSubject", "x"), "credentialSubject"),
        (_set("credentialSubject.id", "did:example:1"), "credentialSubject.id"),
        (_set("credentialSubject.id", "urn:healthledger:member:Bad"), "credentialSubject.id"),
        (_set("credentialSubject.credentialType", "diploma"), "credentialSubject.credentialType"),
        (_set("credentialSubject.scope", ""), "credentialSubject.scope"),
        (_set("credentialSubject.scope", 5), "credentialSubject.scope"),
        (_set("credentialSubject.jurisdiction", "Massachusetts"), "credentialSubject.jurisdiction"),
        (_set("credentialSubject.ceMinutes", 90), "credentialSubject.ceMinutes"),
        (_set("credentialSubject.dependsOn", []), "credentialSubject.dependsOn"),
        (_set("credentialSubject.name", ""), "credentialSubject.name"),
        (_set("validFrom", "2026-01-01"), "validFrom"),
        (_set("validFrom", _DELETE), "validFrom"),
        (_set("validUntil", "2025-01-01T00:00:00Z"), "validUntil"),
        (_set("credentialStatus", []), "credentialStatus"),
        (_set("credentialStatus.0.statusListIndex", 4711), "credentialStatus"),
        (_set("credentialStatus.1.statusListIndex", "4712"), "credentialStatus"),
        (_set("credentialStatus.0.statusListIndex", "04711"), "credentialStatus"),
        (_set("credentialStatus.0.statusListIndex", "131072"), "credentialStatus"),
        (
            _set(
                "credentialStatus.0.statusListCredential",
                "urn:healthledger:status-list:other:revocation:0",
            ),
            "credentialStatus",
        ),
        (_set("credentialStatus.0.statusPurpose", "suspension"), "credentialStatus"),
        (_set("credentialStatus.0.statusListIndex", "\u00b2"), "credentialStatus"),
        (_set("credentialStatus.0.statusListIndex", "\u0664\u0667"), "credentialStatus"),
        (_set("id", "urn:healthledger:credential:ma-board\n:lic-0001"), "id"),
        (_set("issuer.healthledgerOrg", "ma-board\n"), "issuer.healthledgerOrg"),
        (_set("validFrom", "\u0662026-01-01T00:00:00Z"), "validFrom"),
        (_set("validFrom", "2026-01-01T00:00:00Z\n"), "validFrom"),
    ],
)
def test_malformed_documents_are_refused_naming_the_field(mutate: Any, field: str) -> None:
    document = copy.deepcopy(signed())
    mutate(document)
    with pytest.raises(MalformedCredential) as caught:
        docs.anchor_of(document)
    assert caught.value.field == field
    assert caught.value.code == ErrorCode.MALFORMED


def test_a_ce_certificate_without_minutes_is_refused() -> None:
    with pytest.raises(MalformedCredential) as caught:
        licence(type="ce", ce_category="AMA-1")
    assert caught.value.field == "credentialSubject.ceMinutes"


def test_a_licence_that_depends_on_something_is_refused() -> None:
    with pytest.raises(MalformedCredential) as caught:
        licence(depends_on=["ma-board:lic-0002"])
    assert caught.value.field == "credentialSubject.dependsOn"


def test_too_many_or_repeated_dependencies_are_refused() -> None:
    many = [f"ma-board:lic-{i}" for i in range(17)]
    with pytest.raises(MalformedCredential):
        licence(type="privilege", depends_on=many)
    with pytest.raises(MalformedCredential):
        licence(type="privilege", depends_on=["ma-board:lic-1", "ma-board:lic-1"])


@pytest.mark.parametrize(
    "changes",
    [
        {"status_list": 0, "status_index": None},
        {"status_index": 131_072},
        {"status_list": 1_000_001},
        {"issuer_key": "not-hex"},
        {"issuer_name": ""},
        {"valid_from_ms": -1},
        {"valid_until_ms": JAN_2026},
        {"ce_minutes": 0, "type": "ce", "ce_category": "AMA-1"},
    ],
)
def test_build_refuses_bad_arguments(changes: dict[str, Any]) -> None:
    with pytest.raises(MalformedCredential):
        licence(**changes)


def test_a_float_in_the_document_is_refused() -> None:
    document = signed()
    document["credentialSubject"]["ceMinutes"] = 1.5
    with pytest.raises(MalformedCredential):
        docs.anchor_of(document)


def test_a_huge_document_is_refused() -> None:
    document = signed()
    document["padding"] = "x" * docs.MAX_DOCUMENT_BYTES
    with pytest.raises(MalformedCredential) as caught:
        docs.anchor_of(document)
    assert caught.value.field == "document"


def test_a_malformed_or_signed_document_is_not_signed() -> None:
    broken = licence()
    broken["credentialSubject"]["jurisdiction"] = "Massachusetts"
    with pytest.raises(MalformedCredential) as caught:
        docs.sign_credential(broken, BOARD_KEY, SIGNED_AT)
    assert caught.value.field == "credentialSubject.jurisdiction"
    with pytest.raises(MalformedCredential) as caught:
        docs.sign_credential(signed(), BOARD_KEY, SIGNED_AT)
    assert caught.value.field == "proof"


def test_a_validity_past_year_9999_is_refused() -> None:
    with pytest.raises(MalformedCredential) as caught:
        licence(valid_until_ms=10**16)
    assert caught.value.field == "validUntil"


_SLUG = st.from_regex(r"[a-z0-9][a-z0-9_-]{1,20}", fullmatch=True)
_LOCAL = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)


@settings(max_examples=100, deadline=None)
@given(
    issuer=_SLUG,
    local_id=_LOCAL,
    subject=st.builds(lambda org, member: f"{org}/{member}", _SLUG, _SLUG),
    credential_type=st.sampled_from(["licence", "degree", "certification", "ce", "privilege"]),
    scope=st.text(min_size=1, max_size=200),
    valid_from_ms=st.integers(min_value=0, max_value=253_402_300_000_000),
    duration=st.none() | st.integers(min_value=1, max_value=10**12),
    ce_minutes=st.integers(min_value=1, max_value=100_000),
    depends_on=st.lists(
        st.builds(lambda issuer, local: f"{issuer}:{local}", _SLUG, _LOCAL),
        max_size=4,
        unique=True,
    ),
    slot=st.none() | st.tuples(st.integers(0, 1_000_000), st.integers(0, 131_071)),
)
def test_anchor_of_gives_back_what_was_built(
    issuer: str,
    local_id: str,
    subject: str,
    credential_type: str,
    scope: str,
    valid_from_ms: int,
    duration: int | None,
    ce_minutes: int,
    depends_on: list[str],
    slot: tuple[int, int] | None,
) -> None:
    is_ce, is_privilege = credential_type == "ce", credential_type == "privilege"
    valid_until_ms = (
        None if duration is None else min(valid_from_ms + duration, 253_402_300_799_999)
    )
    if valid_until_ms == valid_from_ms:
        valid_until_ms = None
    document = docs.build_credential(
        issuer=issuer,
        issuer_name="Board",
        issuer_key=BOARD_KEY.key_id,
        local_id=local_id,
        subject=subject,
        type=credential_type,  # type: ignore[arg-type]
        scope=scope,
        jurisdiction="GB-ENG",
        valid_from_ms=valid_from_ms,
        valid_until_ms=valid_until_ms,
        ce_minutes=ce_minutes if is_ce else None,
        ce_category="Cat 1" if is_ce else None,
        depends_on=depends_on if is_privilege else (),
        status_list=None if slot is None else slot[0],
        status_index=None if slot is None else slot[1],
    )
    signed_document = docs.sign_credential(document, BOARD_KEY, SIGNED_AT)
    anchor = docs.anchor_of(signed_document)
    assert docs.credential_id_of(signed_document) == f"{issuer}:{local_id}"
    assert (anchor.local_id, anchor.subject, anchor.type, anchor.scope) == (
        local_id,
        subject,
        credential_type,
        scope,
    )
    assert (anchor.valid_from_ms, anchor.valid_until_ms) == (valid_from_ms, valid_until_ms)
    assert anchor.ce_minutes == (ce_minutes if is_ce else None)
    assert anchor.depends_on == (depends_on if is_privilege else [])
    assert (anchor.status_list, anchor.status_index) == (slot or (None, None))
    assert anchor.hash == docs.document_hash(signed_document)
