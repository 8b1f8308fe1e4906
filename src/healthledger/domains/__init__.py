"""HealthLedger."""
