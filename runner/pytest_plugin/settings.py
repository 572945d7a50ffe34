"""The plugin's command-line options and ini settings, resolved once into `Settings`.

Paths given on the command line are taken relative to the directory pytest was started
in; paths from the ini file relative to that file's folder (the rootdir when there is none).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

DEFAULT_PATTERNS = ("scenarios/**/*.yaml", "scenarios/**/*.yml")
SETTINGS = pytest.StashKey["Settings"]()


@dataclass(frozen=True, kw_only=True)
class Settings:
    drill_file: Path | None
    """The drill binding scenarios' clusters to targets; None: validate only."""
    patterns: tuple[str, ...]
    """Which files (relative to the rootdir) are scenario files."""
    results_dir: Path
    dry_run: bool
    enabled: bool
    """Whether scenario files are collected at all."""
    rootdir: Path
    invocation_dir: Path
    confirmed_targets: frozenset[str] = frozenset()
    """Protected targets this session may run against (`--drill-confirm-target NAME`)."""

    def label(self, path: Path) -> str:
        """How a file is named in messages: relative to where pytest was started, if inside."""
        try:
            return str(path.relative_to(self.invocation_dir))
        except ValueError:
            return str(path)

    def relative_to_root(self, path: Path) -> str | None:
        try:
            return path.relative_to(self.rootdir).as_posix()
        except ValueError:
            return None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("drill", "disaster-recovery drills (drill-runner)")
    group.addoption(
        "--drill",
        dest="drill_file",
        metavar="DRILL_YAML",
        default=None,
        help="Drill file binding the scenarios' clusters to targets; turns the plugin on.",
    )
    group.addoption(
        "--drill-pattern",
        dest="drill_pattern",
        action="append",
        metavar="GLOB",
        default=None,
        help="Scenario files to collect, relative to the rootdir (repeatable; '**' spans "
        f"folders). Default: {' '.join(DEFAULT_PATTERNS)}.",
    )
    group.addoption(
        "--drill-results",
        dest="drill_results",
        metavar="DIR",
        default=None,
        help="Where run records are written (default: results).",
    )
    group.addoption(
        "--drill-dry-run",
        dest="drill_dry_run",
        action="store_true",
        default=False,
        help="Validate and plan each drill; inject nothing. Valid, bound scenarios pass.",
    )
    group.addoption(
        "--drill-confirm-target",
        dest="drill_confirm_targets",
        action="append",
        metavar="NAME",
        default=None,
        help="Let drills run against this protected target (repeatable; there is no ini "
        "setting: a protected target is confirmed by name on the command line, per session).",
    )
    parser.addini("drill_file", "Drill file (as --drill).", type="string", default="")
    parser.addini("drill_pattern", "Scenario file globs (as --drill-pattern).", type="args")
    parser.addini("drill_results", "Run record folder (as --drill-results).", type="string")


def resolve(config: pytest.Config) -> Settings:
    invocation = config.invocation_params.dir
    ini_base = config.inipath.parent if config.inipath else config.rootpath

    def path_of(option: str, ini: str) -> Path | None:
        cli = config.getoption(option)
        if cli:
            return (invocation / str(cli)).resolve()
        value = str(config.getini(ini) or "")
        return (ini_base / value).resolve() if value else None

    drill_file = path_of("drill_file", "drill_file")
    cli_patterns = config.getoption("drill_pattern") or []
    ini_patterns = list(config.getini("drill_pattern") or [])
    patterns = tuple(cli_patterns or ini_patterns) or DEFAULT_PATTERNS
    dry_run = bool(config.getoption("drill_dry_run"))
    return Settings(
        drill_file=drill_file,
        patterns=patterns,
        results_dir=path_of("drill_results", "drill_results") or invocation / "results",
        dry_run=dry_run,
        enabled=drill_file is not None or bool(cli_patterns or ini_patterns) or dry_run,
        rootdir=config.rootpath,
        invocation_dir=invocation,
        confirmed_targets=frozenset(config.getoption("drill_confirm_targets") or ()),
    )
