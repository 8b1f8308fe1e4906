"""The consortium's directory as members read it: organisations, their members, validators.

Published reads (`View`s, mounted by api/views.py) for the portal's explorer and any
member's tooling. Members only: the raw records stay readable one by one through
/v1/state (with proofs); these list them, a page at a time, in key order.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from healthledger.domains.governance import state as st
from healthledger.domains.governance.errors import NoOrg
from healthledger.domains.kit import Access, LedgerReader, ProvenValue, View

MAX_PAGE = 500
# Each directory entry carries its own state proof: pages stay small.
MAX_DIRECTORY_PAGE = 100
MAX_VALIDATORS = 1000  # one page: a consortium has far fewer validating organisations


class _Reply(BaseModel):
    model_config = ConfigDict(frozen=True)


class Validator(_Reply):
    """The consensus key an organisation validates with and its voting power."""

    pub_key: str
    power: int


class OrgEntry(_Reply):
    """An organisation of the consortium, as governance records it."""

    id: str
    name: str
    role: str
    country: str | None = None
    status: str = Field(description="active or removed")
    joined_height: int
    signing_key: str
    validator: Validator | None


class OrgPage(_Reply):
    """Organisations in id order; `next_after` names the next page (absent on the last)."""

    orgs: list[OrgEntry]
    next_after: str | None = Field(description="pass as `after` for the next page")


class MemberEntry(_Reply):
    """A person an organisation enrolled."""

    member_id: str
    name: str
    role: str
    status: str = Field(description="active or revoked")
    signing_key: str


class MemberPage(_Reply):
    """One organisation's members in id order; `next_after` names the next page."""

    org: str
    org_status: str
    members: list[MemberEntry]
    next_after: str | None = Field(description="pass as `after` for the next page")


class ValidatorEntry(_Reply):
    """A consensus key, the organisation it belongs to, and its power now."""

    pub_key: str
    org: str
    org_status: str
    power: int = Field(description="voting power; 0 once its organisation is removed")


class ValidatorList(_Reply):
    """Every validating organisation's consensus key (one page: there are few)."""

    validators: list[ValidatorEntry]


class PageParams(BaseModel):
    limit: int = Field(100, ge=1, le=MAX_PAGE, description="entries to return")
    after: str | None = Field(
        None, max_length=200, description="the last id of the previous page (its `next_after`)"
    )


class MembersParams(PageParams):
    org: str = Field(max_length=200)


class DirectoryEntry(_Reply):
    """One organisation's directory entry with its proof (of its absence, if it has none),
    and its GLNs with theirs.

    `entry` and `glns` are the proven values themselves; `country` is the organisation's
    (from its record).
    """

    org: str
    country: str | None
    entry: st.OrgEndpoint | None
    proof: ProvenValue
    glns: st.OrgGlns | None = Field(description="its party and location GLNs, if any")
    glns_proof: ProvenValue


class GlnParams(BaseModel):
    gln: str = Field(pattern=r"^[0-9]{13}$", description="a GLN: 13 digits")


class GlnEntry(_Reply):
    """Which organisation holds a GLN (None: no one), proven against the state root."""

    gln: str
    org: str | None
    kind: str | None = Field(description="party or location")
    holder: st.GlnHolder | None
    proof: ProvenValue


class DirectoryPage(_Reply):
    """Published directory entries in organisation id order; `next_after` continues."""

    orgs: list[DirectoryEntry]
    next_after: str | None = Field(description="pass as `after` for the next page")


class DirectoryParams(BaseModel):
    limit: int = Field(50, ge=1, le=MAX_DIRECTORY_PAGE, description="entries to return")
    after: str | None = Field(
        None, max_length=200, description="the last org of the previous page (its `next_after`)"
    )


class OrgParams(BaseModel):
    org: str = Field(max_length=200)


class NoParams(BaseModel):
    """The parameters of a view that takes none (the validator set is read whole)."""


def _page(reader: LedgerReader, prefix: str, params: PageParams) -> tuple[list[bytes], str | None]:
    """Up to `limit` records under `prefix` after `after`, and the cursor of the next page."""
    after = None if params.after is None else prefix + params.after
    rows = reader.scan(st.NAMESPACE, prefix, params.limit + 1, after=after)
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    next_after = rows[-1][0].removeprefix(prefix) if more else None
    return [value for _key, value in rows], next_after


def orgs(reader: LedgerReader, params: PageParams) -> OrgPage:
    """The consortium's organisations, active and removed."""
    values, next_after = _page(reader, st.org_key(""), params)
    entries = [_org_entry(st.OrgRecord.model_validate_json(value)) for value in values]
    return OrgPage(orgs=entries, next_after=next_after)


def _org_entry(record: st.OrgRecord) -> OrgEntry:
    validator = record.validator
    return OrgEntry(
        id=record.id,
        name=record.name,
        role=record.role,
        country=record.country,
        status=record.status,
        joined_height=record.joined_height,
        signing_key=record.signing_key,
        validator=None
        if validator is None
        else Validator(pub_key=validator.pub_key, power=validator.power),
    )


def members(reader: LedgerReader, params: MembersParams) -> MemberPage:
    """One organisation's members, active and revoked."""
    org = reader.state.load(st.NAMESPACE, st.org_key(params.org), st.OrgRecord)
    if org is None:
        raise NoOrg(params.org)
    values, next_after = _page(reader, st.member_key(params.org, ""), params)
    entries = [
        MemberEntry(
            member_id=record.member_id,
            name=record.name,
            role=record.role,
            status=record.status,
            signing_key=record.signing_key,
        )
        for record in (st.MemberRecord.model_validate_json(value) for value in values)
    ]
    return MemberPage(org=org.id, org_status=org.status, members=entries, next_after=next_after)


