# cosell-sync — the README's two commands come from here: `make demo` and `make test`.
# Each target sets itself up on a fresh machine (virtualenv, Python packages, Azurite, checkov).

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
AZURITE := .tools/node_modules/.bin/azurite
AZURITE_VERSION := 3.35.0
CHECKOV := .tools/checkov/bin/checkov
CHECKOV_VERSION := 3.3.30
# Salesforce's source-deploy-retrieve (the library behind `sf project convert source`), for the offline
# metadata conversion test. 12.x: 13.x needs Node 22; jsforce-node is held at 3.10.8 because 3.11+
# pulls undici 8, which needs Node 22 too.
SDR := .tools/sdr/node_modules/@salesforce/source-deploy-retrieve/package.json
SDR_VERSION := 12.37.0
JSFORCE_NODE_VERSION := 3.10.8
DEMO_ONCE ?=

.PHONY: setup demo test lint typecheck imports unit bench clean

setup: $(STAMP) $(AZURITE) $(CHECKOV) $(SDR)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

$(AZURITE):
	mkdir -p .tools
	cd .tools && npm install --no-audit --no-fund --loglevel=error azurite@$(AZURITE_VERSION)

# Its own folder: its dependency overrides must not move Azurite's.
$(SDR):
	mkdir -p .tools/sdr
	printf '{"private": true, "overrides": {"@jsforce/jsforce-node": "$(JSFORCE_NODE_VERSION)"}}\n' > .tools/sdr/package.json
	cd .tools/sdr && npm install --no-audit --no-fund --loglevel=error --save-exact @salesforce/source-deploy-retrieve@$(SDR_VERSION)

# checkov pins clash with the app's, so it gets a virtualenv of its own.
$(CHECKOV):
	$(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/python -m pip install -q --upgrade pip
	.tools/checkov/bin/python -m pip install -q checkov==$(CHECKOV_VERSION)

demo: $(STAMP) $(AZURITE)
	$(BIN)/python -m devstack.demo $(if $(DEMO_ONCE),--once,)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The layer, purity and no-cycle contracts in pyproject.toml ([tool.importlinter]).
imports: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

test: setup lint typecheck imports
	$(BIN)/pytest

bench: $(STAMP) $(AZURITE)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .tools .mypy_cache .pytest_cache .ruff_cache .hypothesis
