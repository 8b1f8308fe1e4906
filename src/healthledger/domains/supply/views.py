"""What the supply reads answer and take: models shared by the node, the API and its document.

The JSON of each answer is what `/v1/supply/...` has always sent; the models give
`/openapi.json` its response schemas.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel

from healthledger.domains.kit import ProvenValue
from healthledger.domains.supply import epcis, gs1
from healthledger.domains.supply.observations import ErrorMark, Observation
from healthledger.domains.supply.state import Alert, Recall, Status
from healthledger.errors import LedgerError

Verdict = Literal[
    "verified",
    "unknown_serial",
    "lot_mismatch",
    "expiry_mismatch",
    "recalled",
    "already_dispensed",
    "destroyed",
    "suspect",
    "transformed",
]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


class CustodySummary(_Answer):
    """What a verifier is told about a package: owner and status, never prices or customers."""

    owner: str
    status: Status
    in_transit_to: str | None
    container: str | None
    manufacturer: str
    suspect: bool
    quarantined: bool


class VerifyProofs(_Answer):
    """State proofs, all against one header, of every record the verdict was computed from."""

    package: ProvenValue
    recalls: ProvenValue
    expired: ProvenValue = Field(
        description="the lot's expiry mark (absent until the block-time sweep finds it expired)"
    )


class VerifyAnswer(_Answer):
    """DSCSA / EU FMD verification of one package."""

    gtin: str
    serial: str
    lot: str
    expiry: str
    verdict: Verdict
    package: CustodySummary | None
    expired: bool = Field(
        description="the scanned lot is past its expiry date, as the ledger found at block time"
    )
    proofs: VerifyProofs


class CustodyStep(_Answer):
    height: int
    action: str
    org: str
    detail: str | None


class TransformLinkView(_Answer):
    """A transformation a package was consumed by (with its outputs) or produced by (inputs)."""

    transformation: str
    org: str
    height: int = Field(description="the block of the step that consumed or produced it")
    event_id: str | None = Field(description="the EPCIS event hash of that step, if any")
    items: list[str] = Field(description="the outputs (consumed_by) or inputs (produced_by)")
    total: int = Field(description="how many there are (items lists the first hundred)")


class ImportedEvent(_Answer):
    """An EPCIS event applied through `supply.epcis` that names the package: what it became,
    where its raw form is (transaction, position), its observation and error mark if any."""

    event_id: str
    kind: str
    tx: str
    position: int
    org: str
    height: int
    observation: Observation | None
    erroneous: ErrorMark | None


class PackageHistory(_Answer):
    """A package's full chain of custody, oldest step first, and the EPCIS events naming it."""

    gtin: str
    serial: str
    lot: str
    expiry: str
    custody: CustodySummary
    history: list[CustodyStep]
    consumed_by: TransformLinkView | None = None
    produced_by: TransformLinkView | None = None
    epcis_events: list[ImportedEvent] = Field(
        default_factory=list,
        description="events imported through supply.epcis that name it (observations too)",
    )


class Alerts(RootModel[list[Alert]]):
    """Counterfeit and diversion alerts, newest first."""

    model_config = ConfigDict(frozen=True)


class RecallPage(_Answer):
    """One page of the recalls issued, in the order of their ids; `next_after` continues it."""

    recalls: list[Recall]
    next_after: str | None = Field(
        description="pass as `after` for the next page (absent: no more recalls)"
    )


class LotStatus(_Answer):
    """A lot: its size, whether the ledger found it expired, and who holds how many of it."""

    gtin: str
    lot: str
    expiry: str
    manufacturer: str
    count: int = Field(description="packages commissioned in the lot")
    expired: bool
    expired_at: int | None = Field(description="the block whose end-of-block sweep marked it")
    holders: dict[str, int] = Field(description="organisation -> packages of the lot it holds")


class EpcisBody(BaseModel):
    eventList: list[dict[str, Any]]


class EpcisDocument(BaseModel):
    """An EPCIS 2.0 EPCISDocument (JSON-LD); a lot's page adds the paging fields."""

    model_config = ConfigDict(populate_by_name=True)

    context: list[Any] = Field(alias="@context")
    type: Literal["EPCISDocument"]
    schemaVersion: str
    creationDate: str
    epcisBody: EpcisBody
    packages: int | None = Field(None, alias=epcis.PACKAGES_FIELD)
    next_cursor: str | None = Field(None, alias=epcis.NEXT_CURSOR_FIELD)


# --- parameters ---------------------------------------------------------------------------


def _gtin(value: str) -> str:
    try:
        return gs1.validate_gtin(value)
    except LedgerError as exc:  # a field error in our words, as payload fields give it
        raise ValueError(exc.message) from exc


Gtin = Annotated[
    str,
    AfterValidator(_gtin),
    Field(
        description="GTIN-8, -12, -13 or -14 with its GS1 check digit",
        json_schema_extra={"pattern": "^([0-9]{8}|[0-9]{12,14})$"},
    ),
]


class PackageParams(BaseModel):
    gtin: Gtin
    serial: str


class LotParams(BaseModel):
    gtin: Gtin
    lot: str


class AlertsParams(BaseModel):
    limit: int = Field(100, ge=1, le=1000, description="alerts to return, newest first")


class RecallsParams(BaseModel):
    limit: int = Field(100, ge=1, le=1000, description="recalls to return")
    after: str | None = Field(
        None, min_length=1, max_length=64, description="the `next_after` of the page before"
    )


class EventOutcome(_Answer):
    """What one event of an imported document became, or why it was refused."""

    index: int
    event_id: str | None
    became: str | None = Field(
        description="custody:<action>, transaction, sensor, transform, observation attested, "
        "observation confirmed or error declaration (joined by + when several)"
    )
    tx_id: str | None
    error: str | None
    code: str | None


class ImportReport(_Answer):
    """The per-event report of an EPCIS import (or of its dry run: `submitted` false)."""

    ok: bool
    submitted: bool
    events: list[EventOutcome]
