"""The Chaos Mesh production path: compile faults, inject and confirm, lock and sweep targets."""

from __future__ import annotations
