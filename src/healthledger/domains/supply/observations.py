"""State of imported EPCIS events: the event index, observations, error marks, links.

New keys beside the custody records (Package, Container and Lot keep their bytes): an
event id is the CBV 2.0 event hash `ni:///sha-256;<hex>?ver=CBV2.0`, keyed by its hex.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote

from healthledger.domains.supply import errors as e
from healthledger.ledger.context import StateModel

_HASH_HEX = re.compile(r"ni:///sha-256;([0-9a-f]{64})\?ver=CBV2\.0")
ObservationStatus = Literal["attested", "confirmed"]
CUSTODY = "custody:"  # the kind of an event applied as a custody step: custody:<action>
# Links read per package, container or lot when a history or an export is built.
MAX_LINKS_READ = 2000


def _hex(event_id: str) -> str:
    match = _HASH_HEX.fullmatch(event_id)
    if match is None:
        raise e.BadEventId(event_id)
    return match[1]


def event_key(event_id: str, org: str) -> str:
    """That `org` applied this event (one key per organisation: the same event twice is
    refused, and its acting organisation may confirm what others attested)."""
    return f"event/{_hex(event_id)}/{org}"


def event_prefix(event_id: str) -> str:
    return f"event/{_hex(event_id)}/"


def observation_key(event_id: str) -> str:
    return f"obs/{_hex(event_id)}"


def erroneous_key(event_id: str) -> str:
    return f"erroneous/{_hex(event_id)}"


def _segment(value: str) -> str:
    # Serials and lots may hold "/" (GS1 character set 82): escaped so a prefix scan of one
    # package never reaches another's links; "%" is escaped too, so the form is one-to-one.
    return quote(value, safe="")


def package_links_prefix(gtin: str, serial: str) -> str:
    return f"evlink/p/{gtin}/{_segment(serial)}/"


def container_links_prefix(sscc: str) -> str:
    return f"evlink/c/{sscc}/"


def lot_links_prefix(gtin: str, lot: str) -> str:
    return f"evlink/l/{gtin}/{_segment(lot)}/"


def observation_count_key(links_prefix: str, org: str) -> str:
    """How many observations `org` linked under a link prefix (outside the link scans)."""
    return f"evcount/{links_prefix.removeprefix('evlink/')}{org}"


def link_key(prefix: str, height: int, position: int, event_id: str) -> str:
    return f"{prefix}{height:012d}/{position:06d}/{_hex(event_id)}"


class EventRecord(StateModel):
    """An applied event: what it became, where its raw form is (tx, position), by whom."""

    event_id: str
    kind: str
    tx: str
    position: int
    org: str
    height: int


class EventLink(StateModel):
    """A package, container or lot was named by an applied event (new keys: the item's
    own record keeps its bytes)."""

    event_id: str
    kind: str
    tx: str
    position: int
    org: str  # who applied it
    height: int

    @property
    def custody_actions(self) -> tuple[str, ...]:
        """The custody steps the event was applied as (none for an observation)."""
        return tuple(
            kind.removeprefix("custody:")
            for kind in self.kind.split("+")
            if kind.startswith("custody:")
        )


class Quantity(StateModel):
    """A class-level quantity: EPC class, amount as exact decimal text, unit (UN/CEFACT)."""

    epc_class: str
    quantity: str | None
    uom: str | None


class Observation(StateModel):
    """An event anchored by its hash and summarised: seen and attested, not a custody move."""

    event_id: str
    type: str
    biz_step: str | None
    disposition: str | None
    action: str | None
    time_ms: int
    actor: str | None  # the acting organisation
    attested_by: str
    attesters: tuple[str, ...]
    status: ObservationStatus
    read_point: str | None
    biz_location: str | None
    packages: tuple[str, ...]
    containers: tuple[str, ...]
    lots: tuple[str, ...]  # gtin:lot
    quantities: tuple[Quantity, ...]
    tx: str
    position: int
    height: int
    confirmed_tx: str | None
    confirmed_height: int | None


class ErrorMark(StateModel):
    """An errorDeclaration of an earlier event (EPCIS 2.0 §7.4.1.2): nothing is rewritten."""

    event_id: str
    by: str
    declared_ms: int
    reason: str | None
    corrective_ids: tuple[str, ...]
    tx: str
    position: int
    height: int
    seconded_by: tuple[str, ...]  # other recorders who declared it too (bounded)
