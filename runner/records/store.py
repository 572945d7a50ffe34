"""What the run record's files share: run ids as folder names, and how a failed write is
named (the journal's writer is `runner.journal.writer`)."""

from __future__ import annotations

import errno
import re

from runner.errors import DrillError

RUN_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")


class RecordWriteError(DrillError):
    """The run record could not be written (disk full, read-only, I/O error)."""


def describe_os_error(e: OSError) -> str:
    """`No space left on device (ENOSPC)`: the cause without the path (we name it ourselves)."""
    code = errno.errorcode.get(e.errno or 0)
    text = e.strerror or type(e).__name__
    return f"{text} ({code})" if code else text
