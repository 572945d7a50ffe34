"""One rendering of a plan: `drillctl plan`, `drillctl run --dry-run` and the pytest plugin's
dry run print the same targets, steps and objectives, from `engine.plan.render_plan`."""

from __future__ import annotations

import importlib
from pathlib import Path

import click
from click.testing import CliRunner

from runner.cli.main import COMMANDS, cli
from runner.engine.plan import ordered_steps, render_plan
from runner.scenario import loader
from tests.scenario.files import DRILL, SCENARIO, write


def _files(tmp_path: Path) -> tuple[Path, Path]:
    drill = DRILL.replace("kubernetes: {context: east}", "kubernetes: {}\n      protected: true")
    scenario = SCENARIO.replace("duration: 1m\n", "duration: 1m\n      namespaces: [db]\n")
    return write(tmp_path, "small.yaml", scenario), write(tmp_path, "d.yaml", drill)


def _from(text: str, heading: str) -> list[str]:
    lines = text.splitlines()
    return lines[lines.index(heading) :]


def test_plan_and_dry_run_print_the_same_plan(tmp_path: Path) -> None:
    scenario, drill = _files(tmp_path)
    runner = CliRunner()
    planned = runner.invoke(cli, ["plan", str(scenario), "--drill", str(drill)])
    dry = runner.invoke(cli, ["run", str(scenario), "--drill", str(drill), "--dry-run"])
    assert planned.exit_code == 0 and dry.exit_code == 0, planned.output + dry.output
    expected = render_plan(loader.load_scenario(scenario), loader.load_drill(drill))
    assert dry.output.rstrip("\n") == expected
    assert _from(planned.output, "steps:") == _from(expected, "steps:")
    assert "kind: PodChaos" in planned.output  # plan adds the exact objects
    assert "kind: PodChaos" not in dry.output


def test_the_plan_names_targets_steps_in_order_and_objectives(tmp_path: Path) -> None:
    scenario, drill = _files(tmp_path)
    sc, d = loader.load_scenario(scenario), loader.load_drill(drill)
    text = render_plan(sc, d, run_id="r1")
    assert text.splitlines()[0] == (
        "plan of small with drill small-drill, run id r1: nothing is created or injected"
    )
    assert "  east: kube context (current)  [protected]" in text.splitlines()
    assert "  west: kube context west" in text.splitlines()
    numbered = [f"  {i:>2}. [{ph}] {what}" for i, (ph, what) in enumerate(ordered_steps(sc), 1)]
    assert _from(text, "steps:")[1 : len(numbered) + 1] == numbered
    assert text.splitlines()[-1] == "objectives: RTO <= 5m"


def test_every_drill_option_is_the_shared_one() -> None:
    """`--drill` is declared once (cli/options.py): every command takes it the same way
    (before, `plan` and `cleanup` checked the file exists and `run` did not)."""
    found = {}
    for name, (target, _) in COMMANDS.items():
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        commands = command.commands.values() if isinstance(command, click.Group) else [command]
        for cmd in commands:
            for param in cmd.params:
                if "--drill" in getattr(param, "opts", []):
                    assert isinstance(param.type, click.Path)
                    found[name if cmd is command else f"{name} {cmd.name}"] = (
                        param.name,
                        param.type.exists,
                        param.type.dir_okay,
                    )
    assert {"plan", "run", "cleanup", "status", "measure"} <= set(found), found
    assert set(found.values()) == {("drill_path", False, False)}, found
