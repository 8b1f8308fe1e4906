"""Hand-written rules of the HL7 FHIR International Patient Summary document's structure.

The HL7 validator and the IPS packages are not reachable here: these rules check what the
SDK (client/summary.py) and the portal (patient/ips.js) promise of the document, on top of
the R4B models' validation.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.bundle import Bundle

from healthledger.client.summary import REQUIRED_SECTIONS, SECTIONS

LOINC = "http://loinc.org"


def check_ips(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Hold a Bundle to the IPS document's structure; its section entries' resources by key."""
    Bundle.model_validate(bundle)  # the R4B models (FHIR R4 wire format)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "document"
    assert bundle["identifier"]["system"] and bundle["identifier"]["value"]  # bdl-9
    assert bundle["timestamp"]  # bdl-10
    entries = bundle["entry"]
    urls = [e["fullUrl"] for e in entries]
    assert len(urls) == len(set(urls)), "fullUrls are unique (bdl-7)"
    by_url = {e["fullUrl"]: e["resource"] for e in entries}
    composition = entries[0]["resource"]
    assert composition["resourceType"] == "Composition", "the Composition comes first"
    assert composition["status"] == "final" and composition["title"] and composition["date"]
    assert composition["type"]["coding"][0] == {
        "system": LOINC,
        "code": "60591-5",
        "display": "Patient summary Document",
    }
    assert composition["author"]
    subject = by_url[composition["subject"]["reference"]]
    assert subject["resourceType"] == "Patient"
    codes = {s.key: s.code for s in SECTIONS}
    sections: dict[str, list[dict[str, Any]]] = {}
    for section in composition["section"]:
        (coding,) = section["code"]["coding"]
        assert coding["system"] == LOINC and section["title"]
        assert section["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
        key = next(k for k, code in codes.items() if code == coding["code"])
        assert key not in sections, "one section per code"
        assert "entry" in section or "emptyReason" in section
        resources = [by_url[ref["reference"]] for ref in section.get("entry", [])]
        sections[key] = resources
    for key in REQUIRED_SECTIONS:
        assert sections.get(key), f"the required section {key} has an entry"
    for resource in list(by_url.values())[1:]:
        about = resource.get("subject") or resource.get("patient")
        if about is not None:
            assert about == composition["subject"], "every entry is about the document's patient"
    return sections


def record_of(resource: dict[str, Any]) -> str:
    """The record an entry cites: identifier and meta.source, which must agree."""
    (identifier,) = [i for i in resource["identifier"] if i["system"] == "urn:healthledger:record"]
    record_id = identifier["value"]
    assert resource["meta"]["source"].endswith(f"#{record_id}")
    return str(record_id)
