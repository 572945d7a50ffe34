"""The typed model of the two file kinds: `Scenario` (what to break and measure) and `Drill`
(when and where).

Field names are the YAML names (camelCase, Kubernetes style); Python attributes are
snake_case. Every model is frozen and forbids unknown fields, so a typo is an error,
never a silently ignored key. Loading with file/line/column errors lives in `loader`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from runner.scenario.values import Comparison, Duration, HttpUrl

API_VERSION = "drill-runner.dev/v1alpha1"
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="a DNS label: a-z, 0-9 and '-'")]


class Model(BaseModel):
    """Base: frozen, unknown fields forbidden, YAML names in camelCase."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        use_enum_values=False,
    )


class Metadata(Model):
    name: Name
    description: str = ""
    labels: dict[str, str] = Field(default_factory=dict)


# --------------------------------------------------------------------------- scenario: checks


class SteadyStateCheck(Model):
    """A PromQL expression that must meet its expectation over a window."""

    name: str = Field(min_length=1)
    query: str = Field(min_length=1)
    expect: Comparison
    window: Duration = timedelta(seconds=30)
    """Evaluated over this window before injection (the gate) and after failback."""


class Guardrail(Model):
    """A PromQL condition that aborts the drill when breached, from injection on."""

    name: str = Field(min_length=1)
    query: str = Field(min_length=1)
    abort_when: Comparison
    for_: Duration = Field(default=timedelta(0), alias="for")
    """The breach must persist this long before the drill aborts (0: at once)."""


# --------------------------------------------------------------------------- scenario: faults


class PodSelector(Model):
    """Which pods a Kubernetes fault touches. The lab ignores it (it acts on whole sites)."""

    namespaces: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    expressions: list[dict[str, Any]] = Field(default_factory=list)
    pods: dict[str, list[str]] = Field(default_factory=dict)


class _FaultBase(Model):
    name: Name
    cluster: Name
    """The logical cluster the fault is injected into."""
    duration: Duration
    """How long the fault lasts; the Chaos Mesh object carries this plus a margin."""
    start_after: Duration = timedelta(0)
    """Delay from the start of the inject phase."""


class ClusterLossFault(_FaultBase):
    """Every workload in the chosen namespaces of a cluster becomes unavailable."""

    type: Literal["cluster-loss"]
    namespaces: list[str] = Field(default_factory=list)
    effect: Literal["crash", "hang"] = "crash"
    """crash: processes/pods fail; hang: they stop answering (frozen / isolated)."""
    isolate_network: bool = False
    """Kubernetes: also cut all traffic of those pods with a NetworkChaos partition."""


class NetworkPartitionFault(_FaultBase):
    """Traffic between the selected pods and the peer cluster is dropped."""

    type: Literal["network-partition"]
    peer: Name
    selector: PodSelector = Field(default_factory=PodSelector)
    direction: Literal["to", "from", "both"] = "both"


class DelaySpec(Model):
    latency: Duration
    jitter: Duration = timedelta(0)
    correlation: float = Field(default=0, ge=0, le=100)


class BandwidthSpec(Model):
    rate: str = Field(pattern=r"^[0-9]+(\.[0-9]+)?(bps|kbps|mbps|gbps)$")
    limit: int = Field(default=20971520, gt=0)
    buffer: int = Field(default=10000, gt=0)


class ReplicationLagFault(_FaultBase):
    """The replica's traffic to the primary is delayed and/or throttled."""

    type: Literal["replication-lag"]
    peer: Name
    """The cluster of the primary the replica streams from."""
    selector: PodSelector = Field(default_factory=PodSelector)
    delay: DelaySpec | None = None
    bandwidth: BandwidthSpec | None = None

    @model_validator(mode="after")
    def _needs_delay_or_bandwidth(self) -> ReplicationLagFault:
        if self.delay is None and self.bandwidth is None:
            raise ValueError("give 'delay', 'bandwidth' or both")
        return self


class PodKillFault(_FaultBase):
    """Kill selected pods once (a one-shot action: it never 'recovers')."""

    type: Literal["pod-kill"]
    selector: PodSelector
    mode: Literal["one", "all", "fixed", "fixed-percent"] = "one"
    value: str | None = None
    grace_period: int = Field(default=0, ge=0)
    duration: Duration = timedelta(seconds=30)


