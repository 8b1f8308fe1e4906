"""A member's credential file as FHIR R4: a `Practitioner` with `qualification[]` and one
`VerificationResult` per credential, in a collection `Bundle`.

Pure functions, no I/O and no clock. Each resource is checked with the `fhir.resources`
R4B models (wire-compatible with FHIR R4 for these types), as records' fhir.py does. The
practitioner is named by its ledger URN (`urn:healthledger:member:{org}/{member}`), which
is the Bundle entry's `fullUrl` each VerificationResult's `target` refers to: a member id
may hold `_` and `/`, which a FHIR resource id may not.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from healthledger.domains.credentials import state as st
from healthledger.domains.credentials.file import CredentialFile, FileCredential
from healthledger.errors import InvalidResource

# Our code system for credential types (the VC vocabulary's context URL, plus a fragment).
CREDENTIAL_TYPE_SYSTEM = "https://w3id.org/healthledger/credentials/v1/credential-type"
CREDENTIAL_ID_SYSTEM = "urn:healthledger:credential"
ORG_ID_SYSTEM = "urn:healthledger:org"
MEMBER_ID_SYSTEM = "urn:healthledger:member"
VALIDATION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/verificationresult-validation-type"
PRIMARY_SOURCE_TYPE_SYSTEM = (
    "http://terminology.hl7.org/CodeSystem/verificationresult-primary-source-type"
)
LEDGER_NAME = "HealthLedger"

TYPE_DISPLAY: Mapping[str, str] = MappingProxyType(
    {
        "licence": "Licence",
        "degree": "Degree",
        "certification": "Certification",
        "ce": "Continuing education",
        "privilege": "Clinical privileges",
    }
)
# verificationresult-primary-source-type: a licensing board, a continuing-education
# provider, or the issuing source itself.
PRIMARY_SOURCE_TYPE: Mapping[str, str] = MappingProxyType(
    {
        "licence": "lic-board",
        "degree": "issuer",
        "certification": "issuer",
        "ce": "cont-ed",
        "privilege": "issuer",
    }
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def practitioner_bundle(
    file: CredentialFile,
    name: str | None = None,
    issuer_names: Mapping[str, str] = MappingProxyType({}),
) -> dict[str, Any]:
    """The file as a FHIR R4 collection Bundle: the Practitioner, then a VerificationResult
    per credential, each validated; `issuer_names` gives display names (else the id)."""
    practitioner_url = f"{MEMBER_ID_SYSTEM}:{file.member}"
    practitioner = practitioner_resource(file, name, issuer_names)
    entries = [{"fullUrl": practitioner_url, "resource": practitioner}]
    for index, credential in enumerate(file.credentials):
        result = verification_result(credential, index, practitioner_url, file.at_ms, issuer_names)
        entries.append({"fullUrl": f"{CREDENTIAL_ID_SYSTEM}:{credential.id}", "resource": result})
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    _validate("Bundle", bundle)
    return bundle


def practitioner_resource(
    file: CredentialFile,
    name: str | None = None,
    issuer_names: Mapping[str, str] = MappingProxyType({}),
) -> dict[str, Any]:
    """`Practitioner` with one `qualification` per credential, in file order."""
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "identifier": [{"system": MEMBER_ID_SYSTEM, "value": file.member}],
        "qualification": [qualification(c, issuer_names) for c in file.credentials],
    }
    if name:
        resource["name"] = [{"text": name}]
    if not resource["qualification"]:
        del resource["qualification"]
    _validate("Practitioner", resource)
    return resource


def qualification(
    credential: FileCredential, issuer_names: Mapping[str, str] = MappingProxyType({})
) -> dict[str, Any]:
    period = {"start": iso_time(credential.valid_from_ms)}
    if credential.valid_until_ms is not None:
        period["end"] = iso_time(credential.valid_until_ms)
    return {
        "identifier": [{"system": CREDENTIAL_ID_SYSTEM, "value": credential.id}],
        "code": {
            "coding": [
                {
                    "system": CREDENTIAL_TYPE_SYSTEM,
                    "code": credential.type,
                    "display": TYPE_DISPLAY[credential.type],
                }
            ],
            "text": f"{TYPE_DISPLAY[credential.type]}: {credential.scope}",
        },
        "period": period,
        "issuer": _issuer(credential, issuer_names),
    }


def validation_status(credential: FileCredential, at_ms: int) -> str:
    """FHIR's validation status of a credential at `at_ms`: in force -> validated; not yet
    in force -> in-process; suspended or expired -> req-revalid; revoked -> val-fail."""
    status = credential.status_at
    if status == st.REVOKED:
        return "val-fail"
    if status in (st.SUSPENDED, st.EXPIRED):
        return "req-revalid"
    if credential.valid_at:
        return "validated"
    if status is None or at_ms < credential.valid_from_ms:
        return "in-process"
    return "req-revalid"  # active on chain, past its validity period


def verification_result(
    credential: FileCredential,
    index: int,
    practitioner_url: str,
    at_ms: int,
    issuer_names: Mapping[str, str] = MappingProxyType({}),
) -> dict[str, Any]:
    """The ledger's verification of one credential (the `index`-th qualification) at `at_ms`."""
    resource = {
        "resourceType": "VerificationResult",
        "target": [{"reference": practitioner_url}],
        "targetLocation": [f"Practitioner.qualification[{index}]"],
        "status": validation_status(credential, at_ms),
        "statusDate": iso_time(at_ms),
        "validationType": {
            "coding": [{"system": VALIDATION_TYPE_SYSTEM, "code": "primary"}],
            "text": "primary source",
        },
        "primarySource": [
            {
                "who": _issuer(credential, issuer_names),
                "type": [
                    {
                        "coding": [
                            {
                                "system": PRIMARY_SOURCE_TYPE_SYSTEM,
                                "code": PRIMARY_SOURCE_TYPE[credential.type],
                            }
                        ]
                    }
                ],
            }
        ],
        "validator": [{"organization": {"display": LEDGER_NAME}}],
    }
    _validate("VerificationResult", resource)
    return resource


def iso_time(time_ms: int) -> str:
    """XML dateTime in UTC, with milliseconds only when there are some."""
    moment = EPOCH + timedelta(milliseconds=time_ms)
    if time_ms % 1000:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{time_ms % 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _issuer(credential: FileCredential, issuer_names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "identifier": {"system": ORG_ID_SYSTEM, "value": credential.issuer},
        "display": issuer_names.get(credential.issuer, credential.issuer),
    }


def _validate(resource_type: str, resource: dict[str, Any]) -> None:
    try:
        get_fhir_model_class(resource_type).model_validate(resource)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidResource(f"{resource_type}: {where}: {first['msg']}") from exc
