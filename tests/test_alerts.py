"""Alerts: incidents opened once and closed once, learned intervals, quiet hours, request counts.

Cameras, ingest workers and the thumbnailer are simulated with the real StatusRecorder on an
injected clock against moto; deliveries go to a recording function (the Apprise side is tested
against a loopback webhook in test_notify.py).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from moto import mock_aws

from camcloud import alerts
from camcloud.alerts import DeliveryReport, Outgoing, TargetRule
from camcloud.device_config import in_active_hours
from camcloud.s3 import get_json, make_client, put_json
from camcloud.settings import Settings
from camcloud.status import StatusRecorder
from tests.conftest import BUCKET
from tests.test_status import Clock, RequestCounter

# 2026-11-30 12:00:00 UTC
NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()
PERIOD = 300.0  # the schedule's default: one check every 5 minutes


class Mailbox:
    """A deliver function that records what it was given; targets in ``failing`` refuse."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.failing: set[str] = set()

    def __call__(self, batch: list[Outgoing]) -> list[DeliveryReport]:
        reports = []
        for message in batch:
            if message.target_id in self.failing:
                reports.append(DeliveryReport(message.target_id, message.message_ids, False,
                                              "HTTP 503 from the service", 3))
            else:
                self.sent.append(message)
                reports.append(DeliveryReport(message.target_id, message.message_ids, True))
        return reports

    def titles(self, target_id: str = "phone") -> list[str]:
        return [m.title for m in self.sent if m.target_id == target_id]


