"""The last-seen summary: what the ingest and the thumbnailer saw of each camera, for the alerts.

Each writing process (an ingest worker, a thumbnailer container) keeps a :class:`StatusRecorder`
in memory and writes it as ONE object, ``status/{writer}.json``: at most once a minute when
something urgent happened (the first error record of a streak, a failed firmware update, the
return of a camera the alerts hold silent), else at most every ``max_interval`` seconds
(5 minutes) while anything changed, never when nothing did.
The document is cumulative since the process started, so a check that misses a write loses
nothing: counters only grow, times only advance, and the recent upload samples form a ring.

The alert check reads every summary with one listing of ``status/`` plus one GET per summary
whose ETag changed since the previous check (:func:`read_changed`): a few objects, never a
listing per camera.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from camcloud import cadence, s3
from camcloud.layout import check_device_id

log = logging.getLogger(__name__)

SCHEMA = 1
STATUS_PREFIX = "status/"
# The open incidents the alert check writes (camcloud.alerts.OPEN_KEY is this key): an ingest
# worker reads it to know which cameras are held silent, so that their return is urgent.
OPEN_INCIDENTS_KEY = "alerts/open.json"
WRITER_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
# Upload samples kept per camera: enough for a camera sending every ~10 s between two writes
# 5 minutes apart; faster cameras are below the silence floor anyway.
SAMPLES_KEPT = 32
# A capture received this long after it was taken is a backlog replay (the camera's retry ring
# after an outage) or an import: it proves the camera is alive but says nothing of its rhythm.
LATE_AFTER_S = cadence.LATE_AFTER_S


def check_writer(writer: str) -> str:
    """Return ``writer`` if it is a valid summary writer name, else raise ValueError."""
    if not isinstance(writer, str) or not WRITER_RE.fullmatch(writer):
        raise ValueError(f"invalid status writer {writer!r}: use 1-100 of a-z, 0-9, '.', '_', '-'")
    return writer


def writer_name(role: str, host: str | None = None, pid: int | None = None) -> str:
    """A writer name for this process: ``ingest-{host}-{pid}`` (host cleaned to the alphabet)."""
    host = socket.gethostname() if host is None else host
    pid = os.getpid() if pid is None else pid
    clean = re.sub(r"[^a-z0-9.-]+", "-", host.lower()).strip(".-")[:60] or "host"
    return check_writer(f"{role}-{clean}-{pid}")


def status_key(writer: str) -> str:
    """Where ``writer`` keeps its summary."""
    return f"{STATUS_PREFIX}{check_writer(writer)}.json"


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


@dataclass
class _Camera:
    """What one writer saw of one camera (times in Unix milliseconds)."""

    last_upload: int | None = None
    last_checkin: int | None = None
    uploads: int = 0
    processed: int = 0
    errors: int = 0
    last_ok: int | None = None
    last_error: int | None = None
    error_code: str | None = None
    firmware: str | None = None
    interval_s: int | None = None
    # The configured active hours ("06:30-20:00", UTC as the firmware reads them); None: all day.
    active_hours: str | None = None
    ota: dict[str, Any] | None = None
    # [received_ms, late (0/1), max_alloc_heap or None, frames_lost or None]
    samples: deque[list[Any]] = field(default_factory=lambda: deque(maxlen=SAMPLES_KEPT))

    def last_contact(self) -> int | None:
        times = [t for t in (self.last_upload, self.last_checkin) if t is not None]
        return max(times) if times else None

    def to_json(self) -> dict[str, Any]:
        return {
            "last_upload": self.last_upload,
            "last_checkin": self.last_checkin,
            "uploads": self.uploads,
            "processed": self.processed,
            "errors": self.errors,
            "last_ok": self.last_ok,
            "last_error": self.last_error,
            "error_code": self.error_code,
            "firmware": self.firmware,
            "interval_s": self.interval_s,
            "active_hours": self.active_hours,
            "ota": self.ota,
            "samples": [list(sample) for sample in self.samples],
        }


class StatusRecorder:
    """Accumulates per-camera last-seen facts in memory and writes them as one object when due.

    Thread-safe (gunicorn's gthread workers call it from many threads). ``clock`` returns Unix
    seconds; tests inject their own. Uploads and check-ins are written within ``max_interval``;
    the first error record of a streak, a failed firmware update and (with ``watch_silent``)
    the first upload or check-in of a camera the alerts hold silent within ``min_interval``.
    Uploads are deliberately never urgent: with several workers each sees a random share of a
    camera's uploads, so a long gap at one worker says nothing, and a write a minute per worker
    would cost more than the whole alert budget (docs/alerts-and-sharing.md).
    """

    def __init__(
        self,
        writer: str,
        *,
        clock: Callable[[], float] = time.time,
        min_interval: float = 60.0,
        max_interval: float = 300.0,
        max_cameras: int = 10_000,
        watch_silent: bool = False,
        watch_interval: float = 300.0,
    ) -> None:
        self.writer = check_writer(writer)
        self.key = status_key(writer)
        self._clock = clock
        self._min_interval = min_interval
        self._max_interval = max_interval
        self._max_cameras = max_cameras
        self._cameras: dict[str, _Camera] = {}
        self._lock = threading.Lock()
        self._dirty = False
        self._urgent = False
        self._last_write: float | None = None
        self.writes = 0
        # Cameras the alerts hold silent (read every watch_interval when watch_silent is set):
        # the first upload or check-in of one is urgent, so its recovery is reported at the next
        # check instead of after the 5-minute write interval. One GET per worker per interval.
        self._watch_silent = watch_silent
        self._watch_interval = watch_interval
        self._silent: set[str] = set()
        self._watched_at: float | None = None
        self.watch_reads = 0

    def _camera(self, device: str) -> _Camera:
        check_device_id(device)
        camera = self._cameras.get(device)
        if camera is None:
            # Devices are authenticated, so this only bounds memory against a bug, not an attack.
            if len(self._cameras) >= self._max_cameras:
                oldest = min(self._cameras, key=lambda d: self._cameras[d].last_contact() or 0)
                del self._cameras[oldest]
            camera = self._cameras[device] = _Camera()
        return camera

    def note_upload(
        self,
        device: str,
        *,
        received_at: float,
        captured_at: float | None = None,
        telemetry: Mapping[str, Any] | None = None,
        interval_s: int | None = None,
        active_hours: str | None = None,
    ) -> None:
        """Record a stored upload: receive and capture time, telemetry, configured schedule.

        ``interval_s`` and ``active_hours`` are the device's configured ones (None: not set on
        the server; all day for the hours), taken as they are at each upload.
        """
        received_ms = _ms(received_at)
        late = cadence.is_late(captured_at_s=captured_at, received_at_s=received_at)
        telemetry = telemetry or {}
        heap = telemetry.get("max_alloc_heap")
        frames = telemetry.get("frames_lost")
        firmware = telemetry.get("firmware")
        with self._lock:
            camera = self._camera(device)
            self._dirty = True
            camera.uploads += 1
            camera.last_upload = max(camera.last_upload or 0, received_ms)
            camera.samples.append([
                received_ms,
                1 if late else 0,
                heap if isinstance(heap, int) else None,
                frames if isinstance(frames, int) else None,
            ])
            if isinstance(firmware, str):
                camera.firmware = firmware
            if interval_s is not None:
                camera.interval_s = int(interval_s)
            camera.active_hours = active_hours
            self._heard_locked(device)

    def note_checkin(self, device: str, *, at: float) -> None:
        """Record a check-in without an image (``GET /device/state``): the camera is alive."""
        at_ms = _ms(at)
        with self._lock:
            camera = self._camera(device)
            self._dirty = True
            camera.last_checkin = max(camera.last_checkin or 0, at_ms)
            self._heard_locked(device)

    def _heard_locked(self, device: str) -> None:
        if device in self._silent:
            # Its return is news the owner waits for: write within min_interval, once.
            self._silent.discard(device)
            self._urgent = True

    def note_processed(
        self, device: str, *, at: float, ok: bool, error_code: str | None = None
    ) -> None:
        """Record the thumbnailer's outcome for one capture: a good record or an error record."""
        at_ms = _ms(at)
        with self._lock:
            camera = self._camera(device)
            camera.processed += 1
            if ok:
                camera.last_ok = max(camera.last_ok or 0, at_ms)
            else:
                # The first error record after good ones is urgent; the rest of a streak is not
                # (a broken camera must not turn into a write a minute).
                if camera.last_error is None or (camera.last_ok or 0) > camera.last_error:
                    self._urgent = True
                camera.errors += 1
                camera.last_error = max(camera.last_error or 0, at_ms)
                camera.error_code = error_code
            self._dirty = True

    def note_ota(self, device: str, *, at: float, result: str, version: str | None = None) -> None:
        """Record a firmware update result the camera reported (``ok`` or ``failed:<reason>``)."""
        with self._lock:
            camera = self._camera(device)
            camera.ota = {"at": _ms(at), "result": result[:200], "version": version}
            if not result.startswith("ok"):
                self._urgent = True
            self._dirty = True

    def document(self) -> dict[str, Any]:
        """The summary as written to S3."""
        with self._lock:
            return self._document_locked()

    def _document_locked(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "writer": self.writer,
            "written_at": _ms(self._clock()),
            "cameras": {device: camera.to_json() for device, camera in self._cameras.items()},
        }

    def due(self) -> bool:
        """Whether a write is due now: something changed and enough time has passed."""
        with self._lock:
            return self._due_locked(self._clock())

    def _due_locked(self, now: float) -> bool:
        if not self._dirty:
            return False
        if self._last_write is None:
            return True
        waited = now - self._last_write
        return waited >= self._max_interval or (self._urgent and waited >= self._min_interval)

    def flush(self, client: Any, bucket: str) -> None:
        """Write the summary now (one PUT); errors propagate."""
        with self._lock:
            document = self._document_locked()
            urgent = self._urgent
            self._dirty = False
            self._urgent = False
            # A failed write also counts: S3 trouble must not turn every upload into a retry.
            self._last_write = self._clock()
        try:
            s3.put_json(client, bucket, self.key, document)
        except Exception:
            with self._lock:
                self._dirty = True
                self._urgent = self._urgent or urgent
            raise
        self.writes += 1

    def watch_if_due(self, client: Any, bucket: str) -> None:
        """Re-read the cameras the alerts hold silent, if watching and due (1 GET); never raises."""
        with self._lock:
            now = self._clock()
            if not self._watch_silent or (self._watched_at is not None
                                          and now - self._watched_at < self._watch_interval):
                return
            # A failed read also counts: S3 trouble must not turn every tick into a request.
            self._watched_at = now
        try:
            document = s3.get_json(client, bucket, OPEN_INCIDENTS_KEY)
        except (ClientError, BotoCoreError, ValueError) as exc:
            log.warning("open incidents not read: %s", exc)
            return
        incidents = document.get("incidents") if isinstance(document, dict) else None
        silent = {str(incident.get("device")) for incident in incidents or []
                  if isinstance(incident, dict) and incident.get("kind") == "silent"}
        with self._lock:
            self._silent = silent
            self.watch_reads += 1

    def flush_if_due(self, client: Any, bucket: str) -> bool:
        """Write the summary if due; never raises on S3 trouble (the next due write retries).

        A recorder made with ``watch_silent`` also re-reads the silent cameras when due.
        """
        self.watch_if_due(client, bucket)
        with self._lock:
            if not self._due_locked(self._clock()):
                return False
        try:
            self.flush(client, bucket)
        except (ClientError, BotoCoreError) as exc:
            # The status summary must never cost an upload; the data stays for the next write.
            log.warning("status summary %s not written: %s", self.key, exc)
            return False
        return True


