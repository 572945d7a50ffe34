#!/usr/bin/env bash
# Refreshes the two lock files from pyproject.toml (pip-tools' pip-compile, from the locked
# development environment), every transitive dependency pinned with its sha256 hashes:
#   requirements/dev.lock      the development environment (`[dev]` extra): scripts/setup.sh, CI
#   requirements/runtime.lock  the package alone plus its build backend: the Dockerfile
# runtime.lock is compiled under dev.lock as a constraint, so both pin the same versions.
# Arguments go to the dev.lock compile, e.g. `--upgrade-package PyYAML`; with none it keeps the
# pins that still fit and adds what is new. `--upgrade` moves them all.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pip-compile ] || scripts/setup.sh
common=(--quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links)
.venv/bin/pip-compile "${common[@]}" --extra dev --output-file requirements/dev.lock "$@" pyproject.toml
exec .venv/bin/pip-compile "${common[@]}" --build-deps-for wheel --constraint requirements/dev.lock \
  --output-file requirements/runtime.lock pyproject.toml
