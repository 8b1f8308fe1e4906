"""The `healthledger` command line."""
