# The quick start: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The protocol clients the suite runs with node (graphql-http's audit, graphql-ws).
CONFORMANCE := tests/conformance
NODE_STAMP := $(CONFORMANCE)/node_modules/.package-lock.json

.PHONY: run test lint schema graphiql bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/account-alerts serve --demo

$(NODE_STAMP): $(CONFORMANCE)/package-lock.json
	if command -v npm >/dev/null; then cd $(CONFORMANCE) && npm ci --no-audit --no-fund; \
	else echo "npm not found: the tests that run node clients will be skipped"; fi

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests migrations bench
	$(BIN)/ruff format --check src tests migrations bench
	$(BIN)/mypy

schema: $(STAMP)
	$(BIN)/account-alerts export-schema schema.graphql

# Copy GraphiQL's browser files, at the versions tools/graphiql pins, into the package.
graphiql:
	tools/graphiql/vendor.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache account_alerts.db* \
		$(CONFORMANCE)/node_modules tools/graphiql/node_modules
