"""The scheduled alert check's Lambda handler against moto: S3, SSM, SQS and SNS all real
(moto's), the key from an SSM SecureString, messages on the stack's SNS topic once per incident,
the dead-letter queue's depth, and the halted-rollout metric the template's alarm watches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from camcloud import notify
from camcloud.firmware_release import Rollout
from camcloud.s3 import put_json
from camcloud.settings import Settings
from camcloud.status import StatusRecorder
from tests.conftest import BUCKET
from tests.test_alerts import NOON, PERIOD
from tests.test_status import Clock

KEY_PARAMETER = "/camcloud/camcloud/alerts-key"


@pytest.fixture
def app() -> Iterator[Any]:
    """The handler module, with its metrics emptied after each test."""
    from lambdas.alerts import app as module

    yield module
    module.metrics.clear_metrics()


class Stack:
    """What the template creates for the check: the key parameter, the topic, the DLQ."""

    def __init__(self, s3: Any) -> None:
        self.ssm = boto3.client("ssm", region_name="us-east-1")
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.sns = boto3.client("sns", region_name="us-east-1")
        self.ssm.put_parameter(Name=KEY_PARAMETER, Value=notify.new_key(), Type="SecureString")
        self.topic = self.sns.create_topic(Name="camcloud-alarms")["TopicArn"]
        # The e-mail subscription stands in as a queue subscribed to the topic (moto delivers).
        self.inbox = self.sqs.create_queue(QueueName="inbox")["QueueUrl"]
        inbox_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=inbox_arn,
                           Attributes={"RawMessageDelivery": "true"})
        self.dlq = self.sqs.create_queue(QueueName="thumbnailer-dlq")["QueueUrl"]
        self.clients_s3 = s3

    def clients(self, app: Any) -> Any:
        """The handler's clients."""
        return app.Clients(s3=self.clients_s3, ssm=self.ssm, sqs=self.sqs, sns=self.sns)

    def config(self, app: Any) -> Any:
        """The handler's configuration, as the template's environment gives it."""
        return app.AlertsConfig(key_parameter=KEY_PARAMETER, topic_arn=self.topic,
                                dlq_url=self.dlq)

    def emails(self) -> list[str]:
        """Messages the topic delivered since the last call."""
        messages = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10)
        bodies = [m["Body"] for m in messages.get("Messages", [])]
        for message in messages.get("Messages", []):
            self.sqs.delete_message(QueueUrl=self.inbox, ReceiptHandle=message["ReceiptHandle"])
        return bodies


class FakeContext:
    """The fields of Lambda's context object that powertools' decorators read."""

    function_name = "camcloud-alerts"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:camcloud-alerts"
    memory_limit_in_mb = 256
    aws_request_id = "0f1e2d3c-0000-4000-8000-000000000001"


@pytest.fixture
def stack(s3: Any) -> Stack:
    """The stack's parts the check uses, in moto."""
    return Stack(s3)


def test_a_silent_camera_reaches_the_sns_topic_once_and_its_recovery_once(
        app: Any, stack: Stack, s3: Any, settings: Settings) -> None:
    """Given a camera uploading every minute then going quiet, when the schedule runs the check
    every 5 minutes, then the topic gets one message when it falls silent and one when it is
    back, never one per check."""
    clock = Clock(NOON)
    ingest = StatusRecorder("ingest-host-1-w0", clock=clock)
    for _ in range(10):
        ingest.note_upload("cam-1", received_at=clock(), captured_at=clock())
        clock.advance(60)
    ingest.flush(s3, BUCKET)
    sent: list[str] = []

    # When the check runs every 5 minutes for an hour of silence
    for _ in range(12):
        clock.advance(PERIOD)
        app.run_check(stack.clients(app), settings, stack.config(app), now=clock)
        sent += stack.emails()

    # Then exactly one message says cam-1 went silent
    assert len(sent) == 1 and "cam-1" in sent[0]

    # When it uploads again
    ingest.note_upload("cam-1", received_at=clock(), captured_at=clock())
    ingest.flush(s3, BUCKET)
    clock.advance(PERIOD)
    app.run_check(stack.clients(app), settings, stack.config(app), now=clock)
    sent += stack.emails()

    # Then one more message at the next check: it is back
    assert len(sent) == 2 and "cam-1" in sent[1]


