"""Property: mutated scenarios either load or fail with located issues, never a traceback."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.errors import InvalidInputError
from runner.scenario import loader, model
from runner.scenario.source import read
from tests.scenario.files import REPO, SCENARIO

BASES = [yaml.safe_load(SCENARIO)] + [
    read(p).data for p in sorted((REPO / "scenarios").glob("*.yaml"))
]
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "-1s", "99999999d", "5m", ">= 1", "ünïcödé ✓", "\u202e", "0x10", "1e9"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _mutate(data: Any, path: tuple[Any, ...], how: str, value: Any) -> None:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "delete":
        del parent[last]
    elif how == "replace":
        parent[last] = value
    elif how == "wrap-list":
        parent[last] = [parent[last]]
    elif how == "wrap-dict":
        parent[last] = {"value": parent[last]}
    elif how == "rename" and isinstance(parent, dict):
        parent[f"{last}x"] = parent.pop(last)
    elif how == "unwrap" and isinstance(parent[last], dict | list) and parent[last]:
        inner = parent[last]
        parent[last] = next(iter(inner.values())) if isinstance(inner, dict) else inner[0]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_scenarios_load_or_fail_cleanly(data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(doc)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        how = data.draw(
            st.sampled_from(["delete", "replace", "wrap-list", "wrap-dict", "rename", "unwrap"])
        )
        _mutate(doc, path, how, data.draw(ODD_VALUES))
    text = yaml.safe_dump(doc, allow_unicode=data.draw(st.booleans()), sort_keys=False)
    try:
        scenario = loader.parse_text(text, "mutated.yaml", model.Scenario)
    except InvalidInputError as e:
        assert e.issues
        for issue in e.issues:
            assert issue.line >= 1 and issue.column >= 1
            assert issue.file == "mutated.yaml"
            assert "Traceback" not in issue.message and "pydantic.dev" not in issue.message
    else:
        assert scenario.name
