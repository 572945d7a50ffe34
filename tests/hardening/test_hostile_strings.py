"""Hostile strings from a record, a file or a server, rendered in every format: a Markdown
report mentions nobody and links nowhere; a terminal gets no escape sequence, no bell, no
backspace and no line of the attacker's; HTML gets no markup; JUnit stays parseable XML;
JSON stays JSON.

The oracles are written from the definitions, not from our code: Markdown is rendered with
markdown-it (CommonMark) and its text checked for what GitHub turns into a mention or a
GFM autolink; HTML is parsed as a browser would; terminal text is checked character by
character for C0/C1 controls and bidi overrides.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from runner.cli.live import LiveView
from runner.cli.main import cli
from runner.engine import events as ev
from runner.journal import files
from runner.reports import history, history_html, html, markdown
from runner.reports.junit import junit_xml
from runner.reports.summary import render_text
from runner.text import line, markdown_code
from tests.hardening.conftest import RECORDED
from tests.reports.htmlcheck import parse, unexpected
from tests.scenario.files import SCENARIO, write

OSC8 = "\x1b]8;;https://evil.example/\x1b\\click here\x1b]8;;\x1b\\"
HOSTILE = (
    "@channel @here @octo-user team@org/ops [docs](https://evil.example/p?x=1) "
    "\\[x\\](https://evil.example) <https://evil.example> https://evil.example/a "
    "www.evil.example mailto:a@evil.example ftp://evil.example "
    f"{OSC8} \x1b[2J\x1b[H\x07 back\x08\x08space \x9b31m \u202egnp.exe \u2066x\u2069 "
    "\r\nPASSED: forged line\n- [ ] forged item\n# forged heading"
)
FORGED = ("PASSED: forged line", "- [ ] forged item", "# forged heading")


def hostile_record() -> dict[str, Any]:
    """The recorded passed run with a hostile string in every free-text field."""
    run: dict[str, Any] = json.loads((RECORDED / "run.json").read_text())
    run["scenario"]["name"] = "lab " + HOSTILE
    run["reason"] = HOSTILE
    run["operator"] = HOSTILE
    run["targets"] = {"primary": HOSTILE}
    for item in run["steps"] + run["faults"]:  # phase names are the engine's own (an enum)
        item["name"] = HOSTILE
    run["phases"][2]["error"] = HOSTILE
    run["steps"][0].update(error=HOSTILE, output=HOSTILE)
    run["faults"][0]["fault"] = HOSTILE
    for gate in run["steadyState"].values():
        for check in gate["checks"]:
            check.update(name=HOSTILE, reason=HOSTILE, passed=False)
    for m in run["measurements"].values():
        m["explanation"] = HOSTILE
    run["guardrails"] = [{"name": HOSTILE, "value": 1, "breachedAt": run["startedAt"]}]
    return run


@pytest.fixture
def folder(tmp_path: Path) -> files.RunFolder:
    target = tmp_path / "results" / RECORDED.name
    shutil.copytree(RECORDED, target)
    (target / "run.json").write_text(json.dumps(hostile_record()))
    with (target / "events.jsonl").open("a") as f:
        f.write(json.dumps({"time": "2026-11-24T10:03:07+00:00", "actor": HOSTILE,
                            "action": HOSTILE, "target": HOSTILE,
                            "details": {"message": HOSTILE}}) + "\n")  # fmt: skip
    return files.load(target)


# --------------------------------------------------------------------------- oracles

_BIDI = {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}


def assert_terminal_safe(text: str, *, lines_from: str = "") -> None:
    """No control character but newline, no bidi control, no line the attacker wrote."""
    for ch in text:
        if ch == "\n":
            continue
        cat = unicodedata.category(ch)
        assert cat != "Cc", f"control character U+{ord(ch):04X} in {text!r}"
        assert unicodedata.bidirectional(ch) not in _BIDI, f"bidi control U+{ord(ch):04X}"
        assert ch not in "\u2028\u2029\u200b\u200e\u200f", f"invisible U+{ord(ch):04X}"
    for row in text.splitlines():
        assert not row.lstrip().startswith(FORGED), f"a forged line: {row!r}"


_MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9][\w-]*")
_AUTOLINK = re.compile(r"(?i)\b(https?://|ftp://|www\.|mailto:|xmpp:)|[\w.+-]+@[\w-]+\.[\w.-]+")


def assert_markdown_safe(md: str) -> None:
    """Rendered as CommonMark: no link, image or raw HTML, and no text GitHub would turn
    into a mention or an autolink (GFM: www., http(s)://, ftp://, mailto:, emails)."""
    tokens = MarkdownIt("commonmark").parse(md)
    rendered = MarkdownIt("commonmark").render(md)
    assert "<a " not in rendered and "<img" not in rendered, rendered
    for block in tokens:
        assert block.type != "html_block", block
        if block.type == "heading_open":  # the report's own title only
            assert block.map and block.map[0] == 0, block
        if block.type == "inline":  # no block of the attacker's (list item, heading...)
            assert not block.content.lstrip("\\").startswith(FORGED[1:]), block.content
        for tok in block.children or []:
            assert tok.type not in ("html_inline", "link_open", "image"), tok
        # the text a reader gets, joined: what GitHub scans for mentions and autolinks
        text = "".join(t.content for t in block.children or [] if t.type == "text")
        assert not _MENTION.search(text), text
        assert not _AUTOLINK.search(text), text
    assert_terminal_safe(md)  # a .md file is often read with cat


# --------------------------------------------------------------------------- renderings


def test_markdown_report_mentions_nobody_and_links_nowhere(folder: files.RunFolder) -> None:
    md = markdown.render(folder, report_path="/results/x/report.html")
    assert_markdown_safe(md)
    assert "@\u200b" not in md and "@&#8203;channel" in md  # an entity in the file, not a char
    assert markdown_code("@channel") == "`@channel`"  # code spans never mention


def test_markdown_escaping_renders_as_the_original_text() -> None:
    """Escaped text reads as what was written (minus the invisible breaks)."""
    for original in ["a_b*c*", "1. not a list", "# not a heading", "x | y", "<b>", "a@b.c"]:
        rendered = MarkdownIt("commonmark").render(markdown.md(original))
        text = re.sub(r"<[^>]+>", "", rendered).strip()
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        assert text.replace("\u200b", "") == original


def test_html_report_has_no_markup_from_strings(folder: files.RunFolder) -> None:
    page = parse(html.render(folder))
    assert unexpected(page) == []
    assert "a" not in page.tags
    assert "\x1b" not in page.text and "\x07" not in page.text and "\u202e" not in page.text
    assert "@channel" in page.text  # shown as text, as it was written


def test_history_renderings(folder: files.RunFolder) -> None:
    hist = history.build([folder.run])
    assert_terminal_safe(history.render_text(hist))
    page = parse(history_html.render(hist, source="results"))
    assert unexpected(page) == [] and "a" not in page.tags


def test_text_summary_is_terminal_safe(folder: files.RunFolder) -> None:
    text = render_text(folder.run, record_dir=str(folder.dir))
    assert_terminal_safe(text)
    assert "\\x1b]8;;https://evil.example/" in text  # shown, escaped: the user sees it


def test_junit_is_parseable_xml_without_controls(folder: files.RunFolder) -> None:
    xml = junit_xml(folder.run)
    root = ET.fromstring(xml.split("?>", 1)[1])
    for element in root.iter():
        for value in [*element.attrib.values(), element.text or ""]:
            assert "\x1b" not in value and "\x07" not in value and "\x08" not in value


def test_json_report_stays_json(folder: files.RunFolder) -> None:
    out = CliRunner().invoke(
        cli, ["report", str(folder.dir), "--format", "json"], catch_exceptions=False
    )
    expected = HOSTILE.replace("p?x=1", "p?x=***")  # a URL's query values are masked
    assert json.loads(out.output)["reason"] == expected  # else the exact string, JSON-escaped
    assert "\x1b" not in out.output and "\x07" not in out.output


def test_report_text_and_markdown_through_the_cli(folder: files.RunFolder) -> None:
    text = CliRunner().invoke(cli, ["report", str(folder.dir)]).output
    assert_terminal_safe(text)
    md = CliRunner().invoke(cli, ["report", str(folder.dir), "--format", "md", "--out", "-"])
    assert_markdown_safe(md.output)


def _events() -> list[ev.Event]:
    at = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    return [
        ev.DrillStarted(at=at, run_id="r-1", scenario=HOSTILE, drill=HOSTILE,
                        record_dir=HOSTILE, targets={"a": HOSTILE}),
        ev.PhaseStarted(at=at, phase=HOSTILE),
        ev.StepStarted(at=at, phase="failover", step=HOSTILE, cluster=HOSTILE, attempt=2),
        ev.StepFinished(at=at, phase="failover", step=HOSTILE, status="failed", attempts=2,
                        error=HOSTILE),
        ev.FaultInjected(at=at, cluster=HOSTILE, fault=HOSTILE, kind=HOSTILE, name=HOSTILE),
        ev.FaultRemoved(at=at, cluster=HOSTILE, fault=HOSTILE, kind="k", name="n",
                        error=HOSTILE),
        ev.PhaseFinished(at=at, phase=HOSTILE, status="failed", error=HOSTILE),
        ev.Notice(at=at, message=HOSTILE),
        ev.DrillFinished(at=at, status="error", reason=HOSTILE, record_dir=HOSTILE,
                         rto_seconds=None, rpo_seconds=None),
    ]  # fmt: skip


def test_live_view_lines_are_terminal_safe() -> None:
    stream = io.StringIO()
    view = LiveView(stream=stream, rich=False)
    with view:
        for event in _events():
            view.on_event(event)
    assert_terminal_safe(stream.getvalue())
    assert stream.getvalue().count("\n") == len(_events())  # one line per event


def test_live_view_panel_renders_no_markup_and_no_escape_of_ours() -> None:
    from rich.console import Console

    view = LiveView(stream=io.StringIO(), rich=False)
    for event in _events()[:-1]:
        view.on_event(event)
    out = io.StringIO()
    Console(file=out, force_terminal=True, width=400, color_system=None).print(view._render())
    text = out.getvalue()
    assert "\x1b]8;;https://evil" not in text and "\x1b[2J" not in text and "\x07" not in text
    assert "\x08" not in text and "\x9b" not in text and "\u202e" not in text
    marked = Console(file=io.StringIO(), force_terminal=True)
    view.step = "[link=https://evil.example]click[/link] [blink]x[/blink]"
    marked.print(view._render())
    assert "\x1b]8;;" not in marked.file.getvalue()  # type: ignore[attr-defined]


def test_validate_output_is_terminal_safe(tmp_path: Path) -> None:
    escaped = json.dumps(HOSTILE)  # YAML double-quoted: the escapes become the characters
    text = SCENARIO.replace("- name: scale west", f"- name: {escaped}")
    text = text.replace("rto: 5m", f"rto: {escaped}").replace(
        "  faults:", f"  {escaped}: 1\n  faults:"
    )
    path = write(tmp_path, "s.yaml", text)
    for args in (["validate", str(path)], ["validate", "-o", "yaml", str(path)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2
        assert_terminal_safe(result.output)
    as_json = CliRunner().invoke(cli, ["validate", "-o", "json", str(path)]).output
    issues = json.loads(as_json)[0]["issues"]
    assert any(HOSTILE[:20] in i["field"] or HOSTILE[:20] in i["message"] for i in issues)


def test_a_hostile_file_name_is_escaped(tmp_path: Path) -> None:
    name = "s\x1b[2J\x07\nPASSED: forged line.yaml"
    path = write(tmp_path, name, SCENARIO.replace("rto: 5m", "rto: x"))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert_terminal_safe(result.output)


def test_line_escapes_every_control_and_keeps_the_rest() -> None:
    for code in [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x202E, 0x2066, 0x200B, 0x2028]:
        assert chr(code) not in line(f"a{chr(code)}b")
    assert line("Zürich ✓ 東京 émoji 🎉") == "Zürich ✓ 東京 émoji 🎉"


def test_a_slack_notification_mentions_nobody_and_makes_no_link() -> None:
    from runner.scheduler import events as sev
    from runner.scheduler.notify import slack_body

    at = datetime(2026, 1, 1, tzinfo=UTC)
    reason = "step '<!channel> <@U024BE7LH> <https://evil.example|click> &amp;' failed\n" + OSC8
    result = sev.ScenarioRunFinished(
        drill="nightly", at=at, scenario="site-loss", run_id="r1", status="failed",
        reason=reason, started_at=at, report="results/r1/report.html",
    )  # fmt: skip
    event = sev.DrillRunFinished(
        drill="nightly", at=at, scheduled_for=at, trigger=sev.Trigger.SCHEDULE,
        status="failed", results=(result,),
    )  # fmt: skip
    text = slack_body(event)["text"]
    # Slack's control sequences are <...>; & starts an entity: none may come from a value
    assert "<" not in text and ">" not in text, text
    assert "&lt;!channel&gt;" in text and "&amp;amp;" in text
    assert "\x1b" not in text and "\x07" not in text
