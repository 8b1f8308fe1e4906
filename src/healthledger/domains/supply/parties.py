"""Parties and locations of EPCIS events, named by GS1 identifiers, as organisations.

An EPCIS 2.0 event names who acts and where as URIs: an SGLN (`urn:epc:id:sgln:`, a
location GLN and an extension naming a spot inside it), a PGLN (`urn:epc:id:pgln:`, a
party GLN), a GS1 Digital Link (`https://<any domain>/414/<gln>[/254/<ext>]` for a
location, `/417/<gln>` for a party), or this ledger's own `urn:healthledger:org:<id>`.
Governance registers which organisation holds which GLN; `resolve_party` turns any of
these URIs into the organisation's id, given a lookup of GLNs, and an unknown GLN is a
refusal naming it. Pure, no I/O: the lookup is handed in (over ledger state inside a
transaction, over the proven directory in a client).

References: GS1 EPC Tag Data Standard 2.1 §6.3.3 (SGLN) and §6.3.13 (PGLN); GS1 Digital
Link URI Syntax 1.4 §4 (a custom domain and path prefix before the primary key).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from healthledger.domains.governance import queries as gov
from healthledger.domains.governance.state import OrgGlns
from healthledger.domains.shared.gln import GLN_LENGTH, check_gln, with_check_digit
from healthledger.domains.supply.errors import UnknownParty
from healthledger.errors import ErrorCode, LedgerError
from healthledger.ledger.context import StateReader

ORG_URN = "urn:healthledger:org:"
SGLN_URN = "urn:epc:id:sgln:"
PGLN_URN = "urn:epc:id:pgln:"
DIGITAL_LINK_DOMAIN = "https://id.gs1.org"
LOCATION_AI = "414"  # GLN of a physical location
EXTENSION_AI = "254"  # GLN extension component: a spot inside that location
PARTY_AI = "417"  # party GLN
MAX_URI_CHARS = 500
MAX_EXTENSION_CHARS = 20  # AI (254) format X..20

_ORG_ID = re.compile(r"[a-z0-9][a-z0-9_-]{1,62}")
_COMPANY_PREFIX = re.compile(r"[0-9]{6,12}")
_REFERENCE = re.compile(r"[0-9]{0,6}")
# TDS §5 (EPC pure identity URIs): the characters of a URI component, or a %-escape.
_EPC_COMPONENT = re.compile(r"(?:[A-Za-z0-9!'()*+,\-.:;=_]|%[0-9A-Fa-f]{2})+")
# GS1 AI encodable character set 82 (GenSpecs §7.11), which AI (254) is drawn from.
_CSET82 = re.compile(r"[A-Za-z0-9!\"%&'()*+,\-./:;<=>?_]+")

PartyKind = Literal["location", "party", "org"]


@dataclass(frozen=True)
class PartyRef:
    """What a party URI names: a location GLN (and a spot inside it), a party GLN, or
    an organisation of this ledger by its id."""

    kind: PartyKind
    gln: str | None = None
    extension: str | None = None  # a sub-location of the GLN; it never changes the org
    org: str | None = None


def _invalid(uri: str, why: str) -> LedgerError:
    return LedgerError(f"party {uri[:MAX_URI_CHARS]!r}: {why}", ErrorCode.INVALID_FIELD)


def parse_party(uri: str) -> PartyRef:
    """Read a party or location URI of any form this ledger accepts; INVALID_FIELD
    naming the URI otherwise."""
    if len(uri) > MAX_URI_CHARS:
        raise _invalid(uri, f"longer than {MAX_URI_CHARS} characters")
    lowered = uri.lower()
    if uri.startswith(ORG_URN):
        return _org_urn(uri)
    if lowered.startswith(SGLN_URN):
        return _sgln(uri)
    if lowered.startswith(PGLN_URN):
        return _pgln(uri)
    if lowered.startswith(("https://", "http://")):
        return _digital_link(uri)
    raise _invalid(
        uri,
        "expected urn:epc:id:sgln:, urn:epc:id:pgln:, a GS1 Digital Link (/414/ or "
        "/417/) or urn:healthledger:org:",
    )


def gln_of_party(uri: str) -> str | None:
    """The GLN a party URI names (an SGLN's extension left aside); None for
    `urn:healthledger:org:<id>`, which names an organisation directly."""
    return parse_party(uri).gln


def _org_urn(uri: str) -> PartyRef:
    org = unquote(uri[len(ORG_URN) :])
    if not _ORG_ID.fullmatch(org):
        raise _invalid(uri, "expected urn:healthledger:org:<organisation id>")
    return PartyRef(kind="org", org=org)


def _gln_of_parts(uri: str, prefix: str, reference: str) -> str:
    """TDS §6.3.3: the company prefix and the reference are 12 digits together; the GLN
    adds their check digit."""
    if not _COMPANY_PREFIX.fullmatch(prefix) or not _REFERENCE.fullmatch(reference):
        raise _invalid(uri, "expected a company prefix of 6 to 12 digits and a digit reference")
    if len(prefix) + len(reference) != GLN_LENGTH - 1:
        raise _invalid(uri, f"company prefix and reference make {GLN_LENGTH - 1} digits together")
    return with_check_digit(prefix + reference)


def _sgln(uri: str) -> PartyRef:
    parts = uri[len(SGLN_URN) :].split(".")
    if len(parts) != 3:
        raise _invalid(uri, "expected urn:epc:id:sgln:<company prefix>.<location ref>.<ext>")
    prefix, reference, extension = parts
    gln = _gln_of_parts(uri, prefix, reference)
    if not _EPC_COMPONENT.fullmatch(extension):
        raise _invalid(uri, "the extension is empty or has characters an EPC URI cannot carry")
    # TDS: extension "0" names the location itself, no spot inside it.
    return PartyRef(kind="location", gln=gln, extension=None if extension == "0" else extension)


def _pgln(uri: str) -> PartyRef:
    parts = uri[len(PGLN_URN) :].split(".")
    if len(parts) != 2:
        raise _invalid(uri, "expected urn:epc:id:pgln:<company prefix>.<party ref>")
    return PartyRef(kind="party", gln=_gln_of_parts(uri, *parts))


def _checked_gln(uri: str, value: str) -> str:
    try:
        return check_gln(value)
    except ValueError as exc:
        raise _invalid(uri, str(exc)) from None


def _digital_link(uri: str) -> PartyRef:
    """`/414/<gln>`, `/414/<gln>/254/<ext>` or `/417/<gln>` at the end of the path; any
    domain and path prefix before it (Digital Link §4), no query or fragment."""
    try:
        parts = urlsplit(uri)
    except ValueError:  # a bracketed host that is no IPv6 address: Python's words, not ours
        raise _invalid(uri, "the host is not a valid host name or address") from None
    if not parts.hostname or parts.query or parts.fragment or "?" in uri or "#" in uri:
        raise _invalid(uri, "a GS1 Digital Link here names a host and has no query or fragment")
    segments = parts.path.split("/")
    if len(segments) >= 3 and segments[-2] in (LOCATION_AI, PARTY_AI):
        kind: PartyKind = "location" if segments[-2] == LOCATION_AI else "party"
        return PartyRef(kind=kind, gln=_checked_gln(uri, segments[-1]))
    if len(segments) >= 5 and segments[-4] == LOCATION_AI and segments[-2] == EXTENSION_AI:
        extension = unquote(segments[-1])
        if len(extension) > MAX_EXTENSION_CHARS or not _CSET82.fullmatch(extension):
            raise _invalid(uri, "AI (254) is 1 to 20 characters of GS1 character set 82")
        return PartyRef(kind="location", gln=_checked_gln(uri, segments[-3]), extension=extension)
    raise _invalid(uri, "expected a GS1 Digital Link ending /414/<GLN>[/254/<ext>] or /417/<GLN>")


def resolve_party(uri: str, org_of_gln: Callable[[str], str | None]) -> str:
    """The organisation a party URI names: by its GLN through `org_of_gln`, or by its id
    (`urn:healthledger:org:`). An unregistered GLN is UNKNOWN_PARTY naming it and the URI."""
    ref = parse_party(uri)
    if ref.gln is None:
        assert ref.org is not None  # parse_party gives an org or a GLN
        return ref.org
    org = org_of_gln(ref.gln)
    if org is None:
        raise UnknownParty(ref.gln, uri)
    return org


def state_party_resolver(reader: StateReader) -> Callable[[str], str]:
    """`resolve_party` over ledger state, through governance's GLN registry (for handlers:
    `state_party_resolver(ctx.reader)` sees the transaction's own writes)."""

    def org_of_gln(gln: str) -> str | None:
        return gov.org_of_gln(reader, gln)

    return lambda uri: resolve_party(uri, org_of_gln)


def party_uri_of(org: str, glns: OrgGlns | None) -> str:
    """The URI naming an organisation as an EPCIS party: its party GLN as a Digital Link
    (AI 417) when it has one, else `urn:healthledger:org:<id>`.

    Digital Link, not `urn:epc:id:pgln:`: a PGLN needs the company prefix's length, which
    a GLN alone does not tell.
    """
    if glns is not None and glns.party is not None:
        return f"{DIGITAL_LINK_DOMAIN}/{PARTY_AI}/{glns.party}"
    return ORG_URN + quote(org, safe="")
