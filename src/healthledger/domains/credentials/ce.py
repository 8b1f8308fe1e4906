"""Continuing education: a board's rule, and CE totals computed per licence cycle.

A board publishes its requirement (`credential.ce_rule`): minutes per cycle and, per
category, a minimum. Rules are versioned by the date they take effect; a cycle is judged
by the version in force when it starts. Totals are never claimed: a member's cycle with a
board is the validity period of a licence that board issued them, and its CE minutes are
the `ce_minutes` of the member's CE credentials that were active at the time asked and
whose activity date (`valid_from_ms`) falls inside the cycle.

State in the credentials namespace:

cerule/<board>        the board's rule versions, oldest first (at most MAX_RULE_VERSIONS)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from healthledger.domains.credentials import queries as q
from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.messages import CeCategory, TimeMs
from healthledger.domains.kit import Access, LedgerReader, View
from healthledger.errors import Conflict, InvalidField, TooLarge
from healthledger.ledger.context import Payload, StateModel, StateReader, TxContext

# Categories one rule names, and versions a board keeps: small, fixed walks.
MAX_CE_CATEGORIES = 16
MAX_RULE_VERSIONS = 32
# Ten years of full-time study: far beyond any board's cycle, within an int's comfort.
MAX_CE_MINUTES = 5_256_000
Minutes = Annotated[int, Field(ge=0, le=MAX_CE_MINUTES)]


# --- transaction -------------------------------------------------------------------------


class CeRuleCategory(Payload):
    """At least `min_minutes` of the cycle's CE must be of this category."""

    category: CeCategory
    min_minutes: Annotated[int, Field(ge=1, le=MAX_CE_MINUTES)]


class CeRule(Payload):
    """A board's CE requirement per licence cycle, in force from `effective_from_ms`."""

    minutes_per_cycle: Minutes
    categories: Annotated[list[CeRuleCategory], Field(max_length=MAX_CE_CATEGORIES)] = Field(
        default_factory=list
    )
    effective_from_ms: TimeMs


# --- state -------------------------------------------------------------------------------


class CategoryMinimum(StateModel):
    category: str
    min_minutes: int


class CeRuleVersion(StateModel):
    """One version of a board's rule, as published."""

    version: int
    minutes_per_cycle: int
    categories: tuple[CategoryMinimum, ...]
    effective_from_ms: int
    published_height: int
    published_ms: int


class CeRules(StateModel):
    """A board's rule versions, oldest first (`cerule/{board}`)."""

    board: str
    versions: tuple[CeRuleVersion, ...]


def rule_key(board: str) -> str:
    return f"cerule/{board}"


# --- handler -----------------------------------------------------------------------------


def publish_rule(ctx: TxContext, payload: CeRule) -> None:
    """Append a version of the sending board's rule; earlier versions stay for earlier cycles."""
    categories = _checked_categories(payload)
    board = ctx.actor.id
    rules = ctx.load(rule_key(board), CeRules) or CeRules(board=board, versions=())
    if rules.versions and payload.effective_from_ms <= rules.versions[-1].effective_from_ms:
        last = rules.versions[-1].effective_from_ms
        raise Conflict(
            f"a new version of {board}'s CE rule takes effect after the last one ({last})"
        )
    if len(rules.versions) >= MAX_RULE_VERSIONS:
        raise TooLarge(f"{board} already has {MAX_RULE_VERSIONS} CE rule versions")
    version = CeRuleVersion(
        version=len(rules.versions) + 1,
        minutes_per_cycle=payload.minutes_per_cycle,
        categories=categories,
        effective_from_ms=payload.effective_from_ms,
        published_height=ctx.block.height,
        published_ms=ctx.block.time_ms,
    )
    ctx.store(rule_key(board), rules.model_copy(update={"versions": (*rules.versions, version)}))
    ctx.emit("credential.ce_rule", board=board, version=version.version)


def _checked_categories(payload: CeRule) -> tuple[CategoryMinimum, ...]:
    names = [c.category for c in payload.categories]
    if len(set(names)) != len(names):
        raise InvalidField("a CE category is named twice")
    for c in payload.categories:
        if c.min_minutes > payload.minutes_per_cycle:
            raise InvalidField(f"category {c.category} asks for more minutes than the whole cycle")
    return tuple(
        CategoryMinimum(category=c.category, min_minutes=c.min_minutes)
        for c in sorted(payload.categories, key=lambda c: c.category)
    )


# --- reads -------------------------------------------------------------------------------


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True)


def rules_of(state: StateReader, board: str) -> CeRules | None:
    return state.load(st.NAMESPACE, rule_key(board), CeRules)


