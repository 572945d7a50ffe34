"""`drillctl evidence`: signed evidence packs of a run, and the entries an exercise adds to
its journal after the run (sign-off, deficiency ownership and closure).

Exit codes: 0 done (for `verify`: verified), 1 the pack does not verify (every mismatch
named), 2 bad input (a missing or unreadable key, a file that is not a pack or is cut short,
a run that cannot be exported as asked), 3 a record that cannot be read or written.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runner.cli import exits
from runner.cli.options import results_option

if TYPE_CHECKING:
    from runner.journal.files import RunFolder
    from runner.journal.run import Run

KEY_FILE_HELP = (
    "The Ed25519 private key (PEM). Default: $DRILL_EVIDENCE_KEY_FILE, else the PEM text "
    "in $DRILL_EVIDENCE_KEY."
)


@click.group()
def group() -> None:
    """Evidence for auditors: signed packs, sign-off, deficiencies."""


@group.command()
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="The private key file to create (its public key goes to FILE.pub).",
)
def keygen(out: Path) -> int:
    """Create an Ed25519 key pair for signing evidence packs."""
    from runner.evidence import keys
    from runner.records import results
    from runner.text import line

    public_path = out.with_name(out.name + ".pub")
    for path in (out, public_path):
        if path.exists() or path.is_symlink():
            raise click.UsageError(f"{line(path)} exists; not overwritten")
    private, public = keys.generate()
    results.write(out, private, mode=0o600)
    results.write(public_path, public)
    fingerprint = keys.public_key(public_path).fingerprint
    click.echo(f"wrote {line(out)} (private, mode 600) and {line(public_path)}")
    click.echo(f"fingerprint {fingerprint}")
    return exits.OK


@group.command()
@click.argument("run")
@results_option
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    help="The pack to write. Default: <run-id>.evidence.tar in the current folder.",
)
@click.option("--key-file", type=click.Path(path_type=Path), help=KEY_FILE_HELP)
def export(run: str, results_dir: Path, out: Path | None, key_file: Path | None) -> int:
    """Write the signed evidence pack of RUN (a run id under --results, or a run folder).

    The same run exported twice gives the same bytes."""
    from runner.evidence import keys, pack
    from runner.journal import files
    from runner.records import results
    from runner.text import line

    folder = files.load(files.locate(run, results_dir))
    key = keys.signing_key(key_file)
    if key.warning:
        click.echo(f"warning: {line(key.warning)}", err=True)
    contents = _contents(folder, key.public.fingerprint)
    data = pack.build(contents, key)
    target = out if out is not None else Path(f"{folder.run_id}.evidence.tar")
    results.write(target, data)
    click.echo(
        f"wrote {line(target)}: run {line(folder.run_id)}, {len(contents.files)} files, "
        f"{len(data)} bytes, signed by {key.public.fingerprint}"
    )
    return exits.OK


@group.command()
@click.argument("pack_file", metavar="FILE", type=click.Path(path_type=Path))
@click.option(
    "--key",
    "key_path",
    type=click.Path(path_type=Path),
    help="The public key you trust (PEM). Without it the pack's own key is used and its "
    "fingerprint shown, to compare with the one you trust.",
)
def verify(pack_file: Path, key_path: Path | None) -> int:
    """Check an evidence pack: its layout, signature, every file's SHA-256 and the hash
    chain of its event log; name everything that does not match."""
    from runner.errors import UsageError
    from runner.evidence import keys, pack
    from runner.records.store import describe_os_error
    from runner.text import line

    trusted = keys.public_key(key_path) if key_path is not None else None
    try:
        if pack_file.stat().st_size > pack.MAX_PACK_BYTES:
            raise UsageError(f"{pack_file}: over 512 MiB, not an evidence pack")
        data = pack_file.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {pack_file}: {describe_os_error(e)}") from None
    try:
        verdict = pack.verify(data, trusted)
    except pack.NotAPack as e:
        raise UsageError(f"{pack_file}: {e}") from None
    if not verdict.ok:
        click.echo(f"NOT VERIFIED: {line(pack_file)}")
        for problem in verdict.problems:
            click.echo(f"  {line(problem)}")
        return exits.MISSED
    facts = verdict.facts
    click.echo(f"verified: {line(pack_file)}")
    click.echo(
        f"  run {line(verdict.run_id)}: scenario {line(facts.get('scenario'))}, "
        f"{line(facts.get('status'))}, finished {line(facts.get('finishedAt'))}"
    )
    click.echo(f"  {verdict.files} files, each matching its SHA-256 in the signed manifest")
    journal = verdict.journal
    click.echo(
        f"  journal: {journal.get('entries')} entries, hash chain intact, "
        f"head {line(journal.get('head'))}"
    )
    whose = (
        "the key you gave"
        if verdict.key_trusted
        else "the key inside the pack: compare it with the one you trust, or pass --key"
    )
    click.echo(f"  signed by {verdict.signer} ({whose})")
    return exits.OK


def _contents(folder: RunFolder, fingerprint: str) -> Any:
    """The files of a pack, read from the run's folder and rendered, all masked."""
    from runner import redact
    from runner.evidence import pack

    run = folder.run
    recorded = _exportable_journal(folder)
    raw = _record_files(folder)
    _check_intact(folder, raw, recorded)
    files = [*_recorded_files(raw), *_reports(folder, fingerprint), *_input_files(folder)]
    return pack.Contents(
        run_id=folder.run_id,
        archive_time=_epoch(run),
        facts=redact.value(_facts(run, recorded)),
        files=files,
    )


