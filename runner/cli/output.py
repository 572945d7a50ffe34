"""Printing data as text, JSON or YAML (`--output`).

Data is masked (`runner.redact.value`) and text rendered as a terminal `block`
(`runner.text`): whatever a command prints may quote a file, a server or a record."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

FORMATS = ("text", "json", "yaml")

output_option = click.option(
    "--output",
    "-o",
    "output",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="How to print the result.",
)


def emit(data: Any, fmt: str, text: Callable[[Any], str]) -> None:
    """Print `data` in `fmt`; `text` renders the human form."""
    from runner import redact
    from runner import text as safe

    if fmt == "json":
        click.echo(json.dumps(redact.value(data), indent=2, default=str))
    elif fmt == "yaml":
        import yaml

        dumped = yaml.safe_dump(redact.value(data), sort_keys=False, allow_unicode=False)
        click.echo(dumped, nl=False)
    else:
        click.echo(safe.block(text(data)))
