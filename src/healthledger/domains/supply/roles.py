"""Who takes part in the supply chain: one set of roles for the permission table and the rules."""

from __future__ import annotations

from healthledger.domains.kit import capability, member, org

# Organisations that hold stock in the chain (DSCSA trading partners and dispensers).
TRADING_ROLES = frozenset({"manufacturer", "distributor", "pharmacy", "hospital", "clinic"})
DISPENSERS = frozenset({"pharmacy", "hospital", "clinic"})
REGULATOR = "regulator"

TRADING = frozenset(org(role) for role in TRADING_ROLES)
DISPENSING = frozenset(org(role) for role in DISPENSERS) | {member("pharmacist")}
REGULATING = frozenset({org(REGULATOR)})
MAKERS = frozenset({org("manufacturer")})

# A body the consortium appoints to quarantine and clear suspect packages besides the
# regulator (a testing laboratory, an inspectorate): a capability, not a role.
INSPECTOR = "inspector"
INSPECTING = REGULATING | {capability(INSPECTOR)}
