"""The supply domain's errors: each carries the values it names and builds its message.

Messages of failed transactions are hashed into blocks: their text is fixed here.
"""

from __future__ import annotations

from typing import NoReturn

from healthledger.errors import (
    AlreadyExists,
    Conflict,
    ErrorCode,
    InvalidField,
    InvalidState,
    LedgerError,
    NotFound,
    Unauthorized,
)


class TooLarge(LedgerError):
    code = ErrorCode.TOO_LARGE


class Cycle(LedgerError):
    code = ErrorCode.CYCLE


# --- bounds (principle 6: no transaction's work depends on the attacker) ------------------


class NestedTooDeep(TooLarge):
    def __init__(self, max_depth: int) -> None:
        super().__init__(f"containers nest deeper than {max_depth} levels")


class TooManyMoved(TooLarge):
    def __init__(self, max_moved: int) -> None:
        super().__init__(f"more than {max_moved} items in one transaction: split it")


class ContainerTooFull(TooLarge):
    def __init__(self, max_moved: int) -> None:
        super().__init__(f"a container holds at most {max_moved} items")


class HistoryFull(TooLarge):
    def __init__(self, item: str, steps: int) -> None:
        self.item, self.steps = item, steps
        super().__init__(f"{item} has {steps} custody steps: it starts no more")


class TooManyRangeRecalls(TooLarge):
    def __init__(self, gtin: str, max_ranges: int) -> None:
        self.gtin = gtin
        super().__init__(
            f"{gtin} has {max_ranges} serial-range recalls in force: recall whole lots instead"
        )


# --- containers that would stop being a tree --------------------------------------------


class ReachedTwice(Cycle):
    def __init__(self, item: str) -> None:
        self.item = item
        super().__init__(f"{item} is reached twice inside these containers")


class HoldsItself(Cycle):
    def __init__(self) -> None:
        super().__init__("a container cannot hold itself")


class InsideItems(Cycle):
    def __init__(self, sscc: str) -> None:
        self.sscc = sscc
        super().__init__(f"{sscc} is inside one of the items to pack")


# --- who may act ----------------------------------------------------------------------


class NotAnOrganisation(Unauthorized):
    def __init__(self) -> None:
        super().__init__("only an organisation or its staff may do this")


class NotHolder(Unauthorized):
    """`item` is held by `holder`; `actor`, when named, is who tried to move it."""

    def __init__(self, item: str, holder: str, actor: str | None = None) -> None:
        self.item, self.holder, self.actor = item, holder, actor
        tail = "" if actor is None else f", not {actor}"
        super().__init__(f"{item} is held by {holder}{tail}")


class ContainerHeldBy(Unauthorized):
    def __init__(self, sscc: str, holder: str) -> None:
        self.sscc, self.holder = sscc, holder
        super().__init__(f"SSCC {sscc} is held by {holder}")


class ProductOfAnother(Unauthorized):
    def __init__(self, gtin: str, manufacturer: str) -> None:
        self.gtin, self.manufacturer = gtin, manufacturer
        super().__init__(f"GTIN {gtin} belongs to {manufacturer}")


class NotDispenser(Unauthorized):
    def __init__(self, org: str) -> None:
        self.org = org
        super().__init__(f"{org} does not dispense")


class NotRecaller(Unauthorized):
    def __init__(self, manufacturer: str) -> None:
        self.manufacturer = manufacturer
        super().__init__(f"only {manufacturer} or a regulator may recall it")


class NotNotified(Unauthorized):
    def __init__(self, org: str, recall_id: str) -> None:
        self.org, self.recall_id = org, recall_id
        super().__init__(f"{org} was not asked to act on {recall_id}")


# --- what does not exist ----------------------------------------------------------------


class UnknownPackage(NotFound):
    def __init__(self, gtin: str, serial: str) -> None:
        self.gtin, self.serial = gtin, serial
        super().__init__(f"unknown package {gtin}:{serial}")


class UnknownContainer(NotFound):
    def __init__(self, sscc: str) -> None:
        self.sscc = sscc
        super().__init__(f"unknown container {sscc}")


class UnknownLot(NotFound):
    def __init__(self, gtin: str, lot: str) -> None:
        self.gtin, self.lot = gtin, lot
        super().__init__(f"unknown lot {lot} of {gtin}")


