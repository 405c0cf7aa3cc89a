"""Time-lapse videos of a camera's captures: pure planning, PyAV encoding, the S3 service.

``camcloud.timelapse.plan`` is pure; ``video`` turns frames into an MP4; ``builder`` is the
service the Lambda handler, the command line and the local stack's schedule call.
"""

from __future__ import annotations

from camcloud.timelapse.builder import (
    Result,
    build_daily,
    build_day_for_all,
    build_timelapse,
    daily_jobs,
)
from camcloud.timelapse.plan import (
    NoUsableFrames,
    Options,
    RangeTooLong,
    daily_key,
    due_daily_runs,
    range_key,
    sidecar_key,
)

__all__ = [
    "NoUsableFrames",
    "Options",
    "RangeTooLong",
    "Result",
    "build_daily",
    "build_day_for_all",
    "build_timelapse",
    "daily_jobs",
    "daily_key",
    "due_daily_runs",
    "range_key",
    "sidecar_key",
]
