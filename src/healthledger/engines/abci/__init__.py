"""The CometBFT engine: an ABCI 2.0 socket server that drives the same Application.

CometBFT (pinned v0.38.25, built by scripts/install-cometbft) orders transactions
and calls us over four socket connections; `adapter` maps each ABCI method onto
`healthledger.app.application.Application`, `server` speaks the socket protocol,
`codec` frames messages and `protos` loads the generated protobuf classes.
Run it with `python -m healthledger.engines.abci --home DIR --socket unix:///path`.
"""
