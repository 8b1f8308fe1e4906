"""HealthLedger: a permissioned blockchain for healthcare."""

__version__ = "0.1.0"
