# The two commands of the README, and a few more for developers.
.PHONY: setup up down status test lint format bench semantic

setup:
	@./deploy/bootstrap.sh

up: setup
	.venv/bin/hubstream up

down:
	.venv/bin/hubstream down

status:
	.venv/bin/hubstream status

# Two pytest workers (pytest-xdist), a file each at a time: most tests wait on a broker, a database or a
# process they started, so two at once nearly halve the run on two cores. The fuzz module runs alone after:
# schemathesis's generated tests are not dealt out to xdist workers (they were silently not run).
TEST_WORKERS ?= 2
test: setup
	.venv/bin/ruff check .
	.venv/bin/pytest -n $(TEST_WORKERS) --dist loadfile --ignore=tests/e2e/test_fuzz.py
	.venv/bin/pytest tests/e2e/test_fuzz.py

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench: setup
	.venv/bin/hubstream bench events

# Semantic and hybrid search for ingest (optional: torch and its CUDA libraries from PyPI, ~6 GB, ~18 min here).
semantic: setup
	.venv/bin/pip install -q -e ".[semantic]"
