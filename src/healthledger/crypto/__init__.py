"""Keys, signatures, key wrapping, canonical encoding and hashes."""
