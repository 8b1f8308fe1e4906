# One command for every routine. Each target bootstraps .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean cometbft testnet testnet-down

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/healthledger demo --dir demo-net --port 8700

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/healthledger bench ingest --txs 20000 --json
	$(BIN)/healthledger bench api --txs 20000 --json
	$(BIN)/healthledger bench trie --json
	$(BIN)/healthledger bench records --json

# CometBFT v0.38.25 built with Go into .tools/, and the ABCI protobuf classes (tests run it too).
cometbft: $(STAMP)
	PYTHON=$(BIN)/python scripts/install-cometbft

# A 4-validator CometBFT network on this machine (one organisation per validator).
testnet: cometbft
	$(BIN)/healthledger net up --validators 4 --dir testnet

testnet-down: $(STAMP)
	$(BIN)/healthledger net down --dir testnet

clean:
	rm -rf $(VENV) demo-net testnet .tools
