"""Local file helpers shared by the spool, the device cache, metrics and the CLI."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` so that a reader sees the old or the new file, never half.

    The temporary file sits beside the target (same file system, so ``os.replace`` is atomic)
    and is removed if anything fails.
    """
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                             suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of the file at ``path``, read in chunks (``hashlib.file_digest``)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
