"""`drillctl cleanup --force-unlock` breaks a dead run's Lease instead of waiting for expiry."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from runner.chaosmesh.lease import LeaseLock
from runner.cli.main import cli
from runner.clock import SystemClock
from runner.errors import LockHeldError
from runner.kube.client import KubeClient
from runner.kube.resources import LEASES
from tests.infra.kube_emulator import KubeEmulatorThread
from tests.kube.cli_files import write_files
from tests.kube.conftest import NS, make_run


def test_force_unlock_frees_a_target_held_by_a_dead_run(
    tmp_path: Path, emulator: KubeEmulatorThread, kube: KubeClient
) -> None:
    dead = LeaseLock(kube, target="east", namespace=NS, clock=SystemClock(), auto_renew=False)
    dead.acquire(make_run("dead-run"))
    second = LeaseLock(kube, target="east", namespace=NS, clock=SystemClock(), auto_renew=False)
    try:
        second.acquire(make_run("next-run"))
        raise AssertionError("the lease should be held")
    except LockHeldError as e:
        assert e.holder == "dead-run"
    _, drill = write_files(tmp_path, emulator.url)
    plain = CliRunner().invoke(cli, ["cleanup", "--drill", str(drill), "-o", "json"])
    assert plain.exit_code == 0, plain.output
    assert kube.get_or_none(LEASES, dead.name, namespace=NS) is not None  # not without the flag
    res = CliRunner().invoke(
        cli, ["cleanup", "--drill", str(drill), "--force-unlock", "-o", "json"]
    )
    assert res.exit_code == 0, res.output
    assert {"cluster": "east", "holder": "dead-run"} in json.loads(res.output)["unlocked"]
    assert kube.get_or_none(LEASES, dead.name, namespace=NS) is None
    second.acquire(make_run("next-run"))
    second.release(make_run("next-run"))
