"""Ed25519 keys for evidence packs: where the signing key comes from, how a public key is
read, and its fingerprint.

The private key is PEM (PKCS#8, unencrypted, as `drillctl evidence keygen` and
`openssl genpkey -algorithm ed25519` write it), read from a file (`--key-file`,
`$DRILL_EVIDENCE_KEY_FILE`) or from the text of `$DRILL_EVIDENCE_KEY` (a CI secret). Its text
is registered with `runner.redact`, so it is masked wherever it could be printed. A public
key is PEM (SubjectPublicKeyInfo). The fingerprint is `ed25519:` and the SHA-256 (hex) of
the 32 raw public key bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from runner import redact
from runner.errors import UsageError
from runner.records.store import describe_os_error

KEY_ENV = "DRILL_EVIDENCE_KEY"
KEY_FILE_ENV = "DRILL_EVIDENCE_KEY_FILE"
MAX_KEY_BYTES = 64 * 1024


class KeyError_(UsageError):
    """A key that is missing, unreadable or not an Ed25519 key (exit 2)."""


@dataclass(frozen=True)
class PublicKey:
    key: Ed25519PublicKey

    @property
    def raw(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw)

    def pem(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verifies(self, signature: bytes, data: bytes) -> bool:
        try:
            self.key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    key: Ed25519PrivateKey
    source: str
    """Where it came from, for messages: a path or `$DRILL_EVIDENCE_KEY`."""
    warning: str | None = None
    """Something the operator should fix (a key file others can read)."""

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key())

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)  # Ed25519 is deterministic: same data, same signature


def fingerprint(raw: bytes) -> str:
    return "ed25519:" + hashlib.sha256(raw).hexdigest()


def public_from_raw(raw: bytes) -> PublicKey:
    return PublicKey(Ed25519PublicKey.from_public_bytes(raw))


def signing_key(key_file: Path | None, env: dict[str, str] | None = None) -> SigningKey:
    """The signing key: `key_file`, else `$DRILL_EVIDENCE_KEY_FILE`, else `$DRILL_EVIDENCE_KEY`."""
    env = dict(os.environ) if env is None else env
    if key_file is None and env.get(KEY_FILE_ENV):
        key_file = Path(env[KEY_FILE_ENV])
    if key_file is not None:
        data = _read(key_file, "signing key")
        warning = _loose_permissions(key_file)
        return SigningKey(_private(data, str(key_file)), str(key_file), warning)
    text = env.get(KEY_ENV, "")
    if not text.strip():
        raise KeyError_(
            f"no signing key: pass --key-file, or set ${KEY_FILE_ENV} (a path) or ${KEY_ENV} "
            "(the PEM text); create one with `drillctl evidence keygen`"
        )
    return SigningKey(_private(text.encode(), f"${KEY_ENV}"), f"${KEY_ENV}")


def public_key(path: Path) -> PublicKey:
    """A public key file (PEM); a private key file is accepted too (its public half)."""
    data = _read(path, "public key")
    try:
        loaded = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        try:
            return SigningKey(_private(data, str(path)), str(path)).public
        except KeyError_:
            raise KeyError_(f"{path}: not an Ed25519 public key (PEM)") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise KeyError_(f"{path}: a {type(loaded).__name__.removeprefix('_')} key, not Ed25519")
    return PublicKey(loaded)


def generate() -> tuple[bytes, bytes]:
    """A new key pair: (private PEM, public PEM)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private, PublicKey(key.public_key()).pem()


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_KEY_BYTES:
            raise KeyError_(f"{path}: too large to be a {what} (over 64 KiB)")
        return path.read_bytes()
    except OSError as e:
        raise KeyError_(f"cannot read the {what} {path}: {describe_os_error(e)}") from None


def _private(data: bytes, source: str) -> Ed25519PrivateKey:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyError_(f"{source}: not a PEM private key") from None
    redact.register(text.strip())  # never printed, whatever happens next
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyError_(
            f"{source}: the key is encrypted; use an unencrypted PKCS#8 key kept in a secret store"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyError_(f"{source}: not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyError_(f"{source}: a {type(key).__name__.removeprefix('_')} key, not Ed25519")
    return key


def _loose_permissions(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{path} can be read by others (mode {stat.S_IMODE(mode):o}); chmod 600 it"
    return None
