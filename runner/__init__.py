"""drill-runner: chaos and disaster-recovery drills for multi-cluster Kubernetes.

The package is layered (checked by import-linter, see pyproject.toml):
front-ends (cli, pytest_plugin, scheduler) > engine > adapters (lab, chaosmesh,
measure, steps, records) > client wrappers and seams (kube, prom, backends) >
scenario model > leaves (errors, clock).
"""

__version__ = "0.1.0"
