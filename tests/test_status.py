"""The last-seen summary: what the ingest writes for the alerts, how often, and how it is read."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from camcloud import status
from camcloud.s3 import get_json, put_json
from tests.conftest import BUCKET


class Clock:
    """An injected clock: Unix seconds that only move when a test moves them."""

    def __init__(self, now: float = 1_780_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RequestCounter:
    """Counts the S3 requests a client makes, by operation, through botocore's event hooks."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call.s3", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def reset(self) -> None:
        self.calls.clear()

    @property
    def gets(self) -> int:
        """GET-class requests (S3 bills GET and HEAD at the GET rate)."""
        return self.calls["GetObject"] + self.calls["HeadObject"]

    @property
    def puts(self) -> int:
        """PUT-class requests (S3 bills PUT, LIST and DELETE-batch at the PUT rate)."""
        return sum(n for name, n in self.calls.items() if name not in {"GetObject", "HeadObject"})


def test_first_upload_is_written_at_once_then_at_most_every_five_minutes(s3: Any) -> None:
    # Given a recorder and a camera sending every 20 seconds
    clock = Clock()
    recorder = status.StatusRecorder("ingest-host-1", clock=clock)
    written = []
    for _ in range(60):  # 20 minutes
        recorder.note_upload("cam-1", received_at=clock(), captured_at=clock())
        # When the ingest offers a write after every upload
        if recorder.flush_if_due(s3, BUCKET):
            written.append(clock())
        clock.advance(20)
    # Then the first sighting is written at once, the rest every 5 minutes: 4 PUTs in 20 min
    assert len(written) == 4
    assert [b - a for a, b in zip(written, written[1:], strict=False)] == [300, 300, 300]
    document = get_json(s3, BUCKET, "status/ingest-host-1.json")
    assert document["cameras"]["cam-1"]["uploads"] == 46  # as of the last write, at 15 min
    assert len(document["cameras"]["cam-1"]["samples"]) == status.SAMPLES_KEPT


def test_first_error_record_is_written_within_a_minute_the_rest_of_the_streak_is_not(
    s3: Any,
) -> None:
    # Given a thumbnailer's recorder that has just written a good capture
    clock = Clock()
    recorder = status.StatusRecorder("thumbnailer-1", clock=clock)
    recorder.note_processed("cam-1", at=clock(), ok=True)
    assert recorder.flush_if_due(s3, BUCKET)
    # When the camera's captures turn into error records, one every 20 seconds
    written = []
    for _ in range(30):
        clock.advance(20)
        recorder.note_processed("cam-1", at=clock(), ok=False, error_code="truncated")
        if recorder.flush_if_due(s3, BUCKET):
            written.append(clock())
    # Then the first error is written after a minute (never sooner), the streak every 5 minutes
    first = clock() - 600
    assert [t - first for t in written] == [60, 360]
    assert get_json(s3, BUCKET, "status/thumbnailer-1.json")["cameras"]["cam-1"]["errors"] == 18


def test_nothing_new_means_no_write(s3: Any) -> None:
    # Given a recorder whose state is written
    clock = Clock()
    recorder = status.StatusRecorder("w1", clock=clock)
    recorder.note_upload("cam-1", received_at=clock())
    recorder.flush(s3, BUCKET)
    # When hours pass without uploads
    clock.advance(6 * 3600)
    # Then nothing is written
    assert not recorder.due()
    assert recorder.writes == 1


def test_s3_down_never_raises_and_the_data_is_written_later(s3: Any, aws: None) -> None:
    # Given a recorder pointed at a bucket that does not exist (S3 answers an error)
    clock = Clock()
    recorder = status.StatusRecorder("w1", clock=clock)
    recorder.note_processed("cam-1", at=clock(), ok=False, error_code="truncated")
    # When a write is due and fails
    assert recorder.flush_if_due(s3, "no-such-bucket") is False
    # Then the error record is still there for the next write
    clock.advance(61)
    assert recorder.flush_if_due(s3, BUCKET)
    camera = get_json(s3, BUCKET, "status/w1.json")["cameras"]["cam-1"]
    assert camera["errors"] == 1 and camera["error_code"] == "truncated"


def test_backlog_replays_and_imports_are_marked_late() -> None:
    # Given an upload taken an hour before it arrived (a replay from the camera's retry ring)
    clock = Clock()
    recorder = status.StatusRecorder("w1", clock=clock)
    recorder.note_upload("cam-1", received_at=clock(), captured_at=clock() - 3600,
                         telemetry={"max_alloc_heap": 90_000, "frames_lost": 2,
                                    "firmware": "1.4.0"}, interval_s=300)
    recorder.note_upload("cam-1", received_at=clock() + 1, captured_at=clock() + 1)
    # Then its sample is flagged late, the on-time one is not; telemetry and config are kept
    camera = recorder.document()["cameras"]["cam-1"]
    assert [sample[1] for sample in camera["samples"]] == [1, 0]
    assert camera["samples"][0][2:] == [90_000, 2]
    assert camera["firmware"] == "1.4.0" and camera["interval_s"] == 300


