"""`python -m healthledger` is the `healthledger` command."""

from healthledger.cli.main import main

main()
