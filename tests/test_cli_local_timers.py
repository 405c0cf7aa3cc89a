"""The local stack's schedules: the daily time-lapse on the schedule's own days (an injected
clock), the alert check, and a failing pass that never stops the timer."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from camcloud.settings import Settings
from camcloud_cli.alerts_commands import run_alerts_pass
from camcloud_cli.local.timers import AlertsTimer, DailyTimelapse, Periodic, queue_depth
from tests.conftest import BUCKET
from tests.timelapse_support import seed


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def exists(s3: Any, key: str) -> bool:
    """Whether ``key`` is in the bucket."""
    return s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount", 0) > 0


def test_the_daily_video_is_built_once_after_the_grace_and_not_again_after_a_restart(
        s3: Any, tmp_path: Path) -> None:
    # Given captures of garden on the 20th (UTC)
    for hour in (8, 9, 10):
        seed(s3, BUCKET, "garden", datetime(2026, 11, 20, hour, tzinfo=UTC), f"c{hour}")
    clock = Clock(datetime(2026, 11, 21, 0, 10, tzinfo=UTC))
    state = tmp_path / "timelapse.json"
    daily = DailyTimelapse(s3, BUCKET, "UTC", state, clock=clock)
    # When the schedule first ticks before the 00:15 grace: only the day before is due
    assert daily.tick() == [date(2026, 11, 19)]
    assert not exists(s3, "timelapse/garden/2026-11-20.mp4")
    # When it ticks after it: the 20th is built
    clock.now = datetime(2026, 11, 21, 0, 16, tzinfo=UTC)
    assert daily.tick() == [date(2026, 11, 20)]
    assert exists(s3, "timelapse/garden/2026-11-20.mp4")
    assert exists(s3, "timelapse/garden/2026-11-20.json")
    # Then a later tick, and a restarted stack, do not build it again
    assert daily.tick() == []
    assert DailyTimelapse(s3, BUCKET, "UTC", state, clock=clock).tick() == []
    # And a stack off for two days catches up on both, oldest first
    clock.now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    assert daily.tick() == [date(2026, 11, 21), date(2026, 11, 22)]


def test_the_daily_schedule_uses_the_gallery_time_zone_for_the_day(s3: Any,
                                                                   tmp_path: Path) -> None:
    # Given a capture at 23:30 Berlin time on the 20th (22:30 UTC)
    seed(s3, BUCKET, "garden", datetime(2026, 11, 20, 22, 30, tzinfo=UTC), "late")
    clock = Clock(datetime(2026, 11, 20, 23, 10, tzinfo=UTC))
    daily = DailyTimelapse(s3, BUCKET, "Europe/Berlin", tmp_path / "t.json", clock=clock)
    # 00:10 Berlin on the 21st is before the grace: the 19th only; at 00:20 Berlin (23:20
    # UTC, still the 20th in UTC) the 20th is due
    assert daily.tick() == [date(2026, 11, 19)]
    assert not exists(s3, "timelapse/garden/2026-11-19.mp4")
    clock.now = datetime(2026, 11, 20, 23, 20, tzinfo=UTC)
    assert daily.tick() == [date(2026, 11, 20)]
    assert exists(s3, "timelapse/garden/2026-11-20.mp4")


def test_a_failed_daily_build_is_tried_again_at_the_next_tick(tmp_path: Path) -> None:
    calls: list[date] = []

    def build(client: Any, bucket: str, day: date, options: Any, *, clock: Any) -> dict[str, Any]:
        calls.append(day)
        if len(calls) == 1:
            raise ConnectionError("S3 unreachable")
        return {}

    clock = Clock(datetime(2026, 11, 21, 6, 0, tzinfo=UTC))
    daily = DailyTimelapse(None, BUCKET, "UTC", tmp_path / "t.json", clock=clock, build=build)
    with pytest.raises(ConnectionError):
        daily.tick()
    assert daily.last_run() is None
    assert daily.tick() == [date(2026, 11, 20)]
    assert calls == [date(2026, 11, 20), date(2026, 11, 20)]


def test_a_failing_pass_is_logged_and_the_timer_keeps_running(
        caplog: pytest.LogCaptureFixture) -> None:
    second = threading.Event()
    calls = []

    def tick() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first pass broke")
        second.set()

    timer = Periodic("test-timer", tick, period=0.01)
    with caplog.at_level(logging.ERROR, logger="camcloud.local.timers"):
        timer.start()
        assert second.wait(10), "the timer stopped after a failing pass"
        timer.stop()
    assert timer.failures == 1
    assert "test-timer: the pass failed" in caplog.text and "first pass broke" in caplog.text
    # And once stopped, it ticks no more
    runs = timer.runs
    timer.run_once()
    assert timer.runs == runs + 1 and len(calls) == runs + 1


def test_the_alert_timer_runs_one_pass_with_the_queue_depth(s3: Any,
                                                            settings: Settings) -> None:
    depths: list[int | None] = []

    def run_pass(**kw: Any) -> Any:
        depths.append(kw["dlq_depth"])
        return run_alerts_pass(settings, s3, **kw)

    summary = AlertsTimer(run_pass, lambda: 2).tick()
    # A dead-letter queue holding messages opens the system incident
    assert depths == [2]
    assert summary.startswith("1 opened")


def test_an_unreachable_queue_is_an_unknown_depth_not_a_crash() -> None:
    class Broken:
        def get_queue_attributes(self, **kw: Any) -> Any:
            raise ConnectionError("no SQS")

    assert queue_depth(Broken(), "http://nowhere/q") is None
