"""Step recipes: `uses: <recipe>` with typed inputs, expanded at load time into ordinary
steps plus the preflight checks, baseline steps and measurements the recipe contributes.

This module owns the expansion, for a normal run or a test failover: the use's recipe
found (`recipe_catalog`), its inputs checked (each located at its key under `with`), its
templates rendered (`templates`), the steps it makes validated and tagged with their
origin. Everything wrong is an issue with file:line:column: an unknown recipe, a missing or
mistyped input, a step a recipe makes that is not valid, a placeholder that names nothing.
Nothing runs at load time: run-time placeholders (`${{ captured.x }}`, `${{ run.id }}`) are
filled by the engine.

Names a recipe writes are local to one use: step ids become `<use id>-<id>`, captured
values `<use id>.<name>` (in `${{ captured.x }}` and in `measure` instants alike). A test
failover runs a recipe's `testFailover` steps instead (redirected), or only its read-only
steps (the others skipped), skips every other step that changes the system, adds the
recipe's clean-up to failback, and drops measurements between steps it does not run; each
difference is a `TestFailoverNote`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runner.errors import InvalidInputError, Issue
from runner.scenario import issues as issue_text
from runner.scenario import model, templates
from runner.scenario.located import Path_, Source, format_path
from runner.scenario.recipe_catalog import (
    PATH_ENV,
    Catalog,
    Found,
    Recipe,
    RecipeSpec,
    catalog_for,
    check_input,
    validate_recipe,
)

__all__ = ["PATH_ENV", "Catalog", "Recipe", "catalog_for", "expand", "validate_recipe"]
_PHASES = ("baseline", "failover", "failback")
_READ_ONLY = ", ".join(sorted(model.READ_ONLY_ACTIONS))


# --------------------------------------------------------------------------- expansion


@dataclass
class _Use:
    """One `uses:` step being expanded, and how to locate problems with it."""

    written: model.RecipeUse
    path: Path_
    phase: str
    found: Found
    id: str
    inputs: dict[str, Any]


@dataclass
class _Out:
    """The expanded scenario's parts, each step with the path it was written at."""

    steps: dict[str, list[tuple[Path_, model.Step]]] = field(
        default_factory=lambda: {p: [] for p in _PHASES}
    )
    preflight: list[tuple[Path_, model.ObjectCheck]] = field(default_factory=list)
    spans: dict[str, tuple[Path_, model.Span]] = field(default_factory=dict)
    timings: list[tuple[Path_, model.Timing]] = field(default_factory=list)
    applied: list[model.RecipeApplied] = field(default_factory=list)
    notes: list[model.TestFailoverNote] = field(default_factory=list)
    cleanup: list[tuple[Path_, model.Step]] = field(default_factory=list)


class _Problems:
    def __init__(self, src: Source) -> None:
        self.src = src
        self.issues: list[Issue] = []

    def add(self, path: Path_, message: str, *, key: bool = False) -> None:
        where = self.src.key_at(path) if key else self.src.value_at(path)
        self.issues.append(
            Issue(
                file=self.src.file,
                line=where.line,
                column=where.column,
                field=format_path(path),
                message=message,
            )
        )


def uses_recipes(scenario: model.Scenario) -> bool:
    return any(isinstance(s, model.RecipeUse) for _, s in _written(scenario))


def expand(
    scenario: model.Scenario,
    src: Source,
    *,
    scenario_file: Path | None,
    test_failover: bool = False,
) -> model.Scenario:
    """The scenario with every recipe expanded (and, for a test failover, with what the
    test does differently); InvalidInputError with every problem, located."""
    problems = _Problems(src)
    catalog = catalog_for(scenario_file) if uses_recipes(scenario) else Catalog()
    declared = scenario.cluster_names
    out = _Out()
    out.preflight = [(("spec", "preflight", i), c) for i, c in enumerate(scenario.spec.preflight)]
    m = scenario.spec.measure
    for kind in ("rto", "rpo"):
        span = getattr(m.spans, kind)
        if span is not None:
            out.spans[kind] = (("spec", "measure", "spans", kind), span)
    out.timings = [(("spec", "measure", "timings", i), t) for i, t in enumerate(m.timings)]
    used_ids: dict[str, Path_] = {}
    for path, step in _written(scenario):
        phase = str(path[1])
        if isinstance(step, model.RecipeUse):
            use = _resolve_use(step, path, phase, catalog, declared, used_ids, problems)
            if use is not None:
                _expand_use(use, out, scenario, problems, test_failover=test_failover)
            continue
        if test_failover and _changes_the_system(step):
            out.notes.append(
                model.TestFailoverNote(
                    phase=phase,
                    step=step.name,
                    what="skipped",
                    reason=f"a {step.action} step changes the system; a test failover "
                    "leaves production as it is",
                )
            )
            continue
        out.steps[phase].append((path, step))
    if test_failover:
        _finish_test_failover(scenario, out)
    if problems.issues:
        raise InvalidInputError(_sorted(problems.issues))
    _check_expanded(scenario, out, problems)
    if problems.issues:
        raise InvalidInputError(_sorted(problems.issues))
    return _assemble(scenario, out, test_failover)


