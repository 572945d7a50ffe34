#!/usr/bin/env bash
# The demo: a full disaster-recovery drill in the local lab, no Kubernetes needed.
# Installs what is missing, starts the lab (two PostgreSQL sites, services, a prober and a
# real Prometheus on 127.0.0.1), then loses the primary site, fails over, measures RTO and
# RPO, fails back and prints the verdict. The lab keeps running afterwards for more drills.
set -euo pipefail
cd "$(dirname "$0")/.."
DRILL_NO_CHROMIUM=1 scripts/setup.sh   # the demo needs no browser
export PATH="$PWD/.venv/bin:$PATH"

# `lab up` returns once a drill can start (metric history for the steady-state windows,
# replication streaming); a lab already running may still be settling, and the drill's
# steady-state gate waits for it (timeouts.steadyState).
drillctl lab status >/dev/null 2>&1 || drillctl lab up
set +e
drillctl run scenarios/lab/region-failover.yaml --drill drills/lab.yaml
rc=$?
set -e
echo
echo "The lab is still running: 'drillctl lab status' shows it, 'drillctl lab down' stops it."
echo "More drills: drillctl run scenarios/lab/replication-lag-breach.yaml --drill drills/lab.yaml"
exit $rc
