"""Lambda entry point: parse the S3 event batch, run the thumbnailer, report the result.

``handler`` is what AWS Lambda runs (``app.handler``): powertools' ``Logger`` (JSON lines with
the Lambda context) and ``Metrics`` (CloudWatch EMF), configured by the template's
``POWERTOOLS_*`` variables, and settings from ``CAMCLOUD_*`` read on the first invocation and
kept by the container. ``make_handler`` builds the same batch processing for the local stack's
worker (settings and client passed in, plain logs, no metrics on the console).

The import path stays lean for cold starts: Pillow, boto3, camcloud's core and the parts of
powertools the handler uses; never Flask or moto (``tests/test_thumbnailer_lambda.py``). The
event stays a dict rather than powertools' ``S3Event``: importing its ``data_classes`` package
(every event type AWS has) added 13-54 ms of CPU to each cold start
(``bench/lambda_cold_start.py``), and ``camcloud.thumbnailer.iter_changes`` already reads the
batch, decoding keys as S3 encodes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from camcloud.devices import DeviceRegistry
from camcloud.s3 import LazyClient, lazy
from camcloud.settings import Settings
from camcloud.status import StatusRecorder, writer_name
from camcloud.thumbnailer import BatchFailed, BatchResult, Thumbnailer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = logging.getLogger("camcloud.thumbnailer")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
logger = Logger()
metrics = Metrics()


def summarize(result: BatchResult) -> dict[str, Any]:
    """What a batch did, as the handler returns and logs it."""
    return {
        "processed": len(result.processed),
        "errors": dict(result.errors),
        "removed": len(result.removed),
        "skipped": len(result.skipped),
        "failed": len(result.failed),
    }


def add_batch_metrics(result: BatchResult) -> None:
    """Add a batch's figures to ``metrics`` (published when the batch's function returns)."""
    metrics.add_metric(name="CapturesRendered", unit=MetricUnit.Count,
                       value=len(result.processed))
    metrics.add_metric(name="CapturesRemoved", unit=MetricUnit.Count, value=len(result.removed))
    metrics.add_metric(name="BadOriginals", unit=MetricUnit.Count, value=len(result.errors))
    metrics.add_metric(name="CaptureFailures", unit=MetricUnit.Count, value=len(result.failed))
    for duration in result.durations_ms:
        metrics.add_metric(name="CaptureDuration", unit=MetricUnit.Milliseconds,
                           value=round(duration, 2))


def publish_reasons(result: BatchResult) -> None:
    """Bad originals by reason: their own dimension, so one alarm can watch one reason."""
    reasons: dict[str, int] = {}
    for code in result.errors.values():
        reasons[code] = reasons.get(code, 0) + 1
    for code, count in sorted(reasons.items()):
        with single_metric(name="BadOriginals", unit=MetricUnit.Count, value=count,
                           namespace=metrics.namespace,
                           default_dimensions=metrics.default_dimensions) as metric:
            metric.add_dimension(name="reason", value=code)


def build_thumbnailer(settings: Settings | None = None, client: Any = None) -> Thumbnailer:
    """The thumbnailer with its S3 client and device registry (settings from the environment
    when none are given)."""
    resolved = settings or Settings.from_env()
    s3 = LazyClient(resolved, client)
    registry = DeviceRegistry(s3.get, resolved.bucket, cache_seconds=resolved.key_cache_seconds)
    # One last-seen summary per container (or local worker), flushed when due after a batch.
    return Thumbnailer(s3.get, registry, status=StatusRecorder(writer_name("thumbnailer")))


def make_handler(settings: Settings | None = None, client: Any = None) -> Handler:
    """A handler for the local stack's worker; without settings it reads ``CAMCLOUD_*`` once."""
    # Built once per handler: one settings object, one S3 client, one registry cache.
    thumbnailer = lazy(lambda: build_thumbnailer(settings, client))

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Process one S3 event batch."""
        result = thumbnailer().process_event(event)
        log.debug("batch done", extra=summarize(result))
        return summarize(result)

    return handle


def _lambda_thumbnailer() -> Thumbnailer:
    """The container's thumbnailer; camcloud's stdlib loggers write through powertools'."""
    settings = Settings.from_env()
    logger.setLevel(settings.log_level)
    # camcloud's modules log through the stdlib: give their parent the same JSON handler, and
    # keep the records from the runtime's root handler, which would print them twice.
    camcloud_log = logging.getLogger("camcloud")
    camcloud_log.addHandler(logger.registered_handler)
    camcloud_log.setLevel(settings.log_level)
    camcloud_log.propagate = False
    return build_thumbnailer(settings)


_thumbnailer = lazy(_lambda_thumbnailer)


@metrics.log_metrics
def render_batch(event: dict[str, Any], context: LambdaContext) -> BatchResult:
    """Run one batch; its figures are published as one EMF document however it ends."""
    try:
        result = _thumbnailer().process_event(event)
    except BatchFailed as exc:
        add_batch_metrics(exc.result)
        raise
    add_batch_metrics(result)
    return result


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """AWS Lambda's entry point (``app.handler``): one S3 event batch."""
    logger.append_keys(request_id=context.aws_request_id)
    try:
        result = render_batch(event, context)
    except BatchFailed as exc:
        publish_reasons(exc.result)
        raise
    publish_reasons(result)
    # Per-capture lines are logged as they happen; the summary is for debugging.
    log.debug("batch done", extra=summarize(result))
    return summarize(result)
