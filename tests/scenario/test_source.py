"""YAML-level problems: each becomes one clean, located issue, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import InvalidInputError
from runner.scenario import loader, source
from tests.scenario.files import SCENARIO, write

DEEP = "a: " + "[" * 100_000 + "]" * 100_000
BOMB = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]\n" for n in range(1, 7)
)


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        pytest.param("", 1, 1, "the file is empty", id="empty"),
        pytest.param("# nothing here\n", 1, 1, "the file is empty", id="only-comments"),
        # libyaml notices these only on the next line; the mistake is where the construct starts.
        pytest.param("a: [1, 2\n", 1, 4, "YAML syntax error", id="unclosed-flow"),
        pytest.param(
            "metadata:\n  name: x\n  labels\n  a: 1\n", 3, 3, "expected ':'", id="key-no-colon"
        ),
        pytest.param('a: 1\nb: "abc\nc: 2\n', 2, 4, "quoted scalar", id="unclosed-quote"),
        pytest.param("a:\n  b: 1\n   c: 2\n", 3, 5, "YAML syntax error", id="mapping-here"),
        pytest.param("a: 1\n b: 2\n", 2, 3, "YAML syntax error", id="bad-indent"),
        pytest.param("a: 1\n---\na: 2\n", 2, 1, "more than one YAML document", id="two-docs"),
        pytest.param(
            "kind: Scenario\na: 1\nb: 2\na: 3\n",
            4,
            1,
            "duplicate key 'a' (first written at line 2)",
            id="duplicate-key",
        ),
        pytest.param(
            "a: !!python/object:os.system x\n", 1, 4, "unsupported YAML tag", id="python-tag"
        ),
        pytest.param("a: *nowhere\n", 1, 4, "names no anchor", id="unknown-alias"),
        pytest.param("a: &x [*x]\n", 1, 8, "names no anchor", id="recursive-alias"),
        pytest.param("? [a]\n: b\n", 1, 3, "must be plain text", id="list-key"),
        pytest.param("a: 2025-13-45\n", 1, 4, "not a valid timestamp", id="bad-date"),
        pytest.param("a: b\x07\n", 1, 5, "control character U+0007", id="control-char"),
        pytest.param(DEEP, 1, 67, "nested more than 64 levels", id="deep-flow"),
        pytest.param("- " * 200 + "x\n", 1, 129, "nested more than 64 levels", id="deep-block"),
        pytest.param(BOMB, 5, 45, "expands to more than", id="billion-laughs"),
    ],
)
def test_yaml_problems_are_located(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        source.parse_text(text, "f.yaml")
    (issue,) = err.value.issues
    assert (issue.file, issue.line, issue.column) == ("f.yaml", line, column)
    assert message in issue.message


@pytest.mark.parametrize(
    ("raw", "line", "column", "message"),
    [
        pytest.param(b"a: 1\nb: \xff\xfe\n", 2, 4, "not UTF-8 text (byte 0xff)", id="latin1"),
        pytest.param(b"a: 1\n\x00\x01\x02", 2, 1, "binary", id="nul"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00", 3, 1, "binary", id="png"),
    ],
)
def test_binary_files_are_refused(raw: bytes, line: int, column: int, message: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        source.parse_bytes(raw, "f.yaml")
    (issue,) = err.value.issues
    assert (issue.line, issue.column) == (line, column)
    assert message in issue.message


def test_huge_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# " + b"x" * source.MAX_BYTES + b"\n")
    with pytest.raises(InvalidInputError, match="larger than 4 MiB"):
        source.read(path)


def test_missing_file_is_an_issue(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="cannot read the file"):
        loader.load_scenario(tmp_path / "nope.yaml")


def test_bom_and_unicode_text_are_fine() -> None:
    src = source.parse_bytes("\ufeffname: 'Zürich ✓ 東京'\n".encode(), "f.yaml")
    assert src.data == {"name": "Zürich ✓ 東京"}


def test_keys_are_text_as_in_kubernetes() -> None:
    src = source.parse_text("on: [a]\nyes: 1\n200: ok\nnull: x\n", "f.yaml")
    assert list(src.data) == ["on", "yes", "200", "null"]


def test_positions_of_keys_and_values() -> None:
    src = source.parse_text("a:\n  b:\n    - x\n    - {c: 1}\n", "f.yaml")
    assert src.value_at(("a", "b", 1, "c")) == source.Position(4, 11)
    assert src.key_at(("a", "b", 1, "c")) == source.Position(4, 8)
    assert src.value_at(("a", "b", 0)) == source.Position(3, 7)
    assert src.value_at(("a", "missing", "deeper")) == source.Position(2, 3)


def test_merge_keys_and_aliases_keep_their_positions() -> None:
    text = "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n"
    src = source.parse_text(text, "f.yaml")
    assert src.data["d"] == {"y": 3, "x": 1}
    assert src.value_at(("d", "y")) == source.Position(4, 6)
    assert src.value_at(("d", "x")) == source.Position(1, 14)


@pytest.mark.parametrize("levels", [65, 999, 1000, 1001, 5000])
@pytest.mark.parametrize(("open_", "close"), [("[", "]"), ("{a: ", "}")])
def test_nesting_limit_is_ours_whatever_libyaml_allows(levels: int, open_: str, close: str) -> None:
    """libyaml 0.2.5 refuses 1000 flow levels on its own, earlier builds do not: either way
    the issue is ours, at the 64th level, with our message."""
    text = "a: " + open_ * levels + "x" + close * levels + "\n"
    with pytest.raises(InvalidInputError) as err:
        source.parse_text(text, "f.yaml")
    (issue,) = err.value.issues
    assert (issue.line, issue.column) == (1, 4 + 63 * len(open_))
    assert issue.message == "the data is nested more than 64 levels deep"


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        pytest.param(
            "- a\n- b\n",
            "",
            "expected a mapping with apiVersion, kind, metadata and spec, got a list",
            id="list-root",
        ),
        pytest.param("just text\n", "", "got text", id="scalar-root"),
        pytest.param("~\n", "", "got nothing (null)", id="null-root"),
        pytest.param(
            "apiVersion: x\n", "kind", "missing required field 'kind' ('Scenario')", id="no-kind"
        ),
        pytest.param(
            SCENARIO.replace("kind: Scenario", "kind: Drill"),
            "kind",
            "expected 'Scenario', got 'Drill': this command needs a scenario file",
            id="wrong-kind",
        ),
    ],
)
def test_root_must_be_the_right_mapping(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    with pytest.raises(InvalidInputError) as err:
        loader.load_scenario(write(tmp_path, "s.yaml", text))
    (issue,) = err.value.issues
    assert issue.field == field
    assert issue.message.endswith(message)
    assert issue.line >= 1


def test_load_file_dispatches_on_kind(tmp_path: Path) -> None:
    assert type(loader.load_file(write(tmp_path, "s.yaml", SCENARIO))).__name__ == "Scenario"
    with pytest.raises(
        InvalidInputError, match=r"expected 'Scenario', 'Drill' or 'Recipe', got text$"
    ):
        loader.load_file(write(tmp_path, "j.yaml", "kind: Job\n"))
    ours = "apiVersion: drill-runner.dev/v1alpha1\nkind: Job\n"
    with pytest.raises(
        InvalidInputError, match="expected 'Scenario', 'Drill' or 'Recipe', got 'Job'"
    ):
        loader.load_file(write(tmp_path, "o.yaml", ours))