def validators(reader: LedgerReader, _params: NoParams) -> ValidatorList:
    """Every consensus key an organisation was admitted with, and its power now."""
    entries = []
    for key, value in reader.scan(st.NAMESPACE, st.validator_key(""), MAX_VALIDATORS):
        owner = st.ValidatorOwner.model_validate_json(value)
        org = reader.state.load(st.NAMESPACE, st.org_key(owner.org), st.OrgRecord)
        pub_key = key.removeprefix(st.validator_key(""))
        power, status = 0, st.REMOVED
        if org is not None:
            status = org.status
            # A removal sets the power to 0 (validator.update); the record keeps the old one.
            if org.active and org.validator is not None and org.validator.pub_key == pub_key:
                power = org.validator.power
        entries.append(
            ValidatorEntry(pub_key=pub_key, org=owner.org, org_status=status, power=power)
        )
    return ValidatorList(validators=entries)


def directory(reader: LedgerReader, params: DirectoryParams) -> DirectoryPage:
    """Where each organisation's data is served and the GLNs it holds, each entry proven
    against the state root: the organisations that published an endpoint or hold a GLN."""
    orgs, next_after = _directory_orgs(reader, params.limit, params.after)
    entries = [_directory_entry(reader, org) for org in orgs]
    return DirectoryPage(orgs=entries, next_after=next_after)


def _directory_orgs(
    reader: LedgerReader, limit: int, after: str | None
) -> tuple[list[str], str | None]:
    """The next `limit` organisations after `after` with an endpoint or GLNs (two bounded
    scans merged), and the cursor of the page after."""
    named: set[str] = set()
    for prefix in (st.endpoint_key(""), st.org_glns_key("")):
        start = None if after is None else prefix + after
        rows = reader.scan(st.NAMESPACE, prefix, limit + 1, after=start)
        named.update(key.removeprefix(prefix) for key, _value in rows)
    ordered = sorted(named)
    page = ordered[:limit]
    return page, page[-1] if len(ordered) > limit else None


def directory_entry(reader: LedgerReader, params: OrgParams) -> DirectoryEntry:
    """One organisation's entry, or the proof that it has none."""
    return _directory_entry(reader, params.org)


def _directory_entry(reader: LedgerReader, org_id: str) -> DirectoryEntry:
    proof = reader.proven(st.NAMESPACE, st.endpoint_key(org_id))
    entry = None if proof.value is None else st.OrgEndpoint.model_validate(proof.value)
    glns_proof = reader.proven(st.NAMESPACE, st.org_glns_key(org_id))
    glns = None if glns_proof.value is None else st.OrgGlns.model_validate(glns_proof.value)
    org = reader.state.load(st.NAMESPACE, st.org_key(org_id), st.OrgRecord)
    return DirectoryEntry(
        org=org_id,
        country=None if org is None else org.country,
        entry=entry,
        proof=proof,
        glns=glns,
        glns_proof=glns_proof,
    )


def gln_entry(reader: LedgerReader, params: GlnParams) -> GlnEntry:
    """Which organisation holds a GLN, or the proof that no one does."""
    proof = reader.proven(st.NAMESPACE, st.gln_key(params.gln))
    holder = None if proof.value is None else st.GlnHolder.model_validate(proof.value)
    return GlnEntry(
        gln=params.gln,
        org=None if holder is None else holder.org,
        kind=None if holder is None else holder.kind,
        holder=holder,
        proof=proof,
    )


VIEWS = (
    View(
        name="orgs",
        path="/v1/gov/orgs",
        summary="The consortium's organisations, a page at a time",
        params=PageParams,
        response=OrgPage,
        run=orgs,
        access=Access.MEMBER,
    ),
    View(
        name="members",
        path="/v1/gov/orgs/{org}/members",
        summary="An organisation's members, a page at a time",
        params=MembersParams,
        response=MemberPage,
        run=members,
        access=Access.MEMBER,
    ),
    View(
        name="validators",
        path="/v1/gov/validators",
        summary="The validating organisations' consensus keys and powers",
        params=NoParams,
        response=ValidatorList,
        run=validators,
        access=Access.MEMBER,
    ),
    View(
        name="directory",
        path="/v1/orgs",
        summary="Where each organisation's data is served (endpoints, node keys) and its "
        "GLNs, with proofs",
        params=DirectoryParams,
        response=DirectoryPage,
        run=directory,
        # Whom to reach is no secret, and a reader must find it before it can sign for it.
        access=Access.PUBLIC,
    ),
    View(
        name="directory_entry",
        path="/v1/orgs/{org}",
        summary="One organisation's directory entry and GLNs (or the proofs it has none)",
        params=OrgParams,
        response=DirectoryEntry,
        run=directory_entry,
        access=Access.PUBLIC,
    ),
    View(
        name="gln",
        path="/v1/glns/{gln}",
        summary="The organisation a GLN is registered to (or the proof no one holds it)",
        params=GlnParams,
        response=GlnEntry,
        run=gln_entry,
        # Trading partners resolve the GLNs of their EPCIS events before they can sign.
        access=Access.PUBLIC,
    ),
)
