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
    """One organisation's directory entry with its proof (of its absence, if it has none).

    `entry` is the proven value itself; `country` is the organisation's (from its record).
    """

    org: str
    country: str | None
    entry: st.OrgEndpoint | None
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
    """Where each organisation's data is served, each entry proven against the state root."""
    prefix = st.endpoint_key("")
    keys, next_after = _page_keys(reader, prefix, params.limit, params.after)
    entries = [_directory_entry(reader, key.removeprefix(prefix)) for key in keys]
    return DirectoryPage(orgs=entries, next_after=next_after)


def _page_keys(
    reader: LedgerReader, prefix: str, limit: int, after: str | None
) -> tuple[list[str], str | None]:
    start = None if after is None else prefix + after
    rows = reader.scan(st.NAMESPACE, prefix, limit + 1, after=start)
    more = len(rows) > limit
    keys = [key for key, _value in rows[:limit]]
    return keys, keys[-1].removeprefix(prefix) if more else None


def directory_entry(reader: LedgerReader, params: OrgParams) -> DirectoryEntry:
    """One organisation's entry, or the proof that it has none."""
    return _directory_entry(reader, params.org)


def _directory_entry(reader: LedgerReader, org_id: str) -> DirectoryEntry:
    proof = reader.proven(st.NAMESPACE, st.endpoint_key(org_id))
    entry = None if proof.value is None else st.OrgEndpoint.model_validate(proof.value)
    org = reader.state.load(st.NAMESPACE, st.org_key(org_id), st.OrgRecord)
    return DirectoryEntry(
        org=org_id, country=None if org is None else org.country, entry=entry, proof=proof
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
        summary="Where each organisation's data is served (endpoints, node keys), with proofs",
        params=DirectoryParams,
        response=DirectoryPage,
        run=directory,
        # Whom to reach is no secret, and a reader must find it before it can sign for it.
        access=Access.PUBLIC,
    ),
    View(
        name="directory_entry",
        path="/v1/orgs/{org}",
        summary="One organisation's directory entry (or the proof it has none)",
        params=OrgParams,
        response=DirectoryEntry,
        run=directory_entry,
        access=Access.PUBLIC,
    ),
)
