"""The time-lapse Lambda on its sample events: the handler's logic in process, the entry point
(powertools decorators, JSON logs, EMF metrics) in a fresh interpreter as Lambda runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from camcloud.settings import Settings
from tests.conftest import BUCKET
from tests.timelapse_support import decode_video, download, seed

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
DAY_START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def event(name: str) -> dict[str, Any]:
    """A sample event from ``events/``."""
    return dict(json.loads((EVENTS / f"timelapse-{name}.json").read_text()))


@pytest.fixture
def app() -> Iterator[Any]:
    """The handler module, with its metrics emptied after each test."""
    from lambdas.timelapse import app as module

    yield module
    module.metrics.clear_metrics()


@pytest.fixture
def day_of_captures(s3: Any) -> None:
    """cam-1 captured every 10 minutes on 2026-11-20 (dark at night); yard-cam once."""
    for i in range(144):
        at = DAY_START + timedelta(minutes=10 * i)
        seed(s3, BUCKET, "cam-1", at, f"c{i}", level=20 if at.hour < 7 or at.hour >= 17 else 150)
    seed(s3, BUCKET, "yard-cam", DAY_START + timedelta(hours=12), "y0")
    seed(s3, BUCKET, "old-cam", DAY_START - timedelta(days=3), "o0")


def clock() -> datetime:
    """The injected build time."""
    return datetime(2026, 11, 21, 0, 20, tzinfo=UTC)


def test_schedule_event_queues_one_invocation_per_camera_that_captured(
        app: Any, s3: Any, settings: Settings, day_of_captures: None) -> None:
    """Given two cameras that captured on the 20th and one that did not, when the schedule's
    event of the 21st arrives, then one daily job per capturing camera is invoked."""
    invoked: list[dict[str, Any]] = []

    answer = app.handle(event("schedule"), client=s3, settings=settings, clock=clock,
                        invoke=invoked.append)

    assert answer == {"status": 202, "date": "2026-11-20", "devices": ["cam-1", "yard-cam"]}
    assert invoked == [{"action": "daily", "device": "cam-1", "date": "2026-11-20"},
                       {"action": "daily", "device": "yard-cam", "date": "2026-11-20"}]


def test_daily_event_builds_the_cameras_day(app: Any, s3: Any, settings: Settings,
                                            day_of_captures: None, tmp_path: Path) -> None:
    """Given a day of captures, when the daily event for cam-1 arrives, then its video holds
    the daylight frames and the night is counted as dark."""
    answer = app.handle(event("daily"), client=s3, settings=settings, clock=clock,
                        invoke=lambda job: None)

    assert answer["status"] == 201 and answer["key"] == "timelapse/cam-1/2026-11-20.mp4"
    assert answer["frames_used"] == 60 and answer["skipped"]["dark"] == 84
    video = decode_video(download(s3, BUCKET, answer["key"], tmp_path / "day.mp4"))
    assert video["codec"] == "h264" and video["frames"] == 60


def test_range_event_builds_with_its_options(app: Any, s3: Any, settings: Settings,
                                             day_of_captures: None, tmp_path: Path) -> None:
    """Given the range sample (09:00-15:00, 24 fps, at most 10 s, stamped), when it arrives,
    then the video has the 36 captures of those hours at 24 fps."""
    answer = app.handle(event("range"), client=s3, settings=settings, clock=clock,
                        invoke=lambda job: None)

    assert answer["status"] == 201
    assert answer["key"] == ("timelapse/cam-1/range/"
                             "20261120T090000Z_20261120T150000Z_fps24-maxseconds10-stamp.mp4")
    video = decode_video(download(s3, BUCKET, answer["key"], tmp_path / "range.mp4"))
    assert video["frames"] == answer["frames_used"] == 36
    assert video["rate"] == pytest.approx(24)


@pytest.mark.parametrize(("change", "code"), [
    ({"action": "rebuild"}, "bad_event"),
    ({"device": "Not A Device"}, "bad_device"),
    ({"start": "yesterday"}, "bad_event"),
    ({"end": "2026-11-20T08:00:00Z"}, "bad_range"),
    ({"start": "2026-11-20T09:00:00"}, "bad_event"),
    ({"start": "2026-11-20T09:00:00Z", "end": "2027-12-20T09:00:00Z"}, "bad_range"),
    ({"job": "../users/alice"}, "bad_event"),
    ({"options": {"fps": 1000}}, "bad_options"),
    ({"options": ["fps", 10]}, "bad_event"),
])
def test_bad_range_event_is_answered_not_retried(app: Any, s3: Any, settings: Settings,
                                                 change: dict[str, Any], code: str) -> None:
    """Given a range event with one bad field, when it arrives, then the answer is a 400 with
    the reason (a raise would be retried and dead-lettered)."""
    answer = app.handle({**event("range"), **change}, client=s3, settings=settings, clock=clock,
                        invoke=lambda job: None)

    assert answer["status"] == 400 and answer["error"] == code, answer


def test_day_without_usable_frames_is_answered_with_the_reason(app: Any, s3: Any,
                                                               settings: Settings) -> None:
    """Given no captures, when the daily event arrives, then a 422 says so and nothing is
    written."""
    answer = app.handle(event("daily"), client=s3, settings=settings, clock=clock,
                        invoke=lambda job: None)

    assert answer["status"] == 422 and answer["error"] == "no_usable_frames"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="timelapse/")


def test_non_object_event_is_answered(app: Any, s3: Any, settings: Settings) -> None:
    """Given an event that is not a JSON object, then a 400 answers it."""
    answer = app.handle(["daily"], client=s3, settings=settings, clock=clock,
                        invoke=lambda job: None)

    assert answer["status"] == 400


def values(emf: dict[str, Any], name: str) -> list[float]:
    """A metric's values in an EMF line (powertools writes one value or a list)."""
    value = emf[name]
    return [float(v) for v in value] if isinstance(value, list) else [float(value)]