def test_failed_firmware_update_is_urgent(s3: Any) -> None:
    # Given a recorder written a moment ago
    clock = Clock()
    recorder = status.StatusRecorder("w1", clock=clock)
    recorder.note_checkin("cam-1", at=clock())
    recorder.flush(s3, BUCKET)
    # When the camera reports a failed update
    clock.advance(61)
    recorder.note_ota("cam-1", at=clock(), result="failed:signature", version="1.5.0")
    # Then the write is due after one minute
    assert recorder.due()


def test_writer_names_and_device_ids_are_checked() -> None:
    with pytest.raises(ValueError):
        status.StatusRecorder("../users/alice")
    recorder = status.StatusRecorder("w1")
    with pytest.raises(ValueError):
        recorder.note_upload("../devices/x", received_at=0.0)


def test_reader_lists_once_and_gets_only_changed_summaries(s3: Any) -> None:
    # Given three writers' summaries
    clock = Clock()
    recorders = [status.StatusRecorder(f"w{n}", clock=clock) for n in range(3)]
    for recorder in recorders:
        recorder.note_upload("cam-1", received_at=clock())
        recorder.flush(s3, BUCKET)
    counter = RequestCounter(s3)
    first = status.read_changed(s3, BUCKET, {})
    assert sorted(first.changed) == ["w0", "w1", "w2"]
    assert counter.calls == {"ListObjectsV2": 1, "GetObject": 3}
    # When only one writer writes again
    clock.advance(400)
    recorders[1].note_upload("cam-1", received_at=clock())
    recorders[1].flush(s3, BUCKET)
    counter.reset()
    second = status.read_changed(s3, BUCKET, first.etags)
    # Then the reader lists once and fetches that one summary only
    assert sorted(second.changed) == ["w1"]
    assert counter.calls == {"ListObjectsV2": 1, "GetObject": 1}


def test_a_summary_that_is_not_json_is_skipped(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="status/broken.json", Body=b"{not json")
    assert status.read_changed(s3, BUCKET, {}).changed == {}


def test_writer_name_is_safe_whatever_the_host_name() -> None:
    assert status.writer_name("ingest", "ip-10-0-0-12.ec2.internal", 4242) == (
        "ingest-ip-10-0-0-12.ec2.internal-4242")
    assert status.writer_name("thumbnailer", "My Laptop_ÄÖ/..", 7) == "thumbnailer-my-laptop-7"
    assert status.WRITER_RE.fullmatch(status.writer_name("ingest"))


def test_the_return_of_a_camera_the_alerts_hold_silent_is_written_within_a_minute(
        s3: Any) -> None:
    # Given an ingest worker watching the open incidents, cam-1 held silent by the alerts, and
    # a summary written a moment ago for another camera
    put_json(s3, BUCKET, status.OPEN_INCIDENTS_KEY, {"incidents": [
        {"id": "silent:cam-1", "kind": "silent", "device": "cam-1"},
        {"id": "errors:cam-3", "kind": "errors", "device": "cam-3"}]})
    clock = Clock()
    counter = RequestCounter(s3)
    recorder = status.StatusRecorder("w1", clock=clock, watch_silent=True)
    recorder.note_upload("cam-2", received_at=clock())
    assert recorder.flush_if_due(s3, BUCKET)
    assert counter.calls["GetObject"] == 1 and recorder.watch_reads == 1
    # When a camera that is not silent uploads a minute later: nothing urgent
    clock.advance(61)
    recorder.note_upload("cam-3", received_at=clock())
    assert not recorder.flush_if_due(s3, BUCKET)
    # When cam-1 is heard from again (a check-in)
    recorder.note_checkin("cam-1", at=clock())
    # Then the summary is written at once (a minute after the last write), not 5 minutes after
    assert recorder.flush_if_due(s3, BUCKET)
    assert get_json(s3, BUCKET, "status/w1.json")["cameras"]["cam-1"]["last_checkin"]
    # And its next upload is an ordinary one again; the list is read once per 5 minutes
    clock.advance(61)
    recorder.note_upload("cam-1", received_at=clock())
    assert not recorder.flush_if_due(s3, BUCKET)
    assert recorder.watch_reads == 1
    clock.advance(300)
    recorder.flush_if_due(s3, BUCKET)
    assert recorder.watch_reads == 2


def test_a_missing_or_damaged_incident_list_never_costs_a_write(s3: Any) -> None:
    # Given no incident list at all, then one that is not JSON
    clock = Clock()
    recorder = status.StatusRecorder("w1", clock=clock, watch_silent=True)
    recorder.note_upload("cam-1", received_at=clock())
    assert recorder.flush_if_due(s3, BUCKET)
    s3.put_object(Bucket=BUCKET, Key=status.OPEN_INCIDENTS_KEY, Body=b"\x00not json")
    clock.advance(301)
    recorder.note_upload("cam-1", received_at=clock())
    # Then the summary is still written, and a recorder that does not watch never reads it
    assert recorder.flush_if_due(s3, BUCKET)
    counter = RequestCounter(s3)
    quiet = status.StatusRecorder("w2", clock=clock)
    quiet.note_upload("cam-1", received_at=clock())
    assert quiet.flush_if_due(s3, BUCKET) and counter.calls["GetObject"] == 0