def _changes_the_system(step: model.Step) -> bool:
    """Whether a written step changes the system (a test failover skips it)."""
    return step.action not in model.READ_ONLY_ACTIONS and not (
        isinstance(step, model.HttpStep) and step.method == "GET"
    )


def _finish_test_failover(scenario: model.Scenario, out: _Out) -> None:
    """A test failover injects nothing (a note per fault), undoes its redirected steps in
    failback, and measures only what it can."""
    out.notes = [
        model.TestFailoverNote(
            phase="inject",
            step=f.name,
            what="not injected",
            reason="a test failover never takes production down",
        )
        for f in scenario.spec.faults
    ] + out.notes
    for path, step in out.cleanup:
        out.steps["failback"].append((path, step))
    _drop_unmeasurable(out)


def _written(scenario: model.Scenario) -> Iterator[tuple[Path_, model.Step | model.RecipeUse]]:
    for phase in _PHASES:
        section = getattr(scenario.spec, phase)
        for i, step in enumerate(section.steps):
            yield ("spec", phase, "steps", i), step


def _resolve_use(
    step: model.RecipeUse,
    path: Path_,
    phase: str,
    catalog: Catalog,
    declared: list[str],
    used_ids: dict[str, Path_],
    problems: _Problems,
) -> _Use | None:
    found = catalog.found.get(step.uses)
    if found is None:
        close = difflib.get_close_matches(step.uses, catalog.names(), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(catalog.names()) or "none"
        problems.add((*path, "uses"), f"unknown recipe {step.uses!r}{hint}; known: {known}")
        problems.issues += catalog.problems  # a broken file may be the recipe meant
        return None
    use_id = step.id or step.uses.replace(".", "-")
    if use_id in used_ids:
        first = problems.src.value_at(used_ids[use_id]).line
        problems.add(
            (*path, "id") if step.id else (*path, "uses"),
            f"a second use with id {use_id!r} (first at line {first}): give each use of a "
            "recipe its own `id`",
        )
        return None
    used_ids[use_id] = path
    if len(use_id) > 40:
        problems.add((*path, "id"), "at most 40 characters (step ids are prefixed with it)")
        return None
    if step.cluster is not None and step.cluster not in declared:
        problems.add(
            (*path, "cluster"),
            f"cluster {step.cluster!r} is not declared in spec.clusters ({', '.join(declared)})",
        )
    values = _inputs(step, path, found.recipe.spec, declared, problems)
    return _Use(step, path, phase, found, use_id, values) if values is not None else None


def _inputs(
    step: model.RecipeUse,
    path: Path_,
    spec: RecipeSpec,
    declared: list[str],
    problems: _Problems,
) -> dict[str, Any] | None:
    """The use's input values, checked against the recipe's inputs (defaults filled in);
    None when any is unknown, missing or invalid (each a located problem)."""
    values: dict[str, Any] = {}
    ok = True
    for key in step.with_:
        if key not in spec.inputs:
            close = difflib.get_close_matches(key, list(spec.inputs), n=1, cutoff=0.6)
            hint = (
                f" (did you mean {close[0]!r}?)"
                if close
                else f"; inputs: {', '.join(spec.inputs) or 'none'}"
            )
            problems.add(
                (*path, "with", key), f"recipe {step.uses!r} has no input {key!r}{hint}", key=True
            )
            ok = False
    for key, spec_in in spec.inputs.items():
        if key in step.with_:
            try:
                values[key] = check_input(spec_in, step.with_[key], declared=declared)
            except ValueError as e:
                problems.add((*path, "with", key), f"input {key!r}: {e}")
                ok = False
        elif spec_in.required:
            what = f" ({spec_in.description})" if spec_in.description else ""
            problems.add(
                (*path, "with") if "with" in _node(problems.src, path) else path,
                f"missing required input {key!r} of recipe {step.uses!r}: {spec_in.type}{what}",
            )
            ok = False
        else:
            values[key] = check_input(spec_in, spec_in.default, declared=None)
    return values if ok else None


def _node(src: Source, path: Path_) -> Any:
    node = src.data
    for part in path:
        node = node[part]
    return node


def _expand_use(
    use: _Use,
    out: _Out,
    scenario: model.Scenario,
    problems: _Problems,
    *,
    test_failover: bool,
) -> None:
    recipe = use.found.recipe
    ctx = templates.Context(
        inputs=use.inputs,
        use={"id": use.id, "name": use.written.name, "cluster": use.written.cluster or ""},
        captured_prefix=use.id,
    )
    applied = model.RecipeApplied(
        recipe=recipe.name, use=use.id, phase=use.phase, file=use.found.file
    )
    spec = recipe.spec
    if not test_failover:
        for made in _steps(use, spec.steps, ("spec", "steps"), ctx, problems):
            applied.steps.append(made.name)
            out.steps[use.phase].append((use.path, made))
    elif not _expand_test_failover(use, out, ctx, applied, problems):
        return
    for made in _steps(use, spec.baseline, ("spec", "baseline"), ctx, problems):
        applied.baseline.append(made.name)
        out.steps["baseline"].append((use.path, made))
    for i, template in enumerate(spec.preflight):
        for check in _object_checks(use, template, ("spec", "preflight", i), ctx, problems):
            applied.preflight.append(check.name)
            out.preflight.append((use.path, check))
    if spec.measure is not None:
        _measure(use, spec.measure, ctx, out, applied, scenario, problems)
    out.applied.append(applied)


def _expand_test_failover(
    use: _Use,
    out: _Out,
    ctx: templates.Context,
    applied: model.RecipeApplied,
    problems: _Problems,
) -> bool:
    """A use's steps for a test failover: the recipe's `testFailover` steps (and their
    cleanup, added to failback), or, when it has none, its steps less those that change
    the system. False when an input the test failover requires is missing."""
    spec = use.found.recipe.spec
    test = spec.test_failover
    if test is None:
        for made in _steps(use, spec.steps, ("spec", "steps"), ctx, problems):
            applied.steps.append(made.name)
            out.steps[use.phase].append((use.path, made))
        _skip_changing_steps(use, out, applied)
        return True
    for name in test.requires:
        if use.inputs.get(name) in (None, "", [], {}):
            where = (*use.path, "with") if use.written.with_ else use.path
            problems.add(
                where,
                f"a test failover of recipe {use.found.recipe.name!r} needs the input {name!r} "
                f"({spec.inputs[name].description or spec.inputs[name].type})",
            )
            return False
    out.notes.append(
        model.TestFailoverNote(
            phase=use.phase, step=use.written.name, what="redirected", reason=test.description
        )
    )
    for made in _steps(use, test.steps, ("spec", "testFailover", "steps"), ctx, problems):
        applied.steps.append(made.name)
        out.steps[use.phase].append((use.path, made))
    for made in _steps(use, test.cleanup, ("spec", "testFailover", "cleanup"), ctx, problems):
        out.cleanup.append((use.path, made))
        out.notes.append(
            model.TestFailoverNote(
                phase="failback",
                step=made.name,
                what="added",
                reason=f"undoes the test failover of {use.written.name!r}",
            )
        )
    return True


def _skip_changing_steps(use: _Use, out: _Out, applied: model.RecipeApplied) -> None:
    """Drop the use's steps that change the system (and the read-only ones after a dropped
    one, which wait for its effect) from its phase, each with a note: the test failover of a
    recipe that has none."""
    kept = []
    skipped = False
    for path, made in out.steps[use.phase]:
        if made.origin is None or made.origin.use != use.id:
            kept.append((path, made))
            continue
        if made.action not in model.READ_ONLY_ACTIONS:
            why = f"a {made.action} step changes the system"
        elif skipped:
            why = "it follows a step the test failover skips"
        else:
            kept.append((path, made))
            continue
        skipped = True
        out.notes.append(
            model.TestFailoverNote(
                phase=use.phase,
                step=made.name,
                what="skipped",
                reason=f"recipe {use.found.recipe.name} has no test failover; {why}",
            )
        )
        applied.steps.remove(made.name)
    out.steps[use.phase] = kept


def _steps(
    use: _Use,
    step_templates: list[dict[str, Any]],
    at: tuple[str, ...],
    ctx: templates.Context,
    problems: _Problems,
) -> list[model.Step]:
    made: list[model.Step] = []
    for i, template in enumerate(step_templates):
        where: Path_ = (*at, i)
        for data in _instances(use, template, where, ctx, problems):
            step = _make_step(use, data, where, problems)
            if step is not None:
                made.append(step)
    return made


def _instances(
    use: _Use, template: dict[str, Any], where: Path_, ctx: templates.Context, problems: _Problems
) -> list[dict[str, Any]]:
    """The template rendered: none when its `if` is false, one per item with `forEach`."""
    body = {k: v for k, v in template.items() if k not in ("if", "forEach")}
    try:
        if "if" in template and not _truthy(template["if"], ctx):
            return []
        if "forEach" not in template:
            rendered = templates.render(body, ctx)
            return [rendered] if isinstance(rendered, dict) else []
        items = _ref(template["forEach"], ctx)
        if not isinstance(items, list):
            raise templates.TemplateError(f"forEach: {template['forEach']!r} is not a list")
        out = []
        for item in items:
            item_ctx = templates.Context(
                inputs=ctx.inputs,
                use=ctx.use,
                item=item,
                has_item=True,
                captured_prefix=ctx.captured_prefix,
            )
            out.append(templates.render(body, item_ctx))
        return out
    except templates.TemplateError as e:
        _recipe_problem(use, where, str(e), problems)
        return []


def _truthy(condition: Any, ctx: templates.Context) -> bool:
    text = str(condition).strip()
    negate = text.startswith("not ")
    value = _ref(text.removeprefix("not ").strip(), ctx)
    return (not value) if negate else bool(value)


def _ref(text: Any, ctx: templates.Context) -> Any:
    if not isinstance(text, str) or not text.startswith("inputs."):
        raise templates.TemplateError(f"expected inputs.<name>, got {text!r}")
    return templates.render(f"${{{{ {text} }}}}", ctx)


def _make_step(
    use: _Use, data: dict[str, Any], where: Path_, problems: _Problems
) -> model.Step | None:
    data = dict(data)
    data["name"] = f"{use.written.name}: {data.get('name', '?')}"
    if data.get("id"):
        data["id"] = f"{use.id}-{data['id']}"
    if data.get("action") == "capture":
        for key in ("values", "defaults"):
            if isinstance(data.get(key), dict):
                data[key] = {f"{use.id}.{k}": v for k, v in data[key].items()}
    if data.get("cluster") in (None, "") and use.written.cluster is not None:
        data["cluster"] = use.written.cluster
    try:
        step = model.Failover.model_validate({"steps": [data]}).steps[0]
    except ValidationError as e:
        fake = Source(file=use.found.file, data={"steps": [data]})
        issue = issue_text.from_validation_error(e, fake, model.Failover)[0]
        field = issue.field.removeprefix("steps[0]").removeprefix(".") or "the step"
        _recipe_problem(use, where, f"makes an invalid step: {field}: {issue.message}", problems)
        return None
    if isinstance(step, model.RecipeUse):
        _recipe_problem(use, where, "uses another recipe: a recipe is made of steps", problems)
        return None
    line = use.found.source.value_at(where).line
    return step.with_origin(
        model.StepOrigin(recipe=use.found.recipe.name, use=use.id, file=use.found.file, line=line)
    )


def _object_checks(
    use: _Use, template: dict[str, Any], where: Path_, ctx: templates.Context, problems: _Problems
) -> list[model.ObjectCheck]:
    """The checks a preflight template makes: none (`if`), one, or one per `forEach` item."""
    made: list[model.ObjectCheck] = []
    for rendered in _instances(use, template, where, ctx, problems):
        data = dict(rendered)
        data["name"] = f"{use.written.name}: {data.get('name', '?')}"
        if use.phase == "failback":
            # the state a failback starts from is the failover's result, which preflight
            # (before anything ran) cannot see: there the objects must only exist
            data.pop("conditions", None)
        if data.get("cluster") in (None, "") and use.written.cluster is not None:
            data["cluster"] = use.written.cluster
        if data.get("cluster") in (None, ""):
            msg = "its checks act on a cluster: give the use `cluster`"
            _recipe_problem(use, where, msg, problems)
            return made
        try:
            made.append(model.ObjectCheck.model_validate(data))
        except ValidationError as e:
            fake = Source(file=use.found.file, data=data)
            issue = issue_text.from_validation_error(e, fake, model.ObjectCheck)[0]
            msg = f"makes an invalid check: {issue.field}: {issue.message}"
            _recipe_problem(use, where, msg, problems)
    return made


def _measure(
    use: _Use,
    template: dict[str, Any],
    ctx: templates.Context,
    out: _Out,
    applied: model.RecipeApplied,
    scenario: model.Scenario,
    problems: _Problems,
) -> None:
    where: Path_ = ("spec", "measure")
    try:
        if "if" in template and not _truthy(template["if"], ctx):
            return
        body = templates.render({k: v for k, v in template.items() if k != "if"}, ctx)
    except templates.TemplateError as e:
        _recipe_problem(use, where, str(e), problems)
        return
    body = _local_instants(body, use.id)
    try:
        spans = model.Spans.model_validate(body.get("spans") or {})
        timings = [model.Timing.model_validate(t) for t in body.get("timings") or []]
    except ValidationError as e:
        _recipe_problem(
            use, where, f"makes an invalid measurement: {e.errors()[0]['msg']}", problems
        )
        return
    m = scenario.spec.measure
    for kind in ("rto", "rpo"):
        span = getattr(spans, kind)
        if span is None:
            continue
        other = getattr(m, kind) is not None or kind in out.spans
        if other:
            problems.add(
                (*use.path, "uses"),
                f"recipe {use.found.recipe.name!r} measures the {kind.upper()} (between "
                f"{_instant_text(span.from_)} and {_instant_text(span.to)}), and so does "
                "another part of the scenario: measure it one way (see the recipe's "
                "`measure` input)",
            )
            continue
        out.spans[kind] = (use.path, span)
        applied.measures.append(
            f"{kind.upper()} = {_instant_text(span.to)} - {_instant_text(span.from_)}"
        )
    for timing in timings:
        out.timings.append((use.path, timing))
        applied.measures.append(f"timing {timing.name!r}")


def _local_instants(value: Any, use_id: str) -> Any:
    """`captured.x` and `steps.y.started` written in a recipe, as this use's names."""
    if isinstance(value, dict):
        return {k: _local_instants(v, use_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_local_instants(v, use_id) for v in value]
    if isinstance(value, str):
        if value.startswith("captured.") and value.count(".") == 1:
            return f"captured.{use_id}.{value.removeprefix('captured.')}"
        if value.startswith("steps.") and value.count(".") == 2:
            _, step, when = value.split(".")
            return f"steps.{use_id}-{step}.{when}"
    return value


def _instant_text(instant: model.Instant) -> str:
    if isinstance(instant, model.Window):
        return f"[{instant.earliest}, {instant.latest}]"
    return instant


def _recipe_problem(use: _Use, where: Path_, message: str, problems: _Problems) -> None:
    pos = use.found.source.value_at(where)
    problems.add(
        (*use.path, "uses"),
        f"recipe {use.found.recipe.name!r} ({use.found.file}:{pos.line}:{pos.column}) {message}",
    )


# --------------------------------------------------------------------------- checks


def _check_expanded(scenario: model.Scenario, out: _Out, problems: _Problems) -> None:
    """What only the expanded scenario can show: ids, baseline steps, captured names."""
    declared = scenario.cluster_names
    ids: dict[str, Path_] = {}
    captured: set[str] = set()
    for phase in _PHASES:
        for path, step in out.steps[phase]:
            origin = f" (made by recipe {step.origin.recipe!r})" if step.origin else ""
            if step.id is not None:
                if step.id in ids:
                    problems.add(path, f"step id {step.id!r} is used twice{origin}")
                ids.setdefault(step.id, path)
            if phase == "baseline" and step.action not in model.READ_ONLY_ACTIONS:
                problems.add(
                    path,
                    f"a baseline step must change nothing ({_READ_ONLY}); "
                    f"{step.name!r} is a {step.action} step{origin}",
                )
            if step.origin is not None:
                if step.cluster is not None and step.cluster not in declared:
                    problems.add(
                        path,
                        f"step {step.name!r}: cluster {step.cluster!r} is not "
                        f"declared in spec.clusters{origin}",
                    )
                elif step.cluster is None and step.action in model.KUBERNETES_ACTIONS:
                    problems.add(
                        path, f"step {step.name!r} acts on a cluster: give the use `cluster`"
                    )
            data = step.model_dump(mode="json", by_alias=True, exclude_unset=True)
            for ref in templates.runtime_names(data):
                name = ref.removeprefix("captured.")
                if ref.startswith("captured.") and name not in captured:
                    problems.add(
                        path,
                        f"step {step.name!r} uses ${{{{ {ref} }}}}, which no earlier capture "
                        f"step records{origin}",
                    )
            if isinstance(step, model.CaptureStep):
                captured.update(step.values)
    for path, check in out.preflight:
        if check.cluster not in declared:
            problems.add(path, f"check {check.name!r}: cluster {check.cluster!r} is not declared")
    instants = [(p, s) for p, s in out.spans.values()] + [(p, t) for p, t in out.timings]
    for path, span in instants:
        for instant in _instants(span):
            if (
                instant.startswith("captured.")
                and instant.removeprefix("captured.") not in captured
            ):
                problems.add(path, f"{instant!r}: no capture step records it")
            if instant.startswith("steps."):
                step_id = instant.split(".")[1]
                if step_id not in ids:
                    problems.add(path, f"{instant!r}: no step has the id {step_id!r}")


def _drop_unmeasurable(out: _Out) -> None:
    """In a test failover, the measurements between steps it does not run are dropped."""
    ids = {s.id for phase in _PHASES for _, s in out.steps[phase] if s.id}
    captured = {
        name
        for phase in _PHASES
        for _, s in out.steps[phase]
        if isinstance(s, model.CaptureStep)
        for name in s.values
    }

    def runs(span: model.Span) -> bool:
        for instant in _instants(span):
            if instant.startswith("steps.") and instant.split(".")[1] not in ids:
                return False
            if (
                instant.startswith("captured.")
                and instant.removeprefix("captured.") not in captured
            ):
                return False
        return True

    for kind, (_, span) in list(out.spans.items()):
        if not runs(span):
            del out.spans[kind]
            out.notes.append(
                model.TestFailoverNote(
                    phase="verify",
                    step=f"{kind.upper()} span",
                    what="skipped",
                    reason="it is measured between steps a test failover does not run",
                )
            )
    kept = []
    for path, timing in out.timings:
        if runs(timing):
            kept.append((path, timing))
            continue
        out.notes.append(
            model.TestFailoverNote(
                phase="verify",
                step=f"timing {timing.name!r}",
                what="skipped",
                reason="it is measured between steps a test failover does not run",
            )
        )
    out.timings = kept


def _instants(span: model.Span) -> list[str]:
    out: list[str] = []
    for instant in (span.from_, span.to):
        out += (
            [instant.earliest, instant.latest] if isinstance(instant, model.Window) else [instant]
        )
    return out


def _assemble(scenario: model.Scenario, out: _Out, test_failover: bool) -> model.Scenario:
    spec = scenario.spec
    failback = spec.failback
    if test_failover and out.cleanup:
        failback = failback.model_copy(update={"policy": model.FailbackPolicy.ALWAYS})
    measure = spec.measure.model_copy(
        update={
            "spans": model.Spans(**{k: s for k, (_, s) in out.spans.items()}),
            "timings": [t for _, t in out.timings],
        }
    )
    new_spec = spec.model_copy(
        update={
            "preflight": [c for _, c in out.preflight],
            "baseline": model.Baseline(steps=[s for _, s in out.steps["baseline"]]),
            "failover": model.Failover(steps=[s for _, s in out.steps["failover"]]),
            "failback": failback.model_copy(
                update={"steps": [s for _, s in out.steps["failback"]]}
            ),
            "measure": measure,
        }
    )
    return scenario.model_copy(update={"spec": new_spec}).with_expansion(
        model.Expansion(test_failover=test_failover, recipes=out.applied, notes=out.notes)
    )


def _sorted(found: list[Issue]) -> list[Issue]:
    return sorted(dict.fromkeys(found), key=lambda i: (i.file, i.line, i.column))
