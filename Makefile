# Set-up and checks. `make demo` and `make test` are all a newcomer needs (README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
DEMO_ARGS ?=
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/minsheng

.PHONY: venv assets browser-deps demo test test-postgres lint migrations-check openapi openapi-check bench-intake

venv: $(VENV)/.installed

# Re-installs only when pyproject.toml changes; `rm .venv/.installed` forces it.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -e ".[test]"
	touch $@

# Front-end packages from the npm registry (package-lock.json), copied into static files.
assets: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p src/minsheng/ui/static/ui/vendor
	cp node_modules/htmx.org/dist/htmx.min.js src/minsheng/ui/static/ui/vendor/htmx.min.js
	cp node_modules/echarts/dist/echarts.min.js src/minsheng/ui/static/ui/vendor/echarts.min.js
	touch $@

# Browser journeys drive Debian's Chromium; install it when missing (needs root, as in CI).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi; }

demo: venv assets
	$(BIN)/minsheng demo $(DEMO_ARGS)

# -rfE lists failures and errors by name above pytest's closing "N passed in …" line.
test: venv assets browser-deps
	$(BIN)/pytest -n 2 -rfE $(PYTEST_ARGS)

test-postgres: venv assets browser-deps
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
