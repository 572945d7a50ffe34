"""The typed model of the two file kinds: `Scenario` (what to break and measure) and `Drill`
(when and where).

Field names are the YAML names (camelCase, Kubernetes style); Python attributes are
snake_case. Every model is frozen and forbids unknown fields, so a typo is an error,
never a silently ignored key. Loading with file/line/column errors lives in `loader`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, Self, TypeGuard, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    model_validator,
)
from pydantic.alias_generators import to_camel

from runner.scenario.conditions import FieldCondition, PathText, check_path
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


class StepOrigin(Model):
    """Where a step came from when a recipe made it (`drillctl plan` shows it)."""

    recipe: str
    use: str
    """The `id` of the `uses:` step that expanded into this one."""
    file: str
    line: int
    """Where the recipe writes this step."""


class _StepBase(Model):
    name: str = Field(min_length=1)
    id: Name | None = None
    """Names the step for `steps.<id>.started|finished` in `measure.timings` (unique)."""
    cluster: Name | None = None
    """The logical cluster the step acts on (required by Kubernetes and lab steps)."""
    timeout: Duration = timedelta(minutes=5)
    retries: int = Field(default=0, ge=0, le=100)
    retry_delay: Duration = timedelta(seconds=2)
    _origin: StepOrigin | None = PrivateAttr(default=None)

    @property
    def origin(self) -> StepOrigin | None:
        """The recipe that made this step, or None for a step written in the scenario."""
        return self._origin

    def with_origin(self, origin: StepOrigin) -> Self:
        """This step, marked as made by a recipe (`recipes.expand`)."""
        made = self.model_copy()
        made._origin = origin
        return made


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
    """Wait until an object meets every condition (or fail early when a `failWhen` holds)."""

    action: Literal["wait-for"]
    target: ObjectRef
    condition: str | None = None
    """A status condition type that must be True (e.g. Available)."""
    field: str | None = None
    """A dotted path such as status.phase, compared with `equals`."""
    equals: str | None = None
    conditions: list[FieldCondition] = Field(default_factory=list)
    """Field conditions that must all hold (`status.sync.status == Synced`)."""
    fail_when: list[FieldCondition] = Field(default_factory=list)
    """Field conditions any of which fails the step at once (`status.phase == Failed`)."""

    @model_validator(mode="after")
    def _field_is_a_path(self) -> WaitForStep:
        if self.field is not None:
            check_path(self.field)
        if (self.field is None) != (self.equals is None):
            raise ValueError("give 'field' and 'equals' together")
        return self


CAPTURE_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)?[A-Za-z][A-Za-z0-9]*$"
CaptureName = Annotated[
    str, Field(pattern=CAPTURE_NAME, description="a name such as backupCompleted")
]


class Selection(Model):
    """Objects of one kind picked by labels and field conditions."""

    api_version: str | None = None
    kind: str = Field(min_length=1)
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    where: list[FieldCondition] = Field(default_factory=list)
    newest: PathText | None = None
    """Of the objects that match, take the one whose value here is the latest (a time or a
    number); required by `capture`."""


class CaptureStep(_StepBase):
    """Read values of one object (named, or the newest of a selection) for later steps and
    measurements: `${{ captured.<name> }}`, `captured.<name>` in `measure`."""

    action: Literal["capture"]
    target: ObjectRef | None = None
    select: Selection | None = None
    values: dict[CaptureName, PathText] = Field(min_length=1)
    """Name to field path; the object's own name is `metadata.name`."""
    defaults: dict[CaptureName, str] = Field(default_factory=dict)
    """The value of a name whose field is absent (Velero omits `status.errors` when it is
    0); a value without a default whose field is absent fails the step."""

    @model_validator(mode="after")
    def _target_or_select(self) -> CaptureStep:
        if (self.target is None) == (self.select is None):
            raise ValueError("give exactly one of 'target' or 'select'")
        if self.select is not None and self.select.newest is None:
            raise ValueError("'select' needs 'newest': which field orders the objects")
        unknown = sorted(set(self.defaults) - set(self.values))
        if unknown:
            raise ValueError(f"'defaults' names {', '.join(unknown)}, which 'values' does not")
        return self