class ChaosMeshFault(_FaultBase):
    """Any Chaos Mesh object, pasted from upstream unchanged under `manifest`."""

    type: Literal["chaos-mesh"]
    manifest: dict[str, Any]
    duration: Duration | None = None  # type: ignore[assignment]
    """Optional here: defaults to the manifest's own spec.duration."""


Fault = Annotated[
    ClusterLossFault | NetworkPartitionFault | ReplicationLagFault | PodKillFault | ChaosMeshFault,
    Field(discriminator="type"),
]


# --------------------------------------------------------------------------- scenario: steps


class ObjectRef(Model):
    """A Kubernetes object addressed by kind and name (apiVersion defaults per kind)."""

    api_version: str | None = None
    kind: str = Field(min_length=1)
    name: str = Field(min_length=1)
    namespace: str | None = None


class _StepBase(Model):
    name: str = Field(min_length=1)
    cluster: Name | None = None
    """The logical cluster the step acts on (required by Kubernetes and lab steps)."""
    timeout: Duration = timedelta(minutes=5)
    retries: int = Field(default=0, ge=0, le=100)
    retry_delay: Duration = timedelta(seconds=2)


class ScaleStep(_StepBase):
    action: Literal["scale"]
    target: ObjectRef
    replicas: int = Field(ge=0)


class PatchStep(_StepBase):
    action: Literal["patch"]
    target: ObjectRef
    patch_type: Literal["merge", "json", "strategic"] = "merge"
    patch: dict[str, Any] | list[Any]


class ApplyStep(_StepBase):
    action: Literal["apply"]
    manifest: dict[str, Any]


class DeleteStep(_StepBase):
    action: Literal["delete"]
    target: ObjectRef


class RolloutRestartStep(_StepBase):
    action: Literal["rollout-restart"]
    target: ObjectRef


class WaitForStep(_StepBase):
    """Wait until a field of an object has a value (e.g. a condition is True)."""

    action: Literal["wait-for"]
    target: ObjectRef
    condition: str | None = None
    """A status condition type that must be True (e.g. Available)."""
    field: str | None = None
    """A dotted path such as status.phase, compared with `equals`."""
    equals: str | None = None


class ExecStep(_StepBase):
    action: Literal["exec"]
    namespace: str
    pod: str | None = None
    selector: dict[str, str] = Field(default_factory=dict)
    container: str | None = None
    command: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _pod_or_selector(self) -> ExecStep:
        if (self.pod is None) == (not self.selector):
            raise ValueError("give exactly one of 'pod' or 'selector'")
        return self


class JobStep(_StepBase):
    action: Literal["job"]
    manifest: dict[str, Any]


class WaitForQueryStep(_StepBase):
    """Wait until a PromQL expression meets its expectation (for `hold`)."""

    action: Literal["wait-for-query"]
    query: str = Field(min_length=1)
    expect: Comparison
    hold: Duration = timedelta(0)


class HttpStep(_StepBase):
    action: Literal["http"]
    url: HttpUrl
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    header_secrets: dict[str, SecretRef] = Field(default_factory=dict)
    """Headers whose values come from the environment or a file (never logged)."""
    json_body: Any = Field(default=None, alias="json")
    expect_status: list[int] = Field(default_factory=lambda: [200, 201, 202, 204])


class CommandStep(_StepBase):
    action: Literal["command"]
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    expect_exit_code: int = 0


class ManualStep(_StepBase):
    """The on-call engineer does something and confirms at the prompt."""

    action: Literal["manual"]
    instructions: str = Field(min_length=1)


class SleepStep(_StepBase):
    action: Literal["sleep"]
    duration: Duration


class LabPromoteStep(_StepBase):
    """Lab: promote the standby database of the cluster's site."""

    action: Literal["lab.promote"]


class LabRouteStep(_StepBase):
    """Lab: send client traffic to the cluster's site."""

    action: Literal["lab.route"]


