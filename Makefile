# Everything runs from a virtual environment this Makefile builds from pinned versions.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: help install run migrate revision admin test coverage lint typecheck format bench bench-template clean

help:
	@echo "make run | test | coverage | lint | typecheck | format | migrate | revision m=\"...\" | admin email=... | bench | bench-template | clean"

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m app serve

migrate: $(STAMP)
	$(PY) -m app migrate

revision: $(STAMP)
	@test -n "$(m)" || (echo 'usage: make revision m="describe the change"' && exit 2)
	$(PY) -m alembic revision --autogenerate -m "$(m)"

# `make admin email=E` asks for a new admin's password on the terminal; in a script, pipe it in:
# `echo "$PW" | make admin email=E stdin=1`.
admin: $(STAMP)
	@test -n "$(email)" || (echo 'usage: make admin email=you@example.com [stdin=1]' && exit 2)
	$(PY) -m app migrate
	$(PY) -m app create-admin --email "$(email)" $(if $(stdin),--password-stdin)

test: $(STAMP)
	$(PY) -m pytest -q $(args)

# The suite with a coverage report, failing under the floor in pyproject.toml (CI runs this on
# PostgreSQL); `make test` stays without it, as measuring slows every test.
coverage: $(STAMP)
	$(PY) -m pytest -q --cov --cov-report=term $(args)

lint: $(STAMP) typecheck
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# mypy --strict with the pydantic plugin; what it checks is [tool.mypy] in pyproject.toml.
typecheck: $(STAMP)
	$(PY) -m mypy

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Throughput and latency against a bare-FastAPI ceiling (needs wrk); `save=1` writes bench/results/.
# `posts=N` seeds N posts; `scale=10000,100000,1000000` makes the scale table instead (bench/scale.py);
# `buffer_pool=MIB` sizes a MariaDB/MySQL server's InnoDB buffer pool for that run.
bench: $(STAMP)
	$(PY) bench/run.py $(if $(save),--save) $(if $(posts),--posts $(posts)) $(if $(scale),--scale $(scale)) $(if $(buffer_pool),--innodb-buffer-pool $(buffer_pool))

# Quill's list next to fastapi/full-stack-fastapi-template's on PostgreSQL (bench/template.py):
# TEMPLATE_DIR names a checkout of the template, DATABASE_URL the server (default local postgres).
bench-template: $(STAMP)
	$(PY) bench/template.py $(if $(save),--save)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
