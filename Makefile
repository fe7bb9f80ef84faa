# Two commands for a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run web worker test demo lint format migrate bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

migrate: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput

## run: install, migrate, create a local admin + demo stream, serve ASGI on :8000 with a worker
run: migrate
	$(BIN)/python manage.py bootstrap --port $(PORT)
	$(BIN)/python manage.py serve --port $(PORT)

## web: the production web tier on PORT (static files collected, uvicorn, one process per core)
web: migrate
	$(BIN)/python manage.py web --port $(PORT)

## worker: the production worker tier (django-q2: schedules, spot-checks, settlement, payouts);
## it does not migrate (two tiers migrating at once race): start `make web` (or `make migrate`) first
worker: $(VENV)/.installed
	$(BIN)/python manage.py worker

## demo: the whole pipeline on this machine, on its own database; DEMO_SECONDS=90 ends it by itself
DEMO_DIR := $(CURDIR)/.local/demo
demo: $(VENV)/.installed-dev
	mkdir -p $(DEMO_DIR) && rm -f $(DEMO_DIR)/db.sqlite3
	env -u REDIS_URL DATABASE_URL=sqlite:///$(DEMO_DIR)/db.sqlite3 HEARTBEAT_INTERVAL_SECONDS=2 \
		STREAM_SESSION_SILENCE_SECONDS=10 LOG_LEVEL=WARNING $(BIN)/python manage.py demo $(if $(DEMO_SECONDS),--seconds $(DEMO_SECONDS))

## test: lint (ruff), layers (import-linter), type-check (mypy) and the whole pytest suite, on two
## pytest-xdist workers (the live tests mostly wait on real-time media, so two overlap well even on two
## cores); each worker has its own test database and Redis database (testkit/workers.py)
TEST_WORKERS ?= 2
test: lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: every benchmark, then one table of figures beside ceilings measured in the same run (under
## 10 minutes). Like production: PostgreSQL and Redis (the local services by default), nginx-rtmp,
## ffmpeg and wrk (Debian packages); docs/BENCHMARKS.md holds the latest table.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/14
bench: $(VENV)/.installed-dev
	cd bench && DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) ../$(BIN)/python all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
