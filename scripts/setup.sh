#!/usr/bin/env bash
# Installs what drill-runner needs on a fresh Debian/Ubuntu machine: the Debian packages
# (Prometheus, PostgreSQL 15, BIND 9, openssl) when it can, and a virtualenv in .venv with the
# project and its development tools. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_debs=()
command -v prometheus >/dev/null 2>&1 || need_debs+=(prometheus)
command -v promtool >/dev/null 2>&1 || need_debs+=(prometheus)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_debs+=(postgresql-15)
command -v openssl >/dev/null 2>&1 || need_debs+=(openssl)
# BIND 9's named: the lab's authoritative DNS in the global-DNS topologies
command -v named >/dev/null 2>&1 || [ -x /usr/sbin/named ] || need_debs+=(bind9)
# headless Chromium renders the HTML report in its screenshot test (skipped without it)
command -v chromium >/dev/null 2>&1 || [ -n "${DRILL_NO_CHROMIUM:-}" ] || need_debs+=(chromium)
if [ ${#need_debs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${need_debs[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${need_debs[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${need_debs[*]}" >&2
    echo "setup: install them with: sudo apt-get install --no-install-recommends ${need_debs[*]}" >&2
    exit 2
  fi
fi

# Python packages: exactly the versions and hashes in requirements/dev.lock (pip's hash-checking
# mode refuses anything unpinned or altered), then the project itself, editable, built with the
# locked setuptools. Refresh the lock with scripts/lock.sh.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.drill-runner-installed
want=$(cat requirements/dev.lock pyproject.toml | sha256sum)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  pip_install() {
    .venv/bin/python -m pip install -qq --disable-pip-version-check "$@" 2>&1 \
      | grep -v '^WARNING: Location' || true
  }
  pip_install --require-hashes -r requirements/dev.lock
  pip_install --no-deps --no-build-isolation -e .
  .venv/bin/python -c 'import runner, kubernetes, prometheus_api_client, kmock' \
    || { echo "setup: pip install failed" >&2; exit 3; }
  echo "$want" > "$stamp"
fi