class ListItemStep(_StepBase):
    """Make sure an item is in (or not in) a list field of an object, matched by some of its
    fields: a Karmada Cluster taint, a toleration. Read, edit, write back with its
    resourceVersion (a concurrent change is retried, never overwritten)."""

    action: Literal["list-item"]
    target: ObjectRef
    path: PathText
    """The list, by keys only (`spec.taints`); missing parents are created."""
    match: dict[str, Any] = Field(min_length=1)
    """The fields that identify the item (`{key: ..., effect: NoExecute}`)."""
    item: dict[str, Any] | None = None
    """Present: the item to have (replacing the one that matches)."""
    remove: bool = False
    """True: remove every item that matches."""

    @model_validator(mode="after")
    def _item_or_remove(self) -> ListItemStep:
        if (self.item is None) == (not self.remove):
            raise ValueError("give either 'item' or 'remove: true'")
        if any(s.key is None for s in self.path.segments):
            raise ValueError("'path' names keys only (spec.taints), no [..]")
        return self


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


_RECORD = r"^(@|[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?)$"
Record = Annotated[
    str,
    Field(
        pattern=_RECORD,
        description="a DNS name: relative to the drill's zone (`orders`), or absolute with a "
        "final dot (`orders.lab.test.`), which must lie inside the zone",
    ),
]


class DnsUpdateStep(_StepBase):
    """Replace a record set with an RFC 2136 dynamic update signed with TSIG (the protocol of
    ExternalDNS's rfc2136 provider): `record` answers the addresses of the `pointTo`
    clusters. The drill's `dns` says which server, zone and key."""

    action: Literal["dns.update"]
    record: Record
    point_to: list[Name] = Field(min_length=1)
    """Logical clusters whose addresses the record answers (a lab site's address, or a
    Kubernetes target's `addresses`)."""
    ttl: Duration | None = None
    """The record's TTL; default: the TTL it has now."""


class DnsWaitStep(_StepBase):
    """Wait until every authoritative server answers exactly the addresses of the `expect`
    clusters; records when that happened (the RTO's "DNS converged" phase)."""

    action: Literal["dns.wait"]
    record: Record
    expect: list[Name] = Field(min_length=1)
    poll: Duration = timedelta(milliseconds=200)
    """How often each server is asked: the measured convergence is within one poll."""


KubernetesStep = (
    ScaleStep
    | PatchStep
    | ApplyStep
    | DeleteStep
    | RolloutRestartStep
    | WaitForStep
    | CaptureStep
    | ListItemStep
    | ExecStep
    | JobStep
)
"""The step kinds a Kubernetes target runs (`chaosmesh/kube_steps.py` is their table)."""
GenericStep = WaitForQueryStep | HttpStep | CommandStep | ManualStep | SleepStep
"""The step kinds that run anywhere (`steps/generic.py` is their table)."""
LabStep = LabPromoteStep | LabRouteStep | LabRejoinStep | LabSwitchoverStep | LabFenceStep
"""The step kinds a lab target runs (`lab/backend.py`)."""
DnsStep = DnsUpdateStep | DnsWaitStep
"""The step kinds global DNS runs, for any target (`steps/dns.py`, through the generic
executor when the drill names `dns`)."""
Step = Annotated[KubernetesStep | GenericStep | LabStep | DnsStep, Field(discriminator="action")]


def _actions(kinds: Any) -> frozenset[str]:
    """The `action` tags of a union of step classes: the one source of each backend's set."""
    return frozenset(
        str(get_args(cls.model_fields["action"].annotation)[0]) for cls in get_args(kinds)
    )


KUBERNETES_ACTIONS = _actions(KubernetesStep)
GENERIC_ACTIONS = _actions(GenericStep)
LAB_ACTIONS = _actions(LabStep)
DNS_ACTIONS = _actions(DnsStep)
_KUBERNETES_KINDS: tuple[type, ...] = get_args(KubernetesStep)
_GENERIC_KINDS: tuple[type, ...] = get_args(GenericStep)
_DNS_KINDS: tuple[type, ...] = get_args(DnsStep)


