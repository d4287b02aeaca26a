# Every target bootstraps .venv itself, so a fresh clone needs only Python 3.11+ and pip.
# Installs come from the hashed lock files, never from "newest today": `make lock`
# is the one deliberate way to change a version (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
# `make lock LOCK_FLAGS=--upgrade` moves every pin to the newest allowed release;
# without it, pins that still satisfy pyproject.toml are kept.
LOCK_FLAGS ?=
# The locks resolve for the interpreter and platform we ship on (python:3.11-slim).
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" $(LOCK_FLAGS)
# The project is installed with --no-build-isolation, so its build backend is locked too.
BUILD_REQUIRES = $(BIN)/python -c 'import tomllib; \
	print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")'

.PHONY: run test test-slow lint fmt typecheck openapi bench bench-sync seed-demo lock clean

$(STAMP): pyproject.toml $(LOCK) $(DEV_LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/berdaya serve

test: $(STAMP)
	$(BIN)/pytest -m "not slow" -q

test-slow: $(STAMP)
	$(BIN)/pytest -m slow -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check app tests
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format app tests

typecheck: $(STAMP)
	$(BIN)/mypy

openapi: $(STAMP)
	$(BIN)/berdaya openapi

seed-demo: $(STAMP)
	$(BIN)/berdaya seed-demo

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Field sync (API.md §6): push, changes page, first full sync, beside asyncpg's floor.
bench-sync: $(STAMP)
	$(BIN)/python bench/sync_bench.py

# Runtime+dev first; the runtime lock is constrained by it, so both agree on every version.
lock: $(STAMP)
	$(BUILD_REQUIRES) | $(UV_COMPILE) --extra dev -o $(DEV_LOCK) pyproject.toml -
	$(BUILD_REQUIRES) | $(UV_COMPILE) -c $(DEV_LOCK) -o $(LOCK) pyproject.toml -

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
