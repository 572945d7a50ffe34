"""Options several commands share, declared once."""

from __future__ import annotations

from pathlib import Path

import click

results_option = click.option(
    "--results",
    "results_dir",
    default="results",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder of run records (results/<run-id>/).",
)

drill_option = click.option(
    "--drill",
    "drill_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The drill file: where (targets) and which Prometheus.",
)