def is_kubernetes_step(step: object) -> TypeGuard[KubernetesStep]:
    return isinstance(step, _KUBERNETES_KINDS)


def is_generic_step(step: object) -> TypeGuard[GenericStep]:
    return isinstance(step, _GENERIC_KINDS)


def is_dns_step(step: object) -> TypeGuard[DnsStep]:
    return isinstance(step, _DNS_KINDS)


READ_ONLY_ACTIONS = frozenset({"wait-for", "capture", "wait-for-query", "sleep", "dns.wait"})
"""Steps that change nothing: the baseline may run them, and a test failover runs them."""
RECIPE_TAG = "(uses)"
"""The union tag of a `uses:` step: no YAML key can be spelled like it."""


class RecipeUse(Model):
    """`uses: <recipe>` with its inputs under `with`: expanded at load time into ordinary
    steps (plus the preflight checks, baseline steps and measurements the recipe adds)."""

    name: str = Field(min_length=1)
    uses: str = Field(min_length=1)
    id: Name | None = None
    """Names this use: its steps' ids and captured values are prefixed with it (default: the
    recipe's name with '.' as '-'; required when a recipe is used twice)."""
    cluster: Name | None = None
    """The cluster the recipe's steps act on unless they name another (an input)."""
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")


def _step_tag(value: Any) -> str | None:
    """The union member of a step mapping: its `action`, or the recipe tag for `uses:`."""
    if isinstance(value, dict):
        if "uses" in value and "action" not in value:
            return RECIPE_TAG
        action = value.get("action")
        return action if isinstance(action, str) else None
    if isinstance(value, RecipeUse):
        return RECIPE_TAG
    action = getattr(value, "action", None)
    return action if isinstance(action, str) else None


STEP_TAG = "(step)"


def _step_or_use(value: Any) -> str:
    return RECIPE_TAG if _step_tag(value) == RECIPE_TAG else STEP_TAG


StepOrUse = Annotated[
    Annotated[Step, Tag(STEP_TAG)] | Annotated[RecipeUse, Tag(RECIPE_TAG)],
    Discriminator(_step_or_use),
]
"""A step as written in a scenario: an ordinary step, or a recipe to expand."""


class FailbackPolicy(StrEnum):
    ALWAYS = "always"
    ON_SUCCESS = "on-success"
    NEVER = "never"
    MANUAL = "manual"


class Failover(Model):
    steps: list[StepOrUse] = Field(default_factory=list)


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
    steps: list[StepOrUse] = Field(default_factory=list)
    expect: FailbackExpect = Field(default_factory=FailbackExpect)


class Baseline(Model):
    """Read-only steps after the steady-state gate and before injection: what the drill
    must know of the system as it was (a backup's time, a sync time, a timeline)."""

    steps: list[StepOrUse] = Field(default_factory=list)


class ObjectCheck(Model):
    """A preflight check: an object (named, or any of a selection) meets conditions, before
    anything is injected. Recipes add these; a scenario may write its own."""

    name: str = Field(min_length=1)
    cluster: Name
    target: ObjectRef | None = None
    select: Selection | None = None
    conditions: list[FieldCondition] = Field(default_factory=list)
    """All must hold (on the named object, or on at least one selected object)."""
    hint: str = ""
    """What to do when the check fails (shown with the refusal)."""

    @model_validator(mode="after")
    def _target_or_select(self) -> ObjectCheck:
        if (self.target is None) == (self.select is None):
            raise ValueError("give exactly one of 'target' or 'select'")
        return self


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


INSTANT = (
    r"^(faultStart|faultRequested|failoverDone"
    r"|captured\.([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)?[A-Za-z][A-Za-z0-9]*"
    r"|steps\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.(started|finished))$"
)
InstantName = Annotated[
    str,
    Field(
        pattern=INSTANT,
        description="faultStart, faultRequested, failoverDone, captured.<name> or "
        "steps.<id>.started|finished",
    ),
]


class Window(Model):
    """An instant known only to lie between two others (a backup's snapshot point lies
    between its start and its completion)."""

    earliest: InstantName
    latest: InstantName


Instant = InstantName | Window


