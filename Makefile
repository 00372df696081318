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

test: setup
	.venv/bin/ruff check .
	.venv/bin/pytest

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
