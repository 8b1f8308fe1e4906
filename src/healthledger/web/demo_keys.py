"""The demo's key lending: a node started by `healthledger demo` lets its sign-in page
list the demo's synthetic people and open their key files.

Only the demo does this, and only to this computer (the API checks loopback); a node
started with `node run` has no `DemoKeys` and serves no key, ever.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from healthledger.errors import MalformedInput, NotFound

USERS_FILE = "demo-users.json"

# Who of the demo's people shows each page (the accessibility tests and the screenshots
# sign in as them); a page added without a visitor fails those tests until it names one.
DEMO_VISITORS: dict[str, str | None] = {
    "home": None,
    "patient": "Jasmine Yilmaz",
    "clinician": "Dr Gregory House",
    "pharmacist": "Ana Pharmacist",
    "regulator": "National Health Authority",
    "explorer": "Kim Auditor",
    "issuer": "State Medical Board",
    "credentials": "Dr Meredith Grey",
    "verify-credential": "St Mary's Hospital",
}


class DemoIdentity(BaseModel):
    """One demo person or organisation as the sign-in page lists it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    kind: str
    role: str
    organisation: str | None
    key_id: str
    patient_id: str | None


class _Listed(DemoIdentity):
    key_file: str


class DemoKeys:
    """The demo folder's people and their key files (read when asked: the folder may grow)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()

    def _listed(self) -> list[_Listed]:
        path = self.directory / USERS_FILE
        try:
            rows = json.loads(path.read_text())
            return [_Listed.model_validate(row) for row in rows]
        except (OSError, ValueError, ValidationError) as exc:
            raise MalformedInput(f"cannot read the demo's {USERS_FILE}: {exc}") from exc

    def identities(self) -> list[DemoIdentity]:
        return [DemoIdentity.model_validate(row.model_dump()) for row in self._listed()]

    def key_text(self, key_id: str) -> str:
        """The key file of the demo identity `key_id`; only files inside the demo's keys folder."""
        keys_dir = self.directory / "keys"
        for row in self._listed():
            if row.key_id != key_id:
                continue
            path = Path(row.key_file).resolve()
            if not path.is_relative_to(keys_dir):
                break
            return path.read_text()
        raise NotFound(f"no demo identity has key {key_id[:16]}")
