"""The scenario and drill as run, kept in the run's folder for the evidence pack.

At the start of a run, each file is copied (masked by `runner.redact`) beside run.json as
`input-scenario.yaml` / `input-drill.yaml`, with the SHA-256 of the file's bytes as read, and
the model that actually ran (after `--target` overrides, or the scheduler's last good
version) as `input-scenario.json` / `input-drill.json`. `asRun` says whether the copied file,
parsed again, is exactly the model that ran: when the file changed on disk after it was
loaded, the JSON is the truth.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel

from runner import redact
from runner.errors import DrillError
from runner.journal.framing import InputFile
from runner.journal.writer import JournalWriter
from runner.records.store import describe_os_error
from runner.scenario import loader, model

FILES = {"scenario": "input-scenario", "drill": "input-drill"}


def snapshot(
    record: JournalWriter,
    scenario: model.Scenario,
    scenario_path: Path,
    drill: model.Drill,
    drill_path: Path,
) -> dict[str, InputFile]:
    """Write both inputs into the record's folder; returns what run.json's `inputs` holds.
    Never raises: an input that cannot be read is recorded as such."""
    out: dict[str, InputFile] = {}
    for role, loaded, path in (
        ("scenario", scenario, scenario_path),
        ("drill", drill, drill_path),
    ):
        base = FILES[role]
        effective = json.dumps(
            redact.value(loaded.model_dump(mode="json", by_alias=True, exclude_none=True)),
            indent=2,
            sort_keys=True,
        )
        entry = InputFile(
            path=str(path),
            model=base + ".json" if record.write_file(base + ".json", effective + "\n") else None,
        )
        try:
            raw = path.read_bytes()
        except OSError as e:
            out[role] = replace(entry, error=f"not read: {describe_os_error(e)}")
            continue
        text = raw.decode("utf-8", errors="replace")
        masked = redact.text(text)
        out[role] = replace(
            entry,
            sha256=hashlib.sha256(raw).hexdigest(),
            redacted=masked != text,
            as_run=_same(text, path, loaded),
            file=base + ".yaml" if record.write_file(base + ".yaml", masked) else None,
        )
    return out


def _same(text: str, path: Path, loaded: model.Scenario | model.Drill) -> bool:
    try:
        again: BaseModel = (
            loader.parse_text(text, str(path), model.Scenario)
            if isinstance(loaded, model.Scenario)
            else loader.parse_text(text, str(path), model.Drill)
        )
    except (DrillError, ValueError):
        return False
    return again == loaded