INVOKE = """
import json, sys
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
import lambdas.timelapse.app as app
import boto3
from moto import mock_aws
from tests.timelapse_support import seed

with mock_aws():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="camcloud-123456789012-us-east-1")
    start = datetime(2026, 11, 20, 9, tzinfo=UTC)
    for i in range(12):
        seed(s3, "camcloud-123456789012-us-east-1", "cam-1", start + timedelta(minutes=20 * i),
             f"c{i}", level=150)
    context = SimpleNamespace(
        aws_request_id="6f1c2a52-0d5e-4d7b-9a53-7f8d1c1b2e3f", function_name="camcloud-timelapse",
        function_version="$LATEST", memory_limit_in_mb=1769,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:camcloud-timelapse",
        get_remaining_time_in_millis=lambda: 900_000)
    answers = [app.handler(json.load(open(f"events/timelapse-{name}.json")), context)
               for name in ("daily", "range")]
    print("ANSWERS " + json.dumps(answers))
"""


def test_lambda_entry_point_logs_json_with_the_request_id_and_publishes_metrics() -> None:
    """Given the environment the template sets, when the entry point handles the daily and the
    range sample events, then both build, every log line is JSON with the request id, and the
    EMF metrics count the videos and their frames."""
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("AWS_", "CAMCLOUD_", "POWERTOOLS_"))}
    environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_DEFAULT_REGION="us-east-1",
                   CAMCLOUD_BUCKET="camcloud-123456789012-us-east-1",
                   POWERTOOLS_SERVICE_NAME="camcloud-timelapse",
                   POWERTOOLS_METRICS_NAMESPACE="camcloud")
    done = subprocess.run([sys.executable, "-c", INVOKE], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120, check=True)

    lines = [line for line in done.stdout.splitlines() if line.strip()]
    answers = json.loads(lines.pop()[len("ANSWERS "):])
    assert [a["status"] for a in answers] == [201, 201]
    assert [a["frames_used"] for a in answers] == [12, 12]
    records = [json.loads(line) for line in lines]
    logs = [r for r in records if "_aws" not in r]
    emf = [r for r in records if "_aws" in r]
    assert logs and all(r["function_request_id"] == "6f1c2a52-0d5e-4d7b-9a53-7f8d1c1b2e3f"
                        for r in logs)
    assert any(r["message"] == "time-lapse built" for r in logs)
    assert [values(m, "TimelapsesBuilt") for m in emf] == [[1.0], [1.0]]
    assert [values(m, "TimelapseFrames") for m in emf] == [[12.0], [12.0]]
    assert all(m["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "camcloud" for m in emf)
