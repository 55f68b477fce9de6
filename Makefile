# il2 — every target is a plain command a newcomer can read.
# `make run` and `make test` work on a fresh machine with Python 3.11+; nothing by hand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
IL2    := $(BIN)/il2
EXAMPLE_FIRST_DOSE ?= 2026-12-07T08:00:00-08:00
DEMO_DATABASE ?= sqlite:///$(CURDIR)/.il2-demo.sqlite3
# pytest-xdist workers for `make unit`: one per core (CI has 2); `make unit TEST_WORKERS=0` runs in one process.
TEST_WORKERS ?= auto

.PHONY: help install system-deps cds-client run examples test lint typecheck imports unit fast fuzz bench lock audit advisories clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

# Every download is checked against the sha256 recorded in the locks (--require-hashes); il2 itself
# is built with the locked setuptools (--no-build-isolation), so nothing unpinned is fetched.
$(STAMP): pyproject.toml requirements/bootstrap.lock requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/bootstrap.lock
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)  ## create .venv with the pinned dependencies and il2 itself

run: export IL2_DATABASE_URL ?= $(DEMO_DATABASE)
run: export IL2_DEMO := 1
run: install  ## serve a demo alive today on http://127.0.0.1:8000 (docs at /docs); `make examples` shows the engines
	@$(IL2) db upgrade
	@$(IL2) demo --today
	$(IL2) serve --host 127.0.0.1 --port 8000

examples: install  ## show the regimens, a plan, and every bundled screening, bedside and response example
	$(IL2) regimens
	$(IL2) plan --regimen hd-label --weight-kg 70 --first-dose $(EXAMPLE_FIRST_DOSE)
	@for candidate in examples/candidates/*.json; do $(IL2) screen $$candidate || exit 1; done
	@for assessment in examples/bedside/*.json; do echo "== $$assessment"; $(IL2) bedside $$assessment || exit 1; done
	$(IL2) recist examples/recist/partial-response.json
	$(IL2) next examples/pathway/another-course.json
	$(IL2) policy

lint: install  ## formatting and lint (ruff)
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/ruff check src tests benchmarks scripts

typecheck: install  ## mypy --strict on src/ and the dependency audit
	$(BIN)/mypy
	$(BIN)/mypy scripts/audit_lock.py

imports: install  ## the layer contracts (import-linter)
	$(BIN)/lint-imports

system-deps:  ## Debian packages the tests need (postgresql, chromium, nodejs and npm), installed if missing
	scripts/system-deps

# --dist loadfile: each test file runs on one worker, so an expensive fixture a module shares
# (the 10-year demo, the make-run demo) is built once. Not loadgroup: under pytest 9.2 its
# xdist_group marks no longer reach the scheduler (xdist 3.8 renames item._nodeid, which pytest
# 9.2 no longer reads), and both workers built each demo.
# --no-loadscope-reorder: xdist otherwise hands out the files by their number of tests, most
# first, ignoring the order tests/conftest.py sets (LONGEST_FIRST); the longest files then
# started last and one worker ran on alone for minutes after the other had finished.
# pytest-cov combines every worker's coverage, and that of the `il2` child processes.
# HealthChain's CDS Hooks client, in its own environment: its pins (fastapi, httpx,
# fhir.resources) conflict with il2's locks. Installed from hashes, like .venv.
CDS_CLIENT := .venv-cds-client
$(CDS_CLIENT)/.installed-stamp: requirements/cds-client.lock
	$(PYTHON) -m venv $(CDS_CLIENT)
	$(CDS_CLIENT)/bin/python -m pip install --quiet --require-hashes -r requirements/cds-client.lock
	touch $@

cds-client: $(CDS_CLIENT)/.installed-stamp  ## the CDS Hooks client the interop tests drive il2 with

unit: install system-deps cds-client  ## the test suite with branch coverage, on every core
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --cov --cov-branch --cov-report=term --durations=30

# The tiers that need only the Python packages: no PostgreSQL, no Chromium (no system-deps).
fast: install  ## unit, conformance and science tests on every core: no database server, no browser
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder tests/unit tests/conformance tests/science

test: lint typecheck imports audit unit  ## everything CI checks

fuzz: install system-deps  ## the API fuzzed deeper than make test: 1,000 cases an operation (about an hour)
	IL2_FUZZ_EXAMPLES=1000 $(BIN)/pytest -n $(TEST_WORKERS) tests/e2e/test_api_fuzz_signed_in.py tests/e2e/test_api_fuzz_no_token.py

bench: install system-deps  ## benchmarks, printing figures (engines, CLI start-up, API, pages, demo, report, FHIR, simulator)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/cli.py
	$(BIN)/python benchmarks/api.py
	$(BIN)/python benchmarks/write_cost.py --instructions
	$(BIN)/python benchmarks/web.py
	$(BIN)/python benchmarks/demo.py
	$(BIN)/python benchmarks/report.py
	$(BIN)/python benchmarks/fhir.py
	$(BIN)/python benchmarks/simulator.py
	$(BIN)/python benchmarks/trial.py --million

lock:  ## re-pin requirements/*.lock with sha256 hashes from pyproject.toml (needs uv)
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header --generate-hashes -o requirements/dev.lock
	uv pip compile requirements/bootstrap.in --python-version 3.11 --no-header --generate-hashes -o requirements/bootstrap.lock
	uv pip compile requirements/cds-client.in --python-version 3.11 --no-header --generate-hashes -o requirements/cds-client.lock

audit: install  ## the locked versions against the stored advisory snapshot (offline)
	$(BIN)/python scripts/audit_lock.py audit

advisories: install  ## refresh security/advisories from the PyPA advisory database (needs network), then audit
	$(BIN)/python scripts/audit_lock.py refresh $(if $(ADVISORY_DB),--git-dir $(ADVISORY_DB))
	$(BIN)/python scripts/audit_lock.py audit

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) $(CDS_CLIENT) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* .hypothesis .il2-demo.sqlite3*
