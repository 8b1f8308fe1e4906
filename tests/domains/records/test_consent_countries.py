"""Consents limited to organisations of given countries: the policy, the locator, the bytes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from healthledger.domains.records import policy, queries
from healthledger.domains.records.errors import NoConsent
from healthledger.domains.records.messages import ConsentGrant
from healthledger.domains.records.state import Consent, ConsentGrantee, RecordMeta
from healthledger.ledger.context import Actor

PATIENT = "pat_" + "a" * 32
NOW = 1_000
READER = Actor(key_id="k", kind="member", id="westclinic/dr-lee", org="westclinic", role="nurse")


def consent(countries: tuple[str, ...] = ()) -> Consent:
    return Consent(
        id="cns-" + "1" * 24,
        patient=PATIENT,
        grantee=ConsentGrantee(kind="org", org="westclinic", member=None, role=None),
        resource_types=(),
        record_ids=(),
        purposes=("treatment",),
        expires_ms=10_000,
        wrapped_keys={},
        appointment_id=None,
        granted_height=1,
        granted_ms=1,
        granted_by=PATIENT,
        status="active",
        revoked_height=None,
        revoked_ms=None,
        countries=countries,
    )


RECORD = RecordMeta(
    id="rec-" + "2" * 24,
    patient=PATIENT,
    custodian="st-marys",
    author=None,
    resource_type="Observation",
    code="x",
    date="2024-01-01",
    media_type="application/fhir+json",
    content_hash="0" * 64,
    blob_id="b",
    size=1,
    wrapped_keys=None,
    replaces=None,
    superseded_by=None,
    status="active",
    added_height=1,
    added_ms=1,
)


def file(*consents: Consent) -> queries.PatientFile:
    return queries.PatientFile(
        patient=PATIENT, records=(RECORD,), consents=consents, appointments=()
    )


def test_an_unlimited_consent_keeps_its_stored_bytes() -> None:
    assert "countries" not in consent().model_dump()
    assert consent(("FR",)).model_dump()["countries"] == ("FR",)


def test_a_country_limited_consent_covers_organisations_there_only() -> None:
    limited = file(consent(("FR", "BE")))
    assert queries.read_basis(limited, RECORD, READER, "treatment", NOW, reader_country="FR")
    assert [e.id for e in queries.locatable_records(limited, READER, None, NOW, "BE")] == [
        RECORD.id
    ]
    for elsewhere in ("GB", None):
        with pytest.raises(NoConsent, match="limited to organisations in FR, BE"):
            queries.read_basis(limited, RECORD, READER, "treatment", NOW, reader_country=elsewhere)
        with pytest.raises(NoConsent):
            queries.locatable_records(limited, READER, None, NOW, elsewhere)
    # Without a limit the country does not matter.
    assert queries.read_basis(file(consent()), RECORD, READER, "treatment", NOW, None, None, "GB")


def test_the_grant_payload_takes_real_country_codes_only() -> None:
    base = {
        "consent_id": "cns-" + "3" * 24,
        "patient": PATIENT,
        "grantee": {"kind": "org", "org": "westclinic"},
        "purposes": ["treatment"],
        "expires_ms": 5,
    }
    assert ConsentGrant.model_validate({**base, "countries": ["FR"]}).countries == ["FR"]
    for bad in (["XX"], ["fr"], ["FRA"], ["FR"] * 31):
        with pytest.raises(ValidationError):
            ConsentGrant.model_validate({**base, "countries": bad})


def test_policy_matches_grantee_and_country() -> None:
    assert policy.consent_matches(consent(("FR",)), READER, "FR")
    assert not policy.consent_matches(consent(("FR",)), READER, "DE")
    assert policy.consent_matches(consent(), READER, None)
