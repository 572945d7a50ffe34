"""The evidence pack: one signed, reproducible archive of a run, and its verification.

A pack is a tar archive (`runner.evidence.tarball`) of `<run id>/MANIFEST.json` (the run's
facts, the signer's public key and the SHA-256 and size of every other file),
`<run id>/MANIFEST.sig` (the Ed25519 signature of MANIFEST.json's exact bytes) and the files
themselves. Every byte is a function of the files and the key (Ed25519 signatures are
deterministic, the archive time is the run's end), so the same run exported twice gives the
same bytes. `verify` checks the archive's layout, the signature, every file's hash, the hash
chain of the event log against the head in run.json, and names each thing that does not
match.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.evidence import tarball
from runner.evidence.keys import PublicKey, SigningKey, public_from_raw
from runner.journal import chain, files
from runner.records.results import ResultsError

FORMAT = "drill-runner-evidence/1"
MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.sig"
RUN_JSON = "record/run.json"
EVENTS = "record/events.jsonl"
MAX_PACK_BYTES = 512 * 1024 * 1024


class NotAPack(ValueError):
    """The file is not a (whole) drill-runner evidence pack: exit 2."""


@dataclass(frozen=True)
class Contents:
    """What goes into a pack: the files (path inside the pack, bytes) and the run's facts."""

    run_id: str
    archive_time: int
    """Seconds since the epoch: the run's end, the mtime of every member."""
    facts: Mapping[str, Any]
    files: Sequence[tuple[str, bytes]]


@dataclass
class Verdict:
    """What `verify` found: `problems` empty means verified."""

    run_id: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    signer: str = ""
    key_trusted: bool = False
    files: int = 0
    journal: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def build(contents: Contents, key: SigningKey) -> bytes:
    public = key.public
    manifest = {
        "format": FORMAT,
        **contents.facts,
        "runId": contents.run_id,
        "archiveTime": contents.archive_time,
        "signer": {
            "algorithm": "ed25519",
            "publicKey": base64.b64encode(public.raw).decode(),
            "fingerprint": public.fingerprint,
        },
        "files": [{"path": p, "sha256": _sha(d), "size": len(d)} for p, d in contents.files],
    }
    manifest_bytes = _json(manifest)
    signature = _signature_file(public, manifest_bytes, key.sign(manifest_bytes))
    prefix = contents.run_id + "/"
    members = [(prefix + MANIFEST, manifest_bytes), (prefix + SIGNATURE, signature)]
    members += [(prefix + p, d) for p, d in contents.files]
    return tarball.write(members, contents.archive_time)


def _signature_file(public: PublicKey, manifest_bytes: bytes, signature: bytes) -> bytes:
    return _json(
        {
            "algorithm": "ed25519",
            "fingerprint": public.fingerprint,
            "manifestSha256": _sha(manifest_bytes),
            "signature": base64.b64encode(signature).decode(),
        }
    )


def verify(data: bytes, trusted: PublicKey | None) -> Verdict:
    """Check a pack; NotAPack when it is not one of ours or is cut short."""
    if len(data) > MAX_PACK_BYTES:
        raise NotAPack(f"over {MAX_PACK_BYTES // 2**20} MiB: not an evidence pack")
    try:
        members, mtime, damage = tarball.read(data, first_name=b"/" + MANIFEST.encode())
    except tarball.NotATar as e:
        raise NotAPack(f"not a drill-runner evidence pack: {e}") from None
    except tarball.Truncated as e:
        raise NotAPack(f"not a whole evidence pack: {e}") from None
    verdict = Verdict()
    verdict.problems += [f"byte {d.offset}: {d.where} was changed" for d in damage]
    if not members:
        if damage:
            return verdict
        raise NotAPack("not a drill-runner evidence pack: the archive holds nothing")
    first = members[0]
    if not first.name.endswith("/" + MANIFEST):
        raise NotAPack(f"not a drill-runner evidence pack: it does not start with {MANIFEST}")
    prefix = first.name[: -len(MANIFEST)]
    by_path: dict[str, bytes] = {}
    for m in members[1:]:
        if not m.name.startswith(prefix):
            verdict.problems.append(f"{m.name}: outside the pack's folder {prefix}")
        elif m.name[len(prefix) :] in by_path or m.name == first.name:
            verdict.problems.append(f"{m.name}: a second copy of a member")
        else:
            by_path[m.name[len(prefix) :]] = m.data
    manifest = _manifest(first.data, verdict, signed=SIGNATURE in by_path)
    if manifest is None:
        return verdict
    verdict.run_id = str(manifest.get("runId", ""))
    verdict.facts = {k: manifest.get(k) for k in ("scenario", "status", "finishedAt", "tool")}
    authentic = _signature(manifest, first.data, by_path.pop(SIGNATURE, None), trusted, verdict)
    if prefix != verdict.run_id + "/":
        verdict.problems.append(f"the pack's folder {prefix} is not its run id {verdict.run_id}")
    if manifest.get("archiveTime") != mtime and not damage:
        verdict.problems.append("the archive's member times are not the signed archiveTime")
    if authentic:
        _files(manifest, by_path, verdict, complete=not damage)
    _chain(by_path, verdict)
    return verdict


