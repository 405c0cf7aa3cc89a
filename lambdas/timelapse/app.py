"""Lambda entry point of the time-lapse builder: parse the job, run the service, shape the answer.

Three event shapes (samples in ``events/timelapse-*.json``):

- ``{"action": "schedule", "time": "<aws.scheduler.scheduled-time>"}`` from the daily
  EventBridge Scheduler schedule: finds the cameras that captured anything the day before (in
  the gallery's time zone) and invokes this function once per camera, asynchronously, so that
  no camera's day shares an invocation's 15 minutes with another's;
- ``{"action": "daily", "device": "cam-1", "date": "YYYY-MM-DD"}``: one camera's day;
- ``{"action": "range", "job": "<id>", "device": "cam-1", "start": "...", "end": "...",
  "options": {...}}``: a custom range (RFC 3339 times), the payload the gallery's LambdaRunner
  sends (``camcloud.timelapse.jobs.RangeJob``); with ``job``, its progress and outcome are
  written to ``jobs/{id}.json`` for the gallery to follow.

A refused job (bad input, no usable frames, too long for one invocation) answers its reason and
is not retried. Any other failure of a range job with a ``job`` is recorded in its record and
answered (the user watching the gallery sees it; a retry would find the job failed and do
nothing); any other failure of anything else raises, so Lambda retries it and then
dead-letters it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from camcloud import layout
from camcloud.errors import Refusal
from camcloud.s3 import lazy, make_client
from camcloud.settings import Settings
from camcloud.timelapse import Options, build_daily, daily_jobs
from camcloud.timelapse.jobs import (
    LAMBDA_SAFETY_MARGIN_S,
    RangeJob,
    event_moment,
    event_text,
    run_range_job,
)
from camcloud.timelapse.plan import zone

SERVICE = "camcloud-timelapse"
NAMESPACE = "camcloud"

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))
# The service dimension is what template.yaml's TimelapseJobsFailedAlarm watches: set here, not
# only through the environment, so the metric keeps it wherever the handler runs.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE),
                  service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))

Invoke = Callable[[dict[str, Any]], None]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Job:
    """One parsed event: what to build."""

    action: str
    device: str | None = None
    day: date | None = None
    range_job: RangeJob | None = None
    scheduled: datetime | None = None
    options: dict[str, Any] = field(default_factory=dict)


def parse_job(event: Any) -> Job:
    """The job an event asks for; Refusal(400) naming what is wrong."""
    if not isinstance(event, Mapping):
        raise Refusal(400, "bad_event", "the event must be a JSON object")
    action = event.get("action")
    options = event.get("options") or {}
    if not isinstance(options, Mapping):
        raise Refusal(400, "bad_event", "options must be a JSON object")
    if action == "schedule":
        scheduled = event_moment(event, "time") if event.get("time") else None
        return Job("schedule", scheduled=scheduled)
    if action not in ("daily", "range"):
        raise Refusal(400, "bad_event",
                      f"action must be schedule, daily or range, not {action!r}")
    device = event_text(event, "device")
    if not layout.DEVICE_ID_RE.fullmatch(device):
        raise Refusal(400, "bad_device", f"invalid device id {device!r}")
    if action == "daily":
        try:
            day = date.fromisoformat(event_text(event, "date"))
        except ValueError:
            raise Refusal(400, "bad_event", "date must be YYYY-MM-DD") from None
        return Job("daily", device=device, day=day, options=dict(options))
    range_job = RangeJob.from_payload(event)
    return Job("range", device=range_job.device, range_job=range_job,
               options=range_job.options)


def run_job(job: Job, *, client: Any, settings: Settings, clock: Clock, invoke: Invoke,
            time_budget_s: float | None) -> dict[str, Any]:
    """Run one job against the bucket; the answer the handler returns."""
    tz = settings.gallery_timezone
    if job.action == "schedule":
        moment = (job.scheduled or clock()).astimezone(zone(tz))
        day = moment.date() - timedelta(days=1)
        devices = daily_jobs(client, settings.bucket, day, tz)
        for device in devices:
            invoke({"action": "daily", "device": device, "date": day.isoformat()})
        metrics.add_metric(name="TimelapseJobsQueued", unit=MetricUnit.Count, value=len(devices))
        return {"status": 202, "date": day.isoformat(), "devices": devices}
    options = Options.from_mapping(job.options, tz=tz)
    assert job.device is not None
    if job.action == "daily":
        assert job.day is not None
        result = build_daily(client, settings.bucket, job.device, job.day, options, clock=clock,
                             time_budget_s=time_budget_s)
    else:
        assert job.range_job is not None
        result = run_range_job(client, settings.bucket, job.range_job, tz=tz, clock=clock,
                               time_budget_s=time_budget_s)
    metrics.add_metric(name="TimelapsesBuilt", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="TimelapseFrames", unit=MetricUnit.Count, value=result.frames_used)
    answer = {"status": 201, "key": result.key, "sidecar": result.sidecar_key,
              "frames_used": result.frames_used, "skipped": result.skipped}
    if job.range_job is not None and job.range_job.job_id is not None:
        answer["job"] = job.range_job.job_id
    return answer


def handle(event: Any, *, client: Any, settings: Settings, clock: Clock, invoke: Invoke,
           time_budget_s: float | None = None) -> dict[str, Any]:
    """Parse, run, shape: a refusal is an answer (no retry), and so is a failed range job
    (recorded in its ``jobs/`` record); anything else raises."""
    job: Job | None = None
    try:
        job = parse_job(event)
        return run_job(job, client=client, settings=settings, clock=clock, invoke=invoke,
                       time_budget_s=time_budget_s)
    except Refusal as refusal:
        metrics.add_metric(name="TimelapsesRefused", unit=MetricUnit.Count, value=1)
        logger.info("time-lapse refused", extra={"code": refusal.code,
                                                  "reason": refusal.message})
        return {"status": refusal.status, **refusal.body()}
    except Exception as exc:
        if job is None or job.range_job is None or job.range_job.job_id is None:
            raise
        # The record says failed, with the reason; a retry would only find it so.
        metrics.add_metric(name="TimelapseJobsFailed", unit=MetricUnit.Count, value=1)
        logger.exception("time-lapse job failed", extra={"job": job.range_job.job_id})
        return {"status": 500, "error": "job_failed",
                "message": f"{type(exc).__name__}: {exc}"[:300], "job": job.range_job.job_id}


@dataclass(frozen=True)
class _Container:
    settings: Settings
    client: Any
    lambda_client: Any


def _build() -> _Container:
    import boto3

    settings = Settings.from_env()
    # camcloud's modules log through the stdlib: give them powertools' JSON handler (with the
    # request id), and keep them from the runtime's root handler, which would print them twice.
    camcloud_log = logging.getLogger("camcloud")
    camcloud_log.addHandler(logger.registered_handler)
    camcloud_log.setLevel(settings.log_level)
    camcloud_log.propagate = False
    return _Container(settings, make_client(settings),
                      boto3.client("lambda", region_name=settings.region))


# Built on the first invocation and reused by the container: settings, S3 and Lambda clients.
_container = lazy(_build)


def _now() -> datetime:
    return datetime.now(UTC)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """AWS Lambda's entry point (``app.handler``)."""
    state = _container()

    def invoke(job: dict[str, Any]) -> None:
        # Asynchronous: each camera's day is its own invocation with its own retries.
        state.lambda_client.invoke(FunctionName=context.invoked_function_arn,
                                   InvocationType="Event", Payload=json.dumps(job).encode())

    budget = context.get_remaining_time_in_millis() / 1000 - LAMBDA_SAFETY_MARGIN_S
    return handle(event, client=state.client, settings=state.settings, clock=_now,
                  invoke=invoke, time_budget_s=budget)
