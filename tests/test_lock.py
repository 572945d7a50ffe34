"""requirements/dev.lock against pyproject.toml and the installed environment.

The lock is what `scripts/setup.sh` installs (pip's hash-checking mode); pyproject keeps the
compatible ranges. These checks fail when pyproject changes and the lock is not refreshed
(`scripts/lock.sh`), when the lock misses a dependency of something it pins, and when the
environment running the tests was not installed from the lock.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements" / "dev.lock"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = canonicalize_name(PYPROJECT["project"]["name"])


def parse_lock(text: str) -> dict[str, tuple[Version, list[str]]]:
    """name -> (pinned version, sha256 hashes), from pip-compile's hashed output."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line and not pending:
            continue
        pending += " " + line.removesuffix("\\")
        if not line.endswith("\\"):
            logical.append(pending.strip())
            pending = ""
    pins: dict[str, tuple[Version, list[str]]] = {}
    for entry in logical:
        spec, *options = (part.strip() for part in entry.split(" --"))
        req = Requirement(spec)
        (pin,) = req.specifier
        assert pin.operator == "==", f"{spec}: not pinned with =="
        hashes = [o.removeprefix("hash=sha256:") for o in options if o.startswith("hash=sha256:")]
        assert len(hashes) == len(options), f"{spec}: options other than hashes: {options}"
        pins[canonicalize_name(req.name)] = (Version(pin.version), hashes)
    return pins


PINS = parse_lock(LOCK.read_text(encoding="utf-8"))


def _declared() -> list[Requirement]:
    project = PYPROJECT["project"]
    return [
        Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    ]


def test_the_parser_reads_continuations_hashes_and_comments() -> None:
    text = (
        "# header\n\nfoo==1.2 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        "    # via x\nbar==2 --hash=sha256:cc\n"
    )
    assert parse_lock(text) == {
        "foo": (Version("1.2"), ["aa", "bb"]),
        "bar": (Version("2"), ["cc"]),
    }
    with pytest.raises(AssertionError, match="not pinned"):
        parse_lock("foo>=1 --hash=sha256:aa\n")


def test_every_pin_carries_hashes() -> None:
    assert len(PINS) > 30
    assert all(hashes and all(len(h) == 64 for h in hashes) for _, hashes in PINS.values())


@pytest.mark.parametrize("req", _declared(), ids=str)
def test_each_declared_dependency_is_locked_within_its_range(req: Requirement) -> None:
    name = canonicalize_name(req.name)
    assert name in PINS, f"{req} is in pyproject.toml but not in the lock: run scripts/lock.sh"
    version, _ = PINS[name]
    assert req.specifier.contains(version, prereleases=True), (
        f"the lock pins {name}=={version}, outside pyproject's {req}: run scripts/lock.sh"
    )


def test_the_lock_is_exactly_the_closure_of_pyproject() -> None:
    """Walking pyproject's dependencies through each package's installed metadata (markers
    and extras evaluated here) reaches every locked package, and only locked packages, at
    versions each dependent accepts. pip, setuptools and wheel are locked on purpose (the
    editable install is built with the locked setuptools, without build isolation)."""
    todo = [(req, "pyproject.toml") for req in _declared()]
    reached: dict[str, set[str]] = {}
    problems = []
    while todo:
        req, needed_by = todo.pop()
        name = canonicalize_name(req.name)
        if name == PROJECT:
            continue
        if name not in PINS:
            problems.append(f"{needed_by} needs {req}, which the lock does not pin")
            continue
        if not req.specifier.contains(PINS[name][0], prereleases=True):
            problems.append(f"{needed_by} needs {req}, the lock pins {PINS[name][0]}")
        new_extras = set(req.extras) | {""}
        if name in reached and new_extras <= reached[name]:
            continue
        reached.setdefault(name, set()).update(new_extras)
        for text in metadata.requires(name) or []:
            dep = Requirement(text)
            env = default_environment()
            if dep.marker is None or any(
                dep.marker.evaluate({**env, "extra": e}) for e in reached[name]
            ):
                todo.append((dep, name))
    unused = set(PINS) - set(reached) - {"pip", "setuptools", "wheel"}
    assert not problems, "\n".join(problems)
    assert not unused, f"locked but needed by nothing in pyproject.toml: {sorted(unused)}"


def test_the_environment_was_installed_from_the_lock() -> None:
    """What scripts/setup.sh installed is exactly what the lock pins."""
    installed = {
        canonicalize_name(d.metadata["Name"]): Version(d.version) for d in metadata.distributions()
    }
    drift = {
        n: (str(v), str(installed.get(n))) for n, (v, _) in PINS.items() if installed.get(n) != v
    }
    assert not drift, f"installed versions differ from the lock (locked, installed): {drift}"


RUNTIME = parse_lock((REPO / "requirements" / "runtime.lock").read_text(encoding="utf-8"))


def test_the_runtime_lock_pins_the_development_locks_versions_and_hashes() -> None:
    """The image (Dockerfile) installs runtime.lock: the same files the tests ran."""
    differ = {
        n: (str(v), str(PINS.get(n, ("absent",))[0]))
        for n, (v, _) in RUNTIME.items()
        if n not in PINS or PINS[n][0] != v
    }
    assert not differ, f"runtime.lock pins differ from dev.lock (runtime, dev): {differ}"
    rehashed = [n for n, (_, hashes) in RUNTIME.items() if set(hashes) != set(PINS[n][1])]
    assert not rehashed, f"runtime.lock hashes differ from dev.lock: {rehashed}"


def test_the_runtime_lock_is_the_closure_of_the_runtime_dependencies() -> None:
    """Every runtime dependency, transitively, is pinned in runtime.lock; the dev-only tools
    (pytest, mypy, ...) are not; setuptools is, to build the package in the image."""
    project = PYPROJECT["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    reached: set[str] = set()
    env = default_environment()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        assert name in RUNTIME, f"{req} is needed at run time but not in runtime.lock"
        if name in reached:
            continue
        reached.add(name)
        todo += [
            dep
            for dep in map(Requirement, metadata.requires(name) or [])
            if dep.marker is None
            or dep.marker.evaluate({**env, "extra": ""})
            or any(dep.marker.evaluate({**env, "extra": e}) for e in req.extras)
        ]
    extra = set(RUNTIME) - reached - {"setuptools"}
    assert not extra, f"runtime.lock pins what nothing at run time needs: {sorted(extra)}"
    assert "setuptools" in RUNTIME
    assert not {"pytest", "mypy", "ruff"} & set(RUNTIME)
