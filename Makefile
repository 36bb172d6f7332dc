# Two commands matter: `make run` and `make test`. Everything installs from uv.lock into .venv.
SHELL := /bin/bash
PYTHON ?= python3
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
UV := $(shell command -v uv 2>/dev/null || echo var/tools/bin/uv)
PY := .venv/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run install migrate seed serve worker test test-pg test-browser lint check-deploy messages bench clean

run: install migrate seed ## fresh machine → demo back office at http://$(HOST):$(PORT) with the worker beside it
	@echo "Back office: http://$(HOST):$(PORT)/  (accounts: merchant / agent / finance / global / outlet-yto / outlet-yto-clerk / outlet-jt / operator, password demo-pass)"
	@$(PY) -c "import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('$(HOST)', $(PORT)))" 2>/dev/null \
	  || { echo "Port $(PORT) on $(HOST) is taken: choose another, e.g. make run PORT=8001"; exit 1; }
	@trap 'kill 0' EXIT INT TERM; \
	  $(PY) manage.py qcluster & \
	  $(PY) manage.py runserver --noreload $(HOST):$(PORT)

var/tools/bin/uv:
	$(PYTHON) -m venv var/tools
	var/tools/bin/pip install --quiet uv

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python $(PYTHON)
	@touch $@

install: .venv/.installed

migrate: install
	mkdir -p var
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# Local runs keep the test database between runs (--reuse-db; after a new migration pass
# PYTEST_ADDOPTS=--create-db once); CI (CI set) always builds it afresh.
REUSE_DB := $(if $(CI),,--reuse-db)

test: install ## the whole suite on SQLite (browser tests run in .ci/run)
	$(PY) -m pytest -m "not browser" $(REUSE_DB)

test-pg: install ## the same suite on PostgreSQL (DATABASE_URL, default: local server, user postgres)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/backoffice} $(PY) -m pytest -m "not browser" $(REUSE_DB)

test-browser: install ## Playwright driving Debian's chromium
	$(PY) -m pytest -m browser

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

RANDOM_SECRET = $$(head -c 48 /dev/urandom | base64)

check-deploy: install ## production settings with every required secret set to a random value
	DJANGO_SETTINGS_MODULE=config.settings.prod DJANGO_SECRET_KEY=$(RANDOM_SECRET) \
	  DJANGO_ALLOWED_HOSTS=backoffice.example.com DATABASE_URL=sqlite:///var/check.sqlite3 \
	  PLATFORM_EVENTS_SECRET=$(RANDOM_SECRET) CARRIER_CALLBACK_SECRET=$(RANDOM_SECRET) TRUSTED_PROXIES=127.0.0.1 \
	  $(PY) manage.py check --deploy --fail-level WARNING

messages: install ## refresh and compile the translation catalogues
	$(PY) manage.py makemessages -l zh_Hans -l en --no-obsolete -i ".venv/*" -i "var/*"
	$(PY) manage.py compilemessages -i ".venv" -i "var"

bench: install ## the scale benchmark (not part of make test): DATABASE_URL, default a local PostgreSQL scratch database
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/backoffice_bench} $(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf .venv var