def _exportable_journal(folder: RunFolder) -> Any:
    """The journal head run.json recorded; UsageError when the run is still running or has
    no hash-chained journal."""
    from runner.errors import UsageError

    run_id = folder.run_id
    if not folder.run.finished:
        raise UsageError(f"run {run_id} is still running; export it when it has finished")
    if folder.run.journal is None:
        raise UsageError(
            f"run {run_id} has no hash-chained journal (recorded by an older drill-runner); "
            "it cannot be exported as evidence"
        )
    return folder.run.journal.to_json()


def _record_files(folder: RunFolder) -> dict[str, bytes]:
    """The bytes of the record's files that exist, by name."""
    from runner.errors import DrillError

    raw: dict[str, bytes] = {}
    for file in ("run.json", "events.jsonl", "ledger.jsonl", "junit.xml"):
        path = folder.dir / file
        try:
            raw[file] = path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as e:
            raise DrillError(f"cannot read {path}: {e.strerror}") from None
    return raw


def _check_intact(folder: RunFolder, raw: dict[str, bytes], recorded: Any) -> None:
    """DrillError when the journal does not verify against its recorded head, or the
    chained files hold text that looks like a credential."""
    from runner import redact
    from runner.errors import DrillError
    from runner.journal import chain

    broken = chain.verify(raw.get("events.jsonl", b""), folder.run_id, recorded)
    if broken is not None:
        where = f"line {broken.line}" if broken.line else "as a whole"
        raise DrillError(
            f"{folder.dir / 'events.jsonl'} {where}: {broken.message}; the record was changed "
            "since it was written, so it is not exported as evidence"
        )
    for chained in ("run.json", "events.jsonl"):
        text = raw.get(chained, b"").decode("utf-8", errors="replace")
        if redact.text(text).encode() != raw.get(chained, b""):
            raise DrillError(
                f"{folder.dir / chained} holds text that looks like a credential; "
                "it is not exported (docs/evidence-operators.md)"
            )


