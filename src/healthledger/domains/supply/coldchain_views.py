"""Read side of the cold chain: excursions, sensor reports, a package's readings and holds."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from healthledger.domains.kit import Access, LedgerReader, View
from healthledger.domains.supply import errors as e
from healthledger.domains.supply import state as st
from healthledger.domains.supply.coldchain import (
    EXCURSION_ACTION,
    EXCURSION_PREFIX,
    ColdLog,
    ExcursionRecord,
    ProductRangeRecord,
    SensorRecord,
    cold_key,
    excursion_key,
    range_key,
    sensor_key,
)
from healthledger.domains.supply.handlers import regulator_hold
from healthledger.domains.supply.state import Package
from healthledger.domains.supply.views import Gtin

M = TypeVar("M", bound=BaseModel)


class ExcursionsParams(BaseModel):
    limit: int = Field(100, ge=1, le=1000, description="excursions to return, oldest first")
    after: int | None = Field(None, ge=0, description="the `next_after` of the page before")


class ExcursionPage(BaseModel):
    """One page of excursions in the order they were opened; `next_after` continues it."""

    model_config = ConfigDict(frozen=True)

    excursions: list[ExcursionRecord]
    next_after: int | None = Field(description="pass as `after` for the next page")


class NumberParams(BaseModel):
    number: int = Field(ge=1)


class ColdChainParams(BaseModel):
    gtin: Gtin
    serial: str
    limit: int = Field(20, ge=1, le=64, description="latest reports and excursions to return")


class RangeParams(BaseModel):
    gtin: Gtin


class PackageColdChain(BaseModel):
    """A package's sensor reports (latest first) and excursions, and why it is quarantined."""

    model_config = ConfigDict(frozen=True)

    gtin: str
    serial: str
    quarantined: bool
    open_excursions: list[int] = Field(description="excursions holding it in quarantine")
    regulator_hold: bool = Field(description="a regulator's or inspector's own quarantine")
    reports_total: int
    reports: list[SensorRecord]
    excursions: list[ExcursionRecord]


def excursions(reader: LedgerReader, params: ExcursionsParams) -> ExcursionPage:
    """Excursions in the order they were opened; a page reads at most `limit` records."""
    after = None if params.after is None else excursion_key(params.after)
    rows = reader.scan(st.NAMESPACE, EXCURSION_PREFIX, params.limit, after=after)
    found = [ExcursionRecord.model_validate_json(value) for _key, value in rows]
    more = len(rows) == params.limit and found
    return ExcursionPage(excursions=found, next_after=found[-1].number if more else None)


def excursion(reader: LedgerReader, params: NumberParams) -> ExcursionRecord:
    record = reader.state.load(st.NAMESPACE, excursion_key(params.number), ExcursionRecord)
    if record is None:
        raise e.UnknownExcursion(params.number)
    return record


def sensor_report(reader: LedgerReader, params: NumberParams) -> SensorRecord:
    record = reader.state.load(st.NAMESPACE, sensor_key(params.number), SensorRecord)
    if record is None:
        raise e.UnknownSensorReport(params.number)
    return record


def product_range(reader: LedgerReader, params: RangeParams) -> ProductRangeRecord:
    record = reader.state.load(st.NAMESPACE, range_key(params.gtin), ProductRangeRecord)
    if record is None:
        raise e.NoRange(params.gtin)
    return record


def package_cold_chain(reader: LedgerReader, params: ColdChainParams) -> PackageColdChain:
    package = reader.state.load(st.NAMESPACE, st.package_key(params.gtin, params.serial), Package)
    if package is None:
        raise e.UnknownPackage(params.gtin, params.serial)
    log = reader.state.load(st.NAMESPACE, cold_key(package.name), ColdLog)
    log = log or ColdLog(reports=(), total=0, open=())
    numbers = [
        int(str(step.detail).removeprefix("excursion "))
        for step in package.history
        if step.action == EXCURSION_ACTION
    ]
    return PackageColdChain(
        gtin=params.gtin,
        serial=params.serial,
        quarantined=package.quarantined,
        open_excursions=list(log.open),
        regulator_hold=regulator_hold(package),
        reports_total=log.total,
        reports=[
            _load(reader, sensor_key(n), SensorRecord)
            for n in reversed(log.reports[-params.limit :])
        ],
        excursions=[
            _load(reader, excursion_key(n), ExcursionRecord)
            for n in reversed(numbers[-params.limit :])
        ],
    )


def _load(reader: LedgerReader, key: str, model: type[M]) -> M:
    record = reader.state.load(st.NAMESPACE, key, model)
    if record is None:  # never: reports and excursions are not deleted
        raise e.UnknownExcursion(0)
    return record


VIEWS = (
    View(
        name="excursions",
        path="/v1/supply/excursions",
        summary="Temperature excursions, with the custodian named and the manufacturer's decision",
        params=ExcursionsParams,
        response=ExcursionPage,
        run=excursions,
        access=Access.MEMBER,
    ),
    View(
        name="excursion",
        path="/v1/supply/excursions/{number}",
        summary="One temperature excursion",
        params=NumberParams,
        response=ExcursionRecord,
        run=excursion,
        access=Access.MEMBER,
    ),
    View(
        name="sensor_report",
        path="/v1/supply/sensor-reports/{number}",
        summary="One sensor report, every reading as recorded",
        params=NumberParams,
        response=SensorRecord,
        run=sensor_report,
        access=Access.MEMBER,
    ),
    View(
        name="product_range",
        path="/v1/supply/ranges/{gtin}",
        summary="A GTIN's allowed temperature range and its latest changes",
        params=RangeParams,
        response=ProductRangeRecord,
        run=product_range,
        access=Access.MEMBER,
    ),
    View(
        name="package_cold_chain",
        path="/v1/supply/packages/{gtin}/{serial:path}/coldchain",
        summary="A package's sensor reports, excursions and why it is quarantined",
        params=ColdChainParams,
        response=PackageColdChain,
        run=package_cold_chain,
        access=Access.MEMBER,
    ),
)
