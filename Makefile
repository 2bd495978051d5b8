# Two commands do everything on a fresh Debian machine:
#   make run   - set up, migrate, load the demo county, serve on http://127.0.0.1:5000
#   make test  - set up (PostGIS included), lint, and run the whole suite on SpatiaLite and on PostGIS
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app server
HOST ?= 127.0.0.1
PORT ?= 5000
export GRID_SPATIALITE_PATH ?= mod_spatialite

.PHONY: run test setup lint openapi bench clean

$(VENV)/.deps: requirements.txt requirements-dev.txt
	@scripts/dev/ensure_system_packages.sh
	@test -x $(PY) || /usr/bin/python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

server/web/node_modules/.deps: server/web/package.json server/web/package-lock.json
	@cd server/web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(VENV)/.deps server/web/node_modules/.deps

run: setup
	@$(FLASK) db upgrade 2>&1 | sed '/^INFO/d'
	@$(FLASK) grids import grid_maps/demo_county.geojson --by demo --quiet
	@$(FLASK) users demo
	@$(FLASK) households demo
	@echo ""
	@echo "  Grid inspection API: http://$(HOST):$(PORT)/api/v1"
	@echo "  API docs:            http://$(HOST):$(PORT)/api/docs"
	@echo "  Coverage map:        http://$(HOST):$(PORT)/map"
	@echo "  Log in with any demo phone above and the password shown (POST /api/v1/auth/login)."
	@echo ""
	@GRID_INPROCESS_WORKER=1 $(FLASK) run --host $(HOST) --port $(PORT)


test: setup
	@WITH_BROWSER=1 scripts/dev/ensure_system_packages.sh
	@scripts/dev/run_tests.sh


lint: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

# Every benchmark of the README's performance table (each makes its own databases; about 10 minutes).
bench: setup
	@WITH_BENCH=1 scripts/dev/ensure_system_packages.sh
	@for b in scripts/bench/bench_*.py; do echo "== $$b"; PYTHONPATH=. $(PY) $$b || exit 1; done

openapi: setup
	@PYTHONPATH=. $(PY) scripts/generate_openapi.py

clean:
	rm -rf $(VENV) server/web/node_modules instance/*.sqlite*