def _recorded_files(raw: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """The record itself: run.json and events.jsonl as written (they are chained), the
    ledger and JUnit masked."""
    from runner.evidence import pack

    files: list[tuple[str, bytes]] = [
        (pack.RUN_JSON, raw["run.json"]),
        (pack.EVENTS, raw.get("events.jsonl", b"")),
    ]
    for extra in ("ledger.jsonl", "junit.xml"):
        if extra in raw:
            files.append((f"record/{extra}", _masked(raw[extra])))
    return files


def _reports(folder: RunFolder, fingerprint: str) -> list[tuple[str, bytes]]:
    """The HTML and Markdown reports rendered for the pack, and the measurement inputs."""
    from runner.reports import html, markdown

    view = replace(folder, dir=Path(folder.run_id))
    files = [("reports/report.html", _masked(html.render(view, signer=fingerprint).encode()))]
    md = markdown.render(view, report_path="report.html", signer=fingerprint)
    files.append(("reports/report.md", _masked(md.encode())))
    series = folder.run.measurement_inputs
    if series:
        files.append(("series/measurement-inputs.json", _masked(_json(series))))
    return files


def _input_files(folder: RunFolder) -> list[tuple[str, bytes]]:
    """The input files the run copied into its folder (`input-*`), masked."""
    from runner.errors import DrillError

    files = []
    for _, entry in sorted((folder.run.inputs or {}).items(), key=lambda item: item[0]):
        for name in (entry.file, entry.model):
            if name is not None and "/" not in name and name.startswith("input-"):
                try:
                    files.append((f"inputs/{name}", _masked((folder.dir / name).read_bytes())))
                except OSError as e:
                    raise DrillError(f"cannot read {folder.dir / name}: {e.strerror}") from None
    return files


def _facts(run: Run, recorded: Any) -> dict[str, Any]:
    """What the pack's manifest says of the run, as the record holds it (run.json form)."""
    from runner import __version__
    from runner.journal.entries import iso

    return {
        "scenario": run.scenario.name,
        "drill": run.drill.name,
        "status": run.status.value,
        "reason": run.reason,
        "operator": run.operator,
        "startedAt": iso(run.started_at),
        "finishedAt": iso(run.finished_at),
        "journal": recorded,
        "exercise": None if run.exercise is None else run.exercise.to_json(),
        "tool": {"name": "drill-runner", "version": __version__, "recordedBy": run.runner_version},
    }


def _masked(data: bytes) -> bytes:
    from runner import redact

    return redact.text(data.decode("utf-8", errors="replace")).encode()


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode()


def _epoch(run: Run) -> int:
    """The pack's archive time: when the run finished (else started), 0 when unknown."""
    moment = run.finished_at or run.started_at
    return 0 if moment is None else max(0, int(moment.timestamp()))


def _operator() -> str:
    from runner.engine.launch import default_operator

    return default_operator()


def _finished(run: str, results_dir: Path) -> RunFolder:
    """The run's folder, read through the journal; UsageError while it is still running."""
    from runner.errors import UsageError
    from runner.journal import files

    folder = files.load(files.locate(run, results_dir))
    if not folder.run.finished:
        raise UsageError(f"run {folder.run_id} is still running; wait until it has finished")
    if folder.run.journal is None:
        raise UsageError(
            f"run {folder.run_id} has no hash-chained journal (recorded by an older "
            "drill-runner); nothing can be appended to it"
        )
    from runner.errors import DrillError
    from runner.journal import chain

    try:
        data = (folder.dir / chain.EVENTS).read_bytes()
    except FileNotFoundError:
        data = b""
    except OSError as e:
        raise DrillError(f"cannot read {folder.dir / chain.EVENTS}: {e.strerror}") from None
    broken = chain.verify(data, folder.run_id, folder.run.journal.to_json())
    if broken is not None:
        where = f"line {broken.line}" if broken.line else "as a whole"
        raise DrillError(
            f"{folder.dir / chain.EVENTS} {where}: {broken.message}; "
            "nothing is appended to a journal that does not verify"
        )
    return folder


def _append(folder: RunFolder, entry: dict[str, Any]) -> Any:
    """Append to the journal, then write the run's reports again so they show it."""
    from runner.clock import SystemClock
    from runner.journal import files
    from runner.journal.writer import append_after
    from runner.records import results
    from runner.reports import html, markdown

    head = append_after(
        folder.dir, folder.run_id, {"time": SystemClock().now().isoformat(), **entry}
    )
    typed = files.load(folder.dir)
    results.write(folder.dir / "report.html", html.render(typed))
    md = markdown.render(typed, report_path=str(folder.dir / "report.html"))
    results.write(folder.dir / "report.md", md)
    return head


@group.command("sign-off")
@click.argument("run")
@results_option
@click.option("--as", "name", required=True, help="Who signs off (name and role).")
@click.option("--comment", default="", help="What the sign-off says.")
def sign_off(run: str, results_dir: Path, name: str, comment: str) -> int:
    """Append a sign-off of RUN to its journal (nothing is rewritten); the report shows it."""
    from runner.evidence import exercise
    from runner.text import line

    folder = _finished(run, results_dir)
    status = folder.run.status.value
    head = _append(
        folder,
        {
            "actor": name,
            "action": exercise.SIGNOFF,
            "target": "",
            "details": {"by": name, "comment": comment, "status": status},
        },
    )
    click.echo(
        f"signed off run {line(folder.run_id)} ({line(status)}) as {line(name)}; "
        f"journal {head.entries} entries, head {head.head}"
    )
    return exits.OK


@group.command()
@click.argument("run")
@click.argument("ident", metavar="ID")
@results_option
@click.option("--owner", help="Who owns fixing it.")
@click.option("--due", help="When it is due (YYYY-MM-DD).")
@click.option(
    "--resolved-by",
    "resolved_by",
    help="A later run of the same scenario that passed: closes the deficiency.",
)
@click.option("--as", "name", help="Who records this (default: $DRILL_OPERATOR or the OS user).")
def deficiency(
    run: str,
    ident: str,
    results_dir: Path,
    owner: str | None,
    due: str | None,
    resolved_by: str | None,
    name: str | None,
) -> int:
    """Record the owner and due date of deficiency ID of RUN, or close it by a later
    passing run (--resolved-by). Appended to the run's journal; nothing is rewritten."""
    from runner.errors import UsageError
    from runner.text import line

    if not (owner or due or resolved_by):
        raise UsageError("say what to record: --owner, --due, or --resolved-by RUN")
    folder = _finished(run, results_dir)
    _check_open(folder, ident)
    due = _due_date(due)
    actor = name or _operator()
    said = []
    if owner or due:
        said.append(_assign(folder, ident, actor, owner, due))
    if resolved_by:
        said.append(_close(folder, ident, actor, resolved_by, results_dir))
    click.echo(f"deficiency {line(ident)} of run {line(folder.run_id)}: {line('; '.join(said))}")
    return exits.OK


def _check_open(folder: RunFolder, ident: str) -> None:
    """UsageError unless the run has deficiency `ident` and it is still open."""
    from runner.errors import UsageError
    from runner.evidence import exercise

    found = exercise.read(folder.run, folder.events)
    item = found.deficiency(ident)
    if item is None:
        known = ", ".join(d.id for d in found.deficiencies) or "none"
        raise UsageError(f"run {folder.run_id} has no deficiency {ident!r} (it has: {known})")
    if not item.is_open:
        raise UsageError(
            f"deficiency {ident} of run {folder.run_id} was closed by run {item.resolved_by}"
        )


def _due_date(due: str | None) -> str | None:
    """--due as an ISO date; UsageError when it is not one."""
    from datetime import date

    from runner.errors import UsageError

    if due is None:
        return None
    try:
        return date.fromisoformat(due).isoformat()
    except ValueError:
        raise UsageError(f"--due {due!r}: not a date (YYYY-MM-DD)") from None


def _assign(folder: RunFolder, ident: str, actor: str, owner: str | None, due: str | None) -> str:
    """Append the owner and due date of deficiency `ident`; what was recorded, as said."""
    from runner.evidence import exercise

    details = {
        "id": ident,
        **({"owner": owner} if owner else {}),
        **({"due": due} if due else {}),
    }
    _append(folder, {"actor": actor, "action": exercise.ASSIGNED, "target": "", "details": details})
    return "owner " + (owner or "-") + ", due " + (due or "-")


def _close(folder: RunFolder, ident: str, actor: str, resolved_by: str, results_dir: Path) -> str:
    """Append the closure of deficiency `ident` by the later run `resolved_by`, once it is
    checked to close it; what was recorded, as said."""
    from runner.evidence import exercise
    from runner.journal import files
    from runner.journal.entries import iso

    later = files.load(files.locate(resolved_by, results_dir))
    _check_closes(folder, later)
    closure: dict[str, Any] = {
        "id": ident,
        "resolvedBy": later.run_id,
        "resolvedByHead": later.run.journal.head if later.run.journal else None,
        "resolvedByFinishedAt": iso(later.run.finished_at),
    }
    _append(folder, {"actor": actor, "action": exercise.CLOSED, "target": "", "details": closure})
    return f"closed by run {later.run_id}"


def _check_closes(folder: RunFolder, later: RunFolder) -> None:
    """A deficiency is closed only by a later run of the same scenario that passed and
    whose journal is intact."""
    from runner.errors import UsageError
    from runner.journal import chain
    from runner.journal.status import Status

    run, other = folder.run, later.run
    name = run.scenario.name
    if other.scenario.name != name:
        raise UsageError(
            f"run {later.run_id} is not a run of scenario {name}; it cannot close this"
        )
    if other.status is not Status.PASSED:
        raise UsageError(
            f"run {later.run_id} ended {other.status.value}; only a passing run closes a deficiency"
        )
    if other.started_at is None or run.finished_at is None or other.started_at <= run.finished_at:
        raise UsageError(
            f"run {later.run_id} started before run {folder.run_id} ended; "
            "only a later run closes it"
        )
    try:
        data = (later.dir / chain.EVENTS).read_bytes()
    except OSError:
        data = b""
    journal = other.journal.to_json() if other.journal is not None else None
    broken = chain.verify(data, later.run_id, journal)
    if broken is not None:
        raise UsageError(f"run {later.run_id}'s journal does not verify: {broken.message}")
