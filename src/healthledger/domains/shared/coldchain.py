"""Temperature excursions: sensor readings (EPCIS 2.0 sensorReport) against an allowed range.

A rule two domains share: the supply chain judges drug packages with it, research
judges cell-therapy shipments. Pure, no state and no domain vocabulary: values are
integers in milli-units (no floats on chain), converted to milli-degrees Celsius
with exact rational arithmetic, so every node reaches the same verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# UN/CEFACT Recommendation 20 codes, as EPCIS 2.0 `uom` gives them.
CELSIUS, FAHRENHEIT, KELVIN = "CEL", "FAR", "KEL"
TEMPERATURE_UNITS = frozenset({CELSIUS, FAHRENHEIT, KELVIN})
# The measurement type judged; EPCIS writes it `gs1:Temperature` (CBV 2.0 MeasurementType).
TEMPERATURE = "Temperature"
MILLI = 1000
# Absolute zero in milli-degrees Celsius: no range or reading may lie below it.
ABSOLUTE_ZERO_MC = -273_150
# A bound on any value a reading carries (a million units): keeps integers small.
MAX_MAGNITUDE = 10**9
# How a decimal is rounded to milli-units where it has more than three decimals.
Rounding = Literal["floor", "ceiling", "half_even"]
_ROUNDINGS = {"floor": ROUND_FLOOR, "ceiling": ROUND_CEILING, "half_even": ROUND_HALF_EVEN}

Milli = Annotated[int, Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
MeasurementType = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]
Uom = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,3}$")]
Device = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class AllowedRange(BaseModel):
    """The temperatures a product may be kept at, inclusive, in milli-degrees Celsius."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    min_mc: Annotated[int, Field(ge=ABSOLUTE_ZERO_MC, le=MAX_MAGNITUDE)]
    max_mc: Annotated[int, Field(ge=ABSOLUTE_ZERO_MC, le=MAX_MAGNITUDE)]

    @model_validator(mode="after")
    def _ordered(self) -> AllowedRange:
        if self.min_mc > self.max_mc:
            raise ValueError(f"minimum {self.min_mc} is above maximum {self.max_mc} (m°C)")
        return self