def test_dead_lettered_thumbnailer_events_open_an_incident_from_the_queue_depth(
        app: Any, stack: Stack, settings: Settings) -> None:
    """Given an event in the thumbnailer's dead-letter queue, when the check runs, then an
    incident opens (one message); when the queue is purged, it closes (one message)."""
    clock = Clock(NOON)
    stack.sqs.send_message(QueueUrl=stack.dlq, MessageBody=json.dumps({"Records": []}))

    first = app.run_check(stack.clients(app), settings, stack.config(app), now=clock)
    clock.advance(PERIOD)
    again = app.run_check(stack.clients(app), settings, stack.config(app), now=clock)
    opened_mail = stack.emails()

    assert (first["opened"], again["opened"], first["open"]) == (1, 0, 1)
    assert len(opened_mail) == 1

    stack.sqs.purge_queue(QueueUrl=stack.dlq)
    clock.advance(PERIOD)
    closed = app.run_check(stack.clients(app), settings, stack.config(app), now=clock)

    assert (closed["closed"], closed["open"]) == (1, 0)
    assert len(stack.emails()) == 1


def test_regression_an_unreadable_queue_leaves_the_dead_letter_incident_as_it_was(
        app: Any, stack: Stack, settings: Settings) -> None:
    """Given a queue URL that does not exist (a wrong variable, a permission fault), when the
    check runs, then the depth counts as unknown: no incident opens or closes, no crash."""
    config = app.AlertsConfig(key_parameter=KEY_PARAMETER, topic_arn=stack.topic,
                              dlq_url=stack.dlq + "-gone")

    result = app.run_check(stack.clients(app), settings, config, now=Clock(NOON))

    assert (result["opened"], result["closed"]) == (0, 0)


def test_a_halted_firmware_rollout_is_published_as_the_alarms_metric(
        app: Any, stack: Stack, s3: Any, settings: Settings,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Given the current release's rollout halted by a failed update, when the check runs
    through the decorated entry point, then FirmwareRolloutHalted is 1 in the EMF line."""
    put_json(s3, BUCKET, "firmware/current.json", {"version": "1.2.0"})
    put_json(s3, BUCKET, "firmware/1.2.0/manifest.json", {"version": "1.2.0"})
    halted = Rollout(version="1.2.0", public_key="00" * 32,
                     halted={"at": "2026-11-30T12:00:00+00:00", "device": "cam-1",
                             "reason": "failed: sha256"})
    put_json(s3, BUCKET, "firmware/1.2.0/rollout.json", halted.to_json())

    container = app._Container(settings, stack.config(app), stack.clients(app))
    monkeypatch.setattr(app, "_container", lambda: container)

    result = app.handler({}, FakeContext())

    assert result["rollout_halted"] == "1.2.0"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines()
           if '"_aws"' in line]
    (document,) = emf
    # Powertools writes each metric's values as a list (one value per add_metric call).
    assert document["FirmwareRolloutHalted"] == [1.0]
    assert document["service"] == "camcloud-alerts"


def test_no_rollout_or_a_running_one_publishes_zero(
        app: Any, stack: Stack, s3: Any, settings: Settings) -> None:
    """Given no firmware published, when the check runs, then no rollout counts as halted."""
    result = app.run_check(stack.clients(app), settings, stack.config(app), now=Clock(NOON))

    assert result["rollout_halted"] is None


def test_missing_key_parameter_fails_at_start_naming_the_variable(
        app: Any, settings: Settings) -> None:
    """Given no CAMCLOUD_ALERTS_KEY_PARAMETER, then the configuration names it."""
    with pytest.raises(app.ConfigError, match="CAMCLOUD_ALERTS_KEY_PARAMETER"):
        app.AlertsConfig.from_env({}, settings)
