"""The S3 key layout: every key built and parsed in one place, newest first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camcloud import layout
from camcloud.layout import CaptureRef, LayoutError

devices = st.from_regex(layout.DEVICE_ID_RE, fullmatch=True)
capture_ids = st.from_regex(layout.CAPTURE_ID_RE, fullmatch=True)
times_ms = st.integers(min_value=0, max_value=layout.REV_MAX)


@given(devices, times_ms, capture_ids)
def test_every_key_of_a_capture_parses_back_to_the_same_capture(device, ms, capture_id):
    # Given a capture
    ref = CaptureRef.new(device, ms, capture_id)
    # When any of its keys is parsed
    parsed = {layout.parse_key(key) for key in
              (ref.raw_key, ref.thumb_key, ref.preview_key, ref.meta_key)}
    # Then each names the same capture, at the same time
    assert parsed == {ref}
    assert ref.captured_at_ms == ms
    assert CaptureRef.from_id(ref.id) == ref


@given(devices, times_ms, times_ms, capture_ids, capture_ids)
def test_ascending_key_order_is_newest_first(device, earlier, later, first_id, second_id):
    # Given two captures of one camera, one taken later than the other
    if earlier == later:
        return
    earlier, later = sorted((earlier, later))
    old = CaptureRef.new(device, earlier, first_id)
    new = CaptureRef.new(device, later, second_id)
    # Then S3's ascending order lists the newer one first, per camera and across cameras
    assert new.raw_key < old.raw_key
    assert new.thumb_key < old.thumb_key
    assert new.meta_key < old.meta_key


@given(devices, devices, times_ms, capture_ids)
def test_all_camera_timeline_sorts_by_time_before_device(first, second, ms, capture_id):
    # Given two cameras capturing one millisecond apart
    if ms == 0:
        return
    newer = CaptureRef.new(first, ms, capture_id)
    older = CaptureRef.new(second, ms - 1, capture_id)
    # Then the meta/ listing puts the newer capture first, whatever the device names
    assert newer.meta_key < older.meta_key


def test_rev_is_thirteen_digits():
    # Given a capture at the Unix epoch and one in 2026
    # Then rev is always 13 digits
    assert layout.rev_from_ms(0) == "9999999999999"
    assert layout.rev_from_ms(1_763_000_000_000) == "8236999999999"


@pytest.mark.parametrize("device", ["", "Cam", "-cam", "cam_1", "a" * 33, "cam/1", "cam 1"])
def test_bad_device_ids_are_refused(device):
    with pytest.raises(LayoutError, match="device id"):
        CaptureRef.new(device, 1, "x")


@pytest.mark.parametrize("capture_id", ["", "a_b", "a/b", "a" * 65, "é", "a b"])
def test_bad_capture_ids_are_refused(capture_id):
    with pytest.raises(LayoutError, match="capture id"):
        CaptureRef.new("cam", 1, capture_id)


@pytest.mark.parametrize(
    "key",
    [
        "raw/cam/123_x.jpg",  # rev too short
        "raw/cam/9999999999999.jpg",  # no capture id
        "raw/9999999999999_x.jpg",  # no device
        "thumbs/cam/9999999999999_x.png",
        "meta/9999999999999_cam.json",
        "other/cam/9999999999999_x.jpg",
        "raw/Cam/9999999999999_x.jpg",
    ],
)
def test_keys_outside_the_layout_are_refused(key):
    with pytest.raises(LayoutError):
        layout.parse_key(key)


def test_registry_and_marker_keys():
    assert layout.device_key("garden") == "devices/garden.json"
    assert layout.user_key("alice") == "users/alice.json"
    assert layout.id_marker_key("garden", "ab-1") == "ids/garden/ab-1"
    assert layout.device_thumb_prefix("garden") == "thumbs/garden/"


def test_derived_prefixes_never_overlap_the_trigger_prefix():
    # Regression guard for self-triggering Lambdas: outputs must not land under raw/.
    ref = CaptureRef.new("cam", 1, "x")
    for key in (ref.thumb_key, ref.preview_key, ref.meta_key):
        assert not key.startswith(layout.RAW_PREFIX)
