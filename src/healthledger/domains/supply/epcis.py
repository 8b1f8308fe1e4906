"""Custody events to and from GS1 EPCIS 2.0 JSON(-LD) documents, for DSCSA trading partners.

Pure functions, no I/O and no clock. Comments cite EPCIS 2.0 (GS1, 2022), the Core
Business Vocabulary CBV 2.0, the GS1 Digital Link URI Syntax and the EPC Tag Data
Standard (TDS) by the name of the part they follow. Only custody facts leave the ledger:
no prices, no customer or patient data.

Import errors: a missing field or a field of the wrong JSON type is `MALFORMED`; a field
that is present but whose value is wrong (a bad check digit, an unknown bizStep) is
`INVALID_FIELD`. Every message names the event by its index in `eventList`.
"""

from __future__ import annotations

import heapq
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, NoReturn
from urllib.parse import quote, unquote

from healthledger.domains.shared.fields import iso_day
from healthledger.domains.supply.events import (
    ACTIONS,
    Action,
    CustodyEvent,
    is_container,
    package_id,
    split_package_id,
)
from healthledger.domains.supply.gs1 import (
    digital_link_encode,
    gtin_check_digit,
    validate_gtin,
    validate_lot,
    validate_serial,
    validate_sscc,
)
from healthledger.errors import ErrorCode, LedgerError

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
HEALTHLEDGER_PREFIX = "healthledger"
HEALTHLEDGER_NAMESPACE = "https://healthledger.dev/epcis#"
DIGITAL_LINK_DOMAIN = "https://id.gs1.org"
# Extension fields (EPCIS 2.0, user extensions: namespaced keys in the event).
TX_ID_FIELD = "healthledger:txId"
ORG_FIELD = "healthledger:org"
REASON_FIELD = "healthledger:reason"
# Document fields of one page of a lot's custody (the node's paging, not EPCIS events).
NEXT_CURSOR_FIELD = "healthledger:nextCursor"
PACKAGES_FIELD = "healthledger:packages"
HEALTHLEDGER_ORG_URN = "urn:healthledger:org:"

_TRANSFERS: frozenset[Action] = frozenset({"ship", "return", "receive"})
_REASONED: frozenset[Action] = frozenset({"destroy", "export", "return"})
_AGGREGATIONS: frozenset[Action] = frozenset({"aggregate", "disaggregate"})

# CBV 2.0 vocabularies: a term may be written bare (EPCIS 2.0 JSON-LD context), as a Web URI or as
# the CBV 1.x URN; all three name the same term.
_BIZ_STEP_PREFIXES = ("https://ref.gs1.org/cbv/BizStep-", "urn:epcglobal:cbv:bizstep:")
_DISPOSITION_PREFIXES = ("https://ref.gs1.org/cbv/Disp-", "urn:epcglobal:cbv:disp:")
_SDT_PREFIXES = ("https://ref.gs1.org/cbv/SDT-", "urn:epcglobal:cbv:sdt:")
_ER_PREFIXES = ("https://ref.gs1.org/cbv/ER-", "urn:epcglobal:cbv:er:")
_OWNING_PARTY = "owning_party"  # CBV 2.0 source/destination type

# EPCIS 2.0 event types (EPCIS 2.0 §7.4): all five are accepted; what each becomes is in
# domains/supply/feed.py and the mapping table of docs/supply.md.
EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
# CBV 2.0 §7.1 business steps. A step outside this list (a partner's own URI) is accepted too:
# it is recorded as an observation under the name the partner gave it.
CBV_BIZ_STEPS = (
    "accepting",
    "arriving",
    "assembling",
    "collecting",
    "commissioning",
    "consigning",
    "creating_class_instance",
    "cycle_counting",
    "decommissioning",
    "departing",
    "destroying",
    "disassembling",
    "dispensing",
    "encoding",
    "entering_exiting",
    "holding",
    "inspecting",
    "installing",
    "killing",
    "loading",
    "other",
    "packing",
    "picking",
    "receiving",
    "removing",
    "repackaging",
    "repairing",
    "replacing",
    "reserving",
    "retail_selling",
    "sampling",
    "sensor_reporting",
    "shipping",
    "staging_outbound",
    "stock_taking",
    "stocking",
    "storing",
    "transporting",
    "unloading",
    "unpacking",
    "void_shipping",
)
# EPCIS 2.0 query results (EPCIS 2.0 §8.2.8): the same events, inside queryResults.resultsBody.
QUERY_DOCUMENT = "EPCISQueryDocument"

