"""GS1 identifiers at the supply chain's edge: GTIN, SSCC, serial, lot, expiry and scans.

Pure functions over strings, no I/O and no clock: what a scanner or a label gives us is
checked here once and handed on as a frozen `ProductIdentifier`. Section numbers refer
to the GS1 General Specifications (GenSpecs) and the GS1 Digital Link URI Syntax standard.
"""

from __future__ import annotations

import calendar
import re
import string
from dataclasses import dataclass
from urllib.parse import quote

from biip import BiipException, ParseConfig
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementStrings
from biip.gs1_messages import GS1Message

from healthledger.domains.shared.fields import iso_day
from healthledger.domains.shared.gln import check_digit
from healthledger.errors import ErrorCode, LedgerError

GTIN_LENGTHS = (8, 12, 13, 14)
SSCC_LENGTH = 18
MAX_SERIAL_LENGTH = 20  # AI (21) format X..20, GenSpecs §3.4.9
MAX_LOT_LENGTH = 20  # AI (10) format X..20, GenSpecs §3.4.1
MAX_AI_DATA_LENGTH = 90  # the longest AI data field, e.g. AI (91) X..90

# GS1 AI encodable character set 82, GenSpecs §7.11 (Figure 7.11-1).
CSET82 = frozenset(string.ascii_letters + string.digits + "!\"%&'()*+,-./:;<=>?_")

# The four AIs of the DSCSA product identifier / EU FMD unique identifier.
PRODUCT_IDENTIFIER_AIS = {"01": "GTIN", "21": "serial", "10": "lot", "17": "expiry"}

_DIGITS = re.compile(r"[0-9]+")
# ISO/IEC 15424 symbology identifier: "]", a symbology letter, one modifier character.
_SYMBOLOGY_IDENTIFIER = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_HRI = re.compile(r"(?:\([0-9]{2,4}\)[^(]*)+")
_HRI_ELEMENT = re.compile(r"\(([0-9]{2,4})\)([^(]*)")
_URI_SCHEMES = ("http://", "https://")
_GROUP_SEPARATOR = "\x1d"  # what scanners send for FNC1 between variable-length fields
# biip would pick the century of AI (17) by the wall clock; we pick it ourselves from
# the caller's reference year, so biip must not reject dates by its own century.
_BIIP_CONFIG = ParseConfig(gs1_element_strings_verify_date=False)


def _invalid(message: str) -> LedgerError:
    return LedgerError(message, ErrorCode.INVALID_FIELD)


