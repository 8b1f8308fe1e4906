"""Import a partner's EPCIS 2.0 document: check it whole, pack it into `supply.epcis` batches.

Client side and pure: the same mapping the `supply.epcis` handler runs (feed.py), with a
resolver of party URIs the client builds from the directory. A document any of whose
events cannot be mapped is refused whole, each bad event named with its reason; a good
one is split, in order, into bounded transactions, and each event's fate is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from typing import Any

from healthledger.crypto.canonical import canonical_bytes
from healthledger.domains.governance.queries import org_capabilities, org_role
from healthledger.domains.supply import epcis, feed, observations
from healthledger.domains.supply.errors import (
    EventAlreadyApplied,
    MayNotSend,
    NotRecorder,
    RepeatedEvent,
    UnknownOrg,
)
from healthledger.domains.supply.event_hash import document_prefixes
from healthledger.domains.supply.state import NAMESPACE
from healthledger.errors import ErrorCode, InvalidField, LedgerError, TooLarge
from healthledger.ledger.context import Actor, StateReader
from healthledger.ledger.transaction import MAX_TX_BYTES

# What an error declaration becomes (feed.plan_event): it records nothing of its own.
DECLARATIONS = (feed.ERROR_DECLARATION, feed.DECLARATION_ATTESTED)
# Events one dry-run check maps (each is hashed and mapped: bounded work per request).
MAX_CHECK_EVENTS = 10_000
# Room left in a transaction for its envelope (type, sender, nonce, signature, keys).
_ENVELOPE_BYTES = 1024


@dataclass(frozen=True)
class EventReport:
    """What one event of a document became, or why it was refused."""

    index: int
    event_id: str | None
    became: str | None  # custody:<action>, transaction, sensor, transform, observation ...
    tx_id: str | None = None
    error: str | None = None
    code: str | None = None

    def wire(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "event_id": self.event_id,
            "became": self.became,
            "tx_id": self.tx_id,
            "error": self.error,
            "code": self.code,
        }


@dataclass(frozen=True)
class CheckedDocument:
    """A document checked whole: its events as payload texts and each event's report."""

    texts: list[str]
    reports: list[EventReport]
    context: dict[str, str]

    @property
    def ok(self) -> bool:
        return all(report.error is None for report in self.reports)


def check_document(
    document: Any, org_of_party: Callable[[str], str], sender: str
) -> CheckedDocument:
    """Map every event of `document` as `sender` would submit it; never stops at the first
    bad event, so the report names them all. Envelope errors raise."""
    bodies = epcis.event_list(document)
    context = _prefixes(document)
    texts: list[str] = []
    reports: list[EventReport] = []
    for index, body in enumerate(bodies):
        text, report = _check_event(index, body, org_of_party, sender, context)
        texts.append(text)
        reports.append(report)
    return CheckedDocument(texts, _without_repeats(reports), context)


def _without_repeats(reports: list[EventReport]) -> list[EventReport]:
    """Refuse an event met before in the document: the handler would refuse its whole
    transaction. A declaration shares its event's hash (errorDeclaration is not hashed)."""
    first: dict[str, int] = {}
    kept: list[EventReport] = []
    for report in reports:
        event_id = report.event_id
        if report.error is None and event_id is not None and report.became not in DECLARATIONS:
            if event_id in first:
                report = _refused(report, RepeatedEvent(event_id, first[event_id]))
            first.setdefault(event_id, report.index)
        kept.append(report)
    return kept


def _prefixes(document: Mapping[str, Any]) -> dict[str, str]:
    prefixes = document_prefixes(document)
    if len(prefixes) > feed.MAX_PREFIXES:
        raise TooLarge(f"EPCIS document: @context declares more than {feed.MAX_PREFIXES} prefixes")
    for prefix, namespace in prefixes.items():
        if not (0 < len(prefix) <= 64 and 0 < len(namespace) <= 512):
            raise InvalidField(f"EPCIS document: @context prefix {prefix[:64]!r} is too long")
        try:
            feed.check_prefix(prefix)
        except ValueError as exc:
            raise InvalidField(f"EPCIS document: {exc}") from None
    return prefixes


