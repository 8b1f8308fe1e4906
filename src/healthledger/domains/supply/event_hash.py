"""The EPCIS event hash ID of CBV 2.0: a name for an event made from its content.

Two parties that hold the same event, in any key order, spacing, EPC URN or GS1 Digital
Link spelling, bare CBV term or full URI, compute the same `ni:///sha-256;<hex>?ver=CBV2.0`.
The rules are those of GS1's reference implementation, epcis-event-hash-generator 1.9.3
(https://github.com/RalphTro/epcis-event-hash-generator), whose output partners compare
against: this module reproduces its pre-hash string, quirks included (each kept on purpose
is named where it happens), with one deliberate difference: a pair-list item is read type
first whatever its JSON key order (see `_pair`). It is pure: no I/O, no JSON-LD processing at
run time (the CBV terms the EPCIS 2.0 context expands are tabled below), no clock, and no
arithmetic that depends on the platform.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Final, NamedTuple

from healthledger.domains.shared.gln import check_digit
from healthledger.domains.supply.errors import EventTooDeep, EventTooLarge, EventUnhashable

MAX_EVENT_DEPTH: Final = 32
MAX_EVENT_CHARS: Final = 64 * 1024

_CBV: Final = "https://ref.gs1.org/cbv/"
_GS1: Final = "https://gs1.org/voc/"

# --- CBV bare terms (the EPCIS 2.0 JSON-LD context, epcis-context.jsonld 2.0.0) -------------

_BIZ_STEPS: Final = (
    "accepting arriving assembling collecting commissioning consigning creating_class_instance "
    "cycle_counting decommissioning departing destroying disassembling dispensing encoding "
    "entering_exiting holding inspecting installing killing loading other packing picking "
    "receiving removing repackaging repairing replacing reserving retail_selling sampling "
    "sensor_reporting shipping staging_outbound stock_taking stocking storing transporting "
    "unloading unpacking void_shipping"
)
_DISPOSITIONS: Final = (
    "active available completeness_verified completeness_inferred conformant container_closed "
    "container_open damaged destroyed dispensed disposed encoded expired in_progress in_transit "
    "inactive mismatch_instance mismatch_class mismatch_quantity needs_replacement "
    "no_pedigree_match non_conformant non_sellable_other partially_dispensed recalled reserved "
    "retail_sold returned sellable_accessible sellable_not_accessible stolen unavailable unknown"
)
_BTT: Final = "bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt"
_SDT: Final = "owning_party possessing_party location"
_MEASUREMENTS: Final = (
    "AbsoluteHumidity AbsorbedDose AbsorbedDoseRate Acceleration Radioactivity Altitude "
    "AmountOfSubstance AmountOfSubstancePerUnitVolume Angle AngularAcceleration AngularMomentum "
    "AngularVelocity Area Capacitance Conductance Conductivity Count Density Dimensionless "
    "DoseEquivalent DoseEquivalentRate DynamicViscosity ElectricCharge ElectricCurrent "
    "ElectricCurrentDensity ElectricFieldStrength Energy Exposure Force Frequency Illuminance "
    "Inductance Irradiance KinematicViscosity Length LinearMomentum Luminance LuminousFlux "
    "LuminousIntensity MagneticFlux MagneticFluxDensity MagneticVectorPotential Mass "
    "MassConcentration MassFlowRate MassPerAreaTime MemoryCapacity MolalityOfSolute MolarEnergy "
    "MolarMass MolarVolume Power Pressure RadiantFlux RadiantIntensity RelativeHumidity "
    "Resistance Resistivity SolidAngle SpecificVolume Speed SurfaceDensity SurfaceTension "
    "Temperature Time Torque Voltage Volume VolumeFlowRate VolumeFraction VolumetricFlux "
    "Wavenumber"
)
_COMPONENTS: Final = (
    "x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle easting "
    "northing latitude longitude altitude"
)


class _Terms(dict[str, str]):
    """The bare terms one field may carry, each with the URI the EPCIS context expands it to."""


def _terms(prefix: str, words: str) -> _Terms:
    return _Terms((word, prefix + word) for word in words.split())


_DISP_URI: Final = _terms(_CBV + "Disp-", _DISPOSITIONS)
_SDT_URI: Final = _terms(_CBV + "SDT-", _SDT)

# Where the context gives a field vocabulary terms, as a tree of keys from the event (list
# items share their list's key); pair lists hold the `type` of each of their items.
_VOCAB: Final[dict[str, Any]] = {
    "bizStep": _terms(_CBV + "BizStep-", _BIZ_STEPS),
    "disposition": _DISP_URI,
    "persistentDisposition": {"set": _DISP_URI, "unset": _DISP_URI},
    "bizTransactionList": {"type": _terms(_CBV + "BTT-", _BTT)},
    "sourceList": {"type": _SDT_URI},
    "destinationList": {"type": _SDT_URI},
    "sensorElementList": {
        "sensorReport": {
            "type": _terms(_GS1, _MEASUREMENTS),
            "exception": _terms(_GS1, "ALARM_CONDITION ERROR_CONDITION"),
            "component": _terms(_CBV + "Comp-", _COMPONENTS),
        }
    },
    "errorDeclaration": {"reason": _terms(_CBV + "ER-", "did_not_occur incorrect_data")},
}

# CBV 1.x URNs become their CBV 2.0 web URIs (rule 14), anywhere in a value.
_OLD_CBV: Final = (
    ("urn:epcglobal:cbv:bizstep:", _CBV + "BizStep-"),
    ("urn:epcglobal:cbv:disp:", _CBV + "Disp-"),
    ("urn:epcglobal:cbv:btt:", _CBV + "BTT-"),
    ("urn:epcglobal:cbv:sdt:", _CBV + "SDT-"),
    ("urn:epcglobal:cbv:er:", _CBV + "ER-"),
)

# --- the canonical property order (the reference's PROP_ORDER) ----------------------------


class _Order(NamedTuple):
    """Fields in the order the pre-hash string lists them, each with its own fields' order."""

    entries: tuple[tuple[str, _Order | None], ...]
    names: frozenset[str]


