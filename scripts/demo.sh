#!/usr/bin/env bash
# The demo: a full disaster-recovery drill in the local lab, no Kubernetes needed.
# Installs what is missing, starts the lab (two PostgreSQL sites, services, a prober and a
# real Prometheus on 127.0.0.1), then loses the primary site, fails over, measures RTO and
# RPO, fails back and prints the verdict. The lab keeps running afterwards for more drills.
set -euo pipefail
cd "$(dirname "$0")/.."
DRILL_NO_CHROMIUM=1 scripts/setup.sh   # the demo needs no browser
export PATH="$PWD/.venv/bin:$PATH"

drillctl lab status >/dev/null 2>&1 || drillctl lab up
# The steady-state gate looks at the last 10 s of metrics: give Prometheus that history.
python - <<'PY'
import json, time, urllib.parse, urllib.request
url = json.load(open(".drill-lab/lab.json"))["prometheus_url"]
q = urllib.parse.urlencode({"query": "count_over_time(lab_probe_success[15s])"})
for _ in range(60):
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=5) as r:
        res = json.load(r)["data"]["result"]
    if res and float(res[0]["value"][1]) >= 14:
        break
    time.sleep(1)
PY
set +e
drillctl run scenarios/lab/region-failover.yaml --drill drills/lab.yaml
rc=$?
set -e
echo
echo "The lab is still running: 'drillctl lab status' shows it, 'drillctl lab down' stops it."
echo "More drills: drillctl run scenarios/lab/replication-lag-breach.yaml --drill drills/lab.yaml"
exit $rc
