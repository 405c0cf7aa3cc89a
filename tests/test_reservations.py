"""Raw-key reservations: every retry of a server-clocked capture lands on one key."""

from __future__ import annotations

from camcloud.layout import CaptureRef
from camcloud.reservations import reserve_raw_key
from tests.conftest import BUCKET


def test_the_first_writer_reserves_and_later_writers_reuse_its_key(s3):
    # Given a capture received at one time, then retried a second later
    first = CaptureRef.new("cam", 1_763_000_000_000, "abc-1")
    retry = CaptureRef.new("cam", 1_763_000_001_000, "abc-1")
    # When both reserve
    # Then the retry gets the first writer's key
    assert reserve_raw_key(s3, BUCKET, first) == first
    assert reserve_raw_key(s3, BUCKET, retry) == first


def test_an_unreadable_reservation_does_not_block_the_capture(s3):
    # Given a damaged marker
    s3.put_object(Bucket=BUCKET, Key="ids/cam/abc-1", Body=b"not json either{")
    proposed = CaptureRef.new("cam", 1_763_000_000_000, "abc-1")
    # Then the capture still gets a key
    assert reserve_raw_key(s3, BUCKET, proposed) == proposed


def test_a_marker_naming_another_capture_is_not_followed(s3):
    # Given a hand-edited marker pointing at another device's capture
    s3.put_object(Bucket=BUCKET, Key="ids/cam/abc-1",
                  Body=b'{"raw_key": "raw/other/8236999999999_zzz.jpg"}')
    proposed = CaptureRef.new("cam", 1_763_000_000_000, "abc-1")
    assert reserve_raw_key(s3, BUCKET, proposed) == proposed
