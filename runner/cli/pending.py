"""Commands whose issue has not landed yet: they say so and exit 3."""

from __future__ import annotations

import sys

import click

from runner.cli import exits


def _pending(name: str) -> click.Command:
    @click.command(
        name=name,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )
    def command() -> None:
        click.echo(f"drillctl {name}: not available yet", err=True)
        sys.exit(exits.RUNNER)

    return command


plan = _pending("plan")
cleanup = _pending("cleanup")
history = _pending("history")
lab = _pending("lab")
schedule = _pending("schedule")