class Fleet:
    """Cameras uploading through ``workers`` ingest workers, a thumbnailer, and the check."""

    def __init__(self, s3: Any, clock: Clock, intervals: dict[str, float], *, workers: int = 1,
                 targets: Iterable[TargetRule] = (TargetRule("phone"),)) -> None:
        self.s3 = s3
        self.clock = clock
        self.intervals = intervals
        # Ingest workers watch the open incidents, as ingest.wiring builds them.
        self.ingest = [StatusRecorder(f"ingest-host-1-w{n}", clock=clock, watch_silent=True)
                       for n in range(workers)]
        self.thumbnailer = StatusRecorder("thumbnailer-1", clock=clock)
        self._round_robin = itertools.cycle(self.ingest)
        # Spread the cameras' phases so that they do not all upload in the same second.
        self.next_upload = {device: clock() + (n * 7) % interval
                            for n, (device, interval) in enumerate(intervals.items())}
        self.stopped: set[str] = set()
        # A camera's configured schedule as the ingest notes it: interval_s, active_hours.
        self.configs: dict[str, dict[str, Any]] = {}
        self.telemetry: dict[str, dict[str, Any]] = {}
        self.broken: set[str] = set()
        self.uploads: list[tuple[float, str]] = []
        self.targets = list(targets)
        self.mailbox = Mailbox()
        self.results: list[alerts.CheckResult] = []
        self.dlq_depth: int | None = None
        self.next_check = clock() + PERIOD
        self.counter: RequestCounter | None = None
        self.check_requests: list[Counter[str]] = []

    def run(self, seconds: float, step: float = 10.0) -> None:
        """Let time pass: uploads when due, summary writes when due, a check every 5 minutes."""
        end = self.clock() + seconds
        while self.clock() < end:
            self.clock.advance(step)
            now = self.clock()
            for device, due in self.next_upload.items():
                if now >= due:
                    self.next_upload[device] = due + self.intervals[device]
                    if device not in self.stopped:
                        self.upload(device, now)
            for recorder in [*self.ingest, self.thumbnailer]:
                recorder.flush_if_due(self.s3, BUCKET)
            if now >= self.next_check:
                self.next_check += PERIOD
                self.check()

    def upload(self, device: str, now: float) -> None:
        """One capture through the ingest, then the thumbnailer's verdict on it."""
        config = self.configs.get(device, {})
        # Outside its active hours the camera sleeps, as the firmware does (UTC minute of day).
        if not in_active_hours(config.get("active_hours"), int(now % 86400 // 60)):
            return
        next(self._round_robin).note_upload(device, received_at=now, captured_at=now,
                                            telemetry=self.telemetry.get(device), **config)
        self.uploads.append((now, device))
        self.thumbnailer.note_processed(device, at=now + 2, ok=device not in self.broken,
                                        error_code="truncated" if device in self.broken else None)

    def check(self) -> alerts.CheckResult:
        """One pass of the alert check."""
        before = self.counter.calls.copy() if self.counter else Counter()
        result = alerts.check(self.s3, BUCKET, now=self.clock(), targets=self.targets,
                              deliver=self.mailbox, dlq_depth=self.dlq_depth)
        if self.counter:
            self.check_requests.append(self.counter.calls - before)
        self.results.append(result)
        return result

    def opened(self, kind: str) -> list[dict[str, Any]]:
        return [i for r in self.results for i in r.opened if i["kind"] == kind]

    def closed(self, kind: str) -> list[dict[str, Any]]:
        return [i for r in self.results for i in r.closed if i["kind"] == kind]


def test_silent_camera_opens_one_incident_and_its_recovery_closes_it_once(s3: Any) -> None:
    # Given a camera sending every 5 minutes, checked every 5 minutes for 3 hours
    clock = Clock(NOON)
    fleet = Fleet(s3, clock, {"cam-1": 300})
    fleet.run(3 * 3600)
    assert fleet.opened("silent") == []
    # When it goes quiet for 2 hours (24 checks), then sends again for 2 hours
    fleet.stopped.add("cam-1")
    fleet.run(2 * 3600)
    fleet.stopped.clear()
    fleet.run(2 * 3600)
    # Then one incident opened (within one check period of 3 intervals) and closed once
    opened, closed = fleet.opened("silent"), fleet.closed("silent")
    assert len(opened) == 1 and len(closed) == 1
    last_upload = NOON + 3 * 3600 - (NOON + 3 * 3600 - NOON) % 300
    assert 900 < (opened[0]["opened_at"] / 1000 - last_upload) <= 900 + PERIOD + 60
    assert "usually every 5 min" in opened[0]["detail"]
    assert "back" in closed[0]["close_title"]
    # And the target got exactly those two messages
    assert fleet.mailbox.titles() == ["cam-1 is silent", "cam-1 is back"]
    assert alerts.open_incidents(s3, BUCKET) == []
    history = alerts.history(s3, BUCKET, "cam-1")
    assert [(h["kind"], bool(h.get("closed_at"))) for h in history] == [("silent", True)]


def test_a_recovery_is_reported_at_the_first_check_after_the_camera_returns(s3: Any) -> None:
    # Given a worker that writes its summary every 5 minutes, 10 s after each check (two busy
    # cameras keep it changing), and cam-3 every 5 minutes, 20 s after each check
    clock = Clock(NOON)
    fleet = Fleet(s3, clock, {"busy-1": 60, "busy-2": 60, "cam-3": 300})
    fleet.run(3600)
    # When cam-3 is silent for an hour, then uploads again
    fleet.stopped.add("cam-3")
    fleet.run(3600)
    fleet.stopped.clear()
    resumed = clock()
    fleet.run(1800)
    returned = min(t for t, device in fleet.uploads if device == "cam-3" and t >= resumed)
    # Then its return was written within a minute (urgent: the worker knew it was held silent)
    # and reported by the first check after that, not the summary's 5 minutes later
    [closed] = fleet.closed("silent")
    assert closed["device"] == "cam-3"
    assert closed["closed_at"] / 1000 <= returned + 60 + PERIOD
    assert fleet.mailbox.titles() == ["cam-3 is silent", "cam-3 is back"]


def test_learned_interval_ignores_bursts_and_late_captures(s3: Any) -> None:
    # Given a camera sending every 10 minutes, with bursts of 5 frames 2 s apart and a backlog
    # replay of old captures now and then
    clock = Clock(NOON)
    recorder = StatusRecorder("ingest-1", clock=clock)
    for n in range(18):
        recorder.note_upload("cam-1", received_at=clock(), captured_at=clock())
        if n % 3 == 0:
            for _ in range(4):
                clock.advance(2)
                recorder.note_upload("cam-1", received_at=clock(), captured_at=clock())
        if n % 5 == 0:
            recorder.note_upload("cam-1", received_at=clock() + 30, captured_at=clock() - 7200)
        recorder.flush(s3, BUCKET)
        clock.advance(600 - (8 if n % 3 == 0 else 0))
        alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox())
    # When the camera then stays quiet for 25 minutes: no alarm (3 x 10 min = 30 min)
    clock.advance(25 * 60 - 600)
    quiet = alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox())
    assert quiet.opened == []
    # Then at 35 minutes it is silent, described with its learned interval
    clock.advance(10 * 60)
    silent = alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox())
    assert [i["kind"] for i in silent.opened] == ["silent"]
    assert "usually every 10 min" in silent.opened[0]["detail"]


