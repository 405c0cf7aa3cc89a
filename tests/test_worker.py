"""The local stack's event worker: same handler, retries on failure, dead-letters after N tries."""

from __future__ import annotations

import json

from camcloud.worker import EventWorker

S3_EVENT = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
    "bucket": {"name": "b"}, "object": {"key": "raw/cam/9999999999999_x.jpg"}}}]}


def make_queues(sqs, max_receives=2):
    dlq_url = sqs.create_queue(QueueName="events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="events", Attributes={
        "VisibilityTimeout": "0",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": str(max_receives)}),
    })["QueueUrl"]
    return url, dlq_url


def depth(sqs, url):
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"])


def test_events_are_handed_to_the_handler_and_deleted(aws):
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    url, dlq = make_queues(sqs)
    seen = []
    worker = EventWorker(sqs, url, lambda event, context: seen.append(event), wait_seconds=0)
    # Given an S3 event and S3's test event on the queue
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(S3_EVENT))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Event": "s3:TestEvent"}))
    # When the worker polls
    worker.poll_once()
    worker.poll_once()
    # Then the handler saw the S3 event with its shape intact (and not the test event)
    assert seen == [S3_EVENT]
    assert depth(sqs, url) == 0 and depth(sqs, dlq) == 0


def test_a_failing_event_is_retried_then_dead_lettered(aws):
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    url, dlq = make_queues(sqs, max_receives=2)
    calls = []

    def broken(event, context):
        calls.append(event)
        raise RuntimeError("S3 is having a bad day")

    worker = EventWorker(sqs, url, broken, wait_seconds=0)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(S3_EVENT))
    # When the handler fails on every try
    for _ in range(4):
        worker.poll_once()
    # Then it was tried maxReceiveCount times and the event now waits in the dead-letter queue
    assert len(calls) == 2
    assert depth(sqs, url) == 0
    assert depth(sqs, dlq) == 1
    assert worker.failed == 2
