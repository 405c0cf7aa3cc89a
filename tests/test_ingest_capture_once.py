"""One capture id, one original: whatever capture time each attempt carries.

The raw key holds the capture time. A camera's retry of a stored attempt (the answer lost) may
carry another time than that attempt: undated first, dated on the retry once SNTP answered; or
counted back again after a clock re-sync. Each used to be answered 201 and stored a second time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import urllib3

from camcloud import layout
from ingest.s3put import FastPut
from ingest.wiring import Services, build_services, make_ingest_client
from tests.conftest import jpeg_bytes
from tests.ingest_support import Bucket, FakeClock, LiveIngest, post, upload_request

DEVICE = "cam-1"


class Camera:
    """One registered camera talking to the ingest service (no HTTP) on a clock the test moves."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self.key = bucket.add_device(DEVICE)
        self.clock = FakeClock(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
        settings = bucket.settings
        self.services: Services = build_services(settings, make_ingest_client(settings),
                                                 self.clock.clock())

    def upload(self, capture_id: str, captured_at: datetime | None,
               image: bytes | None = None) -> tuple[int, dict[str, Any]]:
        """POST /upload of ``image`` as ``capture_id``, dated ``captured_at`` (None: undated)."""
        headers = {"X-Capture-Id": capture_id}
        if captured_at is not None:
            headers["X-Captured-At"] = captured_at.isoformat()
        request = upload_request(image or jpeg_bytes(), headers, key=self.key)
        outcome = self.services.ingest.accept(request)
        return outcome.status, outcome.body

    def originals(self, capture_id: str) -> list[str]:
        """The raw/ keys stored for ``capture_id``."""
        return [key for key in self.bucket.raw_keys(layout.device_raw_prefix(DEVICE))
                if layout.parse_key(key).capture_id == capture_id]


@pytest.fixture
def camera(ingest_bucket: Bucket) -> Camera:
    """A camera registered on a fresh bucket."""
    return Camera(ingest_bucket)


def test_regression_undated_then_dated_retry_is_a_duplicate_not_a_second_original(
        camera: Camera) -> None:
    # Given a capture first sent undated (SNTP had not answered) and stored, the answer lost
    status, first = camera.upload("a0b7650c1dfe-17-0", None)
    assert status == 201 and first["clock"] == "server"
    # When the camera retries it a minute later, now dated by its clock
    camera.clock.advance(60)
    status, retry = camera.upload("a0b7650c1dfe-17-0",
                                  camera.clock.wall - timedelta(seconds=65))
    # Then it is answered as a duplicate of the stored capture, with its key, stored once
    assert status == 200 and retry["duplicate"] is True
    assert retry["key"] == first["key"]
    assert retry["captured_at"] == first["captured_at"]
    assert camera.originals("a0b7650c1dfe-17-0") == [first["key"]]


def test_regression_dated_retry_with_a_time_a_second_off_is_a_duplicate(camera: Camera) -> None:
    # Given a dated capture, stored, the answer lost
    taken = datetime(2026, 12, 1, 11, 59, 54, tzinfo=UTC)
    status, first = camera.upload("a0b7650c1dfe-17-1", taken)
    assert status == 201 and first["clock"] == "device"
    # When its retry carries a time counted back again after a clock re-sync, a second later
    camera.clock.advance(30)
    status, retry = camera.upload("a0b7650c1dfe-17-1", taken + timedelta(seconds=1))
    # Then it is a duplicate, answered with the stored key, and there is one original
    assert status == 200 and retry["duplicate"] is True
    assert retry["key"] == first["key"]
    assert camera.originals("a0b7650c1dfe-17-1") == [first["key"]]


def test_dated_then_undated_retry_is_a_duplicate(camera: Camera) -> None:
    # Given a dated capture stored, then the same id sent without a time
    status, first = camera.upload("a0b7650c1dfe-17-2", datetime(2026, 12, 1, 11, 59, tzinfo=UTC))
    assert status == 201
    camera.clock.advance(5)
    status, retry = camera.upload("a0b7650c1dfe-17-2", None)
    # Then the retry is the same capture
    assert status == 200 and retry["key"] == first["key"]
    assert camera.originals("a0b7650c1dfe-17-2") == [first["key"]]


def test_another_capture_id_at_the_same_time_is_stored(camera: Camera) -> None:
    # Given a stored dated capture
    taken = datetime(2026, 12, 1, 11, 59, 54, tzinfo=UTC)
    status, first = camera.upload("a0b7650c1dfe-17-3", taken)
    assert status == 201
    # When another capture id arrives with the same time, and another undated
    status, other = camera.upload("a0b7650c1dfe-17-4", taken, jpeg_bytes(colour=(9, 9, 9)))
    status_undated, undated = camera.upload("a0b7650c1dfe-17-5", None)
    # Then each is a new capture, stored under its own key
    assert (status, status_undated) == (201, 201)
    assert "duplicate" not in other and "duplicate" not in undated
    assert len({first["key"], other["key"], undated["key"]}) == 3
    assert camera.originals("a0b7650c1dfe-17-4") == [other["key"]]


def test_the_same_capture_id_from_another_camera_is_its_own_capture(camera: Camera) -> None:
    # Given a capture id stored by one camera
    taken = datetime(2026, 12, 1, 11, 59, 54, tzinfo=UTC)
    assert camera.upload("shared-1", taken)[0] == 201
    # When a second camera (its own key and device) sends the same id
    other_key = camera.bucket.add_device("cam-2")
    request = upload_request(jpeg_bytes(), {"X-Capture-Id": "shared-1",
                                            "X-Captured-At": taken.isoformat()}, key=other_key)
    outcome = camera.services.ingest.accept(request)
    # Then it is stored for that camera
    assert outcome.status == 201
    assert outcome.body["key"].startswith("raw/cam-2/")


def test_regression_over_http_an_undated_then_dated_retry_is_stored_once(
        ingest_bucket: Bucket) -> None:
    # Given the ingest over HTTP with its own client: originals and reservations both go over
    # the signed fast path (ingest/s3put.py)
    key = ingest_bucket.add_device(DEVICE)
    clock = FakeClock(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    http = urllib3.PoolManager(retries=False, timeout=10.0)
    with LiveIngest(ingest_bucket.settings, clock=clock.clock()) as live:
        fast = live.services.store._fast_put
        assert fast is not None and isinstance(fast(), FastPut) and fast().enabled
        # When a capture is sent undated, then retried dated
        first = post(http, live.url, key, jpeg_bytes(), {"X-Capture-Id": "a0b7650c1dfe-9-0"})
        clock.advance(20)
        retry = post(http, live.url, key, jpeg_bytes(),
                     {"X-Capture-Id": "a0b7650c1dfe-9-0",
                      "X-Captured-At": (clock.wall - timedelta(seconds=25)).isoformat()})
        assert fast().enabled  # the fast path handled both writes, no fallback
    # Then the retry is a duplicate of the stored key, with one original and one reservation
    assert (first.status, retry.status) == (201, 200)
    assert json.loads(retry.data)["key"] == json.loads(first.data)["key"]
    assert ingest_bucket.raw_keys(layout.device_raw_prefix(DEVICE)) == [
        json.loads(first.data)["key"]]
    reservation = ingest_bucket.get(layout.id_marker_key(DEVICE, "a0b7650c1dfe-9-0"))
    assert reservation["ContentType"] == "application/json"
    assert json.loads(reservation["Body"].read()) == {"raw_key": json.loads(first.data)["key"]}