def _order(*entries: tuple[str, _Order | None]) -> _Order:
    return _Order(entries, frozenset(name for name, _ in entries))


def _leaves(names: str) -> _Order:
    return _order(*((name, None) for name in names.split()))


_EPC: Final = _order(("epc", None))
_QUANTITY: Final = _order(("quantityElement", _leaves("epcClass quantity uom")))
_SENSOR_METADATA: Final = _leaves(
    "time startTime endTime deviceID deviceMetadata rawData dataProcessingMethod bizRules"
)
_SENSOR_REPORT: Final = _leaves(
    "type exception deviceID deviceMetadata rawData dataProcessingMethod time microorganism "
    "chemicalSubstance value component stringValue booleanValue hexBinaryValue uriValue "
    "minValue maxValue meanValue sDev percRank percValue uom coordinateReferenceSystem"
)
# bizTransactionList, sourceList and destinationList are absent: the reference's order names
# them with a shape no item has, so they are always written with the leftover fields.
_EVENT_ORDER: Final = _order(
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", _EPC),
    ("inputEPCList", _EPC),
    ("childEPCs", _EPC),
    ("quantityList", _QUANTITY),
    ("childQuantityList", _QUANTITY),
    ("inputQuantityList", _QUANTITY),
    ("outputEPCList", _EPC),
    ("outputQuantityList", _QUANTITY),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", _leaves("set unset")),
    ("readPoint", _leaves("id")),
    ("bizLocation", _leaves("id")),
    (
        "sensorElementList",
        _order(
            (
                "sensorElement",
                _order(("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _SENSOR_REPORT)),
            )
        ),
    ),
)
# Never part of the hash: an error declaration hashes like the event it declares erroneous.
_NOT_HASHED: Final = frozenset({"recordTime", "eventID", "type", "errorDeclaration"})
_PAIR_LISTS: Final = frozenset({"sourceList", "destinationList", "bizTransactionList"})
_UNSORTED_ITEMS: Final = frozenset({"bizTransaction", "source", "destination"})
_QUANTITY_ITEMS: Final = frozenset({"inputQuantity", "outputQuantity", "childQuantity"})
_SKIPPED_KEYS: Final = frozenset({"#text", "rdfs:comment", "comment"})
_QUANTITY_KEYS: Final = frozenset({"epcClass", "quantity", "uom"})


class _Node:
    """One field: its name, its text (empty for an object) and its fields, as in EPCIS XML."""

    __slots__ = ("kids", "name", "text")

    def __init__(self, name: str, text: str, kids: list[_Node | _Pair]) -> None:
        self.name, self.text, self.kids = name, text, kids

    def key(self) -> tuple[Any, ...]:
        return (self.name, self.text, [kid.key() for kid in self.kids])


class _Pair:
    """An item of a pair list: its first two fields (its type, then its id; see `_pair`)."""

    __slots__ = ("kids",)

    def __init__(self, kids: list[_Node | _Pair]) -> None:
        self.kids = kids

    def key(self) -> tuple[Any, ...]:
        return (tuple(kid.key() for kid in self.kids),)


# --- public API ---------------------------------------------------------------------------


def event_hash(event: Mapping[str, Any], prefixes: Mapping[str, str] | None = None) -> str:
    """The event hash ID of one EPCIS 2.0 JSON event; `prefixes` are its document's @context."""
    digest = hashlib.sha256(prehash_string(event, prefixes).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver=CBV2.0"


def prehash_string(event: Mapping[str, Any], prefixes: Mapping[str, str] | None = None) -> str:
    """The canonical string that `event_hash` digests (for debugging and for partners)."""
    if not isinstance(event, Mapping):
        raise EventUnhashable("an EPCIS event is a JSON object")
    direct = _direct(event, prefixes or {})
    return direct if direct is not None else _through_fields(event, prefixes or {})


def _through_fields(event: Mapping[str, Any], prefixes: Mapping[str, str]) -> str:
    """The general algorithm: JSON to fields, fields in order, leftovers after them."""
    root = _Builder(prefixes).node_of(event, _VOCAB, 0, raw=False)
    event_type = event.get("type")
    name = event_type if isinstance(event_type, str) else ""
    ordered = _ordered(root.kids, _EVENT_ORDER)
    rest = [kid for kid in root.kids if isinstance(kid, _Pair) or kid.name not in _NOT_HASHED]
    return "eventType=" + name + ordered + (_generic(rest) if rest else "")


def document_prefixes(document: Mapping[str, Any]) -> dict[str, str]:
    """The namespace prefixes an EPCIS document's @context declares inline (`{"ex": uri}`)."""
    context = document.get("@context")
    found: dict[str, str] = {}
    for entry in context if isinstance(context, list) else [context]:
        if isinstance(entry, Mapping):
            found.update({k: v for k, v in entry.items() if isinstance(v, str)})
    return found


def document_events(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The events of an EPCISDocument or EPCISQueryDocument, in document order."""
    body = document.get("epcisBody")
    if not isinstance(body, Mapping):
        return []
    if isinstance(body.get("event"), Mapping):
        return [body["event"]]
    results = body.get("queryResults")
    if isinstance(results, Mapping) and isinstance(results.get("resultsBody"), Mapping):
        body = results["resultsBody"]
    events = body.get("eventList")
    return [e for e in events if isinstance(e, Mapping)] if isinstance(events, list) else []


def document_hashes(document: Mapping[str, Any]) -> list[str]:
    """The event hash ID of every event of an EPCIS document, in document order."""
    prefixes = document_prefixes(document)
    return [event_hash(event, prefixes) for event in document_events(document)]


# --- the common event, written directly -----------------------------------------------------
#
# Most events are flat: standard fields, EPC and quantity lists, a readPoint, pair lists,
# sensor reports. `_direct` writes their pre-hash string without building fields, as the
# general algorithm would write it (a test holds the two equal on every example and on
# generated events); anything else (extensions, ILMD, persistent dispositions, error
# declarations, odd shapes, long lists) returns None and takes the general way.

_DIRECT_LEAVES: Final = ("eventTimeZoneOffset", "certificationInfo", "parentID")
_DIRECT_AFTER_LISTS: Final = ("action", "transformationID", "bizStep", "disposition")
_EPC_LISTS: Final = ("epcList", "inputEPCList", "childEPCs")
_QUANTITY_LISTS: Final = ("quantityList", "childQuantityList", "inputQuantityList")
_DIRECT_KEYS: Final = frozenset(
    {"type", "eventID", "recordTime", "eventTime", *_DIRECT_LEAVES, *_EPC_LISTS}
    | {*_QUANTITY_LISTS, "outputEPCList", "outputQuantityList", *_DIRECT_AFTER_LISTS}
    | {"readPoint", "bizLocation", "sensorElementList", *_PAIR_LISTS}
)
_REPORT_VOCAB: Final[dict[str, _Terms]] = _VOCAB["sensorElementList"]["sensorReport"]
_PAIR_ID: Final = {
    "bizTransactionList": "bizTransaction",
    "sourceList": "source",
    "destinationList": "destination",
}
_DIRECT_MAX_ITEMS: Final = 256  # longer lists go the general way
_KEY_ROOM: Final = 40  # more than any key of a flat event costs the general count (len + 4)


class _NotDirect(Exception):
    """The event is not of the flat shape `_direct` writes."""


def _direct(event: Mapping[str, Any], prefixes: Mapping[str, str]) -> str | None:
    if type(event) is not dict or not _DIRECT_KEYS.issuperset(event):
        return None
    try:
        return _direct_string(event, _Scope(prefixes))
    except _NotDirect:
        return None


class _Scope:
    """The document's prefixes, and an over-estimate of what the general algorithm counts
    against MAX_EVENT_CHARS: past it, the general algorithm decides (and refuses)."""

    __slots__ = ("prefixes", "spent")

    def __init__(self, prefixes: Mapping[str, str]) -> None:
        self.prefixes, self.spent = prefixes, 0

    def spend(self, chars: int) -> None:
        self.spent += chars
        if self.spent > MAX_EVENT_CHARS:
            raise _NotDirect

    def text(self, value: Any) -> str:
        kind = type(value)
        if kind is str:
            text: str = value
            if ":" in text and self.prefixes:
                prefix, _, local = text.partition(":")
                if prefix in self.prefixes:
                    text = self.prefixes[prefix] + local
        elif kind is int or kind is float or kind is Decimal:
            text = str(value)
        else:
            raise _NotDirect
        self.spend(len(text) + _KEY_ROOM)
        return text


def _direct_string(event: dict[str, Any], scope: _Scope) -> str:
    for key in ("type", "eventID", "recordTime"):
        if key in event:
            if type(event[key]) is not str:
                raise _NotDirect
            scope.text(event[key])
    kind = event.get("type", "")
    out = ["eventType=", kind]
    if "eventTime" in event:
        out.append(_direct_leaf("eventTime", event["eventTime"], scope, time=True))
    out.extend(_direct_leaf(key, event[key], scope) for key in _DIRECT_LEAVES if key in event)
    out.extend(_direct_list(key, event, scope) for key in _EPC_LISTS)
    out.extend(_direct_list(key, event, scope) for key in _QUANTITY_LISTS)
    out.append(_direct_list("outputEPCList", event, scope))
    out.append(_direct_list("outputQuantityList", event, scope))
    for key in _DIRECT_AFTER_LISTS:
        if key in event:
            out.append(_direct_leaf(key, _term(key, event[key]), scope))
    out.extend(_direct_location(key, event, scope) for key in ("readPoint", "bizLocation"))
    if "sensorElementList" in event:
        out.append(_direct_sensors(event["sensorElementList"], scope))
    rest = [_direct_pairs(key, event, scope) for key in _PAIR_ID if key in event]
    rest.sort()
    out.extend(rest)
    return "".join(out)


def _term(key: str, value: Any) -> Any:
    vocab = _VOCAB.get(key)
    return vocab.get(value, value) if type(value) is str and type(vocab) is _Terms else value


def _direct_leaf(name: str, value: Any, scope: _Scope, time: bool = False) -> str:
    text = scope.text(value).strip()
    if not text:
        return ""
    text = _timestamp(text) if time else _canon(text)
    return name + "=" + text if text else ""


def _direct_list(key: str, event: dict[str, Any], scope: _Scope) -> str:
    items = event.get(key)
    if items is None:
        return ""
    if type(items) is not list or len(items) > _DIRECT_MAX_ITEMS:
        raise _NotDirect
    scope.spend(_KEY_ROOM)
    if key.endswith("QuantityList") or key == "quantityList":
        values = [_direct_quantity(item, scope) for item in items]
    else:
        values = [_direct_leaf("epc", item, scope) for item in items]
    values = [value for value in values if value]
    if not values:
        return ""
    values.sort()
    return key + "".join(values)


def _direct_quantity(item: Any, scope: _Scope) -> str:
    if type(item) is not dict or not item or not _QUANTITY_KEYS.issuperset(item):
        raise _NotDirect
    scope.spend(_KEY_ROOM)
    inner = "".join(
        _direct_leaf(name, item[name], scope)
        for name in ("epcClass", "quantity", "uom")
        if name in item
    )
    return "quantityElement" + inner if inner else ""


def _direct_location(key: str, event: dict[str, Any], scope: _Scope) -> str:
    place = event.get(key)
    if place is None:
        return ""
    if type(place) is not dict or not {"id"}.issuperset(place):
        raise _NotDirect
    scope.spend(_KEY_ROOM)
    inner = _direct_leaf("id", place["id"], scope) if "id" in place else ""
    return key + inner if inner else ""


def _direct_sensors(elements: Any, scope: _Scope) -> str:
    if type(elements) is not list or len(elements) > _DIRECT_MAX_ITEMS:
        raise _NotDirect
    scope.spend(_KEY_ROOM)
    written = [_direct_sensor_element(element, scope) for element in elements]
    written = sorted(text for text in written if text)
    return "sensorElementList" + "".join(written) if written else ""


def _direct_sensor_element(element: Any, scope: _Scope) -> str:
    if type(element) is not dict or not {"sensorMetadata", "sensorReport"}.issuperset(element):
        raise _NotDirect
    metadata = element.get("sensorMetadata", {})
    reports = element.get("sensorReport", [])
    if type(reports) is not list or len(reports) > _DIRECT_MAX_ITEMS:
        raise _NotDirect
    scope.spend(3 * _KEY_ROOM)  # the element, its metadata and its report list
    inner = _direct_fields(metadata, _SENSOR_METADATA, {}, scope)
    inner = "sensorMetadata" + inner if inner else ""
    written = [_direct_fields(report, _SENSOR_REPORT, _REPORT_VOCAB, scope) for report in reports]
    inner += "".join(sorted("sensorReport" + text for text in written if text))
    return "sensorElement" + inner if inner else ""


def _direct_fields(fields: Any, order: _Order, vocab: Mapping[str, _Terms], scope: _Scope) -> str:
    """Leaf fields of a sensor element part, in the order of its part of the standard."""
    if type(fields) is not dict or not order.names.issuperset(fields):
        raise _NotDirect
    scope.spend(_KEY_ROOM)
    out = []
    for name, _ in order.entries:
        if name in fields:
            value = fields[name]
            if type(value) is bool:
                value = str(value)
            terms = vocab.get(name)
            if terms is not None and type(value) is str:
                value = terms.get(value, value)
            out.append(_direct_leaf(name, value, scope, time="time" in name.lower()))
    return "".join(out)


def _direct_pairs(key: str, event: dict[str, Any], scope: _Scope) -> str:
    items = event[key]
    ident = _PAIR_ID[key]
    if type(items) is not list or len(items) > _DIRECT_MAX_ITEMS:
        raise _NotDirect
    scope.spend(_KEY_ROOM * (1 + len(items)))
    pairs = []
    for item in items:
        if type(item) is not dict or len(item) != 2 or "type" not in item or ident not in item:
            raise _NotDirect
        kind = _VOCAB[key]["type"].get(item["type"], item["type"])
        pairs.append(_pair_part("type", kind, scope) + _pair_part(ident, item[ident], scope))
    pairs.sort()
    return key + "".join(pairs) if pairs else ""


def _pair_part(name: str, value: Any, scope: _Scope) -> str:
    if type(value) is not str:
        raise _NotDirect
    text = scope.text(value).strip()
    return name + "=" + _canon(text) if text else name


# --- JSON to fields -------------------------------------------------------------------------


class _Builder:
    """Turns JSON into fields, counting depth and size so no event costs more than its bound.

    Fields are regrouped as they are built, into the shape of EPCIS XML the reference hashes:
    list items under their list, pair-list items as pairs. Items of a pair list are kept "raw"
    (sorted, never regrouped) as the reference keeps them.
    """

    __slots__ = ("chars", "prefixes")

    def __init__(self, prefixes: Mapping[str, str]) -> None:
        self.prefixes = prefixes
        self.chars = 0

    def node_of(self, value: Any, vocab: Any, depth: int, raw: bool) -> _Node:
        if depth > MAX_EVENT_DEPTH:
            raise EventTooDeep(MAX_EVENT_DEPTH)
        kind = type(value)
        if kind is str:
            return _Node("", self._string(value, vocab), [])
        if kind is dict:
            return self._object(value, vocab, depth, raw)
        if kind is list or kind is tuple:
            return _Node("", "", [self.node_of(item, vocab, depth + 1, raw) for item in value])
        if isinstance(value, Mapping):
            return self._object(value, vocab, depth, raw)
        return _Node("", self._scalar(value), [])

    def _object(self, obj: Mapping[str, Any], vocab: Any, depth: int, raw: bool) -> _Node:
        kids: list[_Node | _Pair] = []
        tracked = vocab if type(vocab) is dict else None
        for key, value in obj.items():
            if not isinstance(key, str):
                raise EventUnhashable("keys of an EPCIS event are strings")
            if key in _SKIPPED_KEYS or key.startswith("@xmlns"):
                continue
            self._count(key)
            child = self.node_of(
                value,
                tracked.get(key) if tracked is not None else None,
                depth + 1,
                raw or key in _PAIR_LISTS,
            )
            name = self._expand_key(key)
            if type(value) is list or type(value) is tuple:
                for item in child.kids:
                    assert type(item) is _Node
                    item.name = name
                    kids.append(item)
            else:
                child.name = name
                kids.append(child)
        text = obj.get("#text")
        if raw:
            # Order only shows where a pair item keeps its first two fields: the reference
            # sorts an object's fields unless it is such an item with its id key.
            if not any(key in obj for key in _UNSORTED_ITEMS):
                kids.sort(key=_sort_key)
        else:
            kids = _regroup(kids)
        return _Node("", text if isinstance(text, str) else "", kids)

    def _string(self, value: str, vocab: Any) -> str:
        if type(vocab) is _Terms:
            value = vocab.get(value, value)
        text = self._expand_value(value)
        self._count(text)
        return text

    def _scalar(self, value: Any) -> str:
        if value is None or isinstance(value, bool | int | float | Decimal):
            # str() as Python's json gives it: True, None, 26.0 (then normalised as a number).
            text = str(value)
        elif isinstance(value, str):
            text = self._expand_value(value)
        else:
            raise EventUnhashable(f"an EPCIS value cannot be a {type(value).__name__}")
        self._count(text)
        return text

    def _count(self, text: str) -> None:
        self.chars += len(text) + 4
        if self.chars > MAX_EVENT_CHARS:
            raise EventTooLarge(MAX_EVENT_CHARS)

    def _expand_key(self, key: str) -> str:
        if ":" in key and self.prefixes:
            prefix, _, local = key.partition(":")
            if prefix in self.prefixes:
                return "{" + self.prefixes[prefix] + "}" + local
        return key

    def _expand_value(self, value: str) -> str:
        if ":" in value and self.prefixes:
            prefix, _, local = value.partition(":")
            if prefix in self.prefixes:
                return self.prefixes[prefix] + local
        return value


def _sort_key(kid: _Node | _Pair) -> tuple[Any, ...]:
    return kid.key()


def _regroup(kids: list[_Node | _Pair]) -> list[_Node | _Pair]:
    """List items under their list (`epcList` of `epc`), `childEPCs` as a list of `epc`."""
    if not any(
        isinstance(kid, _Node) and (kid.name.endswith("List") or kid.name == "childEPCs")
        for kid in kids
    ):
        for kid in kids:
            if isinstance(kid, _Node):
                kid.name = _xml_name(kid)
        return kids
    plain: list[_Node | _Pair] = []
    lists: dict[str, list[_Node | _Pair]] = {}
    epcs: list[_Node | _Pair] = []
    for kid in kids:
        assert isinstance(kid, _Node)
        if kid.name.endswith("List"):
            lists.setdefault(kid.name, []).append(kid)
            kid.name = kid.name[:-4]
        elif kid.name == "childEPCs":
            epcs.append(_Node("epc", kid.text, []))
        else:
            kid.name = _xml_name(kid)
            plain.append(kid)
    for name, items in lists.items():
        if name in _PAIR_LISTS:
            plain.append(_Node(name, "", [_pair(item) for item in items]))
        else:
            plain.append(_Node(name, "", _regroup(items)))
    if epcs:
        plain.append(_Node("childEPCs", "", epcs))
    return plain


def _pair(item: _Node | _Pair) -> _Pair:
    """A pair-list item as the reference writes it: its first two fields (it fails on fewer).

    The reference takes them in JSON key order, so `{"bizTransaction": x, "type": t}` and
    `{"type": t, "bizTransaction": x}` would differ; the type comes first here, as in every
    published example, in the reference's XML reading and in the algorithm's rule 13, so key
    order never counts for a standard item.
    """
    first = item.kids[:2]
    if len(first) == 2 and _is_id_then_type(*first):
        first.reverse()
    return _Pair(first)


def _is_id_then_type(ident: _Node | _Pair, kind: _Node | _Pair) -> bool:
    return (
        isinstance(ident, _Node)
        and isinstance(kind, _Node)
        and kind.name == "type"
        and ident.name in _UNSORTED_ITEMS
    )


def _xml_name(node: _Node | _Pair) -> str:
    assert isinstance(node, _Node)
    if node.name in ("inputEPC", "outputEPC"):
        return "epc"
    if node.name in _QUANTITY_ITEMS or (node.name == "quantity" and node.kids):
        return "quantityElement"
    return node.name


# --- fields to the pre-hash string ------------------------------------------------------------


def _ordered(kids: list[_Node | _Pair], order: _Order) -> str:
    """The fields named in `order`, each group sorted; extensions after them; the rest stays.

    A field written here leaves `kids` once nothing of it is left over, as in the reference:
    what stays (fields it has no order for) is written again with the leftovers.
    """
    extensions = _take_extensions(kids)
    groups: dict[str, list[_Node]] = {}
    for kid in kids:
        if isinstance(kid, _Node) and kid.name in order.names:
            groups.setdefault(kid.name, []).append(kid)
    out = []
    if groups:
        for name, sub_order in order.entries:
            group = groups.get(name)
            if group is None:
                continue
            values = [text for kid in group if (text := _field(kid, sub_order))]
            values.sort()
            out.extend(values)
        kids[:] = [
            kid for kid in kids if isinstance(kid, _Pair) or kid.kids or kid.name not in order.names
        ]
    if extensions:
        out.append(_generic(extensions))
    return "".join(out)


def _take_extensions(kids: list[_Node | _Pair]) -> list[_Node | _Pair]:
    """Namespaced fields inside a standard field; an event's own go with the leftovers."""
    if len(kids) <= 1:
        return []
    names = [kid.name for kid in kids if isinstance(kid, _Node)]
    if any("eventTime" in name or "action" in name for name in names):
        return []
    found: list[_Node | _Pair] = [
        kid for kid in kids if isinstance(kid, _Node) and "{" in kid.name and "/}" in kid.name
    ]
    for kid in found:
        kids.remove(kid)
    return found


def _field(node: _Node, sub_order: _Order | None) -> str:
    inner = _ordered(node.kids, sub_order) if sub_order else ""
    text = ""
    if node.text:
        text = node.text.strip()
        lowered = node.name.lower()
        text = _timestamp(text) if "time" in lowered and "offset" not in lowered else _canon(text)
        if text:
            text = "=" + text
    return node.name + text + inner if text or inner else ""


def _generic(kids: Sequence[_Node | _Pair]) -> str:
    """Leftover fields (extensions, ILMD, pair lists): name=value, sorted within each level."""
    values = []
    for kid in kids:
        if isinstance(kid, _Pair):
            values.append(_generic(kid.kids))
            continue
        text = kid.text.strip()
        if text:
            text = "=" + _canon(text)
        values.append(kid.name + text + _generic(kid.kids))
    if len(kids) > 1 and not any(
        isinstance(kid, _Node) and kid.name in _UNSORTED_ITEMS for kid in kids
    ):
        values.sort()
    return "".join(values)


# --- values -------------------------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def _canon(text: str) -> str:
    """CBV 2.0 URIs for CBV 1.x URNs, numbers without trailing zeros, GS1 keys as Digital Link."""
    if "urn:epcglobal:cbv:" in text:
        for old, new in _OLD_CBV:
            text = text.replace(old, new)
    text = _number(text)
    return _digital_link(text) or text


_NUMBER: Final = re.compile(
    r"[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?"
)
_EXACT_DIGITS: Final = 15  # any decimal of at most 15 significant digits survives binary64


def _number(text: str) -> str:
    """A number as the reference writes it (str of the binary64 value, integral as an int)."""
    if not text or _NUMBER.fullmatch(text) is None:
        return text
    try:
        value = Decimal(text.replace("_", ""))
    except InvalidOperation:
        return text
    if value.is_zero():
        return "0"
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    strip = len(digits)
    while strip > 1 and digits[strip - 1] == 0:
        strip -= 1
    exponent += len(digits) - strip
    digits = digits[:strip]
    point = exponent + len(digits)  # the value is 0.<digits> x 10**point
    if len(digits) <= _EXACT_DIGITS and -300 < point < 300:
        return _short_decimal(sign, "".join(map(str, digits)), exponent, point)
    return _binary64_text(text.replace("_", ""))


def _short_decimal(sign: int, digits: str, exponent: int, point: int) -> str:
    """repr() of the nearest binary64, without floats: exact for at most 15 digits."""
    minus = "-" if sign else ""
    if exponent >= 0:
        if point <= _EXACT_DIGITS:
            return minus + digits + "0" * exponent
        return _binary64_text(f"{minus}{digits}e{exponent}")
    if point > -4:
        if point <= 0:
            return f"{minus}0.{'0' * -point}{digits}"
        return f"{minus}{digits[:point]}.{digits[point:]}"
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{minus}{mantissa}e-{1 - point:02d}"


def _binary64_text(text: str) -> str:
    """The reference's float() round trip, for the rare number past 15 digits or 1e300.

    CPython converts with its own correctly rounded dtoa, not the C library's, so this gives
    the same text on every node; it is the only float in the module, and nothing else
    depends on it.
    """
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        return text
    return str(int(value)) if value.is_integer() else repr(value)


_TIMESTAMP: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?"
    r"(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)


def _timestamp(text: str) -> str:
    """UTC at millisecond precision with a Z (rules 8 and 9); anything else stays as it is.

    The reference rounds microseconds half to even; a time without an offset is read as UTC
    (the reference would read it in the host's zone, which no two nodes need share).
    Integer arithmetic on the civil calendar: no clock, no time zone database.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return text
    year, month, day, hour, minute, second = (int(g or 0) for g in match.groups()[:6])
    if not (1 <= month <= 12 and 1 <= day <= _month_days(year, month)):
        return text
    if hour > 23 or minute > 59 or second > 59:
        return text
    offset = _offset_minutes(match.group(8))
    if offset is None:
        return text
    micros = int((match.group(7) or "").ljust(6, "0")[:6])
    millis, rest = divmod(micros, 1000)
    if rest > 500 or (rest == 500 and millis % 2 == 1):
        millis += 1
    seconds = ((_days_from_civil(year, month, day) * 24 + hour) * 60 + minute - offset) * 60
    day_count, in_day = divmod((seconds + second) * 1000 + millis, 86_400_000)
    year, month, day = _civil_from_days(day_count)
    if not 1 <= year <= 9999:
        return text
    clock, millis = divmod(in_day, 1000)
    hours, clock = divmod(clock, 3600)
    minutes, seconds = divmod(clock, 60)
    return f"{year:04d}-{month:02d}-{day:02d}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


def _offset_minutes(zone: str | None) -> int | None:
    if zone is None or zone == "Z":
        return 0
    digits = zone[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
    if minutes >= 24 * 60 or (len(digits) > 2 and int(digits[2:4]) > 59):
        return None
    return -minutes if zone[0] == "-" else minutes


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719468
    era = days // 146097
    day_of_era = days - era * 146097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted + 2) // 5 + 1
    month = shifted + (3 if shifted < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


# --- GS1 keys: EPC URIs and Digital Link URIs to constrained canonical Digital Link (rules 17, 18)

_DL: Final = "https://id.gs1.org/"
# GS1 AI encodable character set 82 as an EPC URI writes it (a character or a %-escape).
_XC: Final = (
    r"(?:%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]"
    r"|[!')(*+,.0-9:;=A-Za-z_-])"
)
_CPI_XC: Final = r"(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])"


def _company(total: int, twelve: str = r"\d{12}\.") -> str:
    """GS1 company prefix (6 to 12 digits) '.' reference: `total` digits in all."""
    options = [rf"\d{{{k}}}\.\d{{{total - k}}}" for k in range(6, 13) if total - k > 0]
    if total == 12:  # a 12-digit prefix leaves an empty reference
        options.append(twelve)
    return "(?:" + "|".join(options) + ")"


def _company_then(chars: str, total: int) -> str:
    """Company prefix '.' then up to total-minus-prefix characters (GIAI, GINC, CPI)."""
    return "(?:" + "|".join(rf"\d{{{k}}}\.{chars}{{1,{total - k}}}" for k in range(6, 13)) + ")"


_EPC_SYNTAX: Final[dict[str, re.Pattern[str]]] = {
    name: re.compile(pattern + r"$")
    for name, pattern in {
        "id:sgtin": _company(13) + r"\." + _XC + "{1,20}",
        "id:sscc": _company(17),
        "id:sgln": _company(12) + r"\." + _XC + "{1,20}",
        "id:grai": _company(12, r"\d{12}\.\.") + r"\." + _XC + "{1,16}",
        "id:giai": _company_then(_XC, 30),
        "id:gsrn": _company(17),
        "id:gsrnp": _company(17),
        "id:gdti": _company(12, r"\d{12}\.\.") + _XC + "{1,20}",
        "id:cpi": _company_then(_CPI_XC, 30) + r"\.\d{1,12}",
        "id:sgcn": _company(12) + r"\.\d{1,12}",
        "id:ginc": _company_then(_XC, 30),
        "id:gsin": _company(16),
        "id:itip": _company(13) + r"\.\d{2}\.\d{2}\." + _XC + "{1,20}",
        "id:upui": _company(13) + r"\." + _XC + "{1,28}",
        "id:pgln": _company(12),
        "class:lgtin": _company(13) + r"\." + _XC + "{1,20}",
        "idpat:sgtin": _company(13) + r"\.\*",
        "idpat:grai": _company(12, r"\d{12}\.\.") + r"\.\*",
        "idpat:gdti": _company(12, r"\d{12}\.\.") + r"\.\*",
        "idpat:sgcn": _company(12, r"\d{12}\.\.") + r"\.\*",
        "idpat:cpi": _company_then(_CPI_XC, 30) + r"\.\*",
        "idpat:itip": _company(13) + r"\.\d{2}\.\d{2}\.\*",
        "idpat:upui": _company(13) + r"\.\*",
    }.items()
}
_EPC_SCHEME: Final = re.compile(r"urn:epc:((?:id|class|idpat):[a-z]+):")


def _check_digit(digits: str) -> str:
    return str(check_digit(digits))


_ESCAPES: Final = str.maketrans(
    {"!": "%21", "(": "%28", ")": "%29", "*": "%2A", "+": "%2B", ",": "%2C", ":": "%3A"}
)


def _escape(text: str) -> str:
    """Characters a Digital Link path percent-encodes that an EPC URI may carry bare."""
    return text.translate(_ESCAPES)


def _digital_link(uri: str) -> str | None:
    """The constrained canonical Digital Link of a GS1 key URI, or None if it is none."""
    if "." not in uri:
        return None
    if uri.startswith("urn:epc:"):
        return _from_epc(uri)
    if uri.startswith("http"):
        return _from_web(uri)
    return None


def _from_epc(uri: str) -> str | None:
    scheme = _EPC_SCHEME.match(uri)
    if scheme is None:
        return None
    syntax = _EPC_SYNTAX.get(scheme.group(1))
    body = uri[scheme.end() :]
    if syntax is None or syntax.match(body) is None:
        return None
    return _EPC_TO_DL[scheme.group(1)](body)


def _gtin(body: str) -> tuple[str, str]:
    """(GTIN-14 with its check digit, what follows the second '.') of `prefix.ref.rest`."""
    dot = body.index(".")
    company, item = body[:dot], body[dot + 1 : 14]
    raw = item[:1] + company + item[1:]
    return raw + _check_digit(raw), body[15:]


def _twelve(body: str) -> tuple[str, str]:
    """(company prefix + reference, 12 digits, and what follows the second '.')."""
    dot = body.index(".")
    return body[:dot] + body[dot + 1 : 13], body[14:]


def _sgtin(body: str) -> str:
    gtin, serial = _gtin(body)
    return f"{_DL}01/{gtin}/21/{_escape(serial)}"


def _sscc(body: str) -> str:
    dot = body.index(".")
    raw = body[dot + 1] + body[:dot] + body[dot + 2 :]
    return f"{_DL}00/{raw}{_check_digit(raw)}"


def _sgln(body: str) -> str:
    raw, extension = _twelve(body)
    gln = raw + _check_digit(raw)
    return f"{_DL}414/{gln}" if extension == "0" else f"{_DL}414/{gln}/254/{_escape(extension)}"


def _grai(body: str) -> str:
    raw, serial = _twelve(body)
    raw = "0" + raw
    return f"{_DL}8003/{raw}{_check_digit(raw)}{_escape(serial)}"


def _after_company(ai: str, escape: bool) -> Callable[[str], str]:
    def build(body: str) -> str:
        dot = body.index(".")
        rest = body[dot + 1 :]
        return f"{_DL}{ai}/{body[:dot]}{_escape(rest) if escape else rest}"

    return build


def _with_check(ai: str) -> Callable[[str], str]:
    def build(body: str) -> str:
        raw = body.replace(".", "", 1)
        return f"{_DL}{ai}/{raw}{_check_digit(raw)}"

    return build


def _gdti(body: str) -> str:
    raw, serial = _twelve(body)
    return f"{_DL}253/{raw}{_check_digit(raw)}{_escape(serial)}"


def _cpi(body: str) -> str:
    last = body.rindex(".")
    return f"{_DL}8010/{_escape(body[:last].replace('.', '', 1))}/8011/{body[last + 1 :]}"


def _sgcn(body: str) -> str:
    raw, serial = _twelve(body)
    return f"{_DL}255/{raw}{_check_digit(raw)}{serial}"


def _itip(body: str) -> str:
    gtin, rest = _gtin(body)
    return f"{_DL}8006/{gtin}{rest[0:2]}{rest[3:5]}/21/{_escape(rest[6:])}"


def _upui(body: str) -> str:
    gtin, serial = _gtin(body)
    return f"{_DL}01/{gtin}/235/{_escape(serial)}"


def _pgln(body: str) -> str:
    raw, _ = _twelve(body)
    return f"{_DL}417/{raw}{_check_digit(raw)}"


def _lgtin(body: str) -> str:
    gtin, lot = _gtin(body)
    return f"{_DL}01/{gtin}/10/{_escape(lot)}"


def _gtin_pattern(body: str) -> str:
    return f"{_DL}01/{_gtin(body)[0]}"


def _grai_pattern(body: str) -> str:
    raw = "0" + _twelve(body)[0]
    return f"{_DL}8003/{raw}{_check_digit(raw)}"


def _twelve_pattern(ai: str) -> Callable[[str], str]:
    def build(body: str) -> str:
        raw = _twelve(body)[0]
        return f"{_DL}{ai}/{raw}{_check_digit(raw)}"

    return build


def _cpi_pattern(body: str) -> str:
    return f"{_DL}8010/{_escape(body[: body.rindex('.')].replace('.', '', 1))}"


def _itip_pattern(body: str) -> str:
    gtin, rest = _gtin(body)
    return f"{_DL}8006/{gtin}{rest[0:2]}{rest[3:5]}"


_EPC_TO_DL: Final[dict[str, Callable[[str], str]]] = {
    "id:sgtin": _sgtin,
    "id:sscc": _sscc,
    "id:sgln": _sgln,
    "id:grai": _grai,
    "id:giai": _after_company("8004", escape=True),
    "id:gsrn": _with_check("8018"),
    "id:gsrnp": _with_check("8017"),
    "id:gdti": _gdti,
    "id:cpi": _cpi,
    "id:sgcn": _sgcn,
    "id:ginc": _after_company("401", escape=True),
    "id:gsin": _with_check("402"),
    "id:itip": _itip,
    "id:upui": _upui,
    "id:pgln": _pgln,
    "class:lgtin": _lgtin,
    "idpat:sgtin": _gtin_pattern,
    "idpat:grai": _grai_pattern,
    "idpat:gdti": _twelve_pattern("253"),
    "idpat:sgcn": _twelve_pattern("255"),
    "idpat:cpi": _cpi_pattern,
    "idpat:itip": _itip_pattern,
    "idpat:upui": _gtin_pattern,
}

_KEYS: Final = (
    "01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti"
    "|401|ginc|402|gsin|8003|grai|8004|giai"
)
_WEB_URI: Final = re.compile(
    r"https?:(//(([^/?#]*)@)?([^/?#:]*)(:([^/?#]*))?)?(([^?#]*)(/(" + _KEYS + r")/)(\d{4}[^/]+)"
    r"(/[^/]+/[^/]+)?/?(\?([^?\n]*))?(#([^\n]*))?|(/[A-Za-z_-]{10}$))"
)
_ALIASES: Final = (
    ("/gtin/", "/01/"),
    ("/itip/", "/8006/"),
    ("/cpid/", "/8010/"),
    ("/gln/", "/414/"),
    ("/party/", "/417/"),
    ("/gsrnp/", "/8017/"),
    ("/gsrn/", "/8018/"),
    ("/gcn/", "/255/"),
    ("/sscc/", "/00/"),
    ("/gdti/", "/253/"),
    ("/ginc/", "/401/"),
    ("/gsin/", "/402/"),
    ("/grai/", "/8003/"),
    ("/giai/", "/8004/"),
    ("/cpv/", "/22/"),
    ("/lot/", "/10/"),
    ("/ser/", "/21/"),
)
# "id.gs1.org" with bare dots, as the reference matches it.
_CANONICAL_HOST: Final = re.compile(
    r"https://id.gs1.org/(01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)/"
    r"(\d{4}[^/]+)(/[^/]+/[^/]+)?/?(\?([^?\n]*))?(#([^\n]*))?|(/[A-Za-z_-]{10}$)"
)
_HOST_KEYS: Final = (
    "00",
    "01",
    "253",
    "255",
    "401",
    "402",
    "414",
    "417",
    "8003",
    "8004",
    "8006",
    "8010",
    "8017",
    "8018",
)
_GTIN_DIGITS: Final = re.compile(r"https://id.gs1.org/01/(\d+)")
_C: Final = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_CS: Final = r"[\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_CPV: Final = re.compile(rf"https://id.gs1.org/(?:8006/\d{{18}}|01/\d{{14}})/22/{_C}{{0,20}}$")
_CPV_PATH: Final = re.compile(
    rf"https://id.gs1.org/(?:8006/\d{{18}}|01/\d{{14}})/22/{_CS}{{0,20}}$"
)
_LOT_AND_SERIAL: Final = re.compile(
    rf"https://id.gs1.org/(?:8006/\d{{18}}|01/\d{{14}})/10/{_C}{{0,20}}/21/{_C}{{0,20}}$"
)
_CPI_C: Final = r"[\x23\x2D\x2F\x30-\x39\x41-\x5A]"
_FINEST_KEY: Final = re.compile(
    r"https://id.gs1.org/(?:"
    r"00/\d{18}"
    rf"|01/\d{{14}}(?:/21/{_C}{{0,20}}|/10/{_C}{{0,20}}|/235/{_C}{{0,28}})?"
    rf"|253/\d{{13}}{_C}{{0,17}}"
    r"|255/\d{13}\d{0,12}"
    rf"|401/{_C}{{0,30}}"
    r"|402/\d{17}"
    rf"|414/\d{{13}}(?:/254/{_C}{{0,20}})?"
    r"|417/\d{13}"
    rf"|8003/\d{{14}}{_C}{{0,16}}"
    rf"|8004/{_C}{{0,30}}"
    rf"|8006/\d{{18}}(?:/21/{_C}{{0,20}}|/10/{_C}{{0,20}})?"
    rf"|8010/{_CPI_C}{{0,30}}(?:/8011/\d{{0,12}})?"
    r"|8017/\d{18}"
    r"|8018/\d{18}"
    r")$"
)


def _from_web(uri: str) -> str | None:
    """Any Digital Link: id.gs1.org host, no query, aliases as AIs, the finest key only."""
    if _WEB_URI.match(uri) is None:
        return None
    uri = uri.split("?", 1)[0]
    for alias, ai in _ALIASES:
        uri = uri.replace(alias, ai)
    if _CANONICAL_HOST.match(uri) is None:
        for ai in _HOST_KEYS:
            at = uri.find(f"/{ai}/")
            if at != -1:
                uri = "https://id.gs1.org" + uri[at:]
                break
    uri = _pad_gtin(uri)
    uri = _drop_cpv(uri)
    if _LOT_AND_SERIAL.match(uri):
        lot = uri.find("/10/")
        after = uri[lot + 4 :]
        uri = uri[:lot] + after[after.find("/") :]
    return uri if _FINEST_KEY.match(uri) else None


def _pad_gtin(uri: str) -> str:
    """GTIN-8, -12 and -13 written as GTIN-14."""
    digits = _GTIN_DIGITS.match(uri)
    if digits is None or len(digits.group(1)) >= 14:
        return uri
    for length, zeros in ((13, "0"), (12, "00"), (8, "000000")):
        if len(digits.group(1)) >= length:
            return uri.replace("/01/", "/01/" + zeros)
    return uri


def _drop_cpv(uri: str) -> str:
    """A consumer product variant (AI 22) does not name a different item."""
    at = uri.find("/22/")
    after = uri[at + 4 :]
    if _CPV.match(uri):
        return uri[:at]
    if _CPV_PATH.match(uri):
        return uri[:at] + after[after.find("/") :]
    return uri
