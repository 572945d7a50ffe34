"""Matching scenario files against glob patterns, the way pytest's `python_files` does: a
pattern without `/` is matched against the file's name alone (`*.yaml`), one with `/`
against its path relative to the rootdir, where `**` spans any number of folders."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import PurePosixPath


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def matches(path: PurePosixPath | str | None, patterns: Sequence[str], *, name: str = "") -> bool:
    """Whether a file matches any pattern, as a whole.

    `path` is the slash-separated path relative to the rootdir (None for a file outside
    it); `name` the file's name (default: the last part of `path`). A pattern without `/`
    is matched against the name; one with `/` against the path: `*` and `?` stay inside
    one folder, `**/` matches zero or more folders, so `scenarios/**/*.yaml` takes both
    `scenarios/a.yaml` and `scenarios/lab/b.yaml`.
    """
    text = None if path is None else str(path)
    base = name or (text.rsplit("/", 1)[-1] if text else "")
    for pattern in patterns:
        subject = text if "/" in pattern else base
        if subject is not None and _compile(pattern).fullmatch(subject):
            return True
    return False
