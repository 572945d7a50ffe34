"""The `job` step against the emulator: the test plays the Job controller by setting status."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from runner.chaosmesh.kube_steps import KubernetesSteps, resource_for
from runner.clock import SystemClock
from runner.errors import StepError
from runner.kube.client import KubeClient, client_from_url
from runner.scenario import model
from tests.infra.kube_emulator import KubeEmulatorThread
from tests.kube.conftest import make_run

JOBS = resource_for("Job", None)


def job_step(name: str = "promote", timeout: str = "10s") -> model.Step:
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "db"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "c", "image": "postgres:15", "command": ["pg_ctl", "promote"]}
                    ],
                }
            }
        },
    }
    raw = {
        "name": "run job",
        "action": "job",
        "cluster": "east",
        "timeout": timeout,
        "manifest": manifest,
    }
    return model.Failover.model_validate({"steps": [raw]}).steps[0]


@pytest.fixture
def kube() -> Iterator[KubeClient]:
    with KubeEmulatorThread(extra=["batch/v1/jobs"]) as emu:
        client = client_from_url(emu.url, cluster="east")
        yield client
        client.close()


def finish_later(kube: KubeClient, name: str, outcome: str, delay: float = 0.3) -> None:
    """Act as the Job controller: mark the Job Complete or Failed after a moment."""

    def finish() -> None:
        status: dict[str, Any] = {
            "conditions": [
                {"type": outcome, "status": "True", "message": f"the job {outcome.lower()}"}
            ]
        }
        if outcome == "Complete":
            status["succeeded"] = 1
        kube.patch(JOBS, name, {"status": status}, namespace="db")

    threading.Timer(delay, finish).start()


def test_a_job_runs_to_completion_and_carries_the_run_id(kube: KubeClient) -> None:
    steps = KubernetesSteps(kube, namespace="chaos-drills", clock=SystemClock())
    finish_later(kube, "promote", "Complete")
    result = steps.execute(job_step(), make_run("run-42"))
    assert result.output == "Job db/promote succeeded"
    job = kube.get(JOBS, "promote", namespace="db")
    assert job["metadata"]["labels"]["drill-runner/run-id"] == "run-42"


def test_a_failed_job_fails_the_step_and_a_retry_starts_it_again(kube: KubeClient) -> None:
    steps = KubernetesSteps(kube, namespace="chaos-drills", clock=SystemClock())
    finish_later(kube, "promote", "Failed")
    with pytest.raises(StepError, match="Job db/promote failed: the job failed"):
        steps.execute(job_step(), make_run())
    first_uid = kube.get(JOBS, "promote", namespace="db")["metadata"]["uid"]
    finish_later(kube, "promote", "Complete", delay=0.6)
    assert steps.execute(job_step(), make_run()).output == "Job db/promote succeeded"
    assert kube.get(JOBS, "promote", namespace="db")["metadata"]["uid"] != first_uid


def test_a_job_that_never_finishes_times_out(kube: KubeClient) -> None:
    steps = KubernetesSteps(kube, namespace="chaos-drills", clock=SystemClock())
    with pytest.raises(StepError, match="did not finish within 1s"):
        steps.execute(job_step(timeout="1s"), make_run())


def test_the_backend_supports_job_steps(kube: KubeClient) -> None:
    assert KubernetesSteps(kube, namespace="x", clock=SystemClock()).supports("job")
