# Set-up and checks. `make demo` and `make test` are all a newcomer needs (README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
DEMO_ARGS ?=
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/minsheng

.PHONY: venv demo test test-postgres lint migrations-check openapi openapi-check bench-intake

venv: $(VENV)/.installed

# Re-installs only when pyproject.toml changes; `rm .venv/.installed` forces it.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -e ".[test]"
	touch $@

demo: venv
	$(BIN)/minsheng demo $(DEMO_ARGS)

# -rfE lists failures and errors by name above pytest's closing "N passed in …" line.
test: venv
	$(BIN)/pytest -n 2 -rfE $(PYTEST_ARGS)

test-postgres: venv
	MINSHENG_DATABASE_URL=$(POSTGRES_URL) $(BIN)/pytest -n 2 -rfE $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

migrations-check: venv
	$(BIN)/minsheng manage makemigrations --check --dry-run

openapi: venv
	$(BIN)/minsheng manage export_openapi --output docs/openapi.json

openapi-check: venv
	$(BIN)/minsheng manage export_openapi --check docs/openapi.json

bench-intake: venv
	$(BIN)/python bench/intake.py
