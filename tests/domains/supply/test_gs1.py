"""GS1 identifiers: check digits, serials and lots, expiry dates, element strings, Digital Link.

Check-digit vectors are published GS1 examples, each re-derived by hand below with
the weights 3,1,3,... from the right (GenSpecs §7.9.1).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthledger.domains.supply.gs1 import (
    CSET82,
    ProductIdentifier,
    gtin_check_digit,
    parse_expiry,
    parse_scan,
    validate_gtin,
    validate_lot,
    validate_serial,
    validate_sscc,
)
from healthledger.errors import ErrorCode, LedgerError

YEAR = 2026
GS = "\x1d"
PID = ProductIdentifier(gtin="09506000134352", serial="XYZ789", lot="ABC123", expiry="2026-02-28")


def rejects(match: str) -> pytest.RaisesExc[LedgerError]:
    return pytest.raises(LedgerError, match=match)


def assert_invalid(error: pytest.ExceptionInfo[LedgerError]) -> None:
    assert error.value.code is ErrorCode.INVALID_FIELD


# --- check digits: GS1's published examples --------------------------------------------

CHECK_DIGIT_VECTORS = [
    # GS1's worked example of the check digit calculation (GTIN-13 6291041500213).
    ("629104150021", 3),
    # The EAN-13 example of most references (e.g. Wikipedia, "EAN-13"): 4006381333931.
    ("400638133393", 1),
    # GS1's example GTIN-14 in its Digital Link documents: 09506000134352.
    ("0950600013435", 2),
    # GS1 Digital Link examples (also BWIPP's wiki): 09521234543213.
    ("0952123454321", 3),
    # The UPC-A (GTIN-12) example of most references: 036000291452.
    ("03600029145", 2),
    # A GTIN-8 (biip's documentation example): 96385074.
    ("9638507", 4),
    # GS1's example SSCC for AI (00): 106141412345678908.
    ("10614141234567890", 8),
]


@pytest.mark.parametrize(("body", "digit"), CHECK_DIGIT_VECTORS)
def test_check_digit_of_published_examples(body: str, digit: int) -> None:
    assert gtin_check_digit(body) == digit


def test_check_digit_worked_by_hand() -> None:
    # 0950600013435 from the right: 5*3 + 3 + 4*3 + 3 + 1*3 + 0 + 0 + 0 + 6*3 + 0 + 5*3 + 9
    # + 0*3 = 78; 80 - 78 = 2.
    assert gtin_check_digit("0950600013435") == 2
    assert gtin_check_digit("0") == 0
    assert gtin_check_digit("1") == 7  # 1*3 = 3, 10 - 3 = 7


@pytest.mark.parametrize("body", ["", "12a4", " 123", "\uff11\uff12\uff13"])  # last: fullwidth
def test_check_digit_needs_ascii_digits(body: str) -> None:
    with rejects("expected digits 0-9 only") as error:
        gtin_check_digit(body)
    assert_invalid(error)


@pytest.mark.parametrize(
    ("value", "gtin14"),
    [
        ("96385074", "00000096385074"),
        ("036000291452", "00036000291452"),
        ("4006381333931", "04006381333931"),
        ("6291041500213", "06291041500213"),
        ("09506000134352", "09506000134352"),
    ],
)
def test_gtin_normalises_to_14_digits(value: str, gtin14: str) -> None:
    assert validate_gtin(value) == gtin14


def test_gtin_wrong_check_digit_names_both_digits() -> None:
    with rejects(r"^GTIN 09506000134353: check digit should be 2, not 3$") as error:
        validate_gtin("09506000134353")
    assert_invalid(error)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "expected 8 or 12 or 13 or 14 digits, got 0"),
        ("1234567", "got 7"),
        ("950600013435", "check digit should be"),  # a GTIN-12 with a wrong check digit
        ("0950600013435", "check digit should be 9, not 5"),  # a GTIN-14 cut short
        ("095060001343520", "got 15"),
        ("0950600013435X", "expected digits 0-9 only"),
        ("0950600013435 ", "expected digits 0-9 only"),
    ],
)
def test_gtin_rejects(value: str, reason: str) -> None:
    with rejects(reason) as error:
        validate_gtin(value)
    assert_invalid(error)


def test_sscc() -> None:
    assert validate_sscc("106141412345678908") == "106141412345678908"
    with rejects("SSCC 106141412345678909: check digit should be 8, not 9"):
        validate_sscc("106141412345678909")
    with rejects("expected 18 digits, got 17"):
        validate_sscc("10614141234567890")


@given(
    body=st.text(alphabet="0123456789", min_size=13, max_size=13),
    position=st.integers(min_value=0, max_value=13),
    shift=st.integers(min_value=1, max_value=9),
)
def test_any_single_digit_change_to_a_gtin_is_rejected(
    body: str, position: int, shift: int
) -> None:
    gtin = body + str(gtin_check_digit(body))
    assert validate_gtin(gtin) == gtin
    changed = str((int(gtin[position]) + shift) % 10)
    typo = gtin[:position] + changed + gtin[position + 1 :]
    with rejects("check digit should be") as error:
        validate_gtin(typo)
    assert_invalid(error)


# --- serials and lots: AI (21) and AI (10), GS1 character set 82 --------------------------


@pytest.mark.parametrize("validate", [validate_serial, validate_lot])
@pytest.mark.parametrize(
    "value", ["1", "A" * 20, "12345abcDEF", "!\"%&'()*+,-./:;<=>?_", "SN-2026/04.1"]
)
def test_serial_and_lot_accept_cset82(validate: Callable[[str], str], value: str) -> None:
    assert validate(value) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "expected 1 to 20 characters, got 0"),
        ("A" * 21, "expected 1 to 20 characters, got 21"),
        ("AB C", "character ' ' is not in GS1 character set 82"),
        ("sérial", "character 'é' is not in GS1 character set 82"),
        ("ABC#1", "character '#' is not in GS1 character set 82"),
        ("A~B", "character '~'"),  # URI-safe, yet not encodable in a GS1 barcode
        ("A\x1dB", r"character '\\x1d'"),
        ("A$", "character '\\$'"),
    ],
)
def test_serial_and_lot_reject(value: str, reason: str) -> None:
    with rejects(f"^serial .*{reason}") as error:
        validate_serial(value)
    assert_invalid(error)
    with rejects(f"^lot .*{reason}"):
        validate_lot(value)


def test_cset82_has_82_characters() -> None:
    assert len(CSET82) == 82


# --- expiry: AI (17) YYMMDD ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reference_year", "iso"),
    [
        ("260228", 2026, "2026-02-28"),
        ("261231", 2026, "2026-12-31"),
        # DD 00 is the last day of the month (GenSpecs §3.4.7), leap years included.
        ("260200", 2026, "2026-02-28"),
        ("280200", 2026, "2028-02-29"),
        ("000200", 2026, "2000-02-29"),  # 2000 is a leap year (divisible by 400)
        ("000200", 2060, "2100-02-28"),  # 2100 is not
        ("270400", 2026, "2027-04-30"),
        ("271200", 2026, "2027-12-31"),
        # Sliding window (GenSpecs §7.12): 49 years back to 50 years ahead.
        ("761231", 2026, "2076-12-31"),  # YY - 26 = 50: this century
        ("770101", 2026, "1977-01-01"),  # YY - 26 = 51: last century
        ("991231", 2026, "1999-12-31"),
        ("100101", 2060, "2110-01-01"),  # YY - 60 = -50: next century
        ("110101", 2060, "2011-01-01"),  # YY - 60 = -49: this century
        ("490101", 1999, "2049-01-01"),
        ("500101", 1999, "1950-01-01"),
    ],
)
def test_parse_expiry(value: str, reference_year: int, iso: str) -> None:
    assert parse_expiry(value, reference_year=reference_year) == iso


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("261301", "month 13 is not 01 to 12"),
        ("260001", "month 00 is not 01 to 12"),
        ("260230", "2026-02 has no day 30"),
        ("250229", "2025-02 has no day 29"),
        ("260431", "2026-04 has no day 31"),
        ("2602", "expected YYMMDD, 6 digits, got 4"),
        ("2026-02-28", "got 10"),
        ("26O228", "expected digits 0-9 only"),
    ],
)
def test_parse_expiry_rejects(value: str, reason: str) -> None:
    with rejects(f"^expiry .*{reason}") as error:
        parse_expiry(value, reference_year=YEAR)
    assert_invalid(error)


@given(day=st.dates(min_value=date(YEAR - 49, 1, 1), max_value=date(YEAR + 50, 12, 31)))
def test_expiry_window_round_trips(day: date) -> None:
    assert parse_expiry(day.strftime("%y%m%d"), reference_year=YEAR) == day.isoformat()


# --- the product identifier and its two printed forms ----------------------------------------


def test_element_string_and_digital_link() -> None:
    pid = ProductIdentifier("09506000134352", "XYZ/789", "ABC+1", "2026-02-28")
    assert pid.element_string() == "(01)09506000134352(21)XYZ/789(10)ABC+1(17)260228"
    assert pid.digital_link() == (
        "https://id.gs1.org/01/09506000134352/10/ABC%2B1/21/XYZ%2F789?17=260228"
    )
    assert pid.digital_link("https://example.com/dl/") == (
        "https://example.com/dl/01/09506000134352/10/ABC%2B1/21/XYZ%2F789?17=260228"
    )


def test_digital_link_percent_encodes_every_reserved_cset82_character() -> None:
    pid = ProductIdentifier("09506000134352", "!\"%&'()*+,-./:;<=>?_", "L1", "2026-02-28")
    serial = "%21%22%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F_"
    assert pid.digital_link() == f"https://id.gs1.org/01/09506000134352/10/L1/21/{serial}?17=260228"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"gtin": "9506000134352"}, "expected its 14-digit form 09506000134352"),
        ({"gtin": "09506000134353"}, "check digit should be 2, not 3"),
        ({"serial": "A B"}, "^serial"),
        ({"lot": ""}, "^lot"),
        ({"expiry": "2026-02-30"}, "^expiry '2026-02-30'"),
        ({"expiry": "20260228"}, "expected a date YYYY-MM-DD"),
        ({"expiry": "2026-2-28"}, "expected a date YYYY-MM-DD"),
    ],
)
def test_product_identifier_accepts_only_canonical_fields(
    fields: dict[str, str], reason: str
) -> None:
    values = {"gtin": PID.gtin, "serial": PID.serial, "lot": PID.lot, "expiry": PID.expiry}
    with rejects(reason) as error:
        ProductIdentifier(**(values | fields))
    assert_invalid(error)


# --- scans: what a 2D barcode scanner returns ----------------------------------------------

SCANS = [
    # GS1 DataMatrix with symbology identifier; GS ends variable-length fields only.
    "]d2" + "0109506000134352" + "17260228" + "10ABC123" + GS + "21XYZ789",
    "0109506000134352" + "17260228" + "10ABC123" + GS + "21XYZ789",
    # A GS after every field, even fixed-length ones and the last, is allowed (GenSpecs §7.8).
    "]d2" + "0109506000134352" + GS + "21XYZ789" + GS + "10ABC123" + GS + "17260228" + GS,
    "]Q3" + "0109506000134352" + "21XYZ789" + GS + "17260228" + "10ABC123",
    "]C1" + "0109506000134352" + "21XYZ789" + GS + "10ABC123" + GS + "17260228",
    # Human-readable form, with and without spaces, and behind a symbology identifier.
    "(01)09506000134352(21)XYZ789(10)ABC123(17)260228",
    "(01) 09506000134352 (17) 260228 (10) ABC123 (21) XYZ789",
    "]d2(01)09506000134352(21)XYZ789(10)ABC123(17)260228",
    # GS1 Digital Link URIs, in plain QR (]Q1) or not, lot as query or as path qualifier.
    "https://id.gs1.org/01/09506000134352/21/XYZ789?10=ABC123&17=260228",
    "]Q1https://id.gs1.org/01/09506000134352/21/XYZ789?10=ABC123&17=260228",
    "https://id.gs1.org/01/09506000134352/10/ABC123/21/XYZ789?17=260228",
    "HTTPS://ID.GS1.ORG/01/09506000134352/21/XYZ789?10=ABC123&17=260228",
    "https://example.com/products/01/09506000134352/21/XYZ789?17=260228&10=ABC123&x=1",
    # DD 00: the last day of February 2026.
    "(01)09506000134352(21)XYZ789(10)ABC123(17)260200",
    "  (01)09506000134352(21)XYZ789(10)ABC123(17)260228\r\n",
]


@pytest.mark.parametrize("scan", SCANS)
def test_parse_scan(scan: str) -> None:
    assert parse_scan(scan, YEAR) == PID


def test_parse_scan_decodes_percent_encoded_digital_link() -> None:
    uri = "https://id.gs1.org/01/4006381333931/21/A%2FB%25C%28%29?10=L%2B1%26&17=280200"
    pid = parse_scan(uri, YEAR)
    assert pid == ProductIdentifier("04006381333931", "A/B%C()", "L+1&", "2028-02-29")


def test_parse_scan_picks_the_century_from_the_reference_year() -> None:
    scan = "(01)09506000134352(21)XYZ789(10)ABC123(17)000229"
    assert parse_scan(scan, 2026).expiry == "2000-02-29"
    with rejects("expiry 000229: 2100-02 has no day 29"):
        parse_scan(scan, 2060)


@pytest.mark.parametrize(
    ("scan", "reason"),
    [
        ("", "missing GTIN \\(01\\), serial \\(21\\), lot \\(10\\), expiry \\(17\\)"),
        ("   ", "missing GTIN"),
        ("]d2", "missing GTIN"),
        ("(01)09506000134352(21)XYZ789(10)ABC123", "missing expiry \\(17\\)$"),
        (f"0109506000134352{GS}21XYZ789", "missing lot \\(10\\), expiry \\(17\\)$"),
        ("https://id.gs1.org/01/09506000134352/21/XYZ789", "missing lot"),
        ("https://id.gs1.org/00/106141412345678908", "missing GTIN"),
        # Check digit, character set, dates: the ledger's checks, not only biip's.
        ("(01)09506000134353(21)XYZ789(10)ABC123(17)260228", "check digit should be 2, not 3"),
        ("(01)09506000134352(21)XYZ789(10)ABC123(17)260230", "2026-02 has no day 30"),
        ("(01)09506000134352(21)XY Z(10)ABC123(17)260228", "AI \\(21\\) .*' ' is not in GS1"),
        ("https://id.gs1.org/01/09506000134352/21/A%23?10=L&17=260228", "AI \\(21\\)"),
        # An unencoded "+" in a query means a space: rejected, not silently changed.
        ("https://id.gs1.org/01/09506000134352/21/S?10=L+1&17=260228", "AI \\(10\\)"),
        (f"0109506000134352{GS}21A{GS}21B{GS}10L{GS}17260228", "AI \\(21\\) given twice"),
        # Garbage: biip's reason is passed on inside the ledger's error.
        ("hello world", "Failed to get GS1 Application Identifier"),
        ("]", "scan"),
        ("09506000134352", "scan"),
        ("(01", "expected \\(AI\\)value"),
        ("https://id.gs1.org/", "primary identifier"),
        ("ftp://id.gs1.org/01/09506000134352", "scan"),
    ],
)
def test_parse_scan_rejects(scan: str, reason: str) -> None:
    with rejects(reason) as error:
        parse_scan(scan, YEAR)
    assert_invalid(error)


# --- properties --------------------------------------------------------------------------

gtins = st.text(alphabet="0123456789", min_size=13, max_size=13).map(
    lambda body: body + str(gtin_check_digit(body))
)
cset82_text = st.text(alphabet=sorted(CSET82), min_size=1, max_size=20)
expiries = st.dates(min_value=date(YEAR - 49, 1, 1), max_value=date(YEAR + 50, 12, 31)).map(
    date.isoformat
)
product_identifiers = st.builds(
    ProductIdentifier, gtin=gtins, serial=cset82_text, lot=cset82_text, expiry=expiries
)


@given(product_identifiers)
def test_digital_link_round_trips(pid: ProductIdentifier) -> None:
    assert parse_scan(pid.digital_link(), YEAR) == pid


@given(product_identifiers.filter(lambda pid: "(" not in pid.serial + pid.lot))
def test_element_string_round_trips(pid: ProductIdentifier) -> None:
    # A "(" in a value reads as the start of the next AI: the printed form is ambiguous.
    assert parse_scan(pid.element_string(), YEAR) == pid


@given(product_identifiers)
def test_fnc1_scan_round_trips(pid: ProductIdentifier) -> None:
    yymmdd = pid.expiry[2:4] + pid.expiry[5:7] + pid.expiry[8:]
    scan = f"]d201{pid.gtin}17{yymmdd}10{pid.lot}{GS}21{pid.serial}"
    assert parse_scan(scan, YEAR) == pid


@given(st.text() | st.text(alphabet=[*sorted(CSET82), GS, "]", " ", "é"]).map(lambda s: "01" + s))
def test_any_text_is_a_product_identifier_or_an_invalid_field(scan: str) -> None:
    try:
        parse_scan(scan, YEAR)
    except LedgerError as error:
        assert error.code is ErrorCode.INVALID_FIELD


def test_product_from_fields_or_scan() -> None:
    from healthledger.domains.supply.gs1 import product_from

    expected = ProductIdentifier("09506000134352", "S1", "L1", "2027-06-30")
    assert product_from(None, "09506000134352", "S1", "L1", "270630", 2026) == expected
    assert product_from(None, "9506000134352", "S1", "L1", "2027-06-30", 2026) == expected
    assert product_from(expected.element_string(), None, None, None, None, 2026) == expected
    for missing in [(None, "S1", "L1", "270630"), ("09506000134352", "S1", "L1", "30/06/27")]:
        with pytest.raises(LedgerError) as caught:
            product_from(None, *missing, reference_year=2026)
        assert caught.value.code == ErrorCode.INVALID_FIELD
