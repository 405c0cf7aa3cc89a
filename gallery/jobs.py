"""Background work the gallery starts: custom time-lapse ranges and date-range exports (no Flask).

The pages talk to a :class:`JobRunner`: ``submit(kind, params) -> job_id`` and
``status(job_id)``; :func:`default_runner` picks the runners by configuration:

- custom ranges (``timelapse``): :class:`LambdaRunner` when ``CAMCLOUD_TIMELAPSE_FUNCTION`` names
  the time-lapse function (AWS: an asynchronous invocation per range), else
  :class:`LocalRunner` (``camcloud local``, tests on moto: the same job code in a thread of this
  process). Both keep the job in ``jobs/{id}.json`` (camcloud.timelapse.jobs), which
  ``status`` reads;
- exports (``export``): :class:`InProcessJobRunner`, a small bounded thread pool here with the
  progress in a :class:`~camcloud.bounded.BoundedDict`.
"""

from __future__ import annotations

import json
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
from camcloud.s3 import lazy
from camcloud.settings import Settings
from camcloud.timelapse.jobs import (
    LAMBDA_BUDGET_S,
    JobStore,
    RangeJob,
    is_job_id,
    new_job_id,
    observe,
    queued,
    refuse_if_too_long,
    run_range_job,
)

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

    def now(self) -> datetime:
        """The clock's time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.clock(), UTC)


class RangeJobRunner:
    """Runs ``timelapse`` jobs (custom ranges) through ``jobs/{id}.json``: the record is written
    queued here, then kept by whatever runs the job (:func:`run_range_job`); ``status`` reads it
    (1 GET a poll) and :func:`observe` turns a record that stopped changing into a failure."""

    def __init__(self, context: JobContext) -> None:
        self.context = context

    def _store(self) -> JobStore:
        return JobStore(self.context.client(), self.context.bucket)

    def _check(self, job: RangeJob) -> None:
        """Refuse ``job`` before anything is started (nothing by default)."""

    def _start(self, job: RangeJob) -> None:
        raise NotImplementedError

    def submit(self, kind: str, params: Mapping[str, Any]) -> str:
        """Record the range as queued and start it; 400 for another kind or a bad range."""
        if kind != "timelapse":
            raise Refusal(400, "bad_job", f"unknown job kind {kind!r}")
        job = RangeJob.from_payload({**params, "job": new_job_id()})
        self._check(job)
        store = self._store()
        record = queued(job, str(params.get("owner", "")), self.context.now())
        store.put(record)
        try:
            self._start(job)
        except Refusal as refusal:
            store.put(replace(record, state="failed", error=refusal.message,
                              updated_at=self.context.now()))
            raise
        assert job.job_id is not None
        return job.job_id

    def status(self, job_id: str) -> JobStatus | None:
        """The job's status from its record, or None (unknown, or not a job id)."""
        if not is_job_id(job_id):
            return None
        record = self._store().get(job_id)
        if record is None:
            return None
        record = observe(record, self.context.now())
        return JobStatus(record.id, record.kind, record.owner, record.state, record.done,
                         record.total, record.result, record.error, record.params)

    def close(self) -> None:
        """Stop taking jobs (nothing to stop by default)."""


class LambdaRunner(RangeJobRunner):
    """In AWS: each range is an asynchronous invocation (``InvocationType="Event"``) of the
    time-lapse function with :meth:`RangeJob.payload`; a range the builder's estimate says
    cannot finish within one invocation is refused (413) before it is invoked."""

    def __init__(self, context: JobContext, lambda_client: Callable[[], Any],
                 function_name: str, *, budget_s: float = LAMBDA_BUDGET_S) -> None:
        super().__init__(context)
        self._lambda_client = lambda_client
        self.function_name = function_name
        self.budget_s = budget_s

    def _check(self, job: RangeJob) -> None:
        refuse_if_too_long(self.context.client(), self.context.bucket, job,
                           tz=self.context.timezone, budget_s=self.budget_s)

    def _start(self, job: RangeJob) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._lambda_client().invoke(
                FunctionName=self.function_name, InvocationType="Event",
                Payload=json.dumps(job.payload()).encode())
        except (BotoCoreError, ClientError) as exc:
            log.exception("could not invoke %s for job %s", self.function_name, job.job_id)
            raise Refusal(503, "jobs_unavailable", "the time-lapse function could not be "
                          f"started ({type(exc).__name__}); try again soon",
                          {"Retry-After": "30"}) from None