def _check_event(
    index: int,
    body: Any,
    org_of_party: Callable[[str], str],
    sender: str,
    context: Mapping[str, str],
) -> tuple[str, EventReport]:
    """The event's payload text ("" when it has none) and its report."""
    event_id, text = None, ""
    try:
        if not isinstance(body, dict):
            raise LedgerError(f"event {index}: expected a JSON object", ErrorCode.MALFORMED)
        # Inside the try: an infinity (1e999 read as a float) cannot be written as JSON.
        text = feed.event_text(body)
        _check_text(index, text)
        body = feed.parse_event_text(text)
        plan = feed.plan_event(index, body, org_of_party, sender, context)
        event_id = plan.event_id
        return text, EventReport(index, event_id, "+".join(plan.kinds))
    except LedgerError as exc:
        return text, EventReport(index, event_id, None, error=exc.message, code=str(exc.code))
    except ValueError as exc:  # not JSON (out of range numbers), too deep
        report = EventReport(index, event_id, None, error=f"event {index}: {exc}", code="malformed")
        return text, report


def _check_text(index: int, text: str) -> None:
    size, most = len(text.encode()), min(feed.MAX_EVENT_CHARS, _room())
    if size > most:
        message = f"event {index}: {size} bytes as JSON; one event may have {most}"
        raise LedgerError(message, ErrorCode.TOO_LARGE)


def _room() -> int:
    return MAX_TX_BYTES - _ENVELOPE_BYTES


def batches(checked: CheckedDocument, max_events: int = feed.MAX_EVENTS) -> list[list[int]]:
    """The events' indexes packed in order into payloads that fit one transaction each."""
    room = _room() - len(canonical_bytes(checked.context))
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index, text in enumerate(checked.texts):
        # The text's own bytes as a JSON string in the canonical payload, and a comma.
        cost = len(canonical_bytes(text)) + 1
        if current and (size + cost > room or len(current) == max_events):
            groups.append(current)
            current, size = [], 0
        current.append(index)
        size += cost
    if current:
        groups.append(current)
    return groups


def payload_of(checked: CheckedDocument, group: Sequence[int]) -> dict[str, Any]:
    """The `supply.epcis` payload of a group of a checked document's events."""
    return {"events": [checked.texts[index] for index in group], "context": checked.context}


def check_on_ledger(
    state: StateReader, document: Any, org: str, senders: feed.Senders
) -> CheckedDocument:
    """`check_document` for `org` against a ledger snapshot: parties resolved by the
    ledger, the senders' rules checked, events already applied by `org` refused, and an
    observation its actor already submitted reported as confirmed."""
    role = org_role(state, org)
    if role is None:
        raise UnknownOrg(org)
    if len(epcis.event_list(document)) > MAX_CHECK_EVENTS:
        raise TooLarge(f"a document checked at once has at most {MAX_CHECK_EVENTS:,} events")
    checked = check_document(document, feed.member_resolver(state), org)
    # The organisation signing for itself, as the permission check would see it.
    granted = frozenset(org_capabilities(state, org))
    actor = Actor(key_id="", kind="org", id=org, org=org, role=role, capabilities=granted)
    # Events this document records before each one: the import applies them in order, so an
    # error declaration may name an event sent earlier in the same document.
    earlier: set[str] = set()
    reports: list[EventReport] = []
    for report in checked.reports:
        if report.error is None:
            report = _against_state(state, report, actor, senders, earlier)
        if report.error is None and report.became not in DECLARATIONS and report.event_id:
            earlier.add(report.event_id)
        reports.append(report)
    return CheckedDocument(checked.texts, reports, checked.context)


def _against_state(
    state: StateReader,
    report: EventReport,
    actor: Actor,
    senders: feed.Senders,
    earlier: Set[str],
) -> EventReport:
    event_id, org = report.event_id or "", actor.id
    became = report.became or ""
    for kind in became.split("+"):
        tx_type = feed.tx_type_of(kind)
        if tx_type is not None and not feed.may_send(actor, senders.get(tx_type, frozenset())):
            return _refused(report, MayNotSend(actor.permission, tx_type))
    recorded = event_id in earlier or (
        state.raw(NAMESPACE, observations.event_key(event_id, org)) is not None
    )
    if became in DECLARATIONS:
        return report if recorded else _refused(report, NotRecorder(event_id, org))
    if recorded:
        return _refused(report, EventAlreadyApplied(event_id, org))
    observation = state.load(
        NAMESPACE, observations.observation_key(event_id), observations.Observation
    )
    if became == "observation attested" and observation is not None:
        return replace(report, became=f"observation {observation.status}")
    return report


def _refused(report: EventReport, exc: LedgerError) -> EventReport:
    message = f"event {report.index}: {exc.message}"
    return replace(report, became=None, error=message, code=str(exc.code))