class LabRejoinStep(_StepBase):
    """Lab: rejoin the cluster's old primary as a standby (CHECKPOINT, then pg_rewind)."""

    action: Literal["lab.rejoin"]


class LabFenceStep(_StepBase):
    """Lab: fence the cluster's site (stop its database, as CloudNativePG's fencing does),
    so it accepts no write whoever still reaches it; lab.rejoin brings it back."""

    action: Literal["lab.fence"]


class LabSwitchoverStep(_StepBase):
    """Lab: planned switchover making the cluster's database the primary again."""

    action: Literal["lab.switchover"]


Step = Annotated[
    ScaleStep
    | PatchStep
    | ApplyStep
    | DeleteStep
    | RolloutRestartStep
    | WaitForStep
    | ExecStep
    | JobStep
    | WaitForQueryStep
    | HttpStep
    | CommandStep
    | ManualStep
    | SleepStep
    | LabPromoteStep
    | LabRouteStep
    | LabRejoinStep
    | LabSwitchoverStep
    | LabFenceStep,
    Field(discriminator="action"),
]
KUBERNETES_ACTIONS = frozenset(
    {"scale", "patch", "apply", "delete", "rollout-restart", "wait-for", "exec", "job"}
)
LAB_ACTIONS = frozenset({"lab.promote", "lab.route", "lab.rejoin", "lab.switchover", "lab.fence"})


class FailbackPolicy(StrEnum):
    ALWAYS = "always"
    ON_SUCCESS = "on-success"
    NEVER = "never"
    MANUAL = "manual"


class Failover(Model):
    steps: list[Step] = Field(default_factory=list)


class RejoinExpectation(StrEnum):
    WITHOUT_REBUILD = "without-rebuild"
    """The old primary must come back by rewinding (or without anything to undo), never
    by a full copy (re-clone, base backup)."""
    ANY = "any"


class FailbackExpect(Model):
    rejoin: RejoinExpectation | None = None
    """How the old primary must rejoin; the facts come from a failback step's output
    (docs/failback.md, "rejoin facts")."""


class Failback(Model):
    policy: FailbackPolicy = FailbackPolicy.ALWAYS
    steps: list[Step] = Field(default_factory=list)
    expect: FailbackExpect = Field(default_factory=FailbackExpect)


# --------------------------------------------------------------------------- scenario: measurement


class RtoMeasure(Model):
    """RTO: from fault start until the outage it caused ended for good: `sli` meets
    `upWhen` from then to the end of verification, for at least `hold`."""

    sli: str = Field(min_length=1)
    up_when: Comparison
    hold: Duration = timedelta(seconds=30)
    sli_window: Duration = timedelta(0)
    """How far back one SLI sample can describe: an exporter that reports, say, the success
    ratio of the last 10 s has a 10 s window. It widens the RTO's lower bound (never the
    upper one); ranges in the PromQL itself (`rate(x[1m])`) are counted automatically."""


class LagMethod(Model):
    """RPO by lag: the maximum of `query` (seconds) over [fault start - lookback, fault start]."""

    query: str = Field(min_length=1)
    lookback: Duration = timedelta(minutes=1)


class CanaryMethod(Model):
    """RPO by data loss, per the canary contract (docs/measurement.md): the writer's last
    acknowledged sequence as of the loss vs what of it the new primary really has."""

    acknowledged: str = Field(min_length=1)
    """PromQL: the writer's highest acknowledged sequence (its writes are numbered 1, 2, ...
    with no gap; the series stops growing when its primary is lost)."""
    present: str | None = None
    """PromQL: the highest sequence N such that writes 1..N are all on the new primary."""
    missing: str | None = None
    """PromQL (instead of `present`): how many acknowledged writes the new primary lacks."""
    acknowledged_time: str | None = None
    """PromQL: the writer's timestamp (unix seconds) of the last acknowledged write."""
    present_time: str | None = None
    """PromQL: the writer's timestamp of the write `present` names (as stored in the row,
    never the new primary's own clock)."""

    @model_validator(mode="after")
    def _present_or_missing(self) -> CanaryMethod:
        if (self.present is None) == (self.missing is None):
            raise ValueError("give exactly one of 'present' and 'missing'")
        return self


