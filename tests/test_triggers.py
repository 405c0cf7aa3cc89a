"""One trigger definition: template.yaml's S3 event source and the local stack's notification."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from cfnlint.decode import decode_str

from camcloud import triggers
from camcloud_cli.local.aws import create_resources

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


def template_trigger() -> dict[str, Any]:
    """The thumbnailer's S3 event source as template.yaml declares it."""
    template, problems = decode_str(TEMPLATE.read_text())
    assert not problems, problems
    function = template["Resources"]["ThumbnailerFunction"]["Properties"]
    (source,) = [event["Properties"] for event in function["Events"].values()
                 if event["Type"] == "S3"]
    return dict(source)


def test_the_definition_matches_the_template() -> None:
    """Given template.yaml, when its S3 trigger is read, then it names the same events and the
    same key filter as camcloud.triggers (the drift that lost LifecycleExpiration locally)."""
    source = template_trigger()

    assert list(source["Events"]) == list(triggers.EVENTS)
    rules = [dict(rule) for rule in source["Filter"]["S3Key"]["Rules"]]
    assert rules == triggers.key_filter()["Key"]["FilterRules"]


def test_the_local_stack_notifies_its_queue_with_the_definition(aws: None) -> None:
    """Given the local stack's resources created against moto, when the bucket's notification
    is read back, then it is the definition's: originals only, created, removed, expired."""
    s3 = boto3.client("s3", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")

    create_resources(s3, sqs, "camcloud-local", "us-east-1")

    (queue,) = s3.get_bucket_notification_configuration(
        Bucket="camcloud-local")["QueueConfigurations"]
    assert sorted(queue["Events"]) == sorted(triggers.EVENTS)
    assert "s3:LifecycleExpiration:*" in queue["Events"]
    assert queue["Filter"] == triggers.key_filter()
