"""Alert targets: Apprise URLs stored encrypted, listed redacted, delivered with retries, and a
JSON webhook on loopback receiving exactly the open and the close message."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from camcloud import alerts, notify
from camcloud.alerts import Outgoing
from camcloud.errors import Refusal
from camcloud.status import StatusRecorder
from tests.conftest import BUCKET
from tests.support import free_port
from tests.test_alerts import NOON, PERIOD
from tests.test_status import Clock


class Webhook:
    """A loopback HTTP server recording every JSON body POSTed to it; ``fail_next`` 503s."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_next = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if hook.fail_next:
                    hook.fail_next -= 1
                    self.send_response(503)
                else:
                    hook.received.append(json.loads(body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/camcloud"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A JSON webhook on a loopback port."""
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def store(s3: Any) -> notify.TargetStore:
    """The target store of the test bucket with a fresh key."""
    return notify.TargetStore(s3, BUCKET, notify.new_key())


def notifier(store: notify.TargetStore, sleeps: list[float] | None = None) -> notify.Notifier:
    """A notifier whose backoff sleeps are recorded instead of slept."""
    record = sleeps if sleeps is not None else []
    return notify.Notifier(store.urls, sleep=record.append)


def test_target_url_is_stored_encrypted_and_listed_redacted(s3: Any,
                                                            store: notify.TargetStore) -> None:
    # Given a target whose URL carries a password and a token header
    url = "json://alice:hunter2-secret@hooks.example.com/camcloud?-X-Token=tok-9f8e7d"
    target = store.add_target(url, quiet_hours="22:00-07:00", timezone="Europe/Berlin")
    # Then the bucket never holds the secrets in clear
    stored = s3.get_object(Bucket=BUCKET, Key=notify.TARGETS_KEY)["Body"].read().decode()
    for secret in ("hunter2-secret", "tok-9f8e7d", "alice", "/camcloud"):
        assert secret not in stored
    # And the list shows the scheme and the host, secrets masked
    assert [t.label for t in store.list_targets()] == ["json://****@hooks.example.com/…"]
    assert store.list_targets()[0].rule == alerts.TargetRule(target.id, "22:00-07:00",
                                                             "Europe/Berlin")
    # And delivery can read the URL back
    assert store.urls() == {target.id: url}


@pytest.mark.parametrize("url", ["", "not a url", "nosuchservice://x/y", "json://",
                                 "json://" + "a" * 3000,
                                 "json://169.254.169.254/latest/meta-data",
                                 "json://[fd00:ec2::254]/latest", "json://[fe80::1]:80/x"])
def test_bad_target_url_is_refused_with_a_reason(store: notify.TargetStore, url: str) -> None:
    with pytest.raises(Refusal) as refused:
        store.add_target(url)
    assert refused.value.status == 400 and refused.value.code == "bad_target"
    assert store.list_targets() == []


def test_bad_quiet_hours_or_time_zone_are_refused(store: notify.TargetStore) -> None:
    with pytest.raises(Refusal, match="quiet hours"):
        store.add_target("ntfy://ntfy.sh/topic", quiet_hours="late")
    with pytest.raises(Refusal, match="time zone"):
        store.add_target("ntfy://ntfy.sh/topic", timezone="Mars/Base")


def test_no_key_means_no_target_is_stored(s3: Any) -> None:
    with pytest.raises(notify.TargetKeyError, match="encrypted"):
        notify.TargetStore(s3, BUCKET, None).add_target("ntfy://ntfy.sh/topic")
    assert notify.TargetStore(s3, BUCKET, notify.new_key()).list_targets() == []


def test_wrong_key_cannot_read_the_urls(s3: Any, store: notify.TargetStore) -> None:
    store.add_target("ntfy://ntfy.sh/topic")
    with pytest.raises(notify.TargetKeyError, match="another key"):
        notify.TargetStore(s3, BUCKET, notify.new_key()).urls()
    with pytest.raises(notify.TargetKeyError, match="not a Fernet key"):
        notify.TargetStore(s3, BUCKET, "short").urls()


def test_key_comes_from_an_ssm_secure_string(aws: None) -> None:
    # Given the key in an SSM SecureString parameter (never in the bucket)
    ssm = boto3.client("ssm", region_name="us-east-1")
    key = notify.new_key()
    ssm.put_parameter(Name="/camcloud/alerts-key", Value=key, Type="SecureString")
    # Then it is read back decrypted
    assert notify.key_from_ssm(ssm, "/camcloud/alerts-key") == key


def test_remove_target(store: notify.TargetStore) -> None:
    first = store.add_target("ntfy://ntfy.sh/one")
    second = store.add_target("ntfy://ntfy.sh/two")
    assert store.remove_target(first.id)
    assert not store.remove_target(first.id)
    assert [t.id for t in store.list_targets()] == [second.id]


def test_failing_target_is_retried_with_backoff_and_does_not_block_a_good_one(
    store: notify.TargetStore, webhook: Webhook
) -> None:
    # Given a target on a closed port and a working webhook
    dead = store.add_target(f"json://127.0.0.1:{free_port()}/hook")
    good = store.add_target(webhook.url)
    sleeps: list[float] = []
    # When one message goes to each
    reports = notifier(store, sleeps).deliver([
        Outgoing(dead.id, "cam-1 is silent", "nothing since 12:00", "failure", ("m1",)),
        Outgoing(good.id, "cam-1 is silent", "nothing since 12:00", "failure", ("m1",)),
    ])
    # Then the good one arrives, the dead one is reported with its reason after 3 attempts
    by_target = {report.target_id: report for report in reports}
    assert by_target[good.id].ok
    assert not by_target[dead.id].ok and by_target[dead.id].attempts == 3
    assert "Connection" in by_target[dead.id].reason or "refused" in by_target[dead.id].reason
    assert sorted(sleeps) == [1.0, 2.0]
    assert [m["title"] for m in webhook.received] == ["cam-1 is silent"]


def test_a_target_failing_twice_gets_the_message_on_the_third_attempt(
    store: notify.TargetStore, webhook: Webhook
) -> None:
    target = store.add_target(webhook.url)
    webhook.fail_next = 2
    sleeps: list[float] = []
    report = notifier(store, sleeps).deliver(
        [Outgoing(target.id, "t", "b", "failure", ("m1",))])[0]
    assert report.ok and report.attempts == 3 and sleeps == [1.0, 2.0]
    assert len(webhook.received) == 1


def test_send_a_test(store: notify.TargetStore, webhook: Webhook) -> None:
    target = store.add_target(webhook.url)
    assert notifier(store).send_test(target.id).ok
    assert webhook.received[0]["title"] == "camcloud test"
    assert not notifier(store).send_test("no-such-id").ok


def test_webhook_receives_exactly_the_open_and_the_close_message(
    s3: Any, store: notify.TargetStore, webhook: Webhook
) -> None:
    # Given a camera sending every 5 minutes, a JSON webhook target and a dead target
    clock = Clock(NOON)
    recorder = StatusRecorder("ingest-host-1", clock=clock)
    store.add_target(webhook.url)
    store.add_target(f"json://127.0.0.1:{free_port()}/dead")
    deliver = notifier(store).deliver

    def run(seconds: float, sending: bool) -> None:
        for _ in range(int(seconds // PERIOD)):
            if sending:
                recorder.note_upload("cam-1", received_at=clock(), captured_at=clock())
            recorder.flush_if_due(s3, BUCKET)
            clock.advance(PERIOD)
            alerts.check(s3, BUCKET, now=clock(), targets=store.rules(), deliver=deliver)

    # When it runs 2 hours, is silent for 1 hour, and runs 2 hours more (60 checks)
    run(7200, True)
    run(3600, False)
    run(7200, True)
    # Then the webhook got two messages: the incident opening and closing
    assert [(m["title"], m["type"]) for m in webhook.received] == [
        ("cam-1 is silent", "failure"), ("cam-1 is back", "success")]
    assert "usually every 5 min" in webhook.received[0]["message"]


def test_stack_sns_topic_gets_the_messages_too(s3: Any) -> None:
    # Given the stack's SNS topic with a queue subscribed (standing in for e-mail) and no
    # Apprise target (and no key: none is needed then)
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="camcloud-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="mail")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    store = notify.TargetStore(s3, BUCKET, None)
    sender = notify.Notifier(store.urls, sns=sns, sns_topic=topic)
    # When a camera goes silent
    clock = Clock(NOON)
    recorder = StatusRecorder("ingest-1", clock=clock)
    recorder.note_upload("cam-1", received_at=clock(), interval_s=60)
    recorder.flush(s3, BUCKET)
    clock.advance(3600)
    result = alerts.check(s3, BUCKET, now=clock(), deliver=sender.deliver,
                          targets=[*store.rules(), alerts.TargetRule(notify.SNS_TARGET)])
    # Then the topic got the message
    assert result.delivered == 1 and result.failures == []
    received = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert "cam-1 has sent nothing" in received[0]["Body"]