_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_OFFSET = re.compile(r"[+-]([0-9]{2}):([0-9]{2})")
_TX_ID = re.compile(r"[0-9a-f]{64}")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# GS1 Digital Link URI Syntax: any domain, then the primary key and its qualifiers.
_DL_SGTIN = re.compile(r"https?://[^/?#]+/01/([0-9]+)/21/([^/?#]+)")
_DL_SSCC = re.compile(r"https?://[^/?#]+/00/([0-9]+)")
_DL_PARTY = re.compile(r"/41[47]/[0-9]")
# TDS SGTIN / SSCC EPC URIs: company prefix (6-12 digits), the rest of the key, no check digit.
_URN_SGTIN = re.compile(r"urn:epc:id:sgtin:([0-9]{6,12})\.([0-9]{1,7})\.(.+)")
_URN_SSCC = re.compile(r"urn:epc:id:sscc:([0-9]{6,12})\.([0-9]{5,11})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_JSON_NAMES: Mapping[type, str] = MappingProxyType({str: "string", list: "array", dict: "object"})
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class EpcisMapping:
    """How one custody action is written as an EPCIS 2.0 event (EPCIS 2.0 events, CBV 2.0)."""

    event_type: str
    action: str
    biz_step: str
    disposition: str | None


MAPPINGS: Mapping[Action, EpcisMapping] = MappingProxyType(
    {
        # CBV 2.0 bizStep commissioning: the serial is first associated with the package.
        "commission": EpcisMapping("ObjectEvent", "ADD", "commissioning", "active"),
        # EPCIS 2.0 AggregationEvent: ADD/DELETE of childEPCs to/from parentID.
        "aggregate": EpcisMapping("AggregationEvent", "ADD", "packing", None),
        "disaggregate": EpcisMapping("AggregationEvent", "DELETE", "unpacking", None),
        "ship": EpcisMapping("ObjectEvent", "OBSERVE", "shipping", "in_transit"),
        "receive": EpcisMapping("ObjectEvent", "OBSERVE", "receiving", "in_progress"),
        # CBV 2.0 has no "returning" step; a return is a shipment whose disposition is
        # "returned" (CBV 2.0 dispositions), which is also how the inverse tells it from a sale.
        "return": EpcisMapping("ObjectEvent", "OBSERVE", "shipping", "returned"),
        "dispense": EpcisMapping("ObjectEvent", "OBSERVE", "dispensing", "dispensed"),
        "destroy": EpcisMapping("ObjectEvent", "DELETE", "destroying", "destroyed"),
        # CBV 2.0 has no export step. "departing" (an object leaves a location on its way to
        # a destination) fits a package leaving the ledger's market with no receiving trading
        # partner on it, and keeps export apart from "shipping" so the inverse is unambiguous.
        "export": EpcisMapping("ObjectEvent", "OBSERVE", "departing", "in_transit"),
    }
)


def _fail(message: str, code: ErrorCode = ErrorCode.INVALID_FIELD) -> NoReturn:
    raise LedgerError(message, code)


# --- identifiers -------------------------------------------------------------------------


def _strict_unquote(field: str, value: str) -> str:
    # A "%" not starting an escape would otherwise pass through as a literal character.
    if _BAD_PERCENT.search(value):
        _fail(f"{field} {value!r}: '%' must start a %HH escape")
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:  # "%ff": escapes that are no UTF-8 (Python's message is not ours)
        _fail(f"{field} {value!r}: its %HH escapes are not UTF-8")


def epc_uri(item: str) -> str:
    """The GS1 Digital Link URI of a package `gtin:serial` or a container SSCC."""
    if is_container(item):
        return f"{DIGITAL_LINK_DOMAIN}/00/{validate_sscc(item)}"
    gtin, serial = split_package_id(item)
    if item[14:15] != ":" or validate_gtin(gtin) != gtin:
        _fail(f"item {item!r}: expected gtin:serial with a 14-digit GTIN, or an SSCC")
    return f"{DIGITAL_LINK_DOMAIN}/01/{gtin}/21/{digital_link_encode(validate_serial(serial))}"


def _package(gtin: str, serial: str) -> str:
    return package_id(validate_gtin(gtin), validate_serial(serial))


def _sgtin_urn_item(uri: str, prefix: str, indicator_item: str, serial: str) -> str:
    if len(prefix) + len(indicator_item) != 13:
        _fail(f"EPC {uri!r}: company prefix and indicator/item reference must total 13 digits")
    body = indicator_item[0] + prefix + indicator_item[1:]
    # TDS SGTIN EPC URI: the serial is URI-escaped; the GTIN's check digit is recomputed.
    return _package(body + str(gtin_check_digit(body)), _strict_unquote("serial", serial))


def _sscc_urn_item(uri: str, prefix: str, serial_ref: str) -> str:
    if len(prefix) + len(serial_ref) != 17:
        _fail(f"EPC {uri!r}: company prefix and extension/serial reference must total 17 digits")
    body = serial_ref[0] + prefix + serial_ref[1:]
    return validate_sscc(body + str(gtin_check_digit(body)))


def item_of_epc(uri: str) -> str:
    """The package id or SSCC named by a Digital Link URI or an SGTIN / SSCC EPC URN."""
    if match := _DL_SGTIN.fullmatch(uri):
        return _package(match[1], _strict_unquote("serial", match[2]))
    if match := _DL_SSCC.fullmatch(uri):
        return validate_sscc(match[1])
    if match := _URN_SGTIN.fullmatch(uri):
        return _sgtin_urn_item(uri, match[1], match[2], match[3])
    if match := _URN_SSCC.fullmatch(uri):
        return _sscc_urn_item(uri, match[1], match[2])
    _fail(f"EPC {uri!r}: expected a GS1 Digital Link (/01/../21/.. or /00/..) or SGTIN/SSCC URN")


def names_a_party(uri: str) -> bool:
    """Whether a URI is written as a party or location identifier (SGLN, PGLN, a Digital
    Link with AI 414 or 417, or this ledger's organisation URN), well formed or not; a
    `geo:` point or a site's own URL names no party."""
    lowered = uri.lower()
    if lowered.startswith(("urn:epc:id:sgln:", "urn:epc:id:pgln:", HEALTHLEDGER_ORG_URN)):
        return True
    return lowered.startswith(("https://", "http://")) and _DL_PARTY.search(uri) is not None


def names_trade_item_or_unit(uri: str) -> bool:
    """Whether an EPC is written as an SGTIN or an SSCC (Digital Link or EPC URN); other
    identifiers (assets, locations, returnable items) name no package of the ledger."""
    return any(
        pattern.fullmatch(uri) is not None for pattern in (_DL_SGTIN, _DL_SSCC)
    ) or uri.startswith(("urn:epc:id:sgtin:", "urn:epc:id:sscc:"))


def digital_link_lot(text: str) -> str:
    """A lot (AI 10) as written in a Digital Link path segment."""
    return validate_lot(_strict_unquote("lot", text))


def lgtin_of_urn(uri: str, prefix: str, indicator_item: str, lot: str) -> tuple[str, str]:
    """The GTIN and lot of a TDS LGTIN class URN (urn:epc:class:lgtin:...)."""
    item = _sgtin_urn_item(uri, prefix, indicator_item, "0")
    return item[:14], validate_lot(_strict_unquote("lot", lot))


def _validate_gln(org: str, gln: str) -> str:
    if not (len(gln) == 13 and gln.isascii() and gln.isdigit()):
        _fail(f"GLN of {org} {gln!r}: expected 13 digits")
    if int(gln[-1]) != gtin_check_digit(gln[:-1]):
        _fail(f"GLN of {org} {gln}: check digit should be {gtin_check_digit(gln[:-1])}")
    return gln


def party_uri(org: str, org_gln: Mapping[str, str] | None = None) -> str:
    """The URI naming an organisation as a source or destination party."""
    gln = (org_gln or {}).get(org)
    if gln is not None:
        # A party GLN as a Digital Link URI (AI 417), which EPCIS 2.0 accepts
        # beside EPC URNs; urn:epc:id:pgln needs the company prefix length, which we lack.
        return f"{DIGITAL_LINK_DOMAIN}/417/{_validate_gln(org, gln)}"
    # An organisation without a GLN keeps its ledger id; partners map it themselves.
    return HEALTHLEDGER_ORG_URN + quote(org, safe="")


# --- time --------------------------------------------------------------------------------


def format_time(time_ms: int) -> str:
    """RFC 3339 UTC with milliseconds, the form EPCIS 2.0 JSON uses for eventTime."""
    try:
        moment = _EPOCH + time_ms * _MS
    except OverflowError:
        _fail(f"time {time_ms} ms is outside years 1 to 9999")
    # Not strftime: its %Y does not pad years before 1000 to four digits on every platform.
    day = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    clock = f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    return f"{day}T{clock}.{moment.microsecond // 1000:03d}Z"


def _offset(field: str, text: str) -> timedelta:
    if text in ("Z", "z"):
        return timedelta(0)
    match = _OFFSET.fullmatch(text)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        _fail(f"{field} {text!r}: expected an offset +HH:MM or -HH:MM")
    size = timedelta(hours=int(match[1]), minutes=int(match[2]))
    return -size if text[0] == "-" else size


def parse_time(field: str, text: str) -> int:
    """Milliseconds since the epoch of an RFC 3339 time; an offset is required, as in EPCIS."""
    match = _TIME.fullmatch(text)
    if match is None:
        _fail(f"{field} {text!r}: expected RFC 3339 YYYY-MM-DDTHH:MM:SS[.fff] with Z or offset")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    zone = timezone(_offset(field, match[8]))
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError as exc:
        _fail(f"{field} {text!r}: {exc}")
    # Digits past the millisecond are dropped: the ledger keeps milliseconds.
    millis = int((match[7] or "0")[:3].ljust(3, "0"))
    return (moment - _EPOCH) // _MS + millis


# --- export ------------------------------------------------------------------------------


def _party_list(kind: str, party: str) -> list[dict[str, str]]:
    return [{"type": _OWNING_PARTY, kind: party}]


def _transfer_fields(event: CustodyEvent, org_gln: Mapping[str, str] | None) -> dict[str, Any]:
    # EPCIS 2.0 source/destination: sourceList / destinationList name the parties of a transfer.
    own = party_uri(event.org, org_gln)
    other = None if event.counterparty is None else party_uri(event.counterparty, org_gln)
    sender, receiver = (other, own) if event.action == "receive" else (own, other)
    fields: dict[str, Any] = {}
    if sender is not None:
        fields["sourceList"] = _party_list("source", sender)
    if receiver is not None:
        fields["destinationList"] = _party_list("destination", receiver)
    return fields


def _what_fields(event: CustodyEvent) -> dict[str, Any]:
    uris = [epc_uri(item) for item in event.items]
    if event.action not in _AGGREGATIONS:
        return {"epcList": uris}
    if event.parent is None or not is_container(event.parent):
        _fail(f"{event.action} event: the parent must be an SSCC, not {event.parent!r}")
    return {"parentID": epc_uri(event.parent), "childEPCs": uris}


def _ilmd(event: CustodyEvent) -> dict[str, Any]:
    # CBV 2.0 master data attributes (cbvmda) of the lot, carried as EPCIS 2.0 ILMD;
    # the DSCSA product identifier needs both, so a document without them is refused.
    if event.lot is None or event.expiry is None:
        _fail("commission event: lot and expiry are required")
    return {
        "ilmd": {
            "cbvmda:lotNumber": validate_lot(event.lot),
            "cbvmda:itemExpirationDate": _iso_date(event.expiry),
        }
    }


def _why_fields(event: CustodyEvent, org_gln: Mapping[str, str] | None) -> dict[str, Any]:
    mapping = MAPPINGS[event.action]
    fields: dict[str, Any] = {"action": mapping.action, "bizStep": mapping.biz_step}
    if mapping.disposition is not None:
        fields["disposition"] = mapping.disposition
    if event.action in _TRANSFERS:
        fields.update(_transfer_fields(event, org_gln))
    else:
        # EPCIS has no "actor" field; the acting party rides as an extension.
        fields[ORG_FIELD] = party_uri(event.org, org_gln)
    return fields


def _extension_fields(event: CustodyEvent) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if event.action in _REASONED and event.reason is not None:
        fields[REASON_FIELD] = event.reason
    if event.tx_id is not None:
        fields[TX_ID_FIELD] = event.tx_id
    return fields


def event_id(tx_id: str) -> str:
    """A stable EPCIS 2.0 eventID for the event a ledger transaction recorded."""
    # Not the CBV 2.0 event hash "ni:///sha-256;...?ver=CBV2.0" form: that asserts the hash of the
    # event's canonical pre-hash string, which a partner may recompute; a tx id is not it.
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{HEALTHLEDGER_NAMESPACE}tx/{tx_id}").urn


def to_epcis_event(event: CustodyEvent, org_gln: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One custody event as an EPCIS 2.0 JSON event, without prices or patient data."""
    mapping = MAPPINGS[event.action]
    body: dict[str, Any] = {"type": mapping.event_type}
    if event.tx_id is not None:
        body["eventID"] = event_id(event.tx_id)
    body["eventTime"] = format_time(event.time_ms)
    body["eventTimeZoneOffset"] = "+00:00"
    body.update(_what_fields(event))
    body.update(_why_fields(event, org_gln))
    if event.action == "commission":
        body.update(_ilmd(event))
    body.update(_extension_fields(event))
    return body


def to_epcis_document(
    events: Sequence[CustodyEvent],
    org_gln: Mapping[str, str] | None = None,
    *,
    created_ms: int,
    imported: Sequence[tuple[int, Mapping[str, Any]]] = (),
    prefixes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An EPCIS 2.0 EPCISDocument (EPCIS 2.0 JSON/JSON-LD binding) of custody events, in order.

    `imported` are (block time, event) of events as a partner wrote them (applied through
    supply.epcis): merged in by when the ledger applied them, as the custody events are
    (a partner's own eventTime may be anything), and unchanged, so each still hashes to
    its event id; the `prefixes` their documents declared are declared again.
    """
    native = [(event.time_ms, to_epcis_event(event, org_gln)) for event in events]
    written = [(time_ms, dict(body)) for time_ms, body in imported]
    merged = heapq.merge(native, sorted(written, key=_first), key=_first) if written else native
    return {
        "@context": [
            EPCIS_CONTEXT,
            {**(prefixes or {}), HEALTHLEDGER_PREFIX: HEALTHLEDGER_NAMESPACE},
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": format_time(created_ms),
        "epcisBody": {"eventList": [body for _time, body in merged]},
    }


def _first(pair: tuple[int, dict[str, Any]]) -> int:
    return pair[0]


# --- import ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    """One event of an incoming document, with the index its messages name."""

    index: int
    body: Mapping[str, Any]

    def fail(self, field: str, message: str, code: ErrorCode = ErrorCode.INVALID_FIELD) -> NoReturn:
        _fail(f"event {self.index}: {field}: {message}", code)

    def get(self, field: str, kind: type, required: bool = True) -> Any:
        value = self.body.get(field)
        if value is None and not required:
            return None
        if value is None:
            self.fail(field, "missing", ErrorCode.MALFORMED)
        if not isinstance(value, kind):
            self.fail(field, f"expected a JSON {_JSON_NAMES[kind]}", ErrorCode.MALFORMED)
        return value

    def text(self, field: str) -> str:
        value: str = self.get(field, str)
        return value

    def optional_text(self, field: str) -> str | None:
        value: str | None = self.get(field, str, required=False)
        return value

    def checked(self, field: str, parse: Callable[[str], str], value: str) -> str:
        try:
            return parse(value)
        except LedgerError as exc:
            self.fail(field, exc.message, exc.code)


def _cbv_term(value: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def is_owning_party(kind: object) -> bool:
    """Whether a source/destination type (bare, Web URI or URN) is CBV's owning_party."""
    return isinstance(kind, str) and _cbv_term(kind, _SDT_PREFIXES) == _OWNING_PARTY


def biz_step_term(value: str) -> str:
    """A CBV bizStep as its bare term, whether written bare, as a Web URI or as a URN."""
    return _cbv_term(value, _BIZ_STEP_PREFIXES)


def error_reason_term(value: str) -> str:
    """A CBV error reason (did_not_occur, incorrect_data) as its bare term."""
    return _cbv_term(value, _ER_PREFIXES)


def disposition_term(value: str) -> str:
    """A CBV disposition as its bare term, whether written bare, as a Web URI or as a URN."""
    return _cbv_term(value, _DISPOSITION_PREFIXES)


def _action_of(event: _Event) -> Action:
    biz_step = _cbv_term(event.text("bizStep"), _BIZ_STEP_PREFIXES)
    raw = event.optional_text("disposition")
    disposition = None if raw is None else _cbv_term(raw, _DISPOSITION_PREFIXES)
    candidates = [action for action in ACTIONS if MAPPINGS[action].biz_step == biz_step]
    if not candidates:
        event.fail("bizStep", f"{biz_step!r} is not a step this ledger records")
    for action in candidates:
        expected = MAPPINGS[action].disposition
        # A step without a disposition of its own (packing) takes whatever the partner sent.
        if disposition is None or expected is None or disposition == expected:
            return action
    fits = " or ".join(repr(MAPPINGS[action].disposition) for action in candidates)
    event.fail("disposition", f"{disposition!r} does not fit {biz_step}; expected {fits}")


def _check_shape(event: _Event, action: Action) -> None:
    mapping = MAPPINGS[action]
    event_type = event.text("type")
    if event_type != mapping.event_type:
        event.fail("type", f"{event_type!r}: bizStep {mapping.biz_step} needs {mapping.event_type}")
    epcis_action = event.text("action")
    if epcis_action != mapping.action:
        event.fail("action", f"{epcis_action!r}: {mapping.biz_step} needs {mapping.action}")
    if "errorDeclaration" in event.body:
        event.fail("errorDeclaration", "corrections of earlier events are not imported")


def _items(event: _Event, field: str, allow_empty: bool) -> tuple[str, ...]:
    uris: list[Any] = event.get(field, list, required=not allow_empty) or []
    if not uris and not allow_empty:
        event.fail(field, "expected at least one EPC (class-level quantities are not imported)")
    items: list[str] = []
    for position, uri in enumerate(uris):
        where = f"{field}[{position}]"
        if not isinstance(uri, str):
            event.fail(where, "expected a URI string", ErrorCode.MALFORMED)
        item = event.checked(where, item_of_epc, uri)
        if item in items:
            event.fail(where, f"{uri!r} is listed twice")
        items.append(item)
    return tuple(items)


def _what(event: _Event, action: Action) -> tuple[tuple[str, ...], str | None]:
    for field in ("quantityList", "childQuantityList"):
        if event.body.get(field):
            event.fail(field, "class-level quantities are not imported; list serialized EPCs")
    if action not in _AGGREGATIONS:
        return _items(event, "epcList", allow_empty=False), None
    parent = event.checked("parentID", item_of_epc, event.text("parentID"))
    if not is_container(parent):
        event.fail("parentID", f"{parent!r} is not an SSCC")
    # EPCIS 2.0 AggregationEvent: a DELETE without childEPCs disaggregates every child.
    return _items(event, "childEPCs", allow_empty=action == "disaggregate"), parent


def _owning_party(event: _Event, field: str, kind: str) -> str | None:
    entries: list[Any] = event.get(field, list, required=False) or []
    parties: list[str] = []
    for position, entry in enumerate(entries):
        where = f"{field}[{position}]"
        if not isinstance(entry, dict) or not isinstance(entry.get(kind), str):
            event.fail(where, f"expected {{'type': ..., '{kind}': URI}}", ErrorCode.MALFORMED)
        if _cbv_term(str(entry.get("type")), _SDT_PREFIXES) == _OWNING_PARTY:
            parties.append(entry[kind])
    if len(parties) > 1:
        event.fail(field, "more than one owning_party")
    return parties[0] if parties else None


def _location_id(event: _Event, field: str) -> str | None:
    location = event.get(field, dict, required=False)
    if location is not None and isinstance(location.get("id"), str):
        return str(location["id"])
    return None


def _acting_uri(event: _Event, own_side: str | None) -> str | None:
    """Who acted, by the shared rule: the transfer's own side, bizLocation, readPoint,
    healthledger:org; None when the event names none (the importer acted)."""
    if own_side is not None:
        return own_side
    # A partner's event names its site, not its company; the resolver maps the site.
    for field in ("bizLocation", "readPoint"):
        location = _location_id(event, field)
        if location is not None:
            return location
    return event.optional_text(ORG_FIELD)


def _actor_uri(event: _Event, own_side: str | None, importer: str | None) -> str:
    uri = _acting_uri(event, own_side)
    if uri is not None:
        return uri
    if importer is not None:
        return HEALTHLEDGER_ORG_URN + quote(importer, safe="")
    event.fail(ORG_FIELD, "no acting party (owning_party, healthledger:org or bizLocation)")


def acting_party(index: int, body: Mapping[str, Any]) -> str | None:
    """The URI of the party that acted in an event (design point 2), None if it names none.

    Shipping, and a TransactionEvent (DSCSA: the seller's transaction information): the
    source owning_party; receiving: the destination owning_party; otherwise (or when that
    is absent) bizLocation, then readPoint, then healthledger:org.
    """
    event = _Event(index, body)
    raw = event.optional_text("bizStep")
    step = None if raw is None else biz_step_term(raw)
    own_side = None
    if step == "shipping" or body.get("type") == "TransactionEvent":
        own_side = _owning_party(event, "sourceList", "source")
    elif step == "receiving":
        own_side = _owning_party(event, "destinationList", "destination")
    return _acting_uri(event, own_side)


def _parties(
    event: _Event, action: Action, org_of_party: Callable[[str], str], importer: str | None
) -> tuple[str, str | None]:
    if action not in _TRANSFERS:
        return org_of_party(_actor_uri(event, None, importer)), None
    sender = _owning_party(event, "sourceList", "source")
    receiver = _owning_party(event, "destinationList", "destination")
    own, other = (receiver, sender) if action == "receive" else (sender, receiver)
    org = org_of_party(_actor_uri(event, own, importer))
    return org, None if other is None else org_of_party(other)


def _iso_date(value: str) -> str:
    try:
        iso_day(value)
    except ValueError as exc:
        _fail(f"{value!r}: {exc}")
    return value


def _lot_and_expiry(event: _Event) -> tuple[str, str]:
    ilmd = event.get("ilmd", dict)
    values: list[str] = []
    for key, parse in (
        ("cbvmda:lotNumber", validate_lot),
        ("cbvmda:itemExpirationDate", _iso_date),
    ):
        value = ilmd.get(key)
        if not isinstance(value, str):
            event.fail(f"ilmd.{key}", "missing or not a string", ErrorCode.MALFORMED)
        values.append(event.checked(f"ilmd.{key}", parse, value))
    return values[0], values[1]


def _tx_id(event: _Event) -> str | None:
    tx_id = event.optional_text(TX_ID_FIELD)
    if tx_id is not None and not _TX_ID.fullmatch(tx_id):
        event.fail(TX_ID_FIELD, f"{tx_id!r}: expected 64 lowercase hex digits")
    return tx_id


def _time_ms(event: _Event) -> int:
    # EPCIS 2.0: eventTimeZoneOffset is required, though the time carries its own.
    offset = event.text("eventTimeZoneOffset")
    if _OFFSET.fullmatch(offset) is None:
        event.fail("eventTimeZoneOffset", f"{offset!r}: expected +HH:MM or -HH:MM")
    return parse_time(f"event {event.index}: eventTime:", event.text("eventTime"))


def from_epcis_event(
    index: int, body: Any, org_of_party: Callable[[str], str], importer: str | None = None
) -> CustodyEvent:
    """One EPCIS 2.0 JSON event as a custody event; `index` names it in error messages.

    An event naming no acting party was the `importer`'s own (refused when None).
    """
    if not isinstance(body, dict):
        _fail(f"event {index}: expected a JSON object", ErrorCode.MALFORMED)
    event = _Event(index, body)
    event_type = event.text("type")
    if event_type not in {mapping.event_type for mapping in MAPPINGS.values()}:
        event.fail("type", f"{event_type!r}: only ObjectEvent and AggregationEvent are imported")
    action = _action_of(event)
    _check_shape(event, action)
    items, parent = _what(event, action)
    lot, expiry = _lot_and_expiry(event) if action == "commission" else (None, None)
    time_ms = _time_ms(event)
    org, counterparty = _parties(event, action, org_of_party, importer)
    reason = event.optional_text(REASON_FIELD) if action in _REASONED else None
    return CustodyEvent(
        action=action,
        time_ms=time_ms,
        org=org,
        items=items,
        parent=parent,
        counterparty=counterparty,
        lot=lot,
        expiry=expiry,
        reason=reason,
        tx_id=_tx_id(event),
    )


def _body_events(document: Mapping[str, Any]) -> Any:
    body = document.get("epcisBody")
    if document.get("type") == QUERY_DOCUMENT:
        results = body.get("queryResults") if isinstance(body, dict) else None
        body = results.get("resultsBody") if isinstance(results, dict) else None
    return body.get("eventList") if isinstance(body, dict) else None


def event_list(document: Any) -> list[Any]:
    """The events of an EPCISDocument or an EPCISQueryDocument, after checking its envelope."""
    if not isinstance(document, dict):
        _fail("EPCIS document: expected a JSON object", ErrorCode.MALFORMED)
    if "@context" not in document:
        _fail("EPCIS document: missing @context", ErrorCode.MALFORMED)
    if document.get("type") not in ("EPCISDocument", QUERY_DOCUMENT):
        _fail(
            f"EPCIS document: type {document.get('type')!r}, expected 'EPCISDocument'"
            f" or '{QUERY_DOCUMENT}'"
        )
    if document.get("schemaVersion") != "2.0":
        _fail(f"EPCIS document: schemaVersion {document.get('schemaVersion')!r}, expected '2.0'")
    creation = document.get("creationDate")
    if not isinstance(creation, str):
        _fail("EPCIS document: creationDate missing or not a string", ErrorCode.MALFORMED)
    parse_time("EPCIS document: creationDate", creation)
    events = _body_events(document)
    if not isinstance(events, list):
        where = "queryResults.resultsBody." if document["type"] == QUERY_DOCUMENT else ""
        _fail(f"EPCIS document: missing epcisBody.{where}eventList", ErrorCode.MALFORMED)
    return events


def from_epcis_document(document: Any, org_of_party: Callable[[str], str]) -> list[CustodyEvent]:
    """Custody events from a trading partner's EPCIS 2.0 JSON document, validated strictly."""
    return [
        from_epcis_event(index, body, org_of_party)
        for index, body in enumerate(event_list(document))
    ]
