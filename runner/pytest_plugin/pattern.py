"""Matching scenario files against glob patterns where `**` spans any number of folders."""

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


def matches(path: PurePosixPath | str, patterns: Sequence[str]) -> bool:
    """Whether a slash-separated relative path matches any pattern, as a whole.

    `*` and `?` stay inside one folder; `**/` matches zero or more folders, so
    `scenarios/**/*.yaml` takes both `scenarios/a.yaml` and `scenarios/lab/b.yaml`.
    """
    text = str(path)
    return any(_compile(p).fullmatch(text) for p in patterns)
