# Two commands for a new user: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_STAMP := .data/.system-packages

.PHONY: run test db db-stop migrate load vendor lint typecheck pytest faults overload clients bench clean system system-run cluster cluster-down

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq -e '.[dev]'
	@touch $(STAMP)

# Debian packages the real-client and browser tests use (installed when root and missing).
system:
	@./scripts/system-packages.sh test

system-run:
	@./scripts/system-packages.sh run

# Leaflet and its plugins from npm, pinned and checksummed, served by us (no CDN at run time).
vendor: $(STAMP) system-run
	$(BIN)/gis-service map vendor

db: $(STAMP)
	$(BIN)/gis-service db up

db-stop: $(STAMP)
	$(BIN)/gis-service db stop

migrate: db
	$(BIN)/gis-service migrate

load: migrate
	$(BIN)/gis-service load --bundled
	$(BIN)/gis-service raster build
	$(BIN)/gis-service tiles glyphs

run: load vendor
	$(BIN)/gis-service serve

lint: $(STAMP)
	$(BIN)/ruff check gis_service tests bench migrations
	$(BIN)/ruff format --check gis_service tests bench migrations

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: db system vendor
	set -a; source .data/test.env; set +a; $(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# Fault tests alone (they are part of `make test` too): database outages, a full pool, killed workers.
faults: db
	set -a; source .data/test.env; set +a; $(BIN)/pytest tests/faults $(PYTEST_ARGS)

# 50 mixed clients against 1 and 2 workers (figures in bench/README.md); --quick: 10 s per run.
overload: $(STAMP)
	$(BIN)/python bench/overload.py --quick

# A primary, two streaming replicas, PgBouncer, Redis, two API processes and nginx on loopback (ports
# 55432..55439; README "Scale-out"); `make cluster-down` stops them. The `cluster` tests run in `make test`.
cluster: $(STAMP) system
	$(BIN)/gis-service cluster up

cluster-down: $(STAMP)
	$(BIN)/gis-service cluster down

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
