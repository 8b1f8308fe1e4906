"""The shared excursion rule: exact unit conversion, the worst reading, decimals to milli-units."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from pydantic import ValidationError

from healthledger.domains.shared.coldchain import (
    AllowedRange,
    Reading,
    excursion,
    format_milli,
    milli,
    to_milli_celsius,
)

FRIDGE = AllowedRange(min_mc=2000, max_mc=8000)


def temp(value: int, uom: str = "CEL", **more: int) -> Reading:
    return Reading.model_validate({"type": "Temperature", "value": value, "uom": uom, **more})


@pytest.mark.parametrize(
    ("value", "uom", "expected"),
    [
        (0, "CEL", Fraction(0)),
        (32_000, "FAR", Fraction(0)),  # 32 °F = 0 °C
        (212_000, "FAR", Fraction(100_000)),  # 212 °F = 100 °C
        (-40_000, "FAR", Fraction(-40_000)),  # -40 is -40 in both
        (46_401, "FAR", Fraction(72_005, 9)),  # 8.000555... °C: kept exact, not rounded
        (273_150, "KEL", Fraction(0)),
        (0, "KEL", Fraction(-273_150)),
    ],
)
def test_conversion_to_milli_celsius_is_exact(value: int, uom: str, expected: Fraction) -> None:
    assert to_milli_celsius(value, uom) == expected


def test_an_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="not a temperature unit"):
        to_milli_celsius(1, "XYZ")
    with pytest.raises(ValidationError):
        temp(5000, "A93")  # percent is not a temperature unit


@pytest.mark.parametrize(
    ("text", "rounding", "expected"),
    [
        ("26.2", "half_even", 26_200),
        ("-0.5", "half_even", -500),
        ("8", "half_even", 8000),
        ("1E+1", "half_even", 10_000),
        (Decimal(str(26.2)), "half_even", 26_200),  # a JSON float, read through its repr
        ("8.0004", "ceiling", 8001),  # a maximum rounds up: rounding never hides an excursion
        ("1.9996", "floor", 1999),  # a minimum rounds down
        ("2.0005", "half_even", 2000),
        ("2.0015", "half_even", 2002),
    ],
)
def test_decimals_become_milli_units_exactly(text: str, rounding: str, expected: int) -> None:
    assert milli(text, rounding) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["abc", "NaN", "Infinity", "1e400", ""])
def test_non_numbers_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        milli(text)


def test_format_milli_writes_the_shortest_decimal() -> None:
    assert [format_milli(v) for v in (26_200, -500, 8000, 1, 0)] == [
        "26.2",
        "-0.5",
        "8",
        "0.001",
        "0",
    ]


def test_in_range_readings_give_no_excursion() -> None:
    readings = [temp(2000), temp(8000), temp(5000, min=2000, max=8000), temp(35_600, "FAR")]
    assert excursion(FRIDGE, readings) is None


def test_the_worst_reading_is_named() -> None:
    readings = [temp(9000), temp(5000, min=-1000), temp(8500)]
    found = excursion(FRIDGE, readings)
    assert found is not None
    assert (found.index, found.side, found.by_mc) == (1, "below", 3000)
    assert found.reading == readings[1]


def test_ties_go_to_the_earliest_and_fractions_round_up() -> None:
    found = excursion(FRIDGE, [temp(46_401, "FAR"), temp(46_401, "FAR")])
    assert found is not None
    assert (found.index, found.side, found.by_mc) == (0, "above", 1)


def test_other_measurements_are_not_judged() -> None:
    humidity = Reading(type="RelativeHumidity", value=99_000, uom="A93")
    assert excursion(FRIDGE, [humidity]) is None


def test_min_max_and_mean_each_count() -> None:
    only_mean = Reading(type="Temperature", mean=9000, uom="CEL")
    assert excursion(FRIDGE, [only_mean]) is not None
    assert excursion(FRIDGE, [temp(5000, max=8001)]) is not None


def test_readings_and_ranges_refuse_nonsense() -> None:
    with pytest.raises(ValidationError):
        Reading(type="Temperature", uom="CEL")  # no value at all
    with pytest.raises(ValidationError):
        temp(5000, min=6000, max=4000)
    with pytest.raises(ValidationError):
        AllowedRange(min_mc=8000, max_mc=2000)
    with pytest.raises(ValidationError):
        AllowedRange(min_mc=-300_000, max_mc=2000)  # below absolute zero
    with pytest.raises(ValidationError):
        Reading.model_validate({"type": "Temperature", "value": "5", "uom": "CEL"})  # strict
