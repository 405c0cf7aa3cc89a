"""Background work the gallery starts: custom time-lapse ranges and date-range exports (no Flask).

The pages talk to a :class:`JobRunner`: ``submit(kind, params) -> job_id`` and
``status(job_id)``. The gallery's default, :class:`InProcessJobRunner`, runs the jobs in a small
bounded thread pool inside the gallery process and keeps their progress in a
:class:`~camcloud.bounded.BoundedDict`; in AWS the same interface can invoke the time-lapse
Lambda asynchronously and read the progress the function writes (docs/timelapse.md).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from camcloud import export
from camcloud.bounded import BoundedDict
from camcloud.errors import Refusal
from camcloud.timelapse import Options, build_timelapse

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Handler = Callable[[Mapping[str, Any], Progress], dict[str, Any]]

EXPORTS_PREFIX = "exports/"
# Jobs remembered for the status endpoint; older ones are forgotten (their output stays in S3).
_REMEMBERED = 1000
# Encoding takes a whole core: two at once is all a small gallery host should give away.
_WORKERS = 2
# Jobs waiting for a worker; more are refused (429) rather than queued without bound.
_MAX_PENDING = 8


@dataclass(frozen=True)
class JobStatus:
    """Where one job is: queued, running, done or failed; progress as (done, total)."""

    id: str
    kind: str
    owner: str
    state: str
    done: int = 0
    total: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None
    params: Mapping[str, Any] | None = None

    @property
    def finished(self) -> bool:
        """Whether the job will change no more."""
        return self.state in ("done", "failed")

    @property
    def percent(self) -> int:
        """Progress in whole percent (0 until the total is known)."""
        return int(100 * self.done / self.total) if self.total else 0


class JobRunner(Protocol):
    """Runs the gallery's background jobs and tells where they are."""

    def submit(self, kind: str, params: Mapping[str, Any]) -> str:
        """Start a job of ``kind`` (``params`` include ``owner``); return its id."""

    def status(self, job_id: str) -> JobStatus | None:
        """The job's status, or None if it is unknown (or forgotten)."""


class InProcessJobRunner:
    """A bounded thread pool calling the services directly; progress in a BoundedDict.

    ``inline=True`` runs each job inside ``submit`` (tests: no thread, no waiting).
    """

    def __init__(self, handlers: Mapping[str, Handler], *, workers: int = _WORKERS,
                 max_pending: int = _MAX_PENDING, inline: bool = False) -> None:
        self._handlers = dict(handlers)
        self._jobs: BoundedDict[str, JobStatus] = BoundedDict(_REMEMBERED)
        self._inline = inline
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(max_pending + workers)
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        # Made on first use: building the app starts no thread (docs/architecture.md).
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="gallery-job")
            return self._pool

    def submit(self, kind: str, params: Mapping[str, Any]) -> str:
        """Queue a job; 400 for an unknown kind, 429 when too many are waiting."""
        handler = self._handlers.get(kind)
        if handler is None:
            raise Refusal(400, "bad_job", f"unknown job kind {kind!r}")
        if not self._slots.acquire(blocking=False):
            raise Refusal(429, "busy", "too many background jobs are waiting; try again soon",
                          {"Retry-After": "30"})
        job_id = secrets.token_urlsafe(12)
        self._jobs.put(job_id, JobStatus(job_id, kind, str(params.get("owner", "")), "queued",
                                         params=dict(params)))
        if self._inline:
            self._run(job_id, handler, params)
        else:
            self._executor().submit(self._run, job_id, handler, params)
        return job_id

    def _update(self, job_id: str, **changes: Any) -> None:
        job = self._jobs.get(job_id)
        if job is not None:
            self._jobs.put(job_id, replace(job, **changes))

    def _run(self, job_id: str, handler: Handler, params: Mapping[str, Any]) -> None:
        try:
            self._update(job_id, state="running")
            result = handler(params, lambda done, total: self._update(job_id, done=done,
                                                                      total=total))
            self._update(job_id, state="done", result=result)
        except Refusal as refusal:
            self._update(job_id, state="failed", error=refusal.message)
        except Exception as exc:  # a failed job must be reported, never kill the worker
            log.exception("background job %s (%s) failed", job_id, handler)
            self._update(job_id, state="failed", error=f"{type(exc).__name__}: {exc}"[:300])
        finally:
            self._slots.release()

    def status(self, job_id: str) -> JobStatus | None:
        """The job's status, or None."""
        return self._jobs.get(job_id)

    def close(self) -> None:
        """Stop taking jobs; running ones finish."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)


@dataclass(frozen=True)
class JobContext:
    """What the job handlers need: the S3 client (made lazily), bucket, clock, time zone."""

    client: Callable[[], Any]
    bucket: str
    clock: Callable[[], float]
    timezone: str


def timelapse_handler(context: JobContext) -> Handler:
    """``timelapse``: build one camera's range (``device``, ISO ``start``/``end``, ``options``)."""

    def run(params: Mapping[str, Any], progress: Progress) -> dict[str, Any]:
        options = Options.from_mapping(dict(params.get("options") or {}), tz=context.timezone)
        start = datetime.fromisoformat(str(params["start"]))
        end = datetime.fromisoformat(str(params["end"]))
        result = build_timelapse(
            context.client(), context.bucket, str(params["device"]), start, end, options,
            clock=lambda: datetime.fromtimestamp(context.clock(), UTC), progress=progress)
        return {"key": result.key, "frames": result.frames_used}

    return run


def export_key(device: str, since_ms: int, until_ms: int, timezone: str, nonce: str) -> str:
    """``exports/{device}/{nonce}/{device}_{first}_{last}.zip``: one key per job, never reused
    (the random part also keeps one user's export from being guessed by another)."""
    name = export.export_file_name(device, since_ms, until_ms, timezone)
    return f"{EXPORTS_PREFIX}{device}/{nonce}/{name}"


def export_handler(context: JobContext) -> Handler:
    """``export``: stream a camera's range as a ZIP into ``exports/`` (a multipart upload)."""

    def run(params: Mapping[str, Any], progress: Progress) -> dict[str, Any]:
        device = str(params["device"])
        since_ms, until_ms = int(params["since_ms"]), int(params["until_ms"])
        key = export_key(device, since_ms, until_ms, context.timezone, secrets.token_hex(8))
        client = context.client()
        started = time.monotonic()
        size = export.upload_stream(client, context.bucket, key, export.export_zip(
            client, context.bucket, device, since_ms, until_ms, timezone=context.timezone))
        progress(1, 1)
        return {"key": key, "bytes": size, "seconds": round(time.monotonic() - started, 1)}

    return run


def default_handlers(context: JobContext) -> dict[str, Handler]:
    """The job kinds the gallery starts."""
    return {"timelapse": timelapse_handler(context), "export": export_handler(context)}