def test_configured_interval_wins_with_the_floor(s3: Any) -> None:
    # Given a camera whose configured interval (from the device's desired state) is one minute
    clock = Clock(NOON)
    recorder = StatusRecorder("ingest-1", clock=clock)
    recorder.note_upload("cam-1", received_at=clock(), interval_s=60)
    recorder.flush(s3, BUCKET)
    # When it has sent nothing for 9 minutes: not yet (the floor is 10 minutes)
    clock.advance(9 * 60)
    assert alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox()).opened == []
    # Then at 11 minutes it is silent, without waiting to learn anything
    clock.advance(2 * 60)
    result = alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox())
    assert [i["id"] for i in result.opened] == ["silent:cam-1"]


def test_a_new_camera_is_not_called_silent_before_its_interval_is_known(s3: Any) -> None:
    # Given a camera heard from once (an hourly time-lapse camera, say)
    clock = Clock(NOON)
    recorder = StatusRecorder("ingest-1", clock=clock)
    recorder.note_upload("cam-1", received_at=clock())
    recorder.flush(s3, BUCKET)
    # When an hour passes: no alarm; only after the unlearned patience of 6 hours
    clock.advance(3600)
    assert alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox()).opened == []
    clock.advance(5 * 3600 + 60)
    assert alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox()).opened != []


