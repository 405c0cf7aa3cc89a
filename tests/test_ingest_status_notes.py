"""The thumbnailer's part of the last-seen summary: processed and error records, per batch."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from camcloud.devices import DeviceRegistry
from camcloud.status import StatusRecorder
from camcloud.thumbnailer import Thumbnailer
from tests.conftest import BUCKET, jpeg_bytes

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def created(*keys: str) -> dict[str, Any]:
    """An S3 ObjectCreated event batch for ``keys``."""
    return {"Records": [{"eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": BUCKET}, "object": {"key": key}}}
                        for key in keys]}


def test_the_thumbnailer_notes_its_records_and_writes_the_summary_when_due(
        s3: Any, registry: DeviceRegistry) -> None:
    # Given a thumbnailer with a status recorder on a clock the test moves
    now = [START]
    recorder = StatusRecorder("thumbnailer-test-1", clock=lambda: now[0].timestamp())
    thumbnailer = Thumbnailer(lambda: s3, registry, clock=lambda: now[0], status=recorder)
    good = "raw/garden/8204746599999_good-1.jpg"
    bad = "raw/garden/8204746599998_bad-1.jpg"
    s3.put_object(Bucket=BUCKET, Key=good, Body=jpeg_bytes())
    s3.put_object(Bucket=BUCKET, Key=bad, Body=b"not a jpeg at all")
    # When a batch with a good and a corrupt original is processed
    thumbnailer.process_event(created(good, bad))
    # Then the summary is written once with one good and one error record
    summary = json.loads(s3.get_object(Bucket=BUCKET, Key=recorder.key)["Body"].read())
    camera = summary["cameras"]["garden"]
    assert camera["processed"] == 2 and camera["errors"] == 1
    assert camera["error_code"] is not None
    assert recorder.writes == 1
    # ...and further batches within 5 minutes write nothing more (one write per interval)
    for minute in range(1, 5):
        now[0] = START + timedelta(minutes=minute)
        thumbnailer.process_event(created(good))
    assert recorder.writes == 1
    now[0] = START + timedelta(minutes=5, seconds=1)
    thumbnailer.process_event(created(good))
    assert recorder.writes == 2
