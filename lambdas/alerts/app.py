"""Lambda entry point of the alert check: one pass of ``camcloud.alerts.check`` per schedule.

EventBridge Scheduler invokes it every few minutes (``AlertCheckMinutes``). It reads the target
key from the SSM SecureString parameter named by ``CAMCLOUD_ALERTS_KEY_PARAMETER``, delivers to
the stored Apprise targets and to the stack's SNS topic (``CAMCLOUD_ALERTS_TOPIC_ARN``), feeds
the thumbnailer dead-letter queue's depth (``CAMCLOUD_ALERTS_DLQ_URL``) to the check, and
publishes ``FirmwareRolloutHalted`` (1 while the current firmware rollout is halted), which the
template's alarm watches: the ingest's ``HALTED`` log line stays on its host's journal.

The event carries nothing the check needs; the pass is the same whatever invoked it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from camcloud import alerts, firmware_release, notify
from camcloud.s3 import lazy, make_client
from camcloud.settings import Settings

SERVICE = "camcloud-alerts"
NAMESPACE = "camcloud"

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))
# The service dimension is what the template's FirmwareRolloutHaltedAlarm names.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE),
                  service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))
log = logging.getLogger("camcloud.alerts.lambda")


class ConfigError(ValueError):
    """A required environment variable of the function is missing."""


@dataclass(frozen=True)
class AlertsConfig:
    """What the function needs beyond camcloud's settings: where to send and what to watch."""

    key_parameter: str | None
    topic_arn: str | None
    dlq_url: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str], settings: Settings) -> AlertsConfig:
        """Read the function's variables; the key parameter is required (it names the key)."""
        parameter = settings.alerts_key_parameter
        if not parameter and not settings.alerts_key:
            raise ConfigError("CAMCLOUD_ALERTS_KEY_PARAMETER is not set: it names the SSM "
                              "SecureString parameter holding the alert targets' key")
        return cls(key_parameter=parameter,
                   topic_arn=environ.get("CAMCLOUD_ALERTS_TOPIC_ARN") or None,
                   dlq_url=environ.get("CAMCLOUD_ALERTS_DLQ_URL") or None)


def dlq_depth(sqs: Any, queue_url: str | None) -> int | None:
    """Messages waiting in the dead-letter queue; None when unknown (the incident stays as is)."""
    if sqs is None or not queue_url:
        return None
    try:
        response = sqs.get_queue_attributes(QueueUrl=queue_url,
                                            AttributeNames=["ApproximateNumberOfMessages"])
        return int(response["Attributes"]["ApproximateNumberOfMessages"])
    except (ClientError, BotoCoreError, KeyError, ValueError) as exc:
        log.warning("dead-letter queue depth unknown: %s", exc)
        return None


def rollout_halted(client: Any, bucket: str) -> str | None:
    """The current firmware rollout's version when it is halted, else None."""
    release = firmware_release.load_release(client, bucket)
    if release is None or not release.rollout.halted:
        return None
    return release.version


@dataclass(frozen=True)
class Clients:
    """The AWS clients one pass uses (moto's in tests, boto3's in Lambda)."""

    s3: Any
    ssm: Any
    sqs: Any
    sns: Any


def run_check(clients: Clients, settings: Settings, config: AlertsConfig, *,
              now: Callable[[], float] = time.time) -> dict[str, Any]:
    """One alert pass against the bucket; the figures the handler returns and logs."""
    key: str | None = settings.alerts_key
    if config.key_parameter:
        key = notify.key_from_ssm(clients.ssm, config.key_parameter)
    store = notify.TargetStore(clients.s3, settings.bucket, key, clock=now)
    notifier = notify.Notifier(store.urls, sns=clients.sns, sns_topic=config.topic_arn)
    targets = store.rules()
    if config.topic_arn:
        targets.append(alerts.TargetRule(notify.SNS_TARGET))
    result = alerts.check(clients.s3, settings.bucket, now=now(), targets=targets,
                          deliver=notifier.deliver,
                          dlq_depth=dlq_depth(clients.sqs, config.dlq_url))
    halted = rollout_halted(clients.s3, settings.bucket)
    # One metric only ($0.30 a month each): the counts are in the summary line of the log.
    metrics.add_metric(name="FirmwareRolloutHalted", unit=MetricUnit.Count,
                       value=1 if halted else 0)
    summary = result.summary()
    logger.info(summary, extra={"open": len(result.open_incidents), "halted": halted})
    return {"summary": summary, "opened": len(result.opened), "closed": len(result.closed),
            "open": len(result.open_incidents), "delivered": result.delivered,
            "failures": [list(failure) for failure in result.failures],
            "rollout_halted": halted, "raced": result.raced}


@dataclass(frozen=True)
class _Container:
    settings: Settings
    config: AlertsConfig
    clients: Clients


def _build() -> _Container:
    import boto3

    settings = Settings.from_env()
    config = AlertsConfig.from_env(os.environ, settings)
    # camcloud's modules log through the stdlib: give them powertools' JSON handler, and keep
    # them from the runtime's root handler, which would print them twice.
    camcloud_log = logging.getLogger("camcloud")
    camcloud_log.addHandler(logger.registered_handler)
    camcloud_log.setLevel(settings.log_level)
    camcloud_log.propagate = False
    region = settings.region
    clients = Clients(s3=make_client(settings), ssm=boto3.client("ssm", region_name=region),
                      sqs=boto3.client("sqs", region_name=region),
                      sns=boto3.client("sns", region_name=region))
    return _Container(settings, config, clients)


# Built on the first invocation and reused by the container: settings and clients.
_container = lazy(_build)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """AWS Lambda's entry point (``app.handler``): one check pass."""
    state = _container()
    return run_check(state.clients, state.settings, state.config)
