# Two commands on a fresh machine with python3 and make: `make demo` and `make test`.
PYTHON ?= python3
UV_VERSION := 0.13.8
VENV := .venv
FLOOR_VENV := .venv-floor
UV := $(VENV)/bin/uv
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False

.PHONY: install install-floor lint test test-floor test-compose demo airflow test-e2e bench clean lock

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(UV): $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) requirements/lock.txt pyproject.toml
	$(UV) pip install --quiet --python $(VENV)/bin/python -r requirements/lock.txt
	$(UV) pip install --quiet --python $(VENV)/bin/python --no-deps -e .
	touch $@

$(FLOOR_VENV)/bin/python: | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(FLOOR_VENV)

$(FLOOR_VENV)/.installed: $(FLOOR_VENV)/bin/python requirements/lock-floor.txt pyproject.toml
	$(UV) pip install --quiet --python $(FLOOR_VENV)/bin/python -r requirements/lock-floor.txt
	$(UV) pip install --quiet --python $(FLOOR_VENV)/bin/python --no-deps -e .
	touch $@

install: $(VENV)/.installed

install-floor: $(FLOOR_VENV)/.installed

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Parallel workers (pytest-xdist): each has its own AIRFLOW_HOME, ports, tmp dirs and DB names;
# a module's tests stay on one worker (--dist loadscope), so module fixtures are made once.
PYTEST_WORKERS ?= 3
test: lint install-floor
	$(VENV)/bin/pytest -m "not compose" -n $(PYTEST_WORKERS) --dist loadscope
	$(FLOOR_VENV)/bin/pytest -m "not slow" -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadscope

# The docker-compose stack for real (tests/deployment): installs Docker and debootstrap if missing,
# starts an engine if none runs and stops it after; base images stay cached between runs.
test-compose: install
	bash scripts/with-docker.sh $(VENV)/bin/pytest tests/deployment -m compose -p no:cacheprovider

demo: install
	$(VENV)/bin/python scripts/demo.py

# Airflow's UI on http://127.0.0.1:$(AIRFLOW_PORT) with the emulator (Ctrl-C stops everything).
AIRFLOW_PORT ?= 8080
airflow: install
	$(VENV)/bin/python scripts/airflow_ui.py --port $(AIRFLOW_PORT)

# Browser tests: make airflow's setup driven in Debian's chromium by Playwright (screenshots in .e2e-screenshots/).
test-e2e: install
	scripts/ensure_chromium.sh
	AIRFLOW_CRM_E2E=1 $(VENV)/bin/pytest tests/e2e -p no:cacheprovider

bench: install
	$(VENV)/bin/python -m benchmarks

# Regenerate the pinned locks (plain name==version lines, no index URLs): the dev group and every extra.
lock: $(UV)
	$(UV) pip compile pyproject.toml --all-extras --group dev --universal --python-version 3.10 --no-annotate --no-header -o requirements/lock.txt
	$(UV) pip compile pyproject.toml --all-extras --group dev --universal --python-version 3.10 --no-annotate --no-header -c requirements/floor.txt -o requirements/lock-floor.txt

clean:
	rm -rf $(VENV) $(FLOOR_VENV) .pytest_cache .mypy_cache .ruff_cache build dist
