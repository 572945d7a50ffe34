"""The Kubernetes API boundary: one client per target, vendor errors mapped to ours.

Only this package imports `kubernetes` (enforced by import-linter), and only lazily.
"""

from __future__ import annotations
