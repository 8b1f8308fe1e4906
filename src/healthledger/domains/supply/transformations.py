"""Transformations' records and keys, and their read side (the handler is in transform.py).

A transformation (EPCIS 2.0 TransformationEvent: repackaging, kitting, compounding)
consumes packages and produces new ones. Its record `xform/<id>` lists, per step (one
transaction or one EPCIS event each), the inputs named and the outputs commissioned;
each consumed item has `xform_in/<item>` and each output `xform_out/<gtin>/<serial>`
naming the transformation and step, so the link is kept both ways. These are new keys:
no existing record changes shape.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from healthledger.domains.kit import LedgerReader, ProvenValue
from healthledger.domains.supply import errors as e
from healthledger.domains.supply.events import is_container, split_package_id
from healthledger.domains.supply.state import NAMESPACE
from healthledger.domains.supply.views import TransformLinkView
from healthledger.ledger.context import StateModel

# A transformation's id: an EPCIS transformationID (a URI, so it has a scheme and a colon),
# or one the ledger makes ("xf-" and 16 hex digits, no colon: never a partner's URI).
MAX_TRANSFORMATION_ID = 200
TRANSFORMATION_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*:[!-~]+$"
GENERATED_PREFIX = "xf-"
# A history names at most this many linked packages; the transformation's own read lists all.
LINKED_SHOWN = 100


def transformation_key(transformation_id: str) -> str:
    return f"xform/{transformation_id}"


def consumed_key(item: str) -> str:
    """What consumed a package `gtin:serial` or a container (SSCC)."""
    if is_container(item):
        return f"xform_in/{item}"
    gtin, serial = split_package_id(item)
    return f"xform_in/{gtin}/{serial}"


def produced_key(gtin: str, serial: str) -> str:
    return f"xform_out/{gtin}/{serial}"


def is_generated(transformation_id: str) -> bool:
    """Made by the ledger (no partner's transformationID): exported without one."""
    return ":" not in transformation_id


class TransformPart(StateModel):
    """One step of a transformation: one transaction, or one EPCIS event of one."""

    height: int
    tx_id: str
    event_id: str | None  # the EPCIS event hash, when the step records a partner's event
    inputs: tuple[str, ...]  # as named: packages `gtin:serial` and SSCCs
    outputs: tuple[str, ...]  # packages `gtin:serial`, commissioned by the step
    consumed: int  # packages consumed, the contents of named containers included
    # The outputs' lot and expiry when they share one (always, from an EPCIS event: its ILMD).
    lot: str | None
    expiry: str | None


class Transformation(StateModel):
    id: str
    org: str
    parts: tuple[TransformPart, ...]

    @property
    def inputs(self) -> list[str]:
        return [item for part in self.parts for item in part.inputs]

    @property
    def outputs(self) -> list[str]:
        return [item for part in self.parts for item in part.outputs]


class TransformLink(StateModel):
    """Which transformation, and which of its steps, consumed or produced an item."""

    transformation: str
    part: int


# --- reads -----------------------------------------------------------------------------


class TransformationParams(BaseModel):
    id: str = Field(min_length=1, max_length=MAX_TRANSFORMATION_ID)


class TransformationAnswer(BaseModel):
    """A transformation: what it consumed and produced, with the proof of its record."""

    model_config = {"frozen": True}

    id: str
    org: str
    inputs: list[str] = Field(description="items consumed, as named (packages and SSCCs)")
    outputs: list[str] = Field(description="packages produced")
    parts: list[TransformPart]
    proof: ProvenValue = Field(description="the record `xform/<id>`, proven against a header")


def load_transformation(reader: LedgerReader, transformation_id: str) -> Transformation | None:
    return reader.state.load(NAMESPACE, transformation_key(transformation_id), Transformation)


def transformation(reader: LedgerReader, params: TransformationParams) -> TransformationAnswer:
    """A transformation's record as proven; the answer's lists are read from that record."""
    proof = reader.proven(NAMESPACE, transformation_key(params.id))
    if proof.raw_value is None:
        raise e.UnknownTransformation(params.id)
    record = Transformation.model_validate_json(proof.raw_value)
    return TransformationAnswer(
        id=record.id,
        org=record.org,
        inputs=record.inputs,
        outputs=record.outputs,
        parts=list(record.parts),
        proof=proof,
    )


def package_links(
    reader: LedgerReader, gtin: str, serial: str
) -> tuple[TransformLinkView | None, TransformLinkView | None]:
    """(consumed by: the outputs it became, produced by: the inputs it came from)."""
    item = f"{gtin}:{serial}"
    consumed = reader.state.load(NAMESPACE, consumed_key(item), TransformLink)
    produced = reader.state.load(NAMESPACE, produced_key(gtin, serial), TransformLink)
    return (
        None if consumed is None else _link_view(reader, consumed, outputs=True),
        None if produced is None else _link_view(reader, produced, outputs=False),
    )


def _link_view(reader: LedgerReader, link: TransformLink, outputs: bool) -> TransformLinkView:
    record = load_transformation(reader, link.transformation)
    if record is None:  # never stored: a link is written with its record
        raise e.UnknownTransformation(link.transformation)
    part = record.parts[link.part]
    linked = record.outputs if outputs else record.inputs
    return TransformLinkView(
        transformation=record.id,
        org=record.org,
        height=part.height,
        event_id=part.event_id,
        items=linked[:LINKED_SHOWN],
        total=len(linked),
    )