def rule_in_force(rules: CeRules | None, time_ms: int) -> CeRuleVersion | None:
    """The version that took effect last at or before `time_ms`, or None."""
    found = None
    for version in () if rules is None else rules.versions:
        if version.effective_from_ms <= time_ms:
            found = version
    return found


class CategoryTotal(_Reply):
    category: str
    minutes: int
    min_minutes: int | None = Field(description="the rule's minimum (null: not required)")
    shortfall: int


class CeCycle(_Reply):
    """A member's CE in one licence cycle with a board, against the board's rule."""

    board: str
    licence: str = Field(description="the licence whose validity period is the cycle")
    licence_status: st.Status
    start_ms: int
    end_ms: int | None = Field(description="exclusive; null when the licence has no end")
    rule_version: int | None = Field(description="the rule in force at the start (null: none)")
    minutes: int
    required_minutes: int | None
    shortfall: int = Field(description="minutes still missing overall (0 when met)")
    categories: list[CategoryTotal]
    credentials: list[str] = Field(description="the CE credentials counted")
    compliant: bool | None = Field(description="null when the board published no rule")


def ce_cycles(state: StateReader, member: str, at_ms: int) -> list[CeCycle]:
    """Every licence cycle of the member, in file order, with CE counted at `at_ms`."""
    anchors = [a for a in _anchors(state, member) if a is not None]
    ce = [a for a in anchors if a.type == "ce" and q.status_at(a, at_ms) == st.ACTIVE]
    rules: dict[str, CeRules | None] = {}
    cycles = []
    for licence in anchors:
        if licence.type != "licence":
            continue
        if licence.issuer not in rules:
            rules[licence.issuer] = rules_of(state, licence.issuer)
        rule = rule_in_force(rules[licence.issuer], licence.valid_from_ms)
        cycles.append(cycle_of(licence, rule, ce))
    return cycles


def cycle_of(
    licence: st.CredentialAnchor, rule: CeRuleVersion | None, ce: Sequence[st.CredentialAnchor]
) -> CeCycle:
    """One cycle's totals: pure, over the CE credentials already chosen as active."""
    start, end = licence.valid_from_ms, licence.valid_until_ms
    counted = [a for a in ce if start <= a.valid_from_ms and (end is None or a.valid_from_ms < end)]
    per_category: dict[str, int] = {}
    for a in counted:
        category = a.ce_category or ""
        per_category[category] = per_category.get(category, 0) + (a.ce_minutes or 0)
    total = sum(per_category.values())
    minimums = {} if rule is None else {c.category: c.min_minutes for c in rule.categories}
    categories = [
        CategoryTotal(
            category=name,
            minutes=per_category.get(name, 0),
            min_minutes=minimums.get(name),
            shortfall=max(0, minimums.get(name, 0) - per_category.get(name, 0)),
        )
        for name in sorted(set(per_category) | set(minimums))
    ]
    required = None if rule is None else rule.minutes_per_cycle
    shortfall = 0 if required is None else max(0, required - total)
    return CeCycle(
        board=licence.issuer,
        licence=licence.id,
        licence_status=licence.status,
        start_ms=start,
        end_ms=end,
        rule_version=None if rule is None else rule.version,
        minutes=total,
        required_minutes=required,
        shortfall=shortfall,
        categories=categories,
        credentials=[a.id for a in counted],
        compliant=None
        if rule is None
        else shortfall == 0 and all(c.shortfall == 0 for c in categories),
    )


def _anchors(state: StateReader, member: str) -> list[st.CredentialAnchor | None]:
    """The member's anchors in file order (bounded by MAX_CREDENTIALS_PER_MEMBER)."""
    return [q.credential(state, cid) for cid in q.credential_ids_of(state, member)]


class BoardParams(BaseModel):
    board: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$", description="the board's org id")


class CeRuleReply(_Reply):
    """A board's CE rule versions, oldest first (empty if it published none)."""

    board: str
    versions: list[CeRuleVersion]


def ce_rule_view(reader: LedgerReader, params: BoardParams) -> CeRuleReply:
    rules = rules_of(reader.state, params.board)
    return CeRuleReply(board=params.board, versions=[] if rules is None else list(rules.versions))


VIEWS = (
    View(
        name="ce_rule",
        path="/v1/credentials/boards/{board}/ce-rule",
        summary="A board's continuing-education rule, every version",
        params=BoardParams,
        response=CeRuleReply,
        run=ce_rule_view,
        access=Access.PUBLIC,
    ),
)