class Span(Model):
    """A duration between two recorded instants, with the resolution of each as bounds."""

    from_: Instant = Field(alias="from")
    to: Instant


class Spans(Model):
    """RTO and RPO measured between instants the API objects and the run recorded (no
    Prometheus): e.g. a restore's duration, fault start minus a backup's completion."""

    rto: Span | None = None
    rpo: Span | None = None


class Timing(Span):
    """A named duration reported with the run (never judged): an orchestration phase."""

    name: str = Field(min_length=1)


class Measure(Model):
    from_fault: Name | None = Field(default=None, alias="from")
    """The fault whose confirmed injection starts the clock (default: the first fault)."""
    rto: RtoMeasure | None = None
    rpo: RpoMeasure | None = None
    failback: FailbackMeasure | None = None
    spans: Spans = Field(default_factory=Spans)
    timings: list[Timing] = Field(default_factory=list)


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
    """Deprecated, never read: each phase has its own timeout. Loads with a located warning."""


class ClusterDecl(Model):
    name: Name
    description: str = ""


class ExerciseScope(Model):
    """What the exercise covers: the systems, and their business-impact tier."""

    systems: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100
    )
    tier: str | None = Field(default=None, min_length=1, max_length=100)


class Exercise(Model):
    """What an auditor asks of an exercise: its id, scope, owners and the controls it
    evidences (free identifiers such as `DORA-RTS-25`, `ISO22301-8.5`, `SOC2-A1.3`). A
    scenario's and its drill's are merged in the run's record (`exercise`)."""

    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The exercise id; `{scenario}`, `{date}` (UTC yyyy-mm-dd) and `{run}` "
        "are replaced for each run.",
    )
    scope: ExerciseScope | None = None
    owners: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100
    )
    controls: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")]] = Field(
        default_factory=list, max_length=200
    )


class ScenarioSpec(Model):
    clusters: list[ClusterDecl] = Field(min_length=1)
    steady_state: list[SteadyStateCheck] = Field(default_factory=list)
    guardrails: list[Guardrail] = Field(default_factory=list)
    faults: list[Fault] = Field(min_length=1)
    preflight: list[ObjectCheck] = Field(default_factory=list)
    baseline: Baseline = Field(default_factory=Baseline)
    failover: Failover = Field(default_factory=Failover)
    failback: Failback = Field(default_factory=Failback)
    measure: Measure = Field(default_factory=Measure)
    objectives: Objectives = Field(default_factory=Objectives)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    exercise: Exercise | None = None


class RecipeApplied(Model):
    """One `uses:` step and what its recipe added, for `drillctl plan`."""

    recipe: str
    use: str
    phase: str
    file: str
    steps: list[str] = Field(default_factory=list)
    baseline: list[str] = Field(default_factory=list)
    preflight: list[str] = Field(default_factory=list)
    measures: list[str] = Field(default_factory=list)


class TestFailoverNote(Model):
    """What a test failover does differently from the drill: a fault not injected, a step
    skipped or redirected, a clean-up step added."""

    phase: str
    step: str
    what: Literal["not injected", "skipped", "redirected", "added"]
    reason: str


class Expansion(Model):
    """How the loader expanded a scenario's recipes, and for which mode."""

    test_failover: bool = False
    recipes: list[RecipeApplied] = Field(default_factory=list)
    notes: list[TestFailoverNote] = Field(default_factory=list)


