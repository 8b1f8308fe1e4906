"""A presented file of credentials: one credential, or an unsigned presentation of several.

The file format of `healthledger credentials verify`, `POST /v1/credentials/verify` and
the SDK's `verify_file` is the shape of a W3C Verifiable Presentation (VC 2.0 §4.13):
`{"@context": [...], "type": ["VerifiablePresentation"], "holder": ...,
"verifiableCredential": [credential, ...]}`. It is not signed: each credential stands on
its own proof and its anchor on the ledger; `holder` is informative. A single credential
(a JSON object whose `type` does not name VerifiablePresentation) is a file of one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue

from healthledger.domains.credentials.documents import VC_CONTEXT
from healthledger.errors import InvalidField, MalformedInput, TooLarge

PRESENTATION_TYPE = "VerifiablePresentation"
# A verifier's bound: a whole credential file of a member fits.
MAX_PRESENTED = 256


class Presentation(BaseModel):
    """The credentials of a presented file, and who presents them."""

    model_config = ConfigDict(frozen=True)

    holder: JsonValue = None
    credentials: list[dict[str, Any]]


def presentation_of(body: object) -> Presentation:
    """The credentials a parsed JSON body holds, or `malformed` / `too_large` saying why."""
    if not isinstance(body, dict):
        raise MalformedInput("a credential or a presentation is a JSON object")
    types = body.get("type")
    if isinstance(types, str):  # VC 2.0 §4.5: one type may be a string
        types = [types]
    if not isinstance(types, list) or PRESENTATION_TYPE not in types:
        return Presentation(credentials=[body])
    credentials = body.get("verifiableCredential")
    if not isinstance(credentials, list) or not credentials:
        raise MalformedInput("a presentation's verifiableCredential is a non-empty list")
    if len(credentials) > MAX_PRESENTED:
        raise TooLarge(f"a presentation holds at most {MAX_PRESENTED} credentials")
    if not all(isinstance(credential, dict) for credential in credentials):
        raise MalformedInput("each of verifiableCredential is a credential (a JSON object)")
    return Presentation(holder=body.get("holder"), credentials=credentials)


def presentation(
    documents: Sequence[Mapping[str, Any]], holder: str | None = None
) -> dict[str, Any]:
    """An unsigned presentation of `documents`: the file `presentation_of` reads."""
    body: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "type": [PRESENTATION_TYPE],
        "verifiableCredential": [dict(document) for document in documents],
    }
    if holder is not None:
        body["holder"] = holder
    return body


def parse_at(text: str) -> int:
    """When a status is asked at, in ms since the epoch: `YYYY-MM-DD` is the last
    millisecond of that day in UTC (the status the credential had when the day closed);
    otherwise an XML dateTime with its zone (`2026-03-01T12:00:00Z`)."""
    try:
        if len(text) == len("YYYY-MM-DD"):
            return end_of_day_ms(date.fromisoformat(text))
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidField(f"at: not a date or a dateTime: {text!r}") from exc
    if moment.tzinfo is None:
        raise InvalidField("at: a dateTime needs its zone (Z for UTC)")
    return int(moment.timestamp() * 1000)


def end_of_day_ms(day: date) -> int:
    """The last millisecond of `day` in UTC."""
    next_day = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    return int(next_day.timestamp() * 1000) - 1
