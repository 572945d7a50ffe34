"""The `drillctl` entry point: a click group whose commands are imported lazily.

Heavy clients (kubernetes, prometheus-api-client, pydantic models) load only when a
command that needs them runs, so `drillctl --help` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from runner import __version__
from runner.cli import exits

# command name -> "module:attribute" of a click.Command; modules load on first use.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("runner.cli.validate:command", "Check scenario and drill files."),
    "schema": ("runner.cli.validate:schema_command", "Print the JSON Schema of a file kind."),
    "plan": ("runner.cli.plan:command", "Show the faults and steps a drill would run."),
    "run": ("runner.cli.run:command", "Run a drill."),
    "measure": ("runner.cli.measure:command", "Measure RTO and RPO over any window."),
    "abort": ("runner.cli.runs:abort", "Abort a running drill."),
    "cleanup": ("runner.cli.cleanup:command", "Remove faults left by drill-runner."),
    "status": ("runner.cli.runs:status", "Show active runs and leftover faults."),
    "report": ("runner.cli.report:command", "Show or write the report of a run."),
    "history": ("runner.cli.report:history", "Show the runs of a scenario over time."),
    "lab": ("runner.cli.lab:group", "Start, stop and inspect the local lab."),
    "schedule": ("runner.cli.schedule:group", "Run drills on a schedule."),
    "evidence": ("runner.cli.evidence:group", "Signed evidence packs, sign-off, deficiencies."),
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when the command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        target, _ = COMMANDS[cmd_name]
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        command.name = cmd_name
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, help_) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="drillctl")
def cli() -> None:
    """Chaos and disaster-recovery drills: inject faults, fail over, measure RTO and RPO.

    Exit codes: 0 objectives met, 1 an objective missed, 2 invalid input or usage,
    3 runner error, abort or inconclusive measurement.
    """


def main(argv: list[str] | None = None) -> None:
    """Run drillctl; runner errors become a one-line message and exit code 3 (2 for input).

    Every message is rendered with `runner.text` (secrets masked, control characters
    escaped): it may quote a file, a server or a record."""
    from runner import text
    from runner.errors import ConfigurationError, DrillError, InvalidInputError, UsageError

    text.install_log_filter()
    try:
        rc: Any = cli.main(args=argv, prog_name="drillctl", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(exits.RUNNER)
    except click.ClickException as e:  # e.show(), with the message made safe
        if isinstance(e, click.UsageError) and e.ctx is not None:
            hint = f"Try '{e.ctx.command_path} {e.ctx.help_option_names[0]}' for help."
            click.echo(f"{e.ctx.get_usage()}\n{hint}\n", err=True)
        click.echo(f"Error: {text.block(e.format_message())}", err=True)
        sys.exit(exits.INVALID if e.exit_code == 2 else e.exit_code)
    except InvalidInputError as e:
        for issue in e.issues:
            click.echo(text.line(issue), err=True)
        sys.exit(exits.INVALID)
    except (UsageError, ConfigurationError) as e:
        click.echo(f"error: {text.block(e)}", err=True)
        sys.exit(exits.INVALID)
    except DrillError as e:
        click.echo(f"error: {text.block(e)}", err=True)
        sys.exit(exits.RUNNER)
    sys.exit(rc if isinstance(rc, int) else exits.OK)
