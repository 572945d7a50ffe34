"""The evidence pack's container: a plain POSIX (ustar) tar archive written byte for byte the
same way every time, and a strict reader that places every byte of a damaged archive.

Writing: each member is one 512-byte header (name, mode 0644, owner 0/0, the given mtime,
no user or group names) and its data padded with zeros to 512 bytes; the archive ends with
two zero blocks and nothing else. No compression: the same members give the same bytes on
any machine, and `tar -xf` reads it. Reading: every header's checksum is checked, every
padding byte and the end must be zero, and the members are written again and compared, so a
changed byte anywhere is found and attributed to a member's header, data or padding, or to
the end of the archive.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCK = 512
_END = bytes(2 * BLOCK)


class NotATar(ValueError):
    """The bytes are not a ustar archive at all."""


class Truncated(ValueError):
    """The archive stops before its end."""


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes
    offset: int
    """Where its header starts in the archive."""


@dataclass(frozen=True)
class Damage:
    """A byte of the archive that is not where the canonical layout puts it."""

    offset: int
    where: str


def write(members: list[tuple[str, bytes]], mtime: int) -> bytes:
    out = bytearray()
    for name, data in members:
        out += _header(name, len(data), mtime)
        out += data + bytes(-len(data) % BLOCK)
    return bytes(out + _END)


def _header(name: str, size: int, mtime: int) -> bytes:
    raw = name.encode()
    if len(raw) > 100:
        raise ValueError(f"member name over 100 bytes: {name}")
    h = bytearray(BLOCK)
    h[0 : len(raw)] = raw
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = f"{size:011o}\0".encode()
    h[136:148] = f"{mtime:011o}\0".encode()
    h[148:156] = b" " * 8
    h[156] = ord("0")
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    h[148:156] = f"{sum(h):06o}\0 ".encode()
    return bytes(h)


def read(data: bytes, first_name: bytes = b"") -> tuple[list[Member], int, list[Damage]]:
    """The members, their common mtime and the damage found (reading stops at a damaged
    header); NotATar or Truncated when the bytes cannot be read as an archive. A first
    header without the ustar magic is damage rather than NotATar when it names `first_name`."""
    members: list[Member] = []
    damage: list[Damage] = []
    mtime = 0
    pos = 0
    if data[257:262] != b"ustar" and not (first_name and first_name in data[:100]):
        raise NotATar("not a tar archive (no ustar header at its start)")
    if data[:BLOCK] == bytes(BLOCK):
        raise NotATar("an empty tar archive")
    while True:
        if pos + BLOCK > len(data):
            raise Truncated(f"truncated at byte {len(data)}: the archive stops inside a header")
        block = data[pos : pos + BLOCK]
        if block == bytes(BLOCK):
            break
        name = block[0:100].split(b"\0", 1)[0].decode(errors="replace")
        label = f"the header of {name or f'member {len(members) + 1}'}"
        check = sum(block[:148]) + 8 * 32 + sum(block[156:])
        try:
            stored = int(block[148:156].split(b"\0", 1)[0].strip() or b"0", 8)
            size = int(block[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
            mtime = int(block[136:148].split(b"\0", 1)[0].strip() or b"0", 8)
        except ValueError:
            stored = -1
        if check != stored and block[257:262] != b"ustar" and block.count(0) >= BLOCK - 8:
            first = next(i for i, b in enumerate(block) if b)  # zeros with a byte or two
            damage.append(Damage(pos + first, "the end of the archive (after the last member)"))
            return members, mtime, damage
        if check != stored:  # nothing in this header can be trusted: stop here
            damage.append(Damage(pos, f"{label} (its checksum does not match)"))
            return members, mtime, damage
        start, end = pos + BLOCK, pos + BLOCK + size
        if end > len(data):
            raise Truncated(f"truncated at byte {len(data)}: {name} is cut short")
        members.append(Member(name, data[start:end], pos))
        pos = end + (-size % BLOCK)
        pad = data[end:pos]
        if pad != bytes(len(pad)):
            first = next(i for i, b in enumerate(pad) if b)
            damage.append(Damage(end + first, f"the padding after {name}"))
    if len(data) < pos + len(_END):
        raise Truncated(f"truncated at byte {len(data)}: the end of the archive is missing")
    tail = data[pos:]
    if tail != bytes(len(tail)) or len(tail) != len(_END):
        bad = next((i for i, b in enumerate(tail) if b), len(_END))
        damage.append(Damage(pos + bad, "the end of the archive (after the last member)"))
    if not damage:
        canonical = write([(m.name, m.data) for m in members], mtime)
        if canonical != data:
            at = next(i for i, (a, b) in enumerate(zip(canonical, data, strict=False)) if a != b)
            damage.append(Damage(at, _place(members, at)))
    return members, mtime, damage


def _place(members: list[Member], offset: int) -> str:
    for m in reversed(members):
        if offset >= m.offset:
            if offset < m.offset + BLOCK:
                return f"the header of {m.name} (not as drill-runner writes it)"
            return f"{m.name}"
    return "the archive"
