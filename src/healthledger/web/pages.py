"""The portal's pages: each is a template (markup only) and an ES module (everything else).

The node renders one shell for every page path: the navigation and each page's
markup, never a ledger value. Everything a person sees about the ledger is fetched
by the page's module with requests signed in the browser, and drawn there; so the
HTML a node serves is the same bytes for everyone and cannot carry anyone's data.

A later domain adds a page by appending a `Page` here, a template under
`templates/pages/` and a module under `static/portal/pages/` (docs/web.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Persona = Literal["everyone", "patient", "clinician", "pharmacist", "regulator", "member", "issuer"]


@dataclass(frozen=True)
class Page:
    """One page of the portal, served at `path`, drawn by `module`."""

    slug: str  # the page's path segment and element ids: lowercase letters and dashes
    title: str
    persona: Persona
    summary: str  # one line, shown on the home page beside the link
    signed_in: bool = True  # False: usable before a key is opened (the sign-in page itself)

    @property
    def path(self) -> str:
        return "/" if self.slug == "home" else f"/{self.slug}"

    @property
    def template(self) -> str:
        return f"pages/{self.slug}.html"

    @property
    def module(self) -> str:
        return f"/static/portal/pages/{self.slug}.js"


PAGES: tuple[Page, ...] = (
    Page("home", "Sign in", "everyone", "Open your key file to act as yourself", signed_in=False),
    Page("patient", "My health", "patient", "Your records, who read them, your consents"),
    Page("clinician", "Patients", "clinician", "Find a patient, read with a purpose, add records"),
    Page("pharmacist", "Verify a pack", "pharmacist", "Scan a pack, check its proofs, dispense"),
    Page("regulator", "Oversight", "regulator", "Alerts, recalls, quarantine and clear"),
    Page("explorer", "Explorer", "member", "Blocks, transactions, organisations, proofs"),
    Page("issuer", "Issue credentials", "issuer", "Sign licences and privileges, revoke them"),
    Page("credentials", "My credentials", "member", "Your credential file, CE totals, shares"),
    Page("verify-credential", "Verify a credential", "member", "Check a presented credential"),
)


def page_at(path: str) -> Page | None:
    """The page served at `path`, if any."""
    return next((page for page in PAGES if page.path == path), None)
