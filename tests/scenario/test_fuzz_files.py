"""Property-based fuzzing of both file kinds at the text level: explicit tags, anchors,
aliases and merges on any value, hostile text, and odd scenario paths in drills.

Properties: loading either succeeds or raises `InvalidInputError` whose issues are all
located in a file that exists in the story (never another exception); a file that is not a
scenario or a drill is never quoted, whatever it holds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.errors import InvalidInputError
from runner.scenario import loader, model, references
from tests.scenario.files import DRILL, REPO, SCENARIO

SCENARIOS = [SCENARIO] + [p.read_text() for p in sorted((REPO / "scenarios").rglob("*.yaml"))]
DRILLS = [DRILL] + [p.read_text() for p in sorted((REPO / "drills").glob("*.yaml"))]
_VALUE_LINE = re.compile(r"^(\s*(?:- )?[A-Za-z][\w-]*: )(\S.*)$")

TAGS = [
    "!!bool",
    "!!int",
    "!!float",
    "!!timestamp",
    "!!null",
    "!!str",
    "!!binary",
    "!!set",
    "!!omap",
    "!!map",
    "!!seq",
    "!!python/object/apply:os.system",
    "!custom",
    "!",
    "!<tag:yaml.org,2002:int>",
    "!<tag:example.com,2000:x>",
]
HOSTILE = st.sampled_from(
    [
        '"\\e[2J\\e[H"',
        '"\\a\\b\\x7f"',
        '"\\e]8;;https://evil.example/\\e\\\\click\\e]8;;\\e\\\\"',
        '"a\\nPASSED: forged"',
        '"\\u202eevil"',
        "@channel",
        "https://user:pass@example.com/?token=x",
        "'[x](https://evil.example)'",
        "maybe",
        "slack",
        "2025-02-30",
        "0x1F",
        ".inf",
        "-.nan",
        "~",
        "''",
        "[]",
        "{}",
        "[*undefined]",
        "x" * 5000,
    ]
)
PLAIN = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=40
)


def _values(text: str) -> list[int]:
    return [i for i, line in enumerate(text.splitlines()) if _VALUE_LINE.match(line)]


@st.composite
def mutated(draw: st.DrawFn, bases: list[str]) -> str:
    """A base file with a few `key: value` lines rewritten with tags, anchors and aliases."""
    lines = draw(st.sampled_from(bases)).splitlines()
    candidates = _values("\n".join(lines))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        i = draw(st.sampled_from(candidates))
        m = _VALUE_LINE.match(lines[i])
        if m is None:
            continue
        head, value = m.groups()
        how = draw(st.sampled_from(["tag", "anchor", "alias", "hostile", "plain", "merge"]))
        if how == "tag":
            value = f"{draw(st.sampled_from(TAGS))} {draw(st.one_of(HOSTILE, st.just(value)))}"
        elif how == "anchor":
            value = f"&{draw(st.sampled_from(['a', 'b', 'x1']))} {value}"
        elif how == "alias":
            value = f"*{draw(st.sampled_from(['a', 'b', 'x1', 'nowhere']))}"
        elif how == "hostile":
            value = draw(HOSTILE)
        elif how == "plain":
            value = json.dumps(draw(PLAIN))  # any text, as a JSON (= YAML) quoted string
        else:
            indent = len(head) - len(head.lstrip())
            lines.insert(i + 1, " " * indent + "<<: *" + draw(st.sampled_from(["a", "nowhere"])))
        lines[i] = head + value
    return "\n".join(lines) + "\n"


def _check_issues(err: InvalidInputError, files: set[str]) -> None:
    assert err.issues
    for issue in err.issues:
        assert issue.file in files
        assert issue.line >= 1 and issue.column >= 1
        assert issue.message and "Traceback" not in issue.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(SCENARIOS))
def test_scenarios_with_tags_aliases_and_hostile_values_load_or_fail_cleanly(text: str) -> None:
    try:
        loaded = loader.parse_text(text, "s.yaml", model.Scenario)
    except InvalidInputError as e:
        _check_issues(e, {"s.yaml"})
    else:
        assert loaded.name


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """drills/ and scenarios/ side by side, with links that loop or point out."""
    root = tmp_path_factory.mktemp("tree")
    (root / "drills").mkdir()
    (root / "scenarios").mkdir()
    (root / "outside").mkdir()
    (root / "scenarios" / "small.yaml").write_text(SCENARIO)
    (root / "outside" / "small.yaml").write_text(SCENARIO)
    (root / "scenarios" / "loop").symlink_to("loop")
    (root / "scenarios" / "out").symlink_to(root / "outside" / "small.yaml")
    (root / "scenarios" / "dangling").symlink_to(root / "missing")
    return root


ODD_PATHS = st.one_of(
    st.sampled_from(
        [
            "../scenarios/small.yaml",
            "../scenarios/loop",
            "../scenarios/loop/x.yaml",
            "../scenarios/out",
            "../scenarios/dangling",
            "../outside/small.yaml",
            "../scenarios",
            "/",
            "/dev/null",
            "/proc/self/environ",
            "~/x.yaml",
            "../scenarios/" + "n" * 256,
            "a/" * 3000,
            "../scenarios/\x00",
        ]
    ),
    st.text(min_size=1, max_size=300),
    st.lists(st.sampled_from(["..", ".", "scenarios", "small.yaml", "loop", "", "\x00"])).map(
        "/".join
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated(DRILLS), st.lists(ODD_PATHS, min_size=1, max_size=3)))
def test_drills_with_odd_paths_tags_and_aliases_load_or_fail_cleanly(
    tree: Path, case: str | list[str]
) -> None:
    if isinstance(case, list):
        refs = "".join(f"    - path: {json.dumps(p)}\n" for p in case)
        text = DRILL.replace("    - path: small.yaml\n", refs)
    else:
        text = case
    drill = tree / "drills" / "fuzz.yaml"
    drill.write_text(text)
    try:
        references.check_drill(drill)
    except InvalidInputError as e:
        _check_issues(e, {str(drill), str(tree / "scenarios" / "small.yaml")} | _named(e))


def _named(err: InvalidInputError) -> set[str]:
    """Scenario files a mutated shipped drill names (their own issues are theirs)."""
    return {i.file for i in err.issues if Path(i.file).is_file()}


SECRET = "S3CR3T0xd00d"
NOT_OURS_SHAPES = st.sampled_from(
    [
        "{s}\n",
        "password: {s}\n",
        "password: !!bool {s}\n",
        "password: !!int {s}\n",
        "at: !!timestamp {s}\n",
        "x: !{s} 1\n",
        "x: &{s} 1\ny: *{s}\ny: 2\n",
        "{s}: 1\n{s}: 2\n",
        "!!float {s}: 1\n",
        "x: *{s}\n",
        "kind: {s}\n",
        "apiVersion: v1\nkind: Secret\nstringData: {{token: {s}}}\n",
        "- {s}\n",
        "x: [{s}\n",
        "x: '{s}\n",
        "{s}=1\n",
    ]
)


@settings(max_examples=200, deadline=None)
@given(NOT_OURS_SHAPES, PLAIN, st.booleans())
def test_a_file_that_is_not_ours_is_never_quoted(shape: str, noise: str, prefix: bool) -> None:
    text = shape.format(s=SECRET)
    if prefix:
        text = f"note: {json.dumps(noise)}\n" + text
    try:
        loader.parse_text(text, "creds.yaml", model.Scenario)
    except InvalidInputError as e:
        _check_issues(e, {"creds.yaml"})
        assert not any(SECRET in str(i) for i in e.issues), e.issues
    else:  # pragma: no cover - none of these shapes is a scenario
        pytest.fail("a file that is not a scenario loaded as one")