def _require_digits(field: str, value: str) -> None:
    # str.isdigit() also accepts "²" and non-ASCII digits, which no GS1 key contains.
    if not _DIGITS.fullmatch(value):
        raise _invalid(f"{field} {value!r}: expected digits 0-9 only")


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of a key body, which catches any single mistyped digit."""
    _require_digits("check digit body", body)
    return check_digit(body)


def _validate_key(field: str, value: str, lengths: tuple[int, ...]) -> None:
    if len(value) not in lengths:
        expected = " or ".join(str(length) for length in lengths)
        raise _invalid(f"{field} {value!r}: expected {expected} digits, got {len(value)}")
    _require_digits(field, value)
    expected_digit = gtin_check_digit(value[:-1])
    if int(value[-1]) != expected_digit:
        raise _invalid(f"{field} {value}: check digit should be {expected_digit}, not {value[-1]}")


def validate_gtin(value: str) -> str:
    """Check a GTIN-8/12/13/14 and return its GTIN-14 form, so one product has one key."""
    _validate_key("GTIN", value, GTIN_LENGTHS)
    # GenSpecs §3.3.2: shorter GTINs are right-justified in the 14-digit field of AI (01).
    return value.zfill(14)


def validate_sscc(value: str) -> str:
    """Check an SSCC (18 digits, GS1 check digit), the key of a logistic unit such as a case."""
    _validate_key("SSCC", value, (SSCC_LENGTH,))
    return value


def _validate_cset82(field: str, value: str, max_length: int) -> str:
    if not 1 <= len(value) <= max_length:
        raise _invalid(
            f"{field} {value!r}: expected 1 to {max_length} characters, got {len(value)}"
        )
    bad = next((char for char in value if char not in CSET82), None)
    if bad is not None:
        raise _invalid(f"{field} {value!r}: character {bad!r} is not in GS1 character set 82")
    return value


def validate_serial(value: str) -> str:
    """Check a serial number, AI (21): 1-20 characters of GS1 character set 82."""
    return _validate_cset82("serial", value, MAX_SERIAL_LENGTH)


def validate_lot(value: str) -> str:
    """Check a batch or lot number, AI (10): 1-20 characters of GS1 character set 82."""
    return _validate_cset82("lot", value, MAX_LOT_LENGTH)


def _year_in_window(yy: int, reference_year: int) -> int:
    # GenSpecs §7.12: a two-digit year lies within 49 years before to 50 years after
    # the reference year (a difference of 51..99 is last century, -99..-50 next).
    difference = yy - reference_year % 100
    year = reference_year - reference_year % 100 + yy
    if difference >= 51:
        return year - 100
    if difference <= -50:
        return year + 100
    return year


def parse_expiry(value: str, reference_year: int) -> str:
    """Read an AI (17) YYMMDD expiry as an ISO date; the caller supplies the year, not the clock."""
    if len(value) != 6:
        raise _invalid(f"expiry {value!r}: expected YYMMDD, 6 digits, got {len(value)}")
    _require_digits("expiry", value)
    if not 50 <= reference_year <= 9949:
        raise _invalid(f"expiry reference year {reference_year}: expected 50 to 9949")
    year = _year_in_window(int(value[:2]), reference_year)
    month, day = int(value[2:4]), int(value[4:])
    if not 1 <= month <= 12:
        raise _invalid(f"expiry {value}: month {month:02d} is not 01 to 12")
    last_day = calendar.monthrange(year, month)[1]
    # GenSpecs §3.4.7: DD 00 means the last day of the month, leap years included.
    # Healthcare labels should now print the real day (GSCN 21-040), but old stock remains.
    if day == 0:
        day = last_day
    if day > last_day:
        raise _invalid(f"expiry {value}: {year}-{month:02d} has no day {day:02d}")
    return f"{year:04d}-{month:02d}-{day:02d}"


def _validate_iso_date(field: str, value: str) -> None:
    try:
        iso_day(value)
    except ValueError as exc:
        raise _invalid(f"{field} {value!r}: {exc}") from exc


def digital_link_encode(value: str) -> str:
    """Percent-encode a serial or lot for a GS1 Digital Link URI path or query."""
    # Digital Link URI Syntax: every CSET 82 character outside RFC 3986's unreserved set
    # (letters, digits, "-", ".", "_", "~") is percent-encoded, "/" and "+" included.
    return quote(value, safe="")


@dataclass(frozen=True)
class ProductIdentifier:
    """The DSCSA product identifier (EU FMD unique identifier) of one serialized package."""

    gtin: str
    serial: str
    lot: str
    expiry: str  # ISO date YYYY-MM-DD

    def __post_init__(self) -> None:
        """Refuse any field not in its canonical form, so two equal packages compare equal."""
        if validate_gtin(self.gtin) != self.gtin:
            raise _invalid(f"GTIN {self.gtin}: expected its 14-digit form {self.gtin.zfill(14)}")
        validate_serial(self.serial)
        validate_lot(self.lot)
        _validate_iso_date("expiry", self.expiry)

    def _expiry_yymmdd(self) -> str:
        return self.expiry[2:4] + self.expiry[5:7] + self.expiry[8:10]

    def element_string(self) -> str:
        """The human-readable GS1 element string, as printed under a DataMatrix."""
        return f"(01){self.gtin}(21){self.serial}(10){self.lot}(17){self._expiry_yymmdd()}"

    def digital_link(self, domain: str = "https://id.gs1.org") -> str:
        """The GS1 Digital Link URI of this package, for QR codes and web resolvers."""
        serial = digital_link_encode(self.serial)
        lot = digital_link_encode(self.lot)
        base = domain.rstrip("/")
        # Lot and serial are key qualifiers of a GTIN, so they go in the path in the
        # order the Digital Link standard fixes (10 before 21); expiry is a data attribute.
        return f"{base}/01/{self.gtin}/10/{lot}/21/{serial}?17={self._expiry_yymmdd()}"


def _hri_to_element_string(hri: str) -> str:
    # A "(" inside a value cannot be told from the next AI in parentheses, so serials and
    # lots containing "(" only survive the FNC1 and Digital Link forms.
    if not _HRI.fullmatch(hri):
        raise _invalid(f"scan {hri!r}: expected (AI)value(AI)value...")
    elements = [(ai, value.strip()) for ai, value in _HRI_ELEMENT.findall(hri)]
    for ai, value in elements:
        # Every AI's data is drawn from set 82; checked here because a space would
        # otherwise end the value early and leave biip a confusing remainder.
        _validate_cset82(f"AI ({ai}) value", value, MAX_AI_DATA_LENGTH)
    return _GROUP_SEPARATOR.join(ai + value for ai, value in elements)


def _element_strings(data: str) -> GS1ElementStrings:
    text = data.strip()
    if _SYMBOLOGY_IDENTIFIER.match(text):
        text = text[3:]
    try:
        if text.lower().startswith(_URI_SCHEMES):
            return GS1DigitalLinkURI.parse(text, config=_BIIP_CONFIG).element_strings
        if text.startswith("("):
            text = _hri_to_element_string(text)
        return GS1Message.parse(text, config=_BIIP_CONFIG).element_strings
    except (BiipException, ValueError) as exc:
        raise _invalid(f"scan {data!r}: {exc}") from exc


def _scan_fields(data: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for element in _element_strings(data):
        ai, value = element.ai.ai, element.value
        # GenSpecs allows an AI to repeat in one message only with the same value.
        if fields.setdefault(ai, value) != value:
            raise _invalid(f"scan {data!r}: AI ({ai}) given twice, {fields[ai]!r} and {value!r}")
    return fields


def parse_scan(data: str, reference_year: int) -> ProductIdentifier:
    """Read a 2D barcode scan (element string or Digital Link) into a checked product identifier."""
    fields = _scan_fields(data)
    missing = [f"{name} ({ai})" for ai, name in PRODUCT_IDENTIFIER_AIS.items() if ai not in fields]
    if missing:
        raise _invalid(f"scan {data!r}: missing {', '.join(missing)}")
    # The parser checked syntax only; the ledger's own rules decide what is valid.
    return ProductIdentifier(
        gtin=validate_gtin(fields["01"]),
        serial=validate_serial(fields["21"]),
        lot=validate_lot(fields["10"]),
        expiry=parse_expiry(fields["17"], reference_year),
    )


def product_from(
    scan: str | None,
    gtin: str | None,
    serial: str | None,
    lot: str | None,
    expiry: str | None,
    reference_year: int,
) -> ProductIdentifier:
    """A product identifier from a raw scan, or from its four fields (expiry ISO or YYMMDD)."""
    if scan is not None:
        return parse_scan(scan, reference_year)
    if gtin is None or serial is None or lot is None or expiry is None:
        raise _invalid("give a scan, or the GTIN, serial, lot and expiry")
    if len(expiry) == 6 and expiry.isdigit():
        expiry = parse_expiry(expiry, reference_year)
    return ProductIdentifier(
        validate_gtin(gtin), validate_serial(serial), validate_lot(lot), expiry
    )
