"""Printing data as text, JSON or YAML (`--output`)."""

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
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, default=str))
    elif fmt == "yaml":
        import yaml

        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)
    else:
        click.echo(text(data))
