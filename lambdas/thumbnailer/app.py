"""Lambda entry point: parse the S3 event batch, run the thumbnailer, report the result.

The same ``make_handler`` serves AWS Lambda (``handler`` below: settings from ``CAMCLOUD_*``,
JSON logs and CloudWatch EMF metrics through aws-lambda-powertools, all set up on the first
invocation and reused by the container) and the local stack's worker (settings and client
passed in, plain logs, no metrics on the console).

The import path stays lean for cold starts: Pillow, boto3 and camcloud's core; never Flask or
moto (``tests/test_thumbnailer_lambda.py`` checks it).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any

from camcloud.devices import DeviceRegistry
from camcloud.s3 import LazyClient, lazy
from camcloud.settings import Settings
from camcloud.thumbnailer import BatchFailed, BatchResult, Thumbnailer

log = logging.getLogger("camcloud.thumbnailer")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
SERVICE = "camcloud-thumbnailer"
NAMESPACE = "camcloud"


def summarize(result: BatchResult) -> dict[str, Any]:
    """What a batch did, as the handler returns and logs it."""
    return {
        "processed": len(result.processed),
        "errors": dict(result.errors),
        "removed": len(result.removed),
        "skipped": len(result.skipped),
        "failed": len(result.failed),
    }


def publish_metrics(metrics: Any, result: BatchResult) -> None:
    """Add a batch's figures to a powertools ``Metrics`` and flush them (one EMF line each)."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    metrics.add_metric(name="CapturesRendered", unit=MetricUnit.Count,
                       value=len(result.processed))
    metrics.add_metric(name="CapturesRemoved", unit=MetricUnit.Count, value=len(result.removed))
    metrics.add_metric(name="BadOriginals", unit=MetricUnit.Count, value=len(result.errors))
    metrics.add_metric(name="CaptureFailures", unit=MetricUnit.Count, value=len(result.failed))
    for duration in result.durations_ms:
        metrics.add_metric(name="CaptureDuration", unit=MetricUnit.Milliseconds,
                           value=round(duration, 2))
    metrics.flush_metrics()
    reasons: dict[str, int] = {}
    for code in result.errors.values():
        reasons[code] = reasons.get(code, 0) + 1
    for code, count in sorted(reasons.items()):
        # Bad originals by reason: its own dimension, so one alarm can watch one reason.
        with single_metric(name="BadOriginals", unit=MetricUnit.Count, value=count,
                           namespace=metrics.namespace,
                           default_dimensions=metrics.default_dimensions) as metric:
            metric.add_dimension(name="reason", value=code)


def make_handler(
    settings: Settings | None = None, client: Any = None, *, metrics: Any = None
) -> Handler:
    """Build a handler; without settings it reads ``CAMCLOUD_*`` on its first call.

    ``metrics`` is a powertools ``Metrics`` to publish to after every batch (Lambda only).
    """

    def build() -> Thumbnailer:
        resolved = settings or Settings.from_env()
        s3 = LazyClient(resolved, client)
        registry = DeviceRegistry(s3.get, resolved.bucket, cache_seconds=resolved.key_cache_seconds)
        return Thumbnailer(s3.get, registry)

    # Built once per container: one settings object, one S3 client, one registry cache.
    thumbnailer = lazy(build)

    def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Process one S3 event batch."""
        result: BatchResult | None = None
        try:
            result = thumbnailer().process_event(event)
        except BatchFailed as exc:
            result = exc.result
            raise
        finally:
            if result is not None:
                # Per-capture lines are logged as they happen; the summary is for debugging.
                log.debug("batch done", extra=summarize(result))
                if metrics is not None:
                    publish_metrics(metrics, result)
        return summarize(result)

    return handler


@functools.cache
def lambda_handler() -> Handler:
    """The handler as AWS Lambda runs it: JSON logs and EMF metrics (powertools)."""
    from aws_lambda_powertools import Logger, Metrics

    settings = Settings.from_env()
    logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE),
                    level=settings.log_level)
    # camcloud's modules log through the stdlib: give their parent the same JSON handler, and
    # keep the records from the runtime's root handler, which would print them twice.
    camcloud_log = logging.getLogger("camcloud")
    camcloud_log.addHandler(logger.registered_handler)
    camcloud_log.setLevel(settings.log_level)
    camcloud_log.propagate = False
    metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE),
                      service=logger.service)
    inner = make_handler(settings, metrics=metrics)

    def with_context(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        request_id = getattr(context, "aws_request_id", None)
        if request_id:
            logger.append_keys(request_id=request_id)
        return inner(event, context)

    return with_context


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """AWS Lambda's entry point (``app.handler``)."""
    return lambda_handler()(event, context)
