"""Who may read or locate which record: one set of pure rules.

The vault applies them to decide before it asks the ledger, and the
`record.access` handler applies them again inside the block that records the
access, against that block's state and time. A consent revoked or expired in
between therefore fails the access transaction, and the vault releases nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthledger.crypto.envelope import SALT_BYTES, content_hash
from healthledger.domains.governance.messages import CARE_GIVING_ROLES
from healthledger.domains.records import state as st
from healthledger.domains.records.errors import ConsentExpired, ConsentRevoked, NoConsent
from healthledger.domains.records.state import Appointment, Consent, ConsentGrantee, RecordMeta
from healthledger.errors import InvalidField, LedgerError, Unauthorized
from healthledger.ledger.context import Actor

# Break-glass is for people who treat patients, not for every enrolled role, and only at
# organisations that give care: an insurer or a sponsor may enrol a "practitioner" too.
CLINICAL_ROLES = frozenset({"practitioner", "nurse"})
# The vault asks for this much text; the chain sees only its salted hash.
MIN_REASON_CHARS = 10
MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class Decision:
    """Why a read is allowed: the basis the access event records."""

    basis: str
    consent_id: str | None = None
    appointment_id: str | None = None


def owner_basis(record: RecordMeta, reader: Actor) -> str | None:
    """The patient, the custodian organisation and the author read without consent."""
    if reader.kind == "patient" and reader.id == record.patient:
        return "self"
    if reader.kind == "org" and reader.id == record.custodian:
        return "custodian"
    if reader.kind == "member" and reader.id == record.author:
        return "author"
    return None


def grantee_matches(grantee: ConsentGrantee, reader: Actor) -> bool:
    """A consent to an organisation covers its people; to a person, only them."""
    if grantee.kind == "org":
        return reader.org == grantee.org and reader.kind in {"org", "member"}
    if grantee.kind == "member":
        return reader.kind == "member" and reader.id == grantee.member
    return reader.kind == "member" and reader.org == grantee.org and reader.role == grantee.role


def country_allows(consent: Consent, reader_country: str | None) -> bool:
    """A consent limited to some countries covers only organisations located in one of them
    (an organisation that named no country is in none)."""
    return not consent.countries or reader_country in consent.countries


def consent_matches(consent: Consent, reader: Actor, reader_country: str | None) -> bool:
    """The consent's grantee is this reader, of an organisation in a country it allows.

    `reader_country` is the country of the reader's organisation, as governance records it.
    """
    return grantee_matches(consent.grantee, reader) and country_allows(consent, reader_country)


def consent_scope_covers(consent: Consent, record: RecordMeta) -> bool:
    """Named records if any are named; otherwise the listed types; otherwise everything."""
    if consent.patient != record.patient:
        return False
    if consent.record_ids:
        return record.id in consent.record_ids
    return not consent.resource_types or record.resource_type in consent.resource_types


def consent_problem(consent: Consent, purpose: str | None, now_ms: int) -> LedgerError | None:
    """Why an otherwise matching consent does not allow access now (None if it does)."""
    if consent.status != st.ACTIVE:
        return ConsentRevoked(consent.id)
    if consent.expires_ms <= now_ms:
        return ConsentExpired(consent.id)
    if purpose is not None and purpose not in consent.purposes:
        return NoConsent(
            f"consent {consent.id} does not allow the purpose {purpose}", consent_id=consent.id
        )
    return None


def appointment_allows(
    appointment: Appointment, reader: Actor, patient: str, power: str, now_ms: int
) -> bool:
    """An active, unexpired appointment of this reader for this patient, with this power."""
    return (
        appointment.status == st.ACTIVE
        and appointment.patient == patient
        and appointment.representative == reader.id
        and power in appointment.powers
        and appointment.until_ms > now_ms
    )


def check_consent_read(
    consent: Consent,
    record: RecordMeta,
    reader: Actor,
    purpose: str,
    now_ms: int,
    reader_country: str | None = None,
) -> Decision:
    """A read under a named consent, or the precise reason it is refused."""
    if not grantee_matches(consent.grantee, reader) or not consent_scope_covers(consent, record):
        raise NoConsent(
            f"consent {consent.id} does not cover this reader and record",
            record_id=record.id,
            consent_id=consent.id,
        )
    if not country_allows(consent, reader_country):
        raise NoConsent(
            f"consent {consent.id} is limited to organisations in {', '.join(consent.countries)};"
            f" the reader's organisation is in {reader_country or 'no stated country'}",
            record_id=record.id,
            consent_id=consent.id,
        )
    problem = consent_problem(consent, purpose, now_ms)
    if problem is not None:
        raise problem
    return Decision("consent", consent_id=consent.id)


def check_break_glass(
    reader: Actor, org_role: str | None, purpose: str, has_reason: bool
) -> Decision:
    """Emergency access by a clinician of a care-giving organisation, with a stated reason."""
    if (
        reader.kind != "member"
        or reader.role not in CLINICAL_ROLES
        or org_role not in CARE_GIVING_ROLES
    ):
        raise Unauthorized(
            "break-glass access is for practitioners and nurses of a hospital or clinic"
        )
    if purpose != "emergency":
        raise NoConsent("break-glass access is for the purpose 'emergency'")
    if not has_reason:
        raise InvalidField("break-glass access needs a stated reason")
    return Decision("break_glass")


def check_reason_text(reason: str | None) -> str:
    """The vault's check of a break-glass reason before it seals it (the chain sees a hash)."""
    text = (reason or "").strip()
    if not MIN_REASON_CHARS <= len(text) <= MAX_REASON_CHARS:
        raise InvalidField(
            f"break-glass access needs a reason of {MIN_REASON_CHARS} to {MAX_REASON_CHARS}"
            " characters"
        )
    return text


def best_refusal(problems: list[LedgerError]) -> LedgerError:
    """The most telling reason among matching-but-unusable consents, else plain no-consent."""
    for kind in (ConsentRevoked, ConsentExpired, NoConsent):
        for problem in problems:
            if isinstance(problem, kind):
                return problem
    return NoConsent("no consent of the patient allows this")


@dataclass(frozen=True)
class BreakGlassReason:
    """A break-glass reason with the reader's own salt: the vault keeps the text, the
    chain its hash, which the reader signs so no other reason can be recorded."""

    text: str
    salt: bytes

    @property
    def hash(self) -> str:
        return content_hash(self.salt, self.text.encode())

    @classmethod
    def given(cls, text: str, salt_hex: str | None) -> BreakGlassReason:
        """A reason as a reader sent it, with the salt they committed with."""
        try:
            salt = bytes.fromhex(salt_hex or "")
        except ValueError:
            salt = b""
        if len(salt) != SALT_BYTES:
            raise InvalidField(
                f"a break-glass reason comes with the reader's {SALT_BYTES}-byte salt (hex)"
            )
        return cls(check_reason_text(text), salt)
