"""Drug supply chain: serialized packages, custody, verification, recalls (GS1/DSCSA)."""