def _manifest(data: bytes, verdict: Verdict, *, signed: bool) -> dict[str, Any] | None:
    """The manifest, or None with the problem named; NotAPack for an archive that is not a
    pack at all (a pack that still carries its signature file was one: it was changed)."""
    try:
        manifest = json.loads(data)
    except ValueError:
        verdict.problems.append(f"{MANIFEST}: not JSON any more (it was changed)")
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        if verdict.problems or signed:
            verdict.problems.append(f"{MANIFEST}: not a drill-runner manifest (it was changed)")
            return None
        raise NotAPack(f"not a drill-runner evidence pack: {MANIFEST} is not of {FORMAT}")
    return manifest


def _signature(
    manifest: Mapping[str, Any],
    manifest_bytes: bytes,
    sig_bytes: bytes | None,
    trusted: PublicKey | None,
    verdict: Verdict,
) -> bool:
    """True when the manifest is authentic (signed by the trusted key, or by the key it
    names when none is given); every mismatch named in `verdict`."""
    signer = manifest.get("signer")
    try:
        raw = base64.b64decode(signer["publicKey"], validate=True)  # type: ignore[index]
        embedded = public_from_raw(raw)
    except (TypeError, KeyError, ValueError):
        verdict.problems.append(f"{MANIFEST}: its signer's public key is damaged (it was changed)")
        return False
    verdict.signer = embedded.fingerprint
    if sig_bytes is None:
        verdict.problems.append(f"{SIGNATURE} is missing: the pack is not signed")
        return False
    try:
        sig = json.loads(sig_bytes)
        signature = base64.b64decode(sig["signature"], validate=True)
        recorded_sha = sig.get("manifestSha256")
    except (ValueError, TypeError, KeyError):
        verdict.problems.append(f"{SIGNATURE}: not a signature any more (it was changed)")
        return False
    key = trusted if trusted is not None else embedded
    verdict.key_trusted = trusted is not None
    if key.verifies(signature, manifest_bytes):
        if sig_bytes != _signature_file(key, manifest_bytes, signature):
            verdict.problems.append(f"{SIGNATURE} was changed (its signature still verifies)")
        return True
    if recorded_sha != _sha(manifest_bytes):
        verdict.problems.append(f"{MANIFEST} was changed after it was signed")
    elif trusted is not None and trusted.raw != embedded.raw:
        verdict.problems.append(
            f"signed by another key: the pack names {embedded.fingerprint}, "
            f"you trust {trusted.fingerprint}"
        )
    else:
        verdict.problems.append(
            f"{SIGNATURE}: the signature does not verify with {key.fingerprint} "
            "(the signature was changed)"
        )
    return False


def _files(
    manifest: Mapping[str, Any], by_path: dict[str, bytes], verdict: Verdict, *, complete: bool
) -> None:
    remaining = dict(by_path)
    for item in manifest.get("files") or []:
        path = item.get("path")
        data = remaining.pop(path, None)
        if data is None:
            if complete:
                verdict.problems.append(f"{path}: missing from the pack")
            continue
        verdict.files += 1
        if _sha(data) != item.get("sha256") or len(data) != item.get("size"):
            verdict.problems.append(f"{path}: does not match its SHA-256 in the signed manifest")
    for path in sorted(remaining):
        verdict.problems.append(f"{path}: in the pack but not in the signed manifest")
    journal = manifest.get("journal")
    if isinstance(journal, dict):
        verdict.journal = dict(journal)


def _chain(by_path: Mapping[str, bytes], verdict: Verdict) -> None:
    """The event log against its own chain and the head run.json carries (independent of
    the manifest: it names the line when the log was changed)."""
    events, run_bytes = by_path.get(EVENTS), by_path.get(RUN_JSON)
    if events is None or run_bytes is None:
        return
    try:
        run = files.parse(run_bytes, RUN_JSON)
    except ResultsError:
        return  # its hash mismatch is already named
    recorded = None if run.journal is None else run.journal.to_json()
    broken = chain.verify(events, verdict.run_id, recorded)
    if broken is not None:
        where = f"line {broken.line}" if broken.line else "as a whole"
        verdict.problems.append(f"{EVENTS} {where}: {broken.message}")
    elif verdict.journal and recorded != verdict.journal:
        verdict.problems.append(f"{RUN_JSON}: its journal head is not the signed one")
