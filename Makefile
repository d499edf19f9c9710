# Every target bootstraps .venv itself: a bare machine needs only Python 3.11, pip and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint format typecheck serve clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples
	$(BIN)/mypy src

typecheck: $(STAMP)
	$(BIN)/mypy src

format: $(STAMP)
	$(BIN)/ruff format src tests examples
	$(BIN)/ruff check --fix src tests examples

test: lint
	$(BIN)/pytest -n auto --dist loadgroup --cov --cov-report=term $(PYTEST_ARGS)

serve: $(STAMP)
	$(BIN)/doorkeeper serve --host 127.0.0.1 --port 8000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage

# Doorkeeper and FastAPI Users side by side (about 20 minutes; see benchmarks/README.md).
# FastAPI Users comes from the package registry into its own venv, never into .venv.
BENCH_VENV := benchmarks/.venv-fastapi-users

.PHONY: bench

$(BENCH_VENV)/.installed: benchmarks/requirements-fastapi-users.txt benchmarks/requirements-profile.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements-fastapi-users.txt \
		-r benchmarks/requirements-profile.txt
	touch $@

bench: $(STAMP) $(BENCH_VENV)/.installed
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