class Reading(BaseModel):
    """One sensorReport entry: values in milli-units of `uom` (26.2 CEL is 26200)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    type: MeasurementType
    device: Device | None = None
    time_ms: Annotated[int, Field(ge=0)] | None = None
    value: Milli | None = None
    min: Milli | None = None
    mean: Milli | None = None
    max: Milli | None = None
    uom: Uom | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Reading:
        if self.value is None and self.min is None and self.mean is None and self.max is None:
            raise ValueError("a reading needs a value, min, mean or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.type == TEMPERATURE and self.uom not in TEMPERATURE_UNITS:
            raise ValueError(f"a temperature needs uom CEL, FAR or KEL, not {self.uom!r}")
        return self

    @property
    def lowest(self) -> int:
        """The lowest value the reading reports (its min, else its value, else its mean)."""
        return _first(self.min, self.value, self.mean, self.max)

    @property
    def highest(self) -> int:
        return _first(self.max, self.value, self.mean, self.min)


def _first(*values: int | None) -> int:
    return next(value for value in values if value is not None)


@dataclass(frozen=True)
class Excursion:
    """The worst reading out of range: its position, which side, and by how much (m°C, up)."""

    index: int
    reading: Reading
    side: Literal["below", "above"]
    by_mc: int


def milli(text: str | int | Decimal, rounding: Rounding = "half_even") -> int:
    """A decimal number as integer milli-units, exactly; digits past the third are rounded.

    JSON floats are given here as `Decimal(str(x))`, never as floats. Values with more
    than three decimals (no sensor is that precise) are rounded as `rounding` says: a
    minimum down and a maximum up, so rounding never hides an excursion.
    """
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{text!r} is not a finite number")
    if abs(number) > MAX_MAGNITUDE // MILLI:
        raise ValueError(f"{text!r} is out of bounds (at most {MAX_MAGNITUDE // MILLI})")
    return int((number * MILLI).to_integral_value(rounding=_ROUNDINGS[rounding]))


def format_milli(value: int) -> str:
    """Milli-units written as a decimal number: 26200 -> '26.2', -500 -> '-0.5', 8000 -> '8'."""
    text = format(Decimal(value) / MILLI, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def to_milli_celsius(value: int, uom: str) -> Fraction:
    """A temperature in milli-units of `uom` as exact milli-degrees Celsius."""
    if uom == CELSIUS:
        return Fraction(value)
    if uom == FAHRENHEIT:
        return Fraction((value - 32 * MILLI) * 5, 9)
    if uom == KELVIN:
        return Fraction(value + ABSOLUTE_ZERO_MC)
    raise ValueError(f"{uom!r} is not a temperature unit (CEL, FAR, KEL)")


def is_temperature(reading: Reading) -> bool:
    return reading.type == TEMPERATURE


def excursion(allowed: AllowedRange, readings: Sequence[Reading]) -> Excursion | None:
    """The temperature reading furthest outside `allowed`, or None if all are within it.

    Other measurement types are not judged. Ties go to the earliest reading.
    """
    return excursion_judge(readings)(allowed)


@dataclass(frozen=True)
class _Extremes:
    """The coldest and warmest temperatures read, each at its earliest reading."""

    lowest: Fraction
    lowest_at: int
    highest: Fraction
    highest_at: int


def excursion_judge(readings: Sequence[Reading]) -> Callable[[AllowedRange], Excursion | None]:
    """`excursion(allowed, readings)` for many ranges, each reading converted once.

    A reading's distance outside a range is the larger of (min - its lowest) and (its
    highest - max), so the furthest is at the coldest or the warmest reading: each range
    costs two comparisons, not one per reading (a report over a thousand GTINs' ranges
    would otherwise convert its readings a thousand times).
    """
    extremes = _extremes(readings)

    def judge(allowed: AllowedRange) -> Excursion | None:
        if extremes is None:
            return None
        below = allowed.min_mc - extremes.lowest
        above = extremes.highest - allowed.max_mc
        if below <= 0 and above <= 0:
            return None
        # The earliest reading as far outside as the furthest: the coldest one, the
        # warmest one, or the earlier of the two when both are equally far.
        candidates = []
        if below >= above:
            candidates.append(extremes.lowest_at)
        if above >= below:
            candidates.append(extremes.highest_at)
        index = min(candidates)
        found = _outside(allowed, index, readings[index])
        assert found is not None  # the reading is outside by max(below, above) > 0
        return found[1]

    return judge


def _extremes(readings: Sequence[Reading]) -> _Extremes | None:
    found: _Extremes | None = None
    for index, reading in enumerate(readings):
        if not is_temperature(reading) or reading.uom is None:
            continue
        low = to_milli_celsius(reading.lowest, reading.uom)
        high = to_milli_celsius(reading.highest, reading.uom)
        if found is None:
            found = _Extremes(low, index, high, index)
            continue
        if low < found.lowest:  # strictly: a tie keeps the earlier reading
            found = _Extremes(low, index, found.highest, found.highest_at)
        if high > found.highest:
            found = _Extremes(found.lowest, found.lowest_at, high, index)
    return found


def _outside(
    allowed: AllowedRange, index: int, reading: Reading
) -> tuple[Fraction, Excursion] | None:
    uom = str(reading.uom)
    below = allowed.min_mc - to_milli_celsius(reading.lowest, uom)
    above = to_milli_celsius(reading.highest, uom) - allowed.max_mc
    if below <= 0 and above <= 0:
        return None
    side: Literal["below", "above"] = "below" if below >= above else "above"
    by = max(below, above)
    return by, Excursion(index, reading, side, _ceil(by))


def _ceil(value: Fraction) -> int:
    return -((-value.numerator) // value.denominator)
