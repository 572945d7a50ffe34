#!/usr/bin/env bash
# Refreshes requirements/dev.lock from pyproject.toml: the newest versions within its ranges,
# every transitive dependency pinned with its sha256 hashes (pip-tools' pip-compile, from the
# locked development environment). Arguments go to pip-compile, e.g. `--upgrade-package PyYAML`;
# with none it keeps the pins that still fit and adds what is new. `--upgrade` moves them all.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pip-compile ] || scripts/setup.sh
exec .venv/bin/pip-compile --quiet --extra dev --generate-hashes --allow-unsafe --strip-extras \
  --no-emit-index-url --no-emit-find-links --output-file requirements/dev.lock "$@" pyproject.toml