class RecallOfUnknownLot(NotFound):
    def __init__(self, gtin: str, lot: str) -> None:
        self.gtin, self.lot = gtin, lot
        super().__init__(f"lot {lot} of {gtin} is unknown")


class UnknownProduct(NotFound):
    def __init__(self, gtin: str) -> None:
        self.gtin = gtin
        super().__init__(f"GTIN {gtin} was never commissioned")


class UnknownRecall(NotFound):
    def __init__(self, recall_id: str) -> None:
        self.recall_id = recall_id
        super().__init__(f"no recall {recall_id}")


class NotTradingPartner(NotFound):
    def __init__(self, org: str) -> None:
        self.org = org
        super().__init__(f"{org} is not an active trading partner")


# --- state that does not allow the step -------------------------------------------------


class WrongStatus(InvalidState):
    """The item is dispensed, destroyed, exported or in transit."""

    def __init__(self, item: str, status: str) -> None:
        self.item, self.status = item, status
        super().__init__(f"{item} is {status}")


class Quarantined(InvalidState):
    def __init__(self, item: str, by_regulator: bool = True) -> None:
        self.item, self.by_regulator = item, by_regulator
        # The regulator's wording is kept as it was: results of old blocks replay the same.
        holder = "a regulator" if by_regulator else "a temperature excursion (supply excursions)"
        super().__init__(f"{item} is quarantined by {holder}")


class Recalled(InvalidState):
    def __init__(self, item: str) -> None:
        self.item = item
        super().__init__(f"{item} is recalled: it can only be returned")


class Suspect(InvalidState):
    def __init__(self, item: str) -> None:
        self.item = item
        super().__init__(f"{item} is suspect: it must not be dispensed")


class AlreadyDispensed(InvalidState):
    def __init__(self, item: str) -> None:
        self.item = item
        super().__init__(f"{item} was already dispensed")


class NotShippedTo(InvalidState):
    def __init__(self, item: str, receiver: str) -> None:
        self.item, self.receiver = item, receiver
        super().__init__(f"{item} was not shipped to {receiver}")


class NotActiveContainer(InvalidState):
    def __init__(self, sscc: str, owner: str) -> None:
        self.sscc, self.owner = sscc, owner
        super().__init__(f"{sscc} is not an active container held by {owner}")


class EmptyContainer(InvalidState):
    def __init__(self, sscc: str) -> None:
        self.sscc = sscc
        super().__init__(f"{sscc} is empty")


class PackedIn(Conflict):
    """An item inside a container moves only with it (or after unpacking)."""

    def __init__(self, item: str, container: str, hint: bool = True) -> None:
        self.item, self.container = item, container
        super().__init__(
            f"{item} is packed in {container}" + (": move or unpack that" if hint else "")
        )


class LotExpiryConflict(Conflict):
    def __init__(self, lot: str, expiry: str) -> None:
        self.lot, self.expiry = lot, expiry
        super().__init__(f"lot {lot} has expiry {expiry}")


class DuplicateItem(Conflict):
    def __init__(self) -> None:
        super().__init__("an item is named twice")


class DuplicateSerial(Conflict):
    def __init__(self) -> None:
        super().__init__("a serial appears twice in this commissioning")


class LotAlreadyRecalled(Conflict):
    def __init__(self, gtin: str, lot: str) -> None:
        self.gtin, self.lot = gtin, lot
        super().__init__(f"lot {lot} of {gtin} is already recalled")


class AlreadyAcknowledged(Conflict):
    def __init__(self, org: str, recall_id: str) -> None:
        self.org, self.recall_id = org, recall_id
        super().__init__(f"{org} already acknowledged {recall_id}")


class SerialExists(AlreadyExists):
    def __init__(self, gtin: str, serial: str) -> None:
        self.gtin, self.serial = gtin, serial
        super().__init__(f"serial {serial} of {gtin} already exists")


class ContainerInUse(AlreadyExists):
    def __init__(self, sscc: str) -> None:
        self.sscc = sscc
        super().__init__(f"SSCC {sscc} already holds items")


class ShipToSelf(InvalidField):
    def __init__(self) -> None:
        super().__init__("an organisation cannot ship to itself")


class RecallScope(InvalidField):
    def __init__(self) -> None:
        super().__init__("recall either a lot, or a serial range (serial_from and serial_to)")


# --- EPCIS event hash (event_hash.py) ---------------------------------------------------


class EventTooDeep(TooLarge):
    def __init__(self, max_depth: int) -> None:
        super().__init__(f"an EPCIS event nests deeper than {max_depth} levels")


