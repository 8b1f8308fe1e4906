"""The presented-file format: one credential, or an unsigned presentation of several."""

from __future__ import annotations

from datetime import date

import pytest

from healthledger.domains.credentials.presentation import (
    MAX_PRESENTED,
    end_of_day_ms,
    parse_at,
    presentation,
    presentation_of,
)
from healthledger.errors import ErrorCode, LedgerError


def test_one_credential_is_a_file_of_one() -> None:
    credential = {"type": ["VerifiableCredential"], "id": "urn:x"}
    assert presentation_of(credential).credentials == [credential]


def test_a_presentation_round_trips() -> None:
    documents = [{"id": "urn:a"}, {"id": "urn:b"}]
    body = presentation(documents, "st-marys/dr-lee")
    parsed = presentation_of(body)
    assert parsed.credentials == documents and parsed.holder == "st-marys/dr-lee"
    single = presentation_of({**body, "type": "VerifiablePresentation"})
    assert single.credentials == documents


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([1], ErrorCode.MALFORMED),
        ({"type": ["VerifiablePresentation"]}, ErrorCode.MALFORMED),
        ({"type": ["VerifiablePresentation"], "verifiableCredential": []}, ErrorCode.MALFORMED),
        ({"type": ["VerifiablePresentation"], "verifiableCredential": [1]}, ErrorCode.MALFORMED),
        (
            {
                "type": ["VerifiablePresentation"],
                "verifiableCredential": [{}] * (MAX_PRESENTED + 1),
            },
            ErrorCode.TOO_LARGE,
        ),
    ],
)
def test_bad_files_are_refused_with_their_code(body: object, code: ErrorCode) -> None:
    with pytest.raises(LedgerError) as refused:
        presentation_of(body)
    assert refused.value.code is code


def test_times_asked_at() -> None:
    # 2026-03-01 closes at 2026-03-02T00:00:00Z minus one millisecond.
    assert parse_at("2026-03-01") == 1_772_409_600_000 - 1
    assert parse_at("2026-03-01T12:00:00Z") == 1_772_366_400_000
    assert parse_at("2026-03-01T13:00:00+01:00") == 1_772_366_400_000
    for bad in ("2026-02-31", "tomorrow", "2026-03-01T12:00:00"):
        with pytest.raises(LedgerError) as refused:
            parse_at(bad)
        assert refused.value.code is ErrorCode.INVALID_FIELD
    assert end_of_day_ms(date(1970, 1, 1)) == 86_400_000 - 1
