"""The thumbnailer's S3 trigger: which bucket events reach it, for template.yaml's twin.

template.yaml declares the Lambda's S3 event source; the local stack builds its bucket
notification from this definition, and ``tests/test_triggers.py`` checks that the two agree.
Originals only (``raw/…jpg``), so the thumbnailer's own outputs never trigger it again; removals
and lifecycle expirations too, so derived objects go with their original.
"""

from __future__ import annotations

from typing import Any

from camcloud import layout

PREFIX = layout.RAW_PREFIX
# Every original is ``raw/{device}/{rev}_{capture_id}.jpg``.
SUFFIX = ".jpg"
EVENTS = ("s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:LifecycleExpiration:*")


def key_filter() -> dict[str, Any]:
    """The notification's key filter (the shape S3's API and the template's ``S3Key`` share)."""
    rules = [{"Name": "prefix", "Value": PREFIX}, {"Name": "suffix", "Value": SUFFIX}]
    return {"Key": {"FilterRules": rules}}


def queue_notification(queue_arn: str) -> dict[str, Any]:
    """A ``NotificationConfiguration`` delivering the trigger's events to an SQS queue."""
    return {
        "QueueConfigurations": [
            {"QueueArn": queue_arn, "Events": list(EVENTS), "Filter": key_filter()}
        ]
    }