class LocalRunner(RangeJobRunner):
    """Locally (``camcloud local``, tests): the same job code as the Lambda's,
    :func:`run_range_job`, in a small bounded thread pool of this process, without the
    15-minute limit. ``inline=True`` runs each job inside ``submit``."""

    def __init__(self, context: JobContext, *, workers: int = _WORKERS,
                 max_pending: int = _MAX_PENDING, inline: bool = False) -> None:
        super().__init__(context)
        self._inline = inline
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(max_pending + workers)
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        # Made on first use: building the app starts no thread (docs/architecture.md).
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="gallery-range")
            return self._pool

    def _start(self, job: RangeJob) -> None:
        # A slot per job until it ends: more than max_pending waiting is refused, not queued.
        if not self._slots.acquire(blocking=False):
            raise Refusal(429, "busy", "too many background jobs are waiting; try again soon",
                          {"Retry-After": "30"})
        if self._inline:
            self._run(job)
            return
        try:
            self._executor().submit(self._run, job)
        except RuntimeError:  # the pool was shut down: the stack is stopping
            self._slots.release()
            raise Refusal(503, "jobs_unavailable", "the gallery is stopping") from None

    def _run(self, job: RangeJob) -> None:
        try:
            run_range_job(self.context.client(), self.context.bucket, job,
                          tz=self.context.timezone, clock=self.context.now)
        except Refusal:
            pass  # recorded as failed with its message; nothing else to tell
        except Exception:  # recorded too; a failed job must never kill the worker
            log.exception("time-lapse job %s failed", job.job_id)
        finally:
            self._slots.release()

    def close(self) -> None:
        """Stop taking jobs; running ones finish."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)


class JobRouter:
    """One JobRunner for the pages: each kind goes to its runner; ``status`` asks each."""

    def __init__(self, runners: Mapping[str, JobRunner]) -> None:
        self.runners = dict(runners)

    def submit(self, kind: str, params: Mapping[str, Any]) -> str:
        """Start a job of ``kind`` on its runner; 400 for an unknown kind."""
        runner = self.runners.get(kind)
        if runner is None:
            raise Refusal(400, "bad_job", f"unknown job kind {kind!r}")
        return runner.submit(kind, params)

    def status(self, job_id: str) -> JobStatus | None:
        """The job's status from the runner that knows it, or None."""
        # In-memory runners first: they answer without a request.
        for runner in sorted(self.runners.values(), key=lambda r: isinstance(r, RangeJobRunner)):
            job = runner.status(job_id)
            if job is not None:
                return job
        return None

    def close(self) -> None:
        """Close every runner that can be closed."""
        for runner in {id(r): r for r in self.runners.values()}.values():
            close = getattr(runner, "close", None)
            if close is not None:
                close()


def default_runner(settings: Settings, client: Callable[[], Any], clock: Callable[[], float],
                   *, lambda_client: Callable[[], Any] | None = None,
                   inline: bool = False) -> JobRouter:
    """The gallery's jobs: ranges on the time-lapse Lambda when ``CAMCLOUD_TIMELAPSE_FUNCTION``
    names it (template.yaml sets it on the host), else in this process; exports in this
    process. ``inline``: every job runs inside ``submit`` (tests)."""
    context = JobContext(client, settings.bucket, clock, settings.gallery_timezone)
    ranges: RangeJobRunner
    if settings.timelapse_function:
        ranges = LambdaRunner(context, lambda_client or _lambda_client(settings.region),
                              settings.timelapse_function)
    else:
        ranges = LocalRunner(context, inline=inline)
    exports = InProcessJobRunner({"export": export_handler(context)}, inline=inline)
    return JobRouter({"timelapse": ranges, "export": exports})


def _lambda_client(region: str) -> Callable[[], Any]:
    def build() -> Any:
        import boto3

        return boto3.client("lambda", region_name=region)

    return lazy(build)


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
    """The job kinds :class:`InProcessJobRunner` runs for the gallery (ranges have their own
    runners: :func:`default_runner`)."""
    return {"export": export_handler(context)}
