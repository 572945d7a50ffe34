"""`drillctl validate` (check scenario and drill files) and `drillctl schema` (JSON Schema).

This module owns how validation is presented: which files a folder stands for, one
`ok ...` line or the issues per file, the exit code (0 all valid, 2 any issue) and the
JSON Schema printed for editors. The model and loader are imported inside the commands,
so `drillctl --help` never pays for pydantic.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runner.cli import exits
from runner.cli.output import emit, output_option

if TYPE_CHECKING:
    from runner.scenario.references import ScenarioCache

SCHEMA_KINDS = ("scenario", "drill")
_SUFFIXES = (".yaml", ".yml")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@output_option
@click.pass_context
def command(ctx: click.Context, paths: tuple[Path, ...], output: str) -> None:
    """Check scenario and drill files; folders are searched for *.yaml and *.yml.

    Drills are checked with the scenarios they name. Exit code 0 if every file is valid,
    2 if any is not.
    """
    files = _expand(paths)
    if not files:
        raise click.UsageError("no .yaml or .yml files found in " + ", ".join(map(str, paths)))
    cache: ScenarioCache = {}
    results = [_check(file, cache) for file in files]
    emit(results, output, _render)
    ctx.exit(exits.INVALID if any(not r["ok"] for r in results) else exits.OK)


@click.command()
@click.argument("kind", type=click.Choice(SCHEMA_KINDS))
def schema_command(kind: str) -> None:
    """Print the JSON Schema of a scenario or drill file (for editors and CI)."""
    click.echo(generate_schema(kind), nl=False)


def generate_schema(kind: str) -> str:
    """The JSON Schema text shipped as `runner/schemas/<kind>.schema.json`."""
    from runner.scenario import model

    cls = model.Scenario if kind == "scenario" else model.Drill
    body = cls.model_json_schema(by_alias=True, mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **body}
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def _expand(paths: tuple[Path, ...]) -> list[Path]:
    """Files as given; folders become their YAML files, sorted; duplicates dropped."""
    seen: dict[Path, Path] = {}
    for path in paths:
        found = (
            sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
            if path.is_dir()
            else [path]
        )
        for file in found:
            seen.setdefault(file.resolve(), file)
    return list(seen.values())


def _check(file: Path, cache: ScenarioCache) -> dict[str, Any]:
    from runner.errors import InvalidInputError
    from runner.scenario import loader, model, references

    result: dict[str, Any] = {"path": str(file), "ok": False, "kind": None, "name": None}
    try:
        cached = cache.get(file.resolve())
        if isinstance(cached, InvalidInputError):
            raise cached
        loaded = cached or loader.load_file(file)
        result.update(kind=type(loaded).__name__, name=loaded.name)
        if isinstance(loaded, model.Drill):
            _, scenarios = references.check_drill(file, cache=cache)
            result["scenarios"] = [s.name for s in scenarios]
        elif isinstance(loaded, model.Scenario):
            cache[file.resolve()] = loaded
    except InvalidInputError as e:
        if result["kind"] is None:
            cache[file.resolve()] = e
        result["issues"] = [asdict(i) for i in e.issues]
        return result
    result["ok"] = True
    result["issues"] = []
    return result


def _render(results: list[dict[str, Any]]) -> str:
    from runner.errors import Issue
    from runner.text import line

    lines = []
    for r in results:
        if r["ok"]:
            extra = f", {len(r['scenarios'])} scenarios" if "scenarios" in r else ""
            lines.append(line(f"ok {r['path']} ({r['kind']} {r['name']}{extra})"))
            continue
        lines.extend(line(Issue(**i)) for i in r["issues"])
    bad = sum(not r["ok"] for r in results)
    if bad:
        lines.append(f"{bad} of {len(results)} files have problems")
    return "\n".join(lines)
