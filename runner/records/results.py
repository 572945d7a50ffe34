"""The results folder (`--results`): where run records live, and reading them back safely.

This module owns the folder around the records: checking that it is usable before a run
touches anything (a folder we can create and write in; not a dangling symlink, a symlink
loop, read-only or full), run ids as folder names (validated, so an id is never a path and
nothing is read or written outside the folder), reserving a new run's folder (a new id when
the first collides), writing a file there with a clean error, and reading a run.json's JSON with a
clean error (what it must hold is `runner.journal`'s business).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path

from runner.errors import DrillError, UsageError
from runner.records.store import RUN_ID_RE as RUN_ID_RE  # re-exported
from runner.records.store import describe_os_error as why

PROBE_BYTES = 64 * 1024
"""Written (and removed) to check the folder has room for a run's first files."""
RESERVE_ATTEMPTS = 10

Warn = Callable[[str], None]


class ResultsError(DrillError):
    """The results folder (or a file in it) cannot be read or written."""


def check_run_id(run_id: str) -> str:
    """`run_id` if it is a run id (a folder name, never a path), else UsageError."""
    if not RUN_ID_RE.match(run_id):
        shown = run_id if len(run_id) <= 80 else run_id[:77] + "..."
        raise UsageError(
            f"{shown!r} is not a run id (3 to 63 characters: a-z, 0-9 and '-', "
            "starting with a letter or digit)"
        )
    return run_id


def run_folder(results_dir: Path, run_id: str) -> Path:
    """The folder of run `run_id` (validated) under `results_dir`."""
    return results_dir / check_run_id(run_id)


def writable_run_folder(results_dir: Path, run_id: str) -> Path:
    """`run_folder`, refused (UsageError) when it is a link leading out of `results_dir`."""
    folder = run_folder(results_dir, run_id)
    try:
        inside = folder.resolve().parent == results_dir.resolve()
    except (OSError, RuntimeError):  # a loop
        inside = False
    if not inside:
        raise UsageError(f"run {run_id}: its folder leads out of {results_dir}; not writing there")
    return folder


def _describe_folder(path: Path) -> str | None:
    """Why `path` cannot be (or become) a folder to write in, or None."""
    for folder in (path, *path.parents):  # the nearest one there decides
        try:
            if folder.exists() or folder.is_symlink():
                found = _describe_one(folder)
                return (
                    None
                    if found is None
                    else (found if folder == path else f"inside {folder}, which is {found}")
                )
        except OSError as e:
            return "a symlink loop" if e.errno == errno.ELOOP else why(e)
    return None


def _describe_one(path: Path) -> str | None:
    try:
        if path.is_symlink() and not path.exists():
            try:
                path.stat()
            except OSError as e:
                if e.errno == errno.ELOOP:
                    return "a symlink loop"
            return f"a symlink to {os.readlink(path)}, which does not exist"
        path.stat()
    except FileNotFoundError:
        return None  # created below
    except OSError as e:
        return "a symlink loop" if e.errno == errno.ELOOP else why(e)
    return None if path.is_dir() else "not a folder"


def prepare(results_dir: Path) -> None:
    """Create `results_dir` if needed and prove a run can write there; ResultsError if not."""
    name = f"--results {results_dir}"
    problem = _describe_folder(results_dir)
    if problem:
        raise ResultsError(f"{name}: {problem}")
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ResultsError(f"{name}: cannot create the folder: {why(e)}") from None
    probe = results_dir / f".write-test-{os.getpid()}"
    try:
        with probe.open("wb") as f:
            f.write(b"\0" * PROBE_BYTES)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise ResultsError(f"{name}: cannot write there: {why(e)}") from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)


def reserve(results_dir: Path, make_id: Callable[[], str], first: str | None = None) -> str:
    """Create the folder of a new run and return its id; a new id when one is taken."""
    tried = []
    for attempt in range(RESERVE_ATTEMPTS):
        run_id = first if (attempt == 0 and first) else make_id()
        tried.append(run_id)
        try:
            run_folder(results_dir, run_id).mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue
        except OSError as e:
            raise ResultsError(
                f"--results {results_dir}: cannot create a run folder: {why(e)}"
            ) from None
        return run_id
    raise ResultsError(
        f"--results {results_dir}: {RESERVE_ATTEMPTS} run ids in a row were taken "
        f"({tried[0]} ... {tried[-1]})"
    )


def write(path: Path, content: str | bytes, *, mode: int = 0o644) -> None:
    """Write `content` to `path` atomically (temp file + rename); ResultsError if it fails."""
    problem = _describe_folder(path.parent)
    if problem:
        raise ResultsError(f"cannot write {path}: {path.parent} is {problem}")
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)  # never write through a link planted there
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        data = content.encode() if isinstance(content, str) else content
        with os.fdopen(os.open(tmp, flags, mode), "wb") as f:
            f.write(data)
        tmp.replace(path)  # replaces a link at `path` itself, never its target
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise ResultsError(f"cannot write {path}: {why(e)}") from None
