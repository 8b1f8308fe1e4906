"""The PHI scan shared by the node's and the network's tests: distinctive values planted
in records, and a search of every byte written for them in their common encodings."""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path

NAME_GIVEN, NAME_FAMILY = "Zebulon", "Quixotefield"
BIRTH_DATE = "1911-11-11"
VALUE = "987.654"
NOTE = "Patient reports xylophonic tinnitus since the regatta"
GLASS_REASON = "Found unresponsive near the Wobbleton aquarium"
NEEDLES = [NAME_GIVEN, NAME_FAMILY, BIRTH_DATE, VALUE, NOTE, "MRN-77Z-31415", GLASS_REASON]


def phi_resources(subject: str) -> list[dict[str, object]]:
    return [
        {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:mrn", "value": "MRN-77Z-31415"}],
            "name": [{"given": [NAME_GIVEN], "family": NAME_FAMILY}],
            "birthDate": BIRTH_DATE,
        },
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
            "subject": {"reference": subject, "display": f"{NAME_GIVEN} {NAME_FAMILY}"},
            "effectiveDateTime": "2026-04-01",
            "valueQuantity": {"value": float(VALUE), "unit": "mg/dL"},
            "note": [{"text": NOTE}],
        },
    ]


def encodings(needle: str) -> list[bytes]:
    raw = needle.encode()
    forms = {raw, raw.lower(), raw.upper(), needle.encode("utf-16-le"), raw.hex().encode()}
    forms.add(urllib.parse.quote(needle).encode())
    for shift in range(3):  # base64 of the needle at each alignment inside a longer text
        encoded = base64.b64encode(b"\x00" * shift + raw)
        forms.add(encoded[4 if shift else 0 : -4])
    return [f for f in forms if len(f) >= 6]


def search_phi(root: Path) -> list[str]:
    needles = {needle: encodings(needle) for needle in NEEDLES}
    hits = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.parent.name == "keys":
            continue
        data = path.read_bytes()
        for needle, forms in needles.items():
            if any(form in data for form in forms):
                hits.append(f"{path.relative_to(root)}: {needle}")
    return hits
