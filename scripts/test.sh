#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run): installs what is missing,
# then lint, types, import layers and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff" && ruff check runner tests benchmarks && ruff format --check runner tests benchmarks
echo "== mypy --strict runner/" && mypy
echo "== import-linter" && lint-imports --no-cache
echo "== pytest" && pytest -q "$@"