class RpoMeasure(Model):
    lag: LagMethod | None = None
    canary: CanaryMethod | None = None

    @model_validator(mode="after")
    def _needs_a_method(self) -> RpoMeasure:
        if self.lag is None and self.canary is None:
            raise ValueError("give 'lag', 'canary' or both")
        return self


class SplitBrainMethod(Model):
    """Split-brain writes: writes the old primary acknowledged after it should have stopped
    accepting them (from the start of failover to the end of failback)."""

    acknowledged: str = Field(min_length=1)
    """PromQL: a counter of the writes the old primary acknowledged (the writer's count;
    a drop is a restart of the counter, as for `increase()`)."""
    from_step: str | None = Field(default=None, alias="from")
    """The failover step from whose start on the old primary must not accept writes (the
    one promoting the secondary; default: the start of failover)."""
    created: str | None = None
    """PromQL: the counter's creation time (e.g. prometheus_client's `<name>_created`), so
    a restart that does not show as a drop is seen; without it, no split-brain count can
    be proven small enough (only too large)."""


class FailbackMeasure(Model):
    """Failback as a second measured recovery (docs/failback.md)."""

    rto: RtoMeasure | None = None
    """The SLI for the failback RTO (default: `measure.rto`), from the start of failback
    until it holds to the end of the post-check."""
    canary: CanaryMethod | None = None
    """The canary contract the other way round: the writes the secondary acknowledged while
    it served, checked on the primary after failback."""
    split_brain: SplitBrainMethod | None = None


class Measure(Model):
    from_fault: Name | None = Field(default=None, alias="from")
    """The fault whose confirmed injection starts the clock (default: the first fault)."""
    rto: RtoMeasure | None = None
    rpo: RpoMeasure | None = None
    failback: FailbackMeasure | None = None


class FailbackObjectives(Model):
    rto: Duration | None = None
    rpo: Duration | None = None
    max_lost_writes: int | None = Field(default=None, ge=0)
    max_split_brain_writes: int | None = Field(default=None, ge=0)
    """At most this many split-brain writes (0 when `measure.failback.splitBrain` is set
    and this is not)."""


class Objectives(Model):
    rto: Duration | None = None
    rpo: Duration | None = None
    max_lost_writes: int | None = Field(default=None, ge=0)
    failback: FailbackObjectives | None = None


class Timeouts(Model):
    steady_state: Duration = Field(default=timedelta(seconds=30), alias="steadyState")
    """How long the gate before injection waits for steady state to hold (0: check once)."""
    inject: Duration = timedelta(minutes=2)
    """Per fault: from create to confirmed injected."""
    observe: Duration = timedelta(seconds=10)
    """How long to watch after injection before failover steps start."""
    recovery: Duration = timedelta(minutes=15)
    """The observation window for RTO, from fault start."""
    remove: Duration = timedelta(minutes=2)
    drill: Duration = timedelta(hours=1)


class ClusterDecl(Model):
    name: Name
    description: str = ""


class ScenarioSpec(Model):
    clusters: list[ClusterDecl] = Field(min_length=1)
    steady_state: list[SteadyStateCheck] = Field(default_factory=list)
    guardrails: list[Guardrail] = Field(default_factory=list)
    faults: list[Fault] = Field(min_length=1)
    failover: Failover = Field(default_factory=Failover)
    failback: Failback = Field(default_factory=Failback)
    measure: Measure = Field(default_factory=Measure)
    objectives: Objectives = Field(default_factory=Objectives)
    timeouts: Timeouts = Field(default_factory=Timeouts)


class Scenario(Model):
    api_version: Literal["drill-runner.dev/v1alpha1"]
    kind: Literal["Scenario"]
    metadata: Metadata
    spec: ScenarioSpec

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def cluster_names(self) -> list[str]:
        return [c.name for c in self.spec.clusters]

    def start_fault(self) -> str:
        """The name of the fault whose confirmed injection is 'fault start'."""
        return self.spec.measure.from_fault or self.spec.faults[0].name


# --------------------------------------------------------------------------- drill


