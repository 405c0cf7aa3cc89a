"""moto in server mode and the AWS resources of the local stack (bucket, queues, trigger)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import urllib3

from camcloud import triggers

QUEUE_NAME = "camcloud-events"
DLQ_NAME = "camcloud-events-dlq"
# moto's fixed account id: queue ARNs in the bucket notification must use it.
MOTO_ACCOUNT = "123456789012"
MAX_RECEIVES = 3

class MotoServer:
    """moto's threaded server on a free loopback port, reset at start and at stop."""

    def __init__(self, host: str) -> None:
        # moto is the [local] extra: the other commands run on hosts that do not install it.
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
        self._server.start()
        bound_host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{bound_host}:{port}"
        # moto keeps its state per process, not per server: start from an empty account even
        # when an earlier stack (or a test's mock) ran in this process.
        self.reset()

    def reset(self) -> None:
        """Empty every moto backend of this process (buckets, queues, …)."""
        urllib3.request("POST", f"{self.endpoint}/moto-api/reset", timeout=10.0, retries=2)

    def stop(self) -> None:
        """Reset and stop the server."""
        self.reset()
        self._server.stop()


@dataclass(frozen=True)
class Queues:
    """The event queue the bucket notifies and its dead-letter queue."""

    url: str
    dlq_url: str


def create_resources(s3: Any, sqs: Any, bucket: str, region: str) -> Queues:
    """The private bucket, the event queue (with redrive to the DLQ) and the S3 trigger."""
    s3.create_bucket(Bucket=bucket)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
        },
    )
    dlq_url = sqs.create_queue(QueueName=DLQ_NAME)["QueueUrl"]
    redrive = {"deadLetterTargetArn": _queue_arn(region, DLQ_NAME),
               "maxReceiveCount": str(MAX_RECEIVES)}
    url = sqs.create_queue(
        QueueName=QUEUE_NAME,
        Attributes={"VisibilityTimeout": "5", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    # The same trigger as template.yaml (camcloud.triggers): originals only.
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration=triggers.queue_notification(_queue_arn(region, QUEUE_NAME)),
    )
    return Queues(url=url, dlq_url=dlq_url)


def _queue_arn(region: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{MOTO_ACCOUNT}:{name}"