@dataclass(frozen=True)
class Summaries:
    """The summaries under ``status/``: the changed documents, and every writer's ETag and age."""

    changed: dict[str, dict[str, Any]]
    etags: dict[str, str]
    modified_ms: dict[str, int]


def read_changed(client: Any, bucket: str, known_etags: Mapping[str, str]) -> Summaries:
    """List ``status/`` (one request per 1,000 writers) and GET only the summaries that changed."""
    etags: dict[str, str] = {}
    modified: dict[str, int] = {}
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": STATUS_PREFIX}
    while True:
        response = client.list_objects_v2(**params)
        for item in response.get("Contents", []):
            name = item["Key"][len(STATUS_PREFIX):]
            if not name.endswith(".json") or not WRITER_RE.fullmatch(name[: -len(".json")]):
                continue
            writer = name[: -len(".json")]
            etags[writer] = str(item.get("ETag", ""))
            modified[writer] = int(item["LastModified"].timestamp() * 1000)
        if not response.get("IsTruncated"):
            break
        params["ContinuationToken"] = response["NextContinuationToken"]
    changed: dict[str, dict[str, Any]] = {}
    for writer, etag in etags.items():
        if known_etags.get(writer) == etag:
            continue
        try:
            document = s3.get_json(client, bucket, status_key(writer))
        except ValueError:
            log.warning("status summary of %s is not JSON; skipped", writer)
            continue
        if isinstance(document, dict) and isinstance(document.get("cameras"), dict):
            changed[writer] = document
    return Summaries(changed=changed, etags=etags, modified_ms=modified)
