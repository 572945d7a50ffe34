"""Exit codes, the same for every command."""

from __future__ import annotations

OK = 0
"""Success; for a drill: every objective met."""
MISSED = 1
"""The drill ran and missed an objective."""
INVALID = 2
"""Invalid input or usage."""
RUNNER = 3
"""Runner error, abort, or inconclusive measurement."""
