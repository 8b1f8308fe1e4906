"""A client's resolver of EPCIS parties: GS1 identifiers to organisations, proven.

An importer maps a partner's document before it signs anything, so it resolves each
party or location (`urn:epc:id:sgln:`, `pgln`, GS1 Digital Link, `urn:healthledger:org:`)
through the node's directory, checking every answer's proof against the client's trust
anchor: a node cannot make a GLN resolve to an organisation the ledger does not say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from healthledger.domains.supply.parties import resolve_party

if TYPE_CHECKING:  # the SDK's importer uses this resolver: no import cycle at run time
    from healthledger.client.sdk import Client


def party_resolver(client: Client) -> Callable[[str], str]:
    """`uri -> org id` over the proven GLN registry, asking once per GLN (a document
    names few sites many times); an unregistered GLN raises `unknown_party` naming it."""
    known: dict[str, str | None] = {}

    def org_of_gln(gln: str) -> str | None:
        if gln not in known:
            known[gln] = client.org_of_gln(gln)
        return known[gln]

    return lambda uri: resolve_party(uri, org_of_gln)


__all__ = ["party_resolver"]