class SecretRef(Model):
    """A credential read at run time from an environment variable or a file; never inline."""

    env: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self


class BasicAuth(Model):
    username: str
    password: SecretRef


class PrometheusSource(Model):
    """Where measurements come from. `lab: true` takes the URL of the running local lab."""

    url: HttpUrl | None = None
    lab: bool = False
    bearer_token: SecretRef | None = None
    basic_auth: BasicAuth | None = None
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = timedelta(seconds=30)
    step: Duration | None = None
    """Range-query resolution; default: the scrape interval read from Prometheus."""

    @model_validator(mode="after")
    def _url_or_lab(self) -> PrometheusSource:
        if (self.url is None) == (not self.lab):
            raise ValueError("give either 'url' or 'lab: true'")
        if self.bearer_token is not None and self.basic_auth is not None:
            raise ValueError("give 'bearerToken' or 'basicAuth', not both")
        return self


class ChaosMeshSettings(Model):
    """Where the target's Chaos Mesh runs, and whether a run needs to see it running."""

    namespace: str = Field(default="chaos-mesh", pattern=NAME_PATTERN)
    """The namespace of the `chaos-controller-manager` Deployment (checked in preflight)."""
    require_controller: bool = True
    """Refuse a run when the controller is clearly absent (its Deployment not found, or no
    replica available); false: only note it (e.g. Chaos Mesh installed under another name)."""


class KubernetesTarget(Model):
    kubeconfig: str | None = None
    """Path to the kubeconfig (default: $KUBECONFIG or ~/.kube/config)."""
    context: str | None = None
    in_cluster: bool = False
    namespace: str = "chaos-drills"
    """Where the runner creates Chaos Mesh objects and its Lease."""
    chaos_mesh: ChaosMeshSettings = Field(default_factory=ChaosMeshSettings)

    @model_validator(mode="after")
    def _context_or_in_cluster(self) -> KubernetesTarget:
        if self.in_cluster and (self.kubeconfig or self.context):
            raise ValueError("'inCluster: true' cannot be combined with kubeconfig/context")
        return self


class LabTarget(Model):
    site: Literal["east", "west"]
    state_dir: str | None = None
    """The lab's state folder (default: .drill-lab in the current directory)."""


class Target(Model):
    kubernetes: KubernetesTarget | None = None
    lab: LabTarget | None = None
    protected: bool = False
    """Production: a run needs the target's name typed (or --confirm-target)."""
    addresses: list[str] = Field(default_factory=list)
    """IPs or CIDRs of this cluster's pods, used when a peer partitions from it."""
    prometheus: PrometheusSource | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Target:
        if (self.kubernetes is None) == (self.lab is None):
            raise ValueError("give exactly one of 'kubernetes' or 'lab'")
        return self


class ScenarioRef(Model):
    path: str = Field(min_length=1)
    """Relative to the drill file."""


class Blackout(Model):
    name: str = ""
    start: datetime
    end: datetime


class Schedule(Model):
    cron: str = Field(min_length=1)
    timezone: str = "UTC"
    jitter: Duration = timedelta(0)
    misfire_grace: Duration = timedelta(minutes=10)
    blackouts: list[Blackout] = Field(default_factory=list)


NotifyOn = Literal["start", "finish", "failure", "skip"]


def _default_notify_on() -> list[NotifyOn]:
    return ["finish", "failure"]


class Notification(Model):
    name: str = Field(min_length=1)
    type: Literal["slack", "webhook"] = "webhook"
    url: SecretRef
    on: list[NotifyOn] = Field(default_factory=_default_notify_on)


class DrillSpec(Model):
    scenarios: list[ScenarioRef] = Field(min_length=1)
    targets: dict[Name, Target] = Field(min_length=1)
    prometheus: PrometheusSource | None = None
    schedule: Schedule | None = None
    notifications: list[Notification] = Field(default_factory=list)


class Drill(Model):
    api_version: Literal["drill-runner.dev/v1alpha1"]
    kind: Literal["Drill"]
    metadata: Metadata
    spec: DrillSpec

    @property
    def name(self) -> str:
        return self.metadata.name


HttpStep.model_rebuild()