class Scenario(Model):
    api_version: Literal["drill-runner.dev/v1alpha1"]
    kind: Literal["Scenario"]
    metadata: Metadata
    spec: ScenarioSpec
    _expansion: Expansion = PrivateAttr(default_factory=Expansion)

    @property
    def expansion(self) -> Expansion:
        """The recipes the loader expanded, and what a test failover does differently."""
        return self._expansion

    def with_expansion(self, expansion: Expansion) -> Self:
        """This scenario, with what the loader expanded (`recipes.expand`)."""
        expanded = self.model_copy()
        expanded._expansion = expansion
        return expanded

    @property
    def test_failover(self) -> bool:
        """Loaded for a test failover (`drillctl run --test-failover`)."""
        return self._expansion.test_failover

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def cluster_names(self) -> list[str]:
        return [c.name for c in self.spec.clusters]

    def start_fault(self) -> str:
        """The name of the fault whose confirmed injection is 'fault start'."""
        return self.spec.measure.from_fault or self.spec.faults[0].name

    def steps_of(self, phase: Literal["baseline", "failover", "failback"]) -> list[Step]:
        """The ordinary steps of a phase; recipes must be expanded (the loader does)."""
        written: list[StepOrUse] = {
            "baseline": self.spec.baseline.steps,
            "failover": self.spec.failover.steps,
            "failback": self.spec.failback.steps,
        }[phase]
        steps = [s for s in written if not isinstance(s, RecipeUse)]
        if len(steps) != len(written):
            raise ValueError(f"the {phase} steps hold a recipe that was not expanded")
        return steps


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
    site: Name
    """A site of the running lab's topology (`east` and `west` in the default two-site lab);
    checked against the lab when the drill opens its targets."""
    state_dir: str | None = None
    """The lab's state folder, relative to the drill's folder (made absolute at load);
    absent: the lab `drillctl lab up` starts by default (.drill-lab in the current
    directory)."""


TargetKind = Literal["lab", "kubernetes"]


class Target(Model):
    kubernetes: KubernetesTarget | None = None
    lab: LabTarget | None = None
    protected: bool = False
    """Production: a run needs the target's name typed (or --confirm-target)."""
    addresses: list[str] = Field(default_factory=list)
    """IPs or CIDRs of this cluster's pods, used when a peer partitions from it."""
    prometheus: PrometheusSource | None = None
    """Deprecated, never read: the drill's `spec.prometheus` is the one source of
    measurements. Loads with a located warning."""

    @model_validator(mode="after")
    def _one_kind(self) -> Target:
        if (self.kubernetes is None) == (self.lab is None):
            raise ValueError("give exactly one of 'kubernetes' or 'lab'")
        return self

    @property
    def kind(self) -> TargetKind:
        """Which backend runs this target (the validator ensures exactly one is given)."""
        return "lab" if self.lab is not None else "kubernetes"


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


class TsigKey(Model):
    """The TSIG key that signs dynamic updates (RFC 8945); the secret is never inline."""

    name: str = Field(min_length=1)
    algorithm: Literal["hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224"] = "hmac-sha256"
    secret: SecretRef
    """The base64 secret, as `tsig-keygen` prints it."""


class DnsSource(Model):
    """Global DNS for `dns.update` and `dns.wait` steps. `lab: true` takes the running local
    lab's BIND servers, zone and key."""

    lab: bool = False
    zone: str | None = None
    servers: list[str] = Field(default_factory=list)
    """Every authoritative server, `host:port` (the port defaults to 53)."""
    primary: str | None = None
    """The server that takes dynamic updates (default: the first of `servers`)."""
    tsig_key: TsigKey | None = None
    timeout: Duration = timedelta(seconds=2)

    @model_validator(mode="after")
    def _lab_or_servers(self) -> DnsSource:
        if self.lab and (self.zone or self.servers or self.primary or self.tsig_key):
            raise ValueError("'lab: true' takes everything from the lab; give nothing else")
        if not self.lab and not (self.zone and self.servers and self.tsig_key):
            raise ValueError("give 'lab: true', or 'zone', 'servers' and 'tsigKey'")
        return self


class DrillSpec(Model):
    scenarios: list[ScenarioRef] = Field(min_length=1)
    targets: dict[Name, Target] = Field(min_length=1)
    prometheus: PrometheusSource | None = None
    dns: DnsSource | None = None
    """Where `dns.update` and `dns.wait` steps act (global DNS in front of the targets)."""
    schedule: Schedule | None = None
    notifications: list[Notification] = Field(default_factory=list)
    exercise: Exercise | None = None


class Drill(Model):
    api_version: Literal["drill-runner.dev/v1alpha1"]
    kind: Literal["Drill"]
    metadata: Metadata
    spec: DrillSpec

    @property
    def name(self) -> str:
        return self.metadata.name


HttpStep.model_rebuild()
