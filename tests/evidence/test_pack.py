"""Evidence packs of a real lab run: reproducible, verifiable with independent tools, and
every changed byte found and named.

Oracles independent of runner.evidence: Python's `tarfile` reads the archive and places
each member's header and data; `hashlib` checks the manifest's hashes; `cryptography`
verifies the Ed25519 signature directly."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runner.evidence import pack, tarball
from runner.evidence.keys import public_key
from tests.infra.lab import Lab

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]


def drillctl(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_EVIDENCE")}
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


@pytest.fixture(scope="module")
def passed(_session_lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, bytes]:
    """(run folder, key file, pack bytes) of one real region failover (any verdict: a drill
    right after `lab up` can be inconclusive; the pack is the same either way)."""
    lab = _session_lab
    lab.revive()  # as the `lab` fixture does, once for the module
    _, record, log = lab.run_drill("region-failover.yaml")
    assert record["status"] in ("passed", "failed", "inconclusive"), record["reason"] + log
    folder = lab.results / record["runId"]
    keys = tmp_path_factory.mktemp("keys")
    made = drillctl("evidence", "keygen", "-o", str(keys / "signer.pem"), cwd=keys)
    assert made.returncode == 0, made.stderr
    out = keys / "first.tar"
    done = drillctl("evidence", "export", str(folder), "--key-file", str(keys / "signer.pem"),
                    "-o", str(out), cwd=keys)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return folder, keys / "signer.pem", out.read_bytes()


def test_same_run_same_bytes_anywhere_and_independent_checks(
    passed: tuple[Path, Path, bytes], tmp_path: Path
) -> None:
    folder, key, first = passed
    # the run folder copied elsewhere (another results path), exported from another cwd
    moved = tmp_path / "elsewhere" / "results" / folder.name
    shutil.copytree(folder, moved)
    again = drillctl("evidence", "export", folder.name, "--results", str(moved.parent),
                     "--key-file", str(key), "-o", "again.tar", cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.tar").read_bytes() == first
    # a pack verified on another path, with the signer's public key
    (tmp_path / "other-machine").mkdir()
    copy = tmp_path / "other-machine" / "evidence.tar"
    copy.write_bytes(first)
    ok = drillctl("evidence", "verify", "evidence.tar", "--key", f"{key}.pub",
                  cwd=copy.parent)  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "verified" in ok.stdout and "the key you gave" in ok.stdout
    # independent: tarfile reads it, hashlib and cryptography check what the manifest says
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        files = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    manifest = json.loads(files.pop("MANIFEST.json"))
    signature = json.loads(files.pop("MANIFEST.sig"))
    assert {f["path"] for f in manifest["files"]} == set(files)
    for item in manifest["files"]:
        assert hashlib.sha256(files[item["path"]]).hexdigest() == item["sha256"]
    pem = Path(f"{key}.pub").read_bytes()
    pub = serialization.load_pem_public_key(pem)
    assert isinstance(pub, Ed25519PublicKey)
    manifest_bytes = _member(first, "MANIFEST.json")
    pub.verify(base64.b64decode(signature["signature"]), manifest_bytes)
    assert (
        manifest["signer"]["fingerprint"]
        == "ed25519:"
        + hashlib.sha256(
            pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        ).hexdigest()
    )
    # what a pack holds
    assert {"record/run.json", "record/events.jsonl", "record/junit.xml", "reports/report.html",
            "reports/report.md", "series/measurement-inputs.json", "inputs/input-scenario.yaml",
            "inputs/input-drill.yaml"} <= set(files)  # fmt: skip
    assert manifest["journal"] == json.loads(files["record/run.json"])["journal"]
    assert manifest["tool"]["version"]
    assert manifest["status"] == json.loads(files["record/run.json"])["status"]
    assert manifest["signer"]["fingerprint"] in files["reports/report.html"].decode()
    series = json.loads(files["series/measurement-inputs.json"])
    assert series == json.loads(files["record/run.json"])["measurementInputs"]


def _member(data: bytes, suffix: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            if m.name.endswith("/" + suffix):
                return tar.extractfile(m).read()  # type: ignore[union-attr]
    raise AssertionError(suffix)


def _regions(data: bytes) -> list[tuple[int, str]]:
    """(offset, what must be named) for bytes across every region, placed by tarfile."""
    out: list[tuple[int, str]] = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    for m in members:
        path = m.name.split("/", 1)[1]
        for off in (m.offset, m.offset + 100, m.offset + 140, m.offset + 300, m.offset + 511):
            out.append((off, f"byte {m.offset}: the header of"))
        name = path.split("/")[-1]
        for k in range(0, m.size, max(1, m.size // 40)):
            out.append((m.offset_data + k, name))
        out.append((m.offset_data + m.size - 1, name))
        if m.size % 512:
            out.append((m.offset_data + m.size, f"the padding after {m.name}"))
    # the manifest's format, byte by byte (a pack damaged there is still a damaged pack)
    manifest = members[0]
    at = data.index(b"drill-runner-evidence/", manifest.offset_data)
    assert at < manifest.offset_data + manifest.size
    out += [(at + k, "MANIFEST.json") for k in range(len(b"drill-runner-evidence/1"))]
    end = members[-1].offset_data + members[-1].size + (-members[-1].size % 512)
    out += [(end, "end of the archive"), (len(data) - 1, "end of the archive")]
    return out


def test_one_changed_byte_anywhere_is_found_and_named(passed: tuple[Path, Path, bytes]) -> None:
    _, key, first = passed
    trusted = public_key(Path(f"{key}.pub"))
    assert pack.verify(first, trusted).ok
    regions = _regions(first)
    assert len(regions) > 400
    for offset, expected in regions:
        damaged = bytearray(first)
        damaged[offset] ^= 0x20
        verdict = pack.verify(bytes(damaged), trusted)
        assert not verdict.ok, f"byte {offset} changed ({expected}) and verified"
        shown = "\n".join(verdict.problems)
        assert expected in shown, (offset, expected, shown)
        if expected == "events.jsonl":
            assert "record/events.jsonl line" in shown, shown  # the entry is named too


def _rebuilt(first: bytes, change: dict[str, bytes | None]) -> bytes:
    """The pack with members replaced (None: removed), same layout, same signature."""
    members, mtime, damage = tarball.read(first)
    assert not damage
    out = []
    for m in members:
        path = m.name.split("/", 1)[1]
        if path in change:
            if change[path] is not None:
                out.append((m.name, change[path]))
        else:
            out.append((m.name, m.data))
    return tarball.write(out, mtime)  # type: ignore[arg-type]


def test_reordered_and_removed_entries_wrong_key_and_missing_signature(
    passed: tuple[Path, Path, bytes], tmp_path: Path
) -> None:
    _, key, first = passed
    trusted = public_key(Path(f"{key}.pub"))
    lines = _member(first, "events.jsonl").split(b"\n")[:-1]
    swapped = [*lines[:3], lines[4], lines[3], *lines[5:]]
    shown = "\n".join(pack.verify(_rebuilt(first, {"record/events.jsonl": b"".join(
        ln + b"\n" for ln in swapped)}), trusted).problems)  # fmt: skip
    assert "record/events.jsonl: does not match" in shown
    assert "record/events.jsonl line 4: entry 3 (" in shown and "reordered" in shown
    removed = b"".join(ln + b"\n" for i, ln in enumerate(lines) if i != 5)
    shown = "\n".join(
        pack.verify(_rebuilt(first, {"record/events.jsonl": removed}), trusted).problems
    )
    assert "record/events.jsonl line 6" in shown and "removed" in shown
    # a forger re-signs a changed record with their own key: the trusted key says no
    forger = tmp_path / "forger.pem"
    assert drillctl("evidence", "keygen", "-o", str(forger), cwd=tmp_path).returncode == 0
    folder = tmp_path / "results" / "x"
    shutil.copytree(passed[0], folder)
    res = drillctl("evidence", "export", str(folder), "--key-file", str(forger), "-o", "f.tar",
                   cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    wrong = drillctl("evidence", "verify", "f.tar", "--key", f"{key}.pub", cwd=tmp_path)
    assert wrong.returncode == 1 and "signed by another key" in wrong.stdout, wrong.stdout
    # missing signature
    (tmp_path / "unsigned.tar").write_bytes(_rebuilt(first, {"MANIFEST.sig": None}))
    unsigned = drillctl("evidence", "verify", "unsigned.tar", cwd=tmp_path)
    assert unsigned.returncode == 1 and "MANIFEST.sig is missing" in unsigned.stdout


def test_bad_input_is_one_line_exit_2(passed: tuple[Path, Path, bytes], tmp_path: Path) -> None:
    folder, key, first = passed
    cases: dict[str, tuple[list[str], str]] = {}
    for cut in (0, 100, 511, 512, 700, len(first) // 2, len(first) - 1024, len(first) - 1):
        (tmp_path / f"cut{cut}.tar").write_bytes(first[:cut])
        cases[f"cut at {cut}"] = (["verify", f"cut{cut}.tar"], "not" if cut == 0 else "truncated")
    other = io.BytesIO()
    with tarfile.open(fileobj=other, mode="w") as tar:
        info = tarfile.TarInfo("notes/readme.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    (tmp_path / "other.tar").write_bytes(other.getvalue())
    cases["a tar that is not ours"] = (["verify", "other.tar"], "not a drill-runner evidence pack")
    # a manifest first, in our layout, but of another format and with no signature file
    foreign = tarball.write([("x/MANIFEST.json", b'{"format": "someone-else/1"}')], 0)
    (tmp_path / "foreign.tar").write_bytes(foreign)
    cases["another tool's manifest"] = (["verify", "foreign.tar"], "MANIFEST.json is not of")
    (tmp_path / "text.tar").write_text("hello\n" * 200)
    cases["a text file"] = (["verify", "text.tar"], "not a tar archive")
    cases["no such file"] = (["verify", "missing.tar"], "cannot read missing.tar")
    cases["a folder"] = (["verify", str(tmp_path)], "cannot read")
    (tmp_path / "good.tar").write_bytes(first)
    (tmp_path / "junk.pem").write_text(
        "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"
    )
    cases["junk public key"] = (["verify", "good.tar", "--key", "junk.pem"], "not an Ed25519")
    cases["missing public key"] = (["verify", "good.tar", "--key", "nokey.pem"], "cannot read")
    cases["no signing key"] = (["export", str(folder), "-o", "x.tar"], "no signing key")
    cases["unreadable signing key"] = (
        ["export", str(folder), "-o", "x.tar", "--key-file", str(tmp_path)],
        "cannot read the signing key",
    )
    rsa = tmp_path / "rsa.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "rsa", "-out", str(rsa)], check=True,
                   capture_output=True)  # fmt: skip
    cases["an RSA key"] = (
        ["export", str(folder), "-o", "x.tar", "--key-file", str(rsa)],
        "not Ed25519",
    )
    cases["a public key to sign"] = (
        ["export", str(folder), "-o", "x.tar", "--key-file", f"{key}.pub"],
        "not a PEM private key",
    )
    for what, (args, said) in cases.items():
        res = drillctl("evidence", *args, cwd=tmp_path)
        assert res.returncode == 2, (what, res.returncode, res.stdout, res.stderr)
        assert "Traceback" not in res.stderr and said in res.stderr, (what, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1, (what, res.stderr)
        assert not (tmp_path / "x.tar").exists()
    env_key = drillctl("evidence", "export", str(folder), "-o", "env.tar", cwd=tmp_path,
                       env={"DRILL_EVIDENCE_KEY": key.read_text()})  # fmt: skip
    assert env_key.returncode == 0 and (tmp_path / "env.tar").read_bytes() == first
    assert key.read_text().strip().splitlines()[1] not in env_key.stdout + env_key.stderr
