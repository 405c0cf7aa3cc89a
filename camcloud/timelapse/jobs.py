"""Custom time-lapse ranges as jobs: one payload, progress in ``jobs/{id}.json`` (no Flask).

The gallery submits a range; whatever runs it (the time-lapse Lambda in AWS, a thread of the
gallery process locally) parses the same payload with :meth:`RangeJob.from_payload` and calls
:func:`run_range_job`, which writes the job's record as it goes:

``{"action": "range", "job": "<id>", "device": "cam-1", "start": "<RFC 3339>",
"end": "<RFC 3339>", "options": {...}}`` (``job`` may be left out: a range built by hand,
without a record).

The record (``jobs/{id}.json``: state ``queued`` -> ``running`` -> ``done`` | ``failed``, frames
done of total, the result or the reason) is written by the gallery when it submits, then by the
runner at most every :data:`PROGRESS_EVERY_S` while frames are encoded and at least every
:data:`HEARTBEAT_S` whatever the build is doing. A runner that dies without a word (a Lambda
stopped at its 15 minutes, an out-of-memory kill) leaves a record that stops changing:
:func:`observe` reads such a record as failed, with the reason, so the gallery and a late
retry of the invocation agree that it failed.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from camcloud import layout
from camcloud.device_state import read_json_with_etag, write_json_if_match
from camcloud.errors import Refusal
from camcloud.s3 import get_json, put_json
from camcloud.timelapse.builder import Result, build_timelapse, list_captures
from camcloud.timelapse.plan import LAMBDA_LIMIT_S, Options, RangeTooLong, estimate_seconds

log = logging.getLogger("camcloud.timelapse.jobs")

Clock = Callable[[], datetime]

JOBS_PREFIX = "jobs/"
SCHEMA = 1
KIND = "timelapse"
STATES = ("queued", "running", "done", "failed")
# Progress is written at most this often while frames are encoded (a PUT each: a 2-minute
# build costs ~60 PUTs, $0.0003) ...
PROGRESS_EVERY_S = 2.0
# ... and at least this often whatever the build does (listing, reading thousands of records).
HEARTBEAT_S = 20.0
# A running job whose record has not changed for this long has stopped: 4 missed heartbeats.
STALE_AFTER_S = 4 * HEARTBEAT_S
# A queued job that has not started by then never will (asynchronous invocations normally
# start within seconds; a throttled one waits, and the user is not kept waiting with it).
START_WITHIN_S = 10 * 60.0
# Left for the upload, the sidecar and the answer after the estimated encoding time.
LAMBDA_SAFETY_MARGIN_S = 60.0
# What one invocation may spend building: the estimate refuses a range that needs more.
LAMBDA_BUDGET_S = LAMBDA_LIMIT_S - LAMBDA_SAFETY_MARGIN_S
# An interval a range may not exceed whatever the thinning: a typo (a year) is refused early.
MAX_RANGE = timedelta(days=366)
_JOB_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")


def new_job_id() -> str:
    """A fresh, unguessable job id (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


def is_job_id(text: str) -> bool:
    """Whether ``text`` can name a job (and so a key under ``jobs/``)."""
    return bool(_JOB_ID_RE.fullmatch(text))


def job_key(job_id: str) -> str:
    """``jobs/{id}.json``; ValueError for a malformed id."""
    if not is_job_id(job_id):
        raise ValueError(f"invalid job id {job_id[:80]!r}")
    return f"{JOBS_PREFIX}{job_id}.json"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_text(payload: Mapping[str, Any], name: str) -> str:
    """The non-empty string field `name` of an event, or a 400 bad_event Refusal."""
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise Refusal(400, "bad_event", f"{name} is required (a string)")
    return value


def event_moment(payload: Mapping[str, Any], name: str) -> datetime:
    """The RFC 3339 time (with offset) in field `name` of an event, or a 400 bad_event."""
    text = event_text(payload, name)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Refusal(400, "bad_event", f"{name} is not an RFC 3339 time: {text!r}") from None
    if moment.tzinfo is None:
        raise Refusal(400, "bad_event", f"{name} needs a time zone offset: {text!r}")
    return moment


@dataclass(frozen=True)
class RangeJob:
    """One custom range to build: the payload the runners carry, parsed."""

    job_id: str | None
    device: str
    start: datetime
    end: datetime
    options: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The one payload shape (the Lambda's event, the local runner's argument)."""
        payload: dict[str, Any] = {"action": "range", "device": self.device,
                                   "start": _iso(self.start), "end": _iso(self.end),
                                   "options": dict(self.options)}
        if self.job_id is not None:
            payload["job"] = self.job_id
        return payload

    @classmethod
    def from_payload(cls, payload: Any) -> RangeJob:
        """The job a payload asks for; Refusal(400) naming what is wrong."""
        if not isinstance(payload, Mapping):
            raise Refusal(400, "bad_event", "the event must be a JSON object")
        job_id = payload.get("job")
        if job_id is not None and not (isinstance(job_id, str) and is_job_id(job_id)):
            raise Refusal(400, "bad_event", "job must be 8-64 letters, digits, - or _")
        device = event_text(payload, "device")
        if not layout.DEVICE_ID_RE.fullmatch(device):
            raise Refusal(400, "bad_device", f"invalid device id {device[:80]!r}")
        start, end = event_moment(payload, "start"), event_moment(payload, "end")
        if end <= start:
            raise Refusal(400, "bad_range", "end must be after start")
        if end - start > MAX_RANGE:
            raise Refusal(400, "bad_range", f"a range may span at most {MAX_RANGE.days} days")
        options = payload.get("options") or {}
        if not isinstance(options, Mapping):
            raise Refusal(400, "bad_event", "options must be a JSON object")
        return cls(job_id, device, start, end, dict(options))


@dataclass(frozen=True)
class JobRecord:
    """What ``jobs/{id}.json`` says about one job."""

    id: str
    owner: str
    state: str
    created_at: datetime
    updated_at: datetime
    done: int = 0
    total: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = KIND

    @property
    def finished(self) -> bool:
        """Whether the job will change no more."""
        return self.state in ("done", "failed")

    def document(self) -> dict[str, Any]:
        """The JSON document stored at the job's key."""
        return {"schema": SCHEMA, "id": self.id, "kind": self.kind, "owner": self.owner,
                "state": self.state, "done": self.done, "total": self.total,
                "result": self.result, "error": self.error, "params": self.params,
                "created_at": _iso(self.created_at), "updated_at": _iso(self.updated_at)}

    @classmethod
    def from_document(cls, document: Any) -> JobRecord | None:
        """The record a stored document holds; None if it is not one."""
        if not isinstance(document, Mapping) or document.get("state") not in STATES:
            return None
        try:
            created = datetime.fromisoformat(str(document["created_at"]).replace("Z", "+00:00"))
            updated = datetime.fromisoformat(str(document["updated_at"]).replace("Z", "+00:00"))
            result, params = document.get("result"), document.get("params") or {}
            return cls(
                id=str(document["id"]), kind=str(document.get("kind") or KIND),
                owner=str(document.get("owner") or ""), state=str(document["state"]),
                created_at=created, updated_at=updated, done=int(document.get("done") or 0),
                total=int(document.get("total") or 0),
                result=dict(result) if isinstance(result, Mapping) else None,
                error=None if document.get("error") is None else str(document["error"]),
                params=dict(params) if isinstance(params, Mapping) else {})
        except (KeyError, TypeError, ValueError):
            return None


def queued(job: RangeJob, owner: str, now: datetime) -> JobRecord:
    """The record the gallery writes when it submits ``job``."""
    assert job.job_id is not None
    payload = job.payload()
    params = {name: payload[name] for name in ("device", "start", "end", "options")}
    return JobRecord(id=job.job_id, owner=owner, state="queued", created_at=now,
                     updated_at=now, params=params)


def observe(record: JobRecord, now: datetime) -> JobRecord:
    """The record as it really is at ``now``: a job that stopped writing has failed."""
    quiet = (now - record.updated_at).total_seconds()
    if record.state == "running" and quiet > STALE_AFTER_S:
        return replace(record, state="failed", error=(
            f"the time-lapse build stopped without finishing (no progress for {quiet:.0f} s): "
            f"it was stopped at the {LAMBDA_LIMIT_S // 60}-minute AWS Lambda limit or crashed; "
            "choose a shorter range, or run `camcloud timelapse build`, which has no time "
            "limit"))
    if record.state == "queued" and quiet > START_WITHIN_S:
        return replace(record, state="failed", error=(
            f"the time-lapse build did not start within {START_WITHIN_S / 60:.0f} minutes "
            "(the function is busy or failing to start); try again later"))
    return record


class JobStore:
    """The job records under ``jobs/`` of one bucket."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def get(self, job_id: str) -> JobRecord | None:
        """The job's record, or None (unknown id, malformed id or record)."""
        if not is_job_id(job_id):
            return None
        return JobRecord.from_document(get_json(self.client, self.bucket, job_key(job_id)))

    def get_with_etag(self, job_id: str) -> tuple[JobRecord | None, str | None]:
        """The job's record (None if unknown or malformed) and the stored object's ETag
        (None if there is no object)."""
        document, etag = read_json_with_etag(self.client, self.bucket, job_key(job_id))
        return JobRecord.from_document(document), etag

    def put(self, record: JobRecord) -> None:
        """Write the job's record (one PUT)."""
        put_json(self.client, self.bucket, job_key(record.id), record.document())

    def put_if_unchanged(self, record: JobRecord, etag: str | None) -> bool:
        """Write the job's record only if the stored one still has ``etag`` (``If-Match``),
        or, with no ``etag``, only if there is none yet (``If-None-Match: *``); False if
        another writer came first."""
        key = job_key(record.id)
        if etag is None:
            return put_json(self.client, self.bucket, key, record.document(), if_absent=True)
        return write_json_if_match(self.client, self.bucket, key, record.document(), etag)


class ProgressWriter:
    """Keeps a running job's record current: throttled progress, heartbeats, the outcome."""

    def __init__(self, store: JobStore, record: JobRecord, clock: Clock, *,
                 every_s: float = PROGRESS_EVERY_S) -> None:
        self._store = store
        self._record = record
        self._clock = clock
        self._every_s = every_s
        self._written = record.updated_at
        self._lock = threading.Lock()

    @property
    def record(self) -> JobRecord:
        """The record as last changed (written or not)."""
        return self._record

    def _write(self, now: datetime, **changes: Any) -> None:
        self._record = replace(self._record, updated_at=now, **changes)
        self._store.put(self._record)
        self._written = now

    def progress(self, done: int, total: int) -> None:
        """The builder's progress callback: frames done of total, written now and then."""
        with self._lock:
            now = self._clock()
            if (now - self._written).total_seconds() >= self._every_s or done == total:
                self._write(now, done=done, total=total)
            else:
                self._record = replace(self._record, done=done, total=total)

    def claim(self, etag: str | None) -> bool:
        """Mark the job ``running`` if its record is still the one read (``etag``): of two
        copies of one invocation, only the one whose write lands first may build."""
        with self._lock:
            now = self._clock()
            record = replace(self._record, state="running", updated_at=now)
            if not self._store.put_if_unchanged(record, etag):
                return False
            self._record, self._written = record, now
            return True

    def beat(self) -> None:
        """Write the record again (with what progress there is): the job is alive."""
        with self._lock:
            self._write(self._clock())

    def finish(self, **changes: Any) -> JobRecord:
        """Write the outcome (state, result or error); returns the final record."""
        with self._lock:
            self._write(self._clock(), **changes)
            return self._record


@contextmanager
def heartbeat(writer: ProgressWriter, every_s: float) -> Iterator[None]:
    """Beat ``writer`` every ``every_s`` seconds in a thread while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                writer.beat()
            except Exception:  # a missed beat is not worth stopping the build for
                log.warning("time-lapse job heartbeat failed", exc_info=True)

    thread = threading.Thread(target=loop, name="timelapse-job-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def refuse_if_too_long(client: Any, bucket: str, job: RangeJob, *, tz: str,
                       budget_s: float = LAMBDA_BUDGET_S) -> None:
    """RangeTooLong (413, naming the Lambda limit) if the builder's estimate for ``job``
    exceeds ``budget_s``: the same estimate the builder makes, before anything is started.

    Costs one LIST per 1,000 captures of the range."""
    options = Options.from_mapping(job.options, tz=tz)
    captures = len(list_captures(client, bucket, job.device, job.start, job.end))
    frames = captures if options.max_frames is None else min(captures, options.max_frames)
    needed = estimate_seconds(frames, records=captures)
    if needed > budget_s:
        raise RangeTooLong(captures, frames, needed, budget_s)


class JobNotQueued(Refusal):
    """The job has started, finished or failed already: a redelivery is not run again."""

    def __init__(self, record: JobRecord) -> None:
        super().__init__(409, "job_not_queued",
                         f"job {record.id} is {record.state}; it is not run again")


def run_range_job(client: Any, bucket: str, job: RangeJob, *, tz: str, clock: Clock,
                  time_budget_s: float | None = None, heartbeat_s: float = HEARTBEAT_S,
                  progress_every_s: float = PROGRESS_EVERY_S) -> Result:
    """Build ``job``'s range, keeping ``jobs/{id}.json`` current; the build's result.

    A refusal (bad options, no usable frames, too long for ``time_budget_s``) or any other
    failure is recorded as ``failed`` with its message, then raised. A job that is not queued
    (a redelivered or late invocation), or that another copy of the invocation claimed first
    (the move to ``running`` is a conditional write on the record's ETag), raises
    :class:`JobNotQueued` and builds nothing.
    """
    if job.job_id is None:
        return build_timelapse(client, bucket, job.device, job.start, job.end,
                               Options.from_mapping(job.options, tz=tz), clock=clock,
                               time_budget_s=time_budget_s)
    store = JobStore(client, bucket)
    now = clock()
    stored, etag = store.get_with_etag(job.job_id)
    if stored is None:
        # Invoked by hand with a job id the gallery did not make: keep a record all the same.
        stored = queued(job, "", now)
    current = observe(stored, now)
    if current.state != "queued":
        if current != stored:
            store.put(current)
        raise JobNotQueued(current)
    writer = ProgressWriter(store, current, clock, every_s=progress_every_s)
    # Lambda may deliver one asynchronous invocation twice, at once: both read `queued`, and
    # only the conditional write of `running` tells them apart.
    if not writer.claim(etag):
        raise JobNotQueued(store.get(job.job_id) or replace(current, state="running"))
    try:
        with heartbeat(writer, heartbeat_s):
            result = build_timelapse(
                client, bucket, job.device, job.start, job.end,
                Options.from_mapping(job.options, tz=tz), clock=clock,
                progress=writer.progress, time_budget_s=time_budget_s)
    except Refusal as refusal:
        writer.finish(state="failed", error=refusal.message)
        raise
    except Exception as exc:
        writer.finish(state="failed", error=f"{type(exc).__name__}: {exc}"[:300])
        raise
    writer.finish(state="done", done=result.frames_used,
                  total=max(writer.record.total, result.frames_used),
                  result={"key": result.key, "frames": result.frames_used,
                          "skipped": result.skipped})
    return result