class EventTooLarge(TooLarge):
    def __init__(self, max_chars: int) -> None:
        super().__init__(f"an EPCIS event holds more than {max_chars} characters")


class EventUnhashable(InvalidField):
    def __init__(self, why: str) -> None:
        super().__init__(f"an EPCIS event cannot be hashed: {why}")


# --- parties by GS1 identifiers (GLNs) ----------------------------------------------------


class UnknownParty(LedgerError):
    """A party or location whose GLN no organisation has registered through governance."""

    code = ErrorCode.UNKNOWN_PARTY

    def __init__(self, gln: str, uri: str) -> None:
        super().__init__(f"GLN {gln} (from {uri}) is not registered to any organisation")
        self.gln, self.uri = gln, uri


# --- transformations (transform.py) -----------------------------------------------------


class TransformationOfAnother(Unauthorized):
    def __init__(self, transformation: str, org: str) -> None:
        self.transformation, self.org = transformation, org
        super().__init__(f"transformation {transformation} belongs to {org}")


class TransformationExists(AlreadyExists):
    def __init__(self, transformation: str) -> None:
        self.transformation = transformation
        super().__init__(f"transformation {transformation} is already recorded")


class UnknownTransformation(NotFound):
    def __init__(self, transformation: str) -> None:
        self.transformation = transformation
        super().__init__(f"unknown transformation {transformation}")


class EmptyTransformation(InvalidField):
    def __init__(self) -> None:
        super().__init__(
            "a transformation consumes inputs and produces outputs (one side alone only"
            " when it joins a transformation_id)"
        )


class TransformationFull(TooLarge):
    def __init__(self, transformation: str, what: str, limit: int) -> None:
        self.transformation = transformation
        super().__init__(f"transformation {transformation} would exceed {limit} {what}")


class TooManyOutputs(TooLarge):
    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} output serials in one transformation step: split it")


# --- cold chain (coldchain.py) ------------------------------------------------------------


class NotManufacturerOf(Unauthorized):
    """Only the manufacturer of a GTIN sets its range or resolves its excursions."""

    def __init__(self, gtin: str, manufacturer: str, actor: str) -> None:
        self.gtin, self.manufacturer, self.actor = gtin, manufacturer, actor
        super().__init__(f"GTIN {gtin} belongs to {manufacturer}, not {actor}")


class NotCustodian(Unauthorized):
    """A sensor report names only what the reporter holds or has in transit to it."""

    def __init__(self, item: str, holder: str, actor: str) -> None:
        self.item, self.holder, self.actor = item, holder, actor
        super().__init__(
            f"{item} is held by {holder}: {actor} may report on it only as its holder, "
            "its receiver in transit, or a regulator or inspector"
        )


class UnknownExcursion(NotFound):
    def __init__(self, number: int) -> None:
        self.number = number
        super().__init__(f"no excursion {number}")


class ExcursionResolved(InvalidState):
    def __init__(self, number: int, status: str) -> None:
        self.number, self.status = number, status
        super().__init__(f"excursion {number} is already {status}")


class TooManyOpenExcursions(TooLarge):
    def __init__(self, item: str, bound: int) -> None:
        self.item = item
        super().__init__(f"{item} is under {bound} open excursions: resolve some first")


class UnknownSensorReport(NotFound):
    def __init__(self, number: int) -> None:
        self.number = number
        super().__init__(f"no sensor report {number}")


class NoRange(NotFound):
    def __init__(self, gtin: str) -> None:
        self.gtin = gtin
        super().__init__(f"GTIN {gtin} has no allowed temperature range")


# --- transaction information and statements (DSCSA TI/TS) --------------------------------


class UnknownStatement(InvalidField):
    def __init__(self, statement: str) -> None:
        self.statement = statement
        super().__init__(
            f"statement {statement} is not the SHA-256 of the DSCSA transaction statement"
        )


class TransactionToSelf(InvalidField):
    def __init__(self) -> None:
        super().__init__("an organisation cannot sell to itself")


class DuplicateBizTransaction(Conflict):
    def __init__(self, kind: str, ref: str) -> None:
        self.kind, self.ref = kind, ref
        super().__init__(f"business transaction {kind} {ref} is named twice")


class DuplicateLine(Conflict):
    def __init__(self, gtin: str, lot: str) -> None:
        self.gtin, self.lot = gtin, lot
        super().__init__(f"lot {lot} of {gtin} is on two lines")


