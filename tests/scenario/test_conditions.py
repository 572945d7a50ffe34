"""Field conditions: what `wait-for`, `capture` and preflight checks compare, checked
against the definition in docs/file-format.md (not against the implementation's helpers)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.scenario.conditions import ConditionError, parse_condition, parse_path

RESTORE: dict[str, Any] = {
    "metadata": {
        "name": "r1",
        "generation": 3,
        "annotations": {"reconcile.fluxcd.io/requestedAt": "run-7"},
    },
    "spec": {"clusters": [{"name": "member2"}, {"name": "member3"}], "suspend": False},
    "status": {
        "phase": "Completed",
        "warnings": 2,
        "observedGeneration": 3,
        "completionTimestamp": "2025-01-31T09:00:05Z",
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Stalled", "status": "False"},
        ],
        "progress": {"itemsRestored": 10, "totalItems": 10},
    },
}


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("status.phase == Completed", True),
        ("status.phase == 'Completed'", True),
        ("status.phase != Completed", False),
        ("status.phase in [Completed, PartiallyFailed]", True),
        ("status.phase not in [Failed, PartiallyFailed]", True),
        ("status.warnings > 1", True),
        ("status.warnings >= 3", False),
        ("status.warnings == 2.0", True),
        # absent fields never satisfy a comparison, only `absent`
        ("status.errors > 0", False),
        ("status.errors == 0", False),
        ("status.errors != 0", False),
        ("status.errors absent", True),
        ("status.errors exists", False),
        ("status.phase exists", True),
        # lists: [*] fans out, [key=value] filters, contains looks inside lists
        ("spec.clusters[*].name not contains member1", True),
        ("spec.clusters[*].name contains member2", True),
        ("spec.clusters[0].name == member2", True),
        ("spec.clusters[-1].name == member3", True),
        ("spec.clusters[5].name absent", True),
        ("spec.clusters[*].name == member2", False),  # every value must satisfy ==
        ("spec.missing[*].name not contains member1", True),  # an absent list contains nothing
        ("status.conditions[type=Ready].status == True", True),
        ('status.conditions[type="Stalled"].status == True', False),
        ("status.conditions[type=Degraded].status == True", False),
        # booleans, numbers and times compare as what they are
        ("spec.suspend == false", True),
        ("spec.suspend == False", True),
        ("status.completionTimestamp > 2025-01-31T09:00:04Z", True),
        ("status.completionTimestamp < 2025-01-31T09:00:05.500Z", True),
        ("status.completionTimestamp > 2025-01-31T10:00:00+01:00", True),
        ("status.phase > 3", False),  # text has no order
        # another field of the same object
        ("status.observedGeneration >= @metadata.generation", True),
        ("status.progress.itemsRestored == @status.progress.totalItems", True),
        ("status.warnings > @status.missing", False),
        # keys with dots are written in brackets
        ('metadata.annotations["reconcile.fluxcd.io/requestedAt"] == run-7', True),
        # clauses joined with and
        ("status.phase == Completed and status.warnings > 5", False),
        ("status.phase == Completed and status.errors absent", True),
        ("status.phase == 'a and b' and status.warnings > 0", False),
    ],
)
def test_conditions_hold_as_documented(text: str, holds: bool) -> None:
    assert parse_condition(text).holds(RESTORE) is holds


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("status.phase", "an operator is missing", 13),
        ("status.phase ~= x", "expected an operator", 14),
        ("status.phase ==", "a value is missing after '=='", 16),
        ("status..phase == x", "an empty key between dots", 8),
        ("status. == x", "the path ends with '.'", 8),
        ("status.phase == two words", "has spaces", 17),
        ("status.phase in Failed", "needs a list", 17),
        ("status.conditions[type] == x", r"expected \[n\], \[\*\] or \[key=value\]", 18),
        ("status.conditions[0 == x", "unclosed '\\['", 18),
        ("status.phase == 'open", "unclosed quote", 17),
        ("status.phase == x and ", "an empty clause", None),
        ("== x", "expected a field path", 1),
    ],
)
def test_bad_conditions_say_what_and_where(text: str, message: str, column: int | None) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_condition(text)
    if column is not None:
        assert isinstance(info.value, ConditionError)
        assert info.value.column == column


@pytest.mark.parametrize("bad", [None, 3, True, {"a": 1}, ["x"], "", "   "])
def test_a_condition_must_be_text(bad: object) -> None:
    with pytest.raises(ValueError, match="expected a condition like"):
        parse_condition(bad)


def test_seen_values_name_what_was_found_and_what_was_absent() -> None:
    c = parse_condition("status.phase == Failed and status.errors > 0")
    assert c.seen(RESTORE) == "status.phase = 'Completed'; status.errors: absent"
    assert c.seen(None) == "the object does not exist"
    many = parse_condition("spec.clusters[*].name contains x")
    assert many.seen(RESTORE) == "spec.clusters[*].name = ['member2', 'member3']"
    ref = parse_condition("status.observedGeneration >= @metadata.generation")
    assert ref.seen(RESTORE) == "status.observedGeneration = 3, metadata.generation = 3"


def test_a_run_time_placeholder_is_one_token() -> None:
    c = parse_condition("status.lastHandledReconcileAt == ${{ captured.token }}")
    assert c.placeholders == ["${{ captured.token }}"]
    assert not c.holds(RESTORE)


# An independent oracle for plain dotted paths and ==: walk the keys by hand.
_keys = st.sampled_from(["a", "b", "c"])
_leaf = st.one_of(st.integers(-3, 3), st.sampled_from(["x", "y", "True"]), st.booleans())
_objs = st.recursive(_leaf, lambda inner: st.dictionaries(_keys, inner, max_size=3), max_leaves=8)


@given(
    obj=st.dictionaries(_keys, _objs, max_size=3),
    path=st.lists(_keys, min_size=1, max_size=3),
    literal=st.sampled_from(["x", "1", "0", "true", "True", "-2"]),
)
def test_equality_on_dotted_paths_matches_a_hand_walk(
    obj: dict[str, Any], path: list[str], literal: str
) -> None:
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if node is None:
        expected = False
    elif isinstance(node, bool):
        expected = literal.lower() == str(node).lower()
    elif isinstance(node, int):
        expected = float(literal) == node if literal.lstrip("-").isdigit() else False
    elif isinstance(node, str):
        expected = node == literal
    else:
        expected = False  # a mapping never equals a word
    assert parse_condition(f"{'.'.join(path)} == {literal}").holds(obj) is expected


def test_paths_round_trip_their_text() -> None:
    for text in ("status.phase", "a[0].b[*].c", "x[type=Ready].status", 'm["a.b/c"].d'):
        assert parse_path(text).text == text


def test_a_field_named_like_a_credential_is_never_shown() -> None:
    obj = {"status": {"demotionToken": "c2VjcmV0LXRva2Vu", "phase": "Ready"}}
    cond = parse_condition("status.demotionToken exists and status.phase == Ready")
    assert cond.seen(obj) == "status.demotionToken = <redacted>; status.phase = 'Ready'"
    assert "c2VjcmV0" not in parse_condition("status.demotionToken == x").seen(obj)
