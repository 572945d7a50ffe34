"""Options several commands share, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

results_option = click.option(
    "--results",
    "results_dir",
    default="results",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder of run records (results/<run-id>/).",
)

DRILL_HELP = "The drill file: where (targets) and which Prometheus."


def drill_option(
    *, required: bool = True, help: str = DRILL_HELP
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--drill FILE` as `drill_path`. A missing file is the loader's error (file named)."""
    return click.option(
        "--drill",
        "drill_path",
        required=required,
        type=click.Path(dir_okay=False, path_type=Path),
        help=help,
    )