class BizTransactionExists(AlreadyExists):
    def __init__(self, seller: str, kind: str, ref: str, ti_id: str) -> None:
        self.seller, self.kind, self.ref, self.ti_id = seller, kind, ref, ti_id
        super().__init__(f"{seller} already recorded {kind} {ref} (in {ti_id})")


class NoTransactionLines(InvalidField):
    def __init__(self) -> None:
        super().__init__("transaction information names products: give lines or items")


class TooManyLines(TooLarge):
    def __init__(self, max_lines: int) -> None:
        super().__init__(f"transaction information holds at most {max_lines} lines")


class UnknownBizTransaction(NotFound):
    """None of the business transactions named is one of the shipper's own."""

    def __init__(self, seller: str, kind: str, ref: str) -> None:
        self.seller, self.kind, self.ref = seller, kind, ref
        super().__init__(f"{seller} recorded no transaction information with {kind} {ref}")


class UnknownTransaction(NotFound):
    def __init__(self, ti_id: str) -> None:
        self.ti_id = ti_id
        super().__init__(f"no transaction information {ti_id}")


class BizTransactionsDisagree(Conflict):
    def __init__(self, first: str, second: str) -> None:
        self.first, self.second = first, second
        super().__init__(f"the business transactions name two transactions: {first} and {second}")


class BuyerMismatch(InvalidField):
    def __init__(self, ti_id: str, buyer: str, receiver: str) -> None:
        self.ti_id, self.buyer, self.receiver = ti_id, buyer, receiver
        super().__init__(f"{ti_id} sells to {buyer}, not to {receiver}")


class TransactionHistoryFull(TooLarge):
    def __init__(self, item: str, entries: int) -> None:
        self.item, self.entries = item, entries
        super().__init__(f"{item} has travelled under {entries} transactions: it takes no more")


# --- EPCIS feeds (supply.epcis) ---------------------------------------------------------


class BadEventId(InvalidField):
    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(f"event id {event_id!r}: expected ni:///sha-256;<64 hex>?ver=CBV2.0")


class EventAlreadyApplied(AlreadyExists):
    def __init__(self, event_id: str, org: str) -> None:
        self.event_id, self.org = event_id, org
        super().__init__(f"{event_id} was already applied by {org}")


class NotRecorder(Unauthorized):
    def __init__(self, event_id: str, org: str) -> None:
        self.event_id, self.org = event_id, org
        super().__init__(
            f"{org} neither recorded nor attested {event_id}: only they may declare it erroneous"
        )


class AlreadyDeclared(Conflict):
    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(f"{event_id} is already declared erroneous")


class MayNotSend(Unauthorized):
    def __init__(self, permission: str, tx_type: str) -> None:
        self.permission, self.tx_type = permission, tx_type
        super().__init__(f"{permission} may not send {tx_type}, which this event would be")


class UnknownOrg(NotFound):
    def __init__(self, org: str) -> None:
        self.org = org
        super().__init__(f"organisation {org!r} is not a member")


class EventIdFromEpcisOnly(InvalidField):
    """`event_id` is the hash of a raw EPCIS event, which only supply.epcis carries."""

    def __init__(self, tx_type: str) -> None:
        self.tx_type = tx_type
        super().__init__(
            f"{tx_type} takes no event_id: it is set by supply.epcis, from the event it carries"
        )


# --- mapping EPCIS events to typed payloads (ti, coldchain, transform, feed) --------------


def fail_event(
    index: int, field: str, message: str, code: ErrorCode = ErrorCode.INVALID_FIELD
) -> NoReturn:
    """Refuse event `index` of a document for its `field`: `event {index}: {field}: ...`."""
    raise LedgerError(f"event {index}: {field}: {message}", code)


class RepeatedEvent(AlreadyExists):
    """A document names the same event twice (same hash); the ledger records it once."""

    def __init__(self, event_id: str, first: int) -> None:
        self.event_id, self.first = event_id, first
        super().__init__(f"{event_id} is event {first} again")


class TooManyObservations(TooLarge):
    """A package's, container's or lot's history reads a bounded number of event links:
    one organisation may not fill them with observations of its own making."""

    def __init__(self, org: str, item: str, most: int) -> None:
        self.org, self.item, self.most = org, item, most
        super().__init__(f"{org} already anchored {most} observations naming {item}")
