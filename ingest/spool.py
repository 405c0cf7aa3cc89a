"""The durable local spool: uploads that S3 could not take wait here until it can.

Layout under ``spool_dir``::

    tmp/           bodies being received, entries being written (cleaned when stale)
    queue/{device}_{capture_id}/   one committed entry: body.jpg + entry.json
    failed/        entries that cannot be read back (kept for a human, never dropped)
    spool.lock     serialises the capacity check and the commit across processes

(The same directory also holds other components' files, each created by its owner: the
drainer's ``drain.lock``, the metrics' ``metrics/`` and the authenticator's ``devices/``.)

An entry is written and fsynced in ``tmp/``, then renamed into ``queue/`` in one step, and the
directory is fsynced: after a power cut an entry is either complete or absent. The entry name
is the capture's identity, so a retry of a capture that is already queued does not queue it
twice. Uploading the queue to S3 is the drainer's job (``ingest.drainer``).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from camcloud.files import file_sha256
from camcloud.validation import CaptureTime
from ingest.body import Body
from ingest.logs import event
from ingest.store import Capture

ENTRY_FILE = "entry.json"
BODY_FILE = "body.jpg"
SCHEMA = 1
# Free disk the spool never eats into, so the machine keeps working when it is full.
DISK_RESERVE = 64 * 1024 * 1024
STALE_TMP_SECONDS = 3600.0


class SpoolFull(Exception):
    """The spool has no room for this upload (size limit or disk)."""


class SpoolUnavailable(Exception):
    """The spool directory cannot be used (missing, not writable)."""


class CorruptEntry(Exception):
    """A queued entry cannot be read back."""


@dataclass(frozen=True)
class SpoolState:
    """How much is waiting."""

    entries: int
    bytes: int
    max_bytes: int
    available: bool


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _entry_size(path: Path) -> int:
    total = 0
    try:
        with os.scandir(path) as items:
            for item in items:
                total += item.stat(follow_symlinks=False).st_size
    except FileNotFoundError:
        return 0
    return total


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _entry_document(capture: Capture) -> dict[str, object]:
    return {
        "schema": SCHEMA,
        "device": capture.device,
        "capture_id": capture.capture_id,
        "sha256": capture.sha256,
        "bytes": capture.size,
        "captured_at": capture.time.captured_at.isoformat(),
        "received_at": capture.time.received_at.isoformat(),
        "clock": capture.time.clock,
        "telemetry": capture.telemetry,
        "queued_at": time.time(),
    }


class Spool:
    """Durable queue of captures on local disk, bounded by ``max_bytes``."""

    def __init__(self, root: str | Path, max_bytes: int, *, usage_cache_seconds: float = 0.5):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.queue_dir = self.root / "queue"
        self.tmp_dir = self.root / "tmp"
        self.failed_dir = self.root / "failed"
        self._usage_cache_seconds = usage_cache_seconds
        self._usage: tuple[float, int, int] | None = None
        self._usage_lock = threading.Lock()
        self.available = False

    def prepare(self) -> bool:
        """Create the directories; False (and logged) if the spool cannot be used."""
        try:
            for directory in (self.queue_dir, self.tmp_dir, self.failed_dir):
                directory.mkdir(parents=True, exist_ok=True)
            probe = self.tmp_dir / f".probe-{os.getpid()}-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            event("spool_unavailable", logging.ERROR, dir=str(self.root), error=str(exc))
            self.available = False
            return False
        self.available = True
        return True

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        with open(self.root / name, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def usage(self) -> tuple[int, int]:
        """(entries, bytes) queued; cached for a moment because it walks the queue."""
        now = time.monotonic()
        with self._usage_lock:
            cached = self._usage
        if cached is not None and now - cached[0] < self._usage_cache_seconds:
            return cached[1], cached[2]
        entries = 0
        total = 0
        try:
            with os.scandir(self.queue_dir) as items:
                for item in items:
                    if item.is_dir(follow_symlinks=False):
                        entries += 1
                        total += _entry_size(Path(item.path))
        except FileNotFoundError:
            pass
        with self._usage_lock:
            self._usage = (now, entries, total)
        return entries, total

    def state(self) -> SpoolState:
        """Entries, bytes and limit, for /readyz and /metrics."""
        if not self.available:
            return SpoolState(0, 0, self.max_bytes, False)
        entries, total = self.usage()
        return SpoolState(entries, total, self.max_bytes, True)

    def _add_usage(self, size: int) -> None:
        with self._usage_lock:
            if self._usage is not None:
                at, entries, total = self._usage
                self._usage = (at, entries + 1, total + size)

    def put(self, capture: Capture, body: Body) -> bool:
        """Queue ``capture`` durably; True if queued now, False if it was queued already.

        Raises SpoolFull when there is no room and SpoolUnavailable when the disk fails.
        """
        if not self.available:
            raise SpoolUnavailable("the spool directory is not usable")
        final = self.queue_dir / f"{capture.device}_{capture.capture_id}"
        if final.exists():
            return False
        staging = self.tmp_dir / f"entry-{uuid.uuid4().hex}"
        try:
            size = self._stage(staging, capture, body)
            return self._commit(staging, final, size)
        except OSError as exc:
            raise SpoolUnavailable(str(exc)) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _stage(self, staging: Path, capture: Capture, body: Body) -> int:
        """Write the entry, fsynced, into ``staging``; its size on disk."""
        staging.mkdir()
        source = body.detach_file()
        if source is not None:
            os.rename(source, staging / BODY_FILE)
            with open(staging / BODY_FILE, "rb") as handle:
                os.fsync(handle.fileno())
        else:
            _write_synced(staging / BODY_FILE, body.read_all())
        _write_synced(staging / ENTRY_FILE, json.dumps(_entry_document(capture)).encode())
        _fsync_dir(staging)
        return capture.size + (staging / ENTRY_FILE).stat().st_size

    def _commit(self, staging: Path, final: Path, size: int) -> bool:
        """Rename ``staging`` into the queue if there is room; False if queued meanwhile."""
        with self._locked("spool.lock"):
            _, used = self.usage()
            free = shutil.disk_usage(self.root).free
            if used + size > self.max_bytes or free < size + DISK_RESERVE:
                raise SpoolFull(f"spool holds {used} of {self.max_bytes} bytes")
            try:
                os.rename(staging, final)
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    return False
                raise
            _fsync_dir(self.queue_dir)
            self._add_usage(size)
        return True

    def names(self) -> list[str]:
        """Queued entries, oldest first."""
        found: list[tuple[float, str]] = []
        try:
            with os.scandir(self.queue_dir) as items:
                for item in items:
                    if item.is_dir(follow_symlinks=False):
                        try:
                            found.append((item.stat().st_mtime, item.name))
                        except FileNotFoundError:
                            continue
        except FileNotFoundError:
            return []
        return [name for _, name in sorted(found)]

    def load(self, name: str) -> Capture:
        """The capture queued as ``name`` (its body stays on disk)."""
        directory = self.queue_dir / name
        try:
            document = json.loads((directory / ENTRY_FILE).read_text(encoding="utf-8"))
            body_path = directory / BODY_FILE
            size = body_path.stat().st_size
            capture = Capture(
                device=str(document["device"]),
                capture_id=str(document["capture_id"]),
                sha256=str(document["sha256"]),
                size=size,
                time=CaptureTime(
                    captured_at=datetime.fromisoformat(document["captured_at"]),
                    received_at=datetime.fromisoformat(document["received_at"]),
                    clock=str(document["clock"]),
                ),
                telemetry=dict(document.get("telemetry") or {}),
                path=str(body_path),
            )
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptEntry(f"{name}: {exc}") from exc
        if size != document.get("bytes"):
            raise CorruptEntry(f"{name}: body has {size} bytes, entry says {document.get('bytes')}")
        if file_sha256(body_path) != capture.sha256:
            raise CorruptEntry(f"{name}: body does not match its sha256")
        return capture

    def remove(self, name: str) -> None:
        """Forget a stored entry (entry.json first: a half-removed entry is never re-read)."""
        directory = self.queue_dir / name
        for file_name in (ENTRY_FILE, BODY_FILE):
            try:
                (directory / file_name).unlink()
            except FileNotFoundError:
                pass
        shutil.rmtree(directory, ignore_errors=True)
        try:
            _fsync_dir(self.queue_dir)
        except OSError:
            pass
        with self._usage_lock:
            self._usage = None

    def quarantine(self, name: str) -> None:
        """Move an unreadable entry aside, where a human can look at it."""
        target = self.failed_dir / f"{name}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(self.queue_dir / name, target)
        except OSError:
            return
        with self._usage_lock:
            self._usage = None

    def clean_tmp(self, older_than: float = STALE_TMP_SECONDS) -> None:
        """Remove what crashed requests left in ``tmp/``."""
        limit = time.time() - older_than
        try:
            with os.scandir(self.tmp_dir) as items:
                for item in items:
                    try:
                        if item.stat(follow_symlinks=False).st_mtime >= limit:
                            continue
                        if item.is_dir(follow_symlinks=False):
                            shutil.rmtree(item.path, ignore_errors=True)
                        else:
                            os.unlink(item.path)
                    except OSError:
                        continue
        except FileNotFoundError:
            pass