def utc(text: str) -> float:
    """Unix seconds of a UTC wall-clock time, ``2026-11-30T06:30``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_a_day_only_camera_is_not_called_silent_overnight(s3: Any) -> None:
    # Given, from 04:00, a battery camera every 5 min that captures only 06:30-20:00, one that
    # captures only at night (22:00-06:00, across midnight) and one that captures all day
    clock = Clock(utc("2026-11-30T04:00"))
    fleet = Fleet(s3, clock, {"day-cam": 300, "night-cam": 300, "all-day": 300})
    fleet.configs = {"day-cam": {"interval_s": 300, "active_hours": "06:30-20:00"},
                     "night-cam": {"interval_s": 300, "active_hours": "22:00-06:00"},
                     "all-day": {"interval_s": 300}}
    fleet.run(utc("2026-11-30T20:00") - clock(), step=60)
    # When the all-day camera dies at 20:00, and the night passes until 09:00
    fleet.stopped.add("all-day")
    fleet.run(utc("2026-12-01T09:00") - clock(), step=60)
    # Then the cameras that slept outside their active hours were never called silent
    assert [i["device"] for i in fleet.opened("silent")] == ["all-day"]
    # And the all-day camera was, as before: after 3 intervals, within one check period
    assert utc("2026-11-30T20:10") < fleet.opened("silent")[0]["opened_at"] / 1000 \
        <= utc("2026-11-30T20:10") + PERIOD
    assert fleet.mailbox.titles() == ["all-day is silent"]


def test_a_day_only_camera_silent_after_its_window_opened_is_reported_once(s3: Any) -> None:
    # Given a camera every 5 min with active hours 06:30-20:00 (UTC), last heard at 19:55
    clock = Clock(utc("2026-11-30T12:00"))
    fleet = Fleet(s3, clock, {"day-cam": 300})
    fleet.configs = {"day-cam": {"interval_s": 300, "active_hours": "06:30-20:00"}}
    fleet.run(utc("2026-11-30T20:00") - clock(), step=60)
    # When it does not wake up in the morning
    fleet.stopped.add("day-cam")
    fleet.run(utc("2026-12-01T09:00") - clock(), step=60)
    # Then it is silent once 3 intervals of its active time passed (5 min before 20:00 and
    # 10 min after 06:30), at the first check after that, and never during the night
    [opened] = fleet.opened("silent")
    assert utc("2026-12-01T06:40") < opened["opened_at"] / 1000 <= utc("2026-12-01T06:40") + PERIOD
    assert "within its active hours 06:30-20:00 UTC" in opened["detail"]
    assert "(15 min within" in opened["detail"] or "(20 min within" in opened["detail"]
    assert fleet.mailbox.titles() == ["day-cam is silent"]


def test_captures_turning_into_error_records_open_and_close_one_incident(s3: Any) -> None:
    # Given a healthy camera
    clock = Clock(NOON)
    fleet = Fleet(s3, clock, {"cam-1": 60})
    fleet.run(1800)
    # When its captures become error records for 20 minutes, then good again
    fleet.broken.add("cam-1")
    fleet.run(1200)
    fleet.broken.clear()
    fleet.run(1800)
    # Then one incident says why, and one message says it is over
    assert len(fleet.opened("errors")) == 1 and len(fleet.closed("errors")) == 1
    assert "truncated" in fleet.opened("errors")[0]["detail"]
    assert fleet.mailbox.titles() == ["cam-1: captures are failing",
                                      "cam-1: captures are good again"]


def test_lost_frames_open_an_incident_that_closes_after_an_hour_without_loss(s3: Any) -> None:
    # Given a camera reporting frames_lost (a count since boot) with each capture
    clock = Clock(NOON)
    fleet = Fleet(s3, clock, {"cam-1": 120})
    fleet.telemetry["cam-1"] = {"frames_lost": 0}
    fleet.run(1800)
    # When the count rises by 3 across captures, then stays put
    fleet.telemetry["cam-1"] = {"frames_lost": 3}
    fleet.run(3 * 3600)
    # Then one incident opened and closed
    assert len(fleet.opened("frames_lost")) == 1 and len(fleet.closed("frames_lost")) == 1
    assert "3 lost" in fleet.opened("frames_lost")[0]["detail"]


def test_falling_heap_opens_and_a_reboot_closes(s3: Any) -> None:
    # Given a camera whose largest free heap block shrinks capture after capture
    clock = Clock(NOON)
    fleet = Fleet(s3, clock, {"cam-1": 120})
    for heap in range(110_000, 40_000, -5_000):
        fleet.telemetry["cam-1"] = {"max_alloc_heap": heap}
        fleet.run(120)
    fleet.run(600)
    assert len(fleet.opened("heap_falling")) == 1
    # When it reboots and the block is large again
    fleet.telemetry["cam-1"] = {"max_alloc_heap": 108_000}
    fleet.run(1800)
    # Then the incident closes, once
    assert len(fleet.closed("heap_falling")) == 1
    assert len(fleet.opened("heap_falling")) == 1


def test_failed_firmware_update_opens_and_a_good_one_closes(s3: Any) -> None:
    clock = Clock(NOON)
    fleet = Fleet(s3, clock, {"cam-1": 120})
    fleet.run(600)
    # Given a camera reporting a failed update
    fleet.ingest[0].note_ota("cam-1", at=clock(), result="failed:signature", version="1.5.0")
    fleet.run(1800)
    assert len(fleet.opened("ota_failed")) == 1
    assert "failed:signature" in fleet.opened("ota_failed")[0]["detail"]
    # When it later reports success
    fleet.ingest[0].note_ota("cam-1", at=clock(), result="ok", version="1.5.1")
    fleet.run(900)
    # Then one closing message
    assert len(fleet.closed("ota_failed")) == 1 and len(fleet.opened("ota_failed")) == 1


def test_dead_letter_queue_depth_opens_and_empties(s3: Any) -> None:
    clock = Clock(NOON)
    fleet = Fleet(s3, clock, {"cam-1": 300})
    fleet.dlq_depth = 2
    fleet.run(1800)
    fleet.dlq_depth = None  # unknown (the queue could not be read): leave it as it is
    fleet.run(900)
    fleet.dlq_depth = 0
    fleet.run(900)
    assert len(fleet.opened("dlq")) == 1 and len(fleet.closed("dlq")) == 1
    assert alerts.history(s3, BUCKET, alerts.SYSTEM)[0]["kind"] == "dlq"


def test_quiet_hours_hold_messages_and_send_one_digest_when_they_end(s3: Any) -> None:
    # Given two targets, one with quiet hours 22:00-07:00 UTC, and a camera that is silent from
    # about 22:30 to 01:00
    evening = datetime(2026, 11, 30, 21, 0, tzinfo=UTC).timestamp()
    clock = Clock(evening)
    fleet = Fleet(s3, clock, {"cam-1": 300},
                  targets=[TargetRule("phone"), TargetRule("mail", "22:00-07:00", "UTC")])
    fleet.run(5400)
    fleet.stopped.add("cam-1")
    fleet.run(9000)
    fleet.stopped.clear()
    # When the night passes (until 07:10)
    fleet.run(datetime(2026, 12, 1, 7, 10, tzinfo=UTC).timestamp() - clock())
    # Then the phone got both messages as they happened; the quiet target one digest at 07:00
    assert fleet.mailbox.titles("phone") == ["cam-1 is silent", "cam-1 is back"]
    digest = [m for m in fleet.mailbox.sent if m.target_id == "mail"]
    assert len(digest) == 1 and digest[0].title == "camcloud: 2 alerts"
    assert "cam-1 is silent" in digest[0].body and "cam-1 is back" in digest[0].body
    assert sum(r.held for r in fleet.results) > 0


def test_failing_target_keeps_its_message_and_gets_it_once_it_works(s3: Any) -> None:
    # Given a target that fails while a camera goes silent
    clock = Clock(NOON)
    fleet = Fleet(s3, clock, {"cam-1": 300}, targets=[TargetRule("phone"), TargetRule("hook")])
    fleet.run(3600)
    fleet.mailbox.failing.add("hook")
    fleet.stopped.add("cam-1")
    fleet.run(1800)
    # Then the other target got its message, and the failure is reported with the reason
    assert fleet.mailbox.titles("phone") == ["cam-1 is silent"]
    assert ("hook", "HTTP 503 from the service") in [f for r in fleet.results for f in r.failures]
    # When the target works again
    fleet.mailbox.failing.clear()
    fleet.run(600)
    # Then it gets the message once, late, and never twice
    fleet.run(1200)
    assert fleet.mailbox.titles("hook") == ["cam-1 is silent"]
    failed = next(r for r in fleet.results if r.failures)
    assert failed.summary().endswith("hook failed: HTTP 503 from the service")


def test_concurrent_check_that_loses_the_state_race_sends_nothing(s3: Any) -> None:
    # Given a camera gone silent
    clock = Clock(NOON)
    recorder = StatusRecorder("ingest-1", clock=clock)
    recorder.note_upload("cam-1", received_at=clock(), interval_s=60)
    recorder.flush(s3, BUCKET)
    alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox())
    clock.advance(3600)
    # When another check writes the state between this check's read and its write
    def other_check_writes(**_: Any) -> None:
        s3.meta.events.unregister("after-call.s3.GetObject", other_check_writes)
        put_json(s3, BUCKET, alerts.STATE_KEY, get_json(s3, BUCKET, alerts.STATE_KEY) | {"x": 1})

    s3.meta.events.register("after-call.s3.GetObject", other_check_writes)
    mailbox = Mailbox()
    result = alerts.check(s3, BUCKET, now=clock(), targets=[TargetRule("phone")],
                          deliver=mailbox)
    # Then this check stops before sending anything: the winner sends
    assert result.raced and mailbox.sent == []


def test_removed_camera_is_forgotten_without_a_message(s3: Any) -> None:
    clock = Clock(NOON)
    recorder = StatusRecorder("ingest-1", clock=clock)
    recorder.note_upload("cam-1", received_at=clock(), interval_s=60)
    recorder.flush(s3, BUCKET)
    clock.advance(3600)
    mailbox = Mailbox()
    result = alerts.check(s3, BUCKET, now=clock(), targets=[TargetRule("phone")],
                          deliver=mailbox, devices=["cam-2"])
    assert result.opened == [] and mailbox.sent == []
    assert "cam-1" not in get_json(s3, BUCKET, alerts.STATE_KEY)["cameras"]


@pytest.mark.parametrize("text", ["22:00", "25:00-07:00", "22:00-22:00", "7-8", "aa:bb-cc:dd"])
def test_malformed_quiet_hours_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="quiet hours"):
        alerts.parse_quiet_hours(text)


def test_quiet_hours_follow_the_target_time_zone() -> None:
    target = TargetRule("t", "22:00-07:00", "Europe/Berlin")
    # 21:30 UTC is 22:30 in Berlin (winter): quiet; 06:30 UTC is 07:30 there: not quiet
    assert target.quiet_at(datetime(2026, 11, 30, 21, 30, tzinfo=UTC).timestamp())
    assert not target.quiet_at(datetime(2026, 12, 1, 6, 30, tzinfo=UTC).timestamp())


# S3 request prices (us-east-1): GET $0.0004 per 1,000; PUT, COPY, POST, LIST $0.005 per 1,000.
GET_PRICE = 0.0004 / 1000
PUT_PRICE = 0.005 / 1000
CHECKS_PER_MONTH = 30 * 24 * 3600 / PERIOD  # 8,640


def test_request_count_per_check_for_100_cameras_stays_within_the_cost_bar(s3: Any) -> None:
    # Given 100 cameras (intervals from 1 to 10 minutes) behind 2 ingest workers and a
    # thumbnailer, running for an hour so that every interval is learned
    clock = Clock(NOON)
    intervals = {f"cam-{n}": 60.0 * (1 + n % 10) for n in range(100)}
    fleet = Fleet(s3, clock, intervals, workers=2)
    fleet.run(3600)
    fleet.counter = RequestCounter(s3)
    writers = [*fleet.ingest, fleet.thumbnailer]
    writes_before = sum(r.writes for r in writers)
    watch_before = sum(r.watch_reads for r in fleet.ingest)
    # When it runs for two more hours (24 checks) with every camera healthy
    fleet.run(2 * 3600)
    writer_puts = sum(r.writes for r in writers) - writes_before
    # Each ingest worker reads the open incidents every 5 minutes (to know which cameras' return
    # is urgent): 12 GETs an hour each
    watch_gets = sum(r.watch_reads for r in fleet.ingest) - watch_before
    assert watch_gets == 2 * 24
    steady = sum(fleet.check_requests, Counter())
    # Then every check is one listing, one GET of the state and one per summary that changed
    # (3 writers), and one state write
    checks = len(fleet.check_requests)
    assert checks == 24 and fleet.opened("silent") == []
    for requests in fleet.check_requests:
        assert requests == {"ListObjectsV2": 1, "GetObject": 4, "PutObject": 1}
    # When ten cameras go silent at once
    fleet.check_requests.clear()
    fleet.stopped.update(f"cam-{n}" for n in range(10))
    fleet.run(3600)
    # Then a pass that opens incidents also writes one history object each, the open list and
    # the state once more after delivering; every other pass costs what it did
    assert len(fleet.opened("silent")) == 10
    results = fleet.results[-len(fleet.check_requests):]
    for requests, result in zip(fleet.check_requests, results, strict=True):
        extra = 2 + len(result.opened) if result.opened else 0
        assert requests == {"ListObjectsV2": 1, "GetObject": 4, "PutObject": 1 + extra}
    # And the month at one check every 5 minutes costs at most $0.50 in S3 requests
    per_check_gets = steady["GetObject"] / checks
    per_check_puts = (steady["PutObject"] + steady["ListObjectsV2"]) / checks
    writer_puts_per_month = writer_puts / 2 * 24 * 30
    watch_gets_per_month = watch_gets / 2 * 24 * 30
    monthly = (CHECKS_PER_MONTH * (per_check_gets * GET_PRICE + per_check_puts * PUT_PRICE)
               + writer_puts_per_month * PUT_PRICE + watch_gets_per_month * GET_PRICE)
    print(f"\nper check: {dict(steady)} / {checks}; summary writes per hour: "
          f"{writer_puts / 2:.1f} ({len(writers)} writers); incident-list reads per hour: "
          f"{watch_gets / 2:.1f}; monthly: ${monthly:.3f}")
    assert monthly <= 0.50


def test_damaged_state_or_summary_does_not_stop_the_alerts(s3: Any) -> None:
    # Given a state object that is not JSON, and a summary with one unreadable camera entry
    clock = Clock(NOON)
    s3.put_object(Bucket=BUCKET, Key=alerts.STATE_KEY, Body=b"\x00garbage")
    put_json(s3, BUCKET, "status/odd.json", {"cameras": {
        "cam-1": {"last_upload": int(clock() * 1000), "interval_s": 60},
        "cam-2": {"processed": "many"},
        "../x": {},
        "cam-3": [],
    }})
    # When checks run an hour apart
    alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox())
    clock.advance(3600)
    result = alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox())
    # Then the readable camera is still watched
    assert [i["id"] for i in result.opened] == ["silent:cam-1"]


@hypothesis_settings(max_examples=5, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=1, max_value=12), min_size=2, max_size=4))
def test_messages_alternate_open_and_close_whatever_the_outages(
    aws_credentials: None, downtimes: list[int]
) -> None:
    # Given a camera sending every 5 minutes, with outages of 5 to 60 minutes between 40
    # minutes of normal work
    with mock_aws():
        s3 = make_client(Settings.from_env({"CAMCLOUD_BUCKET": BUCKET}))
        s3.create_bucket(Bucket=BUCKET)
        fleet = Fleet(s3, Clock(NOON), {"cam-1": 300})
        fleet.run(3600, step=60)
        for minutes in downtimes:
            fleet.stopped.add("cam-1")
            fleet.run(minutes * 300, step=60)
            fleet.stopped.clear()
            fleet.run(2400, step=60)
    # Then the messages alternate, one per opening and one per closing, never one per check
    titles = fleet.mailbox.titles()
    assert titles == ["cam-1 is silent", "cam-1 is back"] * (len(titles) // 2)
    # And every outage long enough to count was reported (3 intervals, plus a check period,
    # plus a summary write), and none that cannot have been 3 intervals since the last upload
    # (which may precede the outage by one interval)
    surely = sum(1 for units in downtimes if units * 5 > 15 + 5 + 5)  # in minutes
    possibly = sum(1 for units in downtimes if units * 5 + 5 > 15)
    assert surely <= len(titles) // 2 <= possibly


def test_a_state_written_before_the_shared_rhythm_rule_keeps_what_it_learned(s3: Any) -> None:
    # Given a state from the previous version: learned gaps of 10 minutes and the last capture
    clock = Clock(NOON)
    last = int(clock() * 1000)
    camera = {"last_upload": last, "last_checkin": None, "interval_s": None, "firmware": None,
              "gaps": [600.0] * 5, "prev_t": last, "consumed": last, "pending": [], "heap": [],
              "frames": None, "frames_lost_at": None, "frames_lost": 0, "last_ok": None,
              "last_error": None, "error_code": None, "error_streak": 0, "ota": None}
    put_json(s3, BUCKET, alerts.STATE_KEY, {"schema": 1, "writers": {}, "incidents": {},
                                            "outbox": {}, "cameras": {"cam-1": camera}})
    # When the camera has been quiet for 35 minutes (3 x 10 min and more)
    clock.advance(35 * 60)
    result = alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox())
    # Then it is silent against the interval it had learned, not the 6 h of an unknown one
    assert [i["id"] for i in result.opened] == ["silent:cam-1"]
    assert "usually every 10 min" in result.opened[0]["detail"]
    stored = get_json(s3, BUCKET, alerts.STATE_KEY)["cameras"]["cam-1"]
    assert "gaps" not in stored and len(stored["times"]) == 6


def test_active_hours_a_summary_cannot_read_count_as_all_day(s3: Any) -> None:
    # Given a summary (a hand edit, a future writer) with active hours that are not HH:MM-HH:MM
    clock = Clock(utc("2026-11-30T19:55"))
    put_json(s3, BUCKET, "status/odd.json", {"cameras": {
        "cam-1": {"last_upload": int(clock() * 1000), "interval_s": 300,
                  "active_hours": "sunrise-sunset"}}})
    alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox())
    # When it is quiet from 19:55 to 02:00
    clock.advance(6 * 3600 + 5 * 60)
    result = alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox())
    # Then it is watched all day rather than never
    assert [i["id"] for i in result.opened] == ["silent:cam-1"]


def test_a_writer_that_does_not_know_active_hours_leaves_them_as_they_were(s3: Any) -> None:
    # Given a day-only camera noted by a new ingest worker at 19:55
    clock = Clock(utc("2026-11-30T19:55"))
    new = StatusRecorder("ingest-new", clock=clock)
    new.note_upload("cam-1", received_at=clock(), interval_s=300, active_hours="06:30-20:00")
    new.flush(s3, BUCKET)
    alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox())
    # When an older worker's summary without the field reports a later upload at 19:58
    clock.advance(180)
    put_json(s3, BUCKET, "status/ingest-old.json", {"cameras": {
        "cam-1": {"last_upload": int(clock() * 1000), "interval_s": 300}}})
    alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox())
    # Then the night is still not silence
    clock.advance(8 * 3600)
    assert alerts.check(s3, BUCKET, now=clock(), targets=[], deliver=Mailbox()).opened == []
