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
# A real etcd + kube-apiserver for the envtest tier (tests/envtest): built from Debian's
# packages by ../shared/tools/envtest (about 4 min cold, then cached); honours a preset
# KUBEBUILDER_ASSETS, as envtest does. Without them those tests skip, naming the reason.
envtest_build=../shared/tools/envtest/build-assets.sh
if [ -z "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$envtest_build" ]; then
  echo "== envtest assets"
  if assets=$("$envtest_build" | tail -n 1) && [ -x "$assets/kube-apiserver" ]; then
    export KUBEBUILDER_ASSETS="$assets"
  elif [ -n "${CI:-}" ]; then
    echo "envtest assets could not be built" >&2; exit 3
  else
    echo "envtest assets could not be built: the envtest tests will be skipped" >&2
  fi
fi
echo "== pytest" && pytest -q "$@"
