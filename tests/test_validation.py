"""JPEG framing, capture time and telemetry checks: pure functions, no mocks."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from camcloud.validation import (
    MAX_FILL,
    HeaderError,
    JpegError,
    jpeg_length,
    parse_captured_at,
    parse_telemetry,
)
from tests.conftest import jpeg_bytes
from tests.hostile_jpegs import fill_flood, fill_floods, scan_bomb, scan_bombs, segments

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def jpeg_with_exif_thumbnail() -> bytes:
    """A JPEG whose EXIF block embeds a second JPEG (with its own end marker)."""
    inner = jpeg_bytes(16, 16)
    exif = Image.Exif()
    exif[0x010F] = "Arducam"
    payload = b"Exif\x00\x00" + exif.tobytes() + inner
    outer = jpeg_bytes(64, 48)
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return outer[:2] + segment + outer[2:]


def test_a_complete_jpeg_is_measured_to_its_end_marker(jpeg):
    assert jpeg_length(jpeg) == len(jpeg)


def test_spi_fifo_padding_after_the_end_marker_is_not_part_of_the_image(jpeg):
    # Given a frame read from an SPI FIFO with padding after the JPEG
    padded = jpeg + b"\x00" * 700 + b"\xff\xd9\xff"
    # Then the image ends where the JPEG ends
    assert jpeg_length(padded) == len(jpeg)


def test_an_embedded_exif_thumbnail_does_not_end_the_image_early():
    # Regression: searching for the first FF D9 would cut the image inside its EXIF block.
    data = jpeg_with_exif_thumbnail()
    assert jpeg_length(data) == len(data)
    Image.open(io.BytesIO(data[: jpeg_length(data)])).load()


def test_progressive_jpegs_are_walked_through_every_scan():
    data = jpeg_bytes(200, 150, progressive=True)
    assert jpeg_length(data + b"\x00\x00") == len(data)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "empty"),
        (b"GIF89a", "not_jpeg"),
        (b"\x89PNG\r\n\x1a\n", "not_jpeg"),
        (b"\xff\xd8", "truncated"),
    ],
)
def test_unusable_bodies_are_named(body, code):
    with pytest.raises(JpegError) as caught:
        jpeg_length(body)
    assert caught.value.code == code


def test_a_frame_cut_short_is_truncated(jpeg):
    # Given a frame whose transfer stopped half way (no end-of-image marker)
    with pytest.raises(JpegError) as caught:
        jpeg_length(jpeg[: len(jpeg) // 2])
    assert caught.value.code == "truncated"


def test_device_clock_is_used_when_plausible():
    t = parse_captured_at("2026-11-21T11:59:30Z", NOW)
    assert t.clock == "device"
    assert t.captured_at == NOW - timedelta(seconds=30)
    assert t.received_at == NOW


def test_unix_seconds_are_accepted():
    t = parse_captured_at(str(int((NOW - timedelta(minutes=1)).timestamp())), NOW)
    assert t.clock == "device"
    assert t.captured_at == NOW - timedelta(minutes=1)


@pytest.mark.parametrize(
    "value",
    ["5", "1970-01-01T00:00:05Z", "2019-12-31T23:59:59Z", "2026-11-21T12:06:00Z"],
)
def test_implausible_device_times_fall_back_to_the_receive_time(value):
    # Given a camera without NTP (1970 + uptime) or with a clock far ahead
    t = parse_captured_at(value, NOW)
    # Then the receive time is used and recorded as such
    assert t.clock == "server"
    assert t.captured_at == NOW


def test_missing_time_uses_the_server_clock():
    assert parse_captured_at(None, NOW).clock == "server"


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "2026-11-21T10:00:00",
                                   "1" * 30])
def test_unparseable_times_are_a_client_error(value):
    with pytest.raises(HeaderError) as caught:
        parse_captured_at(value, NOW)
    assert caught.value.code == "bad_captured_at"


def test_telemetry_keeps_well_formed_values_and_drops_the_rest():
    headers = {
        "X-Firmware": "camcloud-fw 1.2.0",
        "X-RSSI": "-67",
        "X-Free-Heap": "not-a-number",
        "X-Boot-Count": "12",
        "X-Reset-Reason": "POWERON",
        "X-Uptime": "-1",
        "X-Frames-Lost": "3",
    }
    assert parse_telemetry(headers) == {
        "firmware": "camcloud-fw 1.2.0",
        "rssi": -67,
        "boot_count": 12,
        "reset_reason": "POWERON",
        "frames_lost": 3,
    }


# ---------------------------------------------------------------- issue 13: work caps


def refusal(body: bytes, *, within: float) -> JpegError:
    """The too_complex refusal of ``body``, checked to come within ``within`` seconds."""
    started = time.perf_counter()
    with pytest.raises(JpegError) as caught:
        jpeg_length(body)
    assert time.perf_counter() - started < within
    assert caught.value.code == "too_complex"
    return caught.value


def test_progressive_scan_bomb_is_refused_before_decoding():
    # Regression (issue 13): a 4000x4000 grey progressive JPEG with 10,000 all-EOB AC scans
    # (about 400 kB) was accepted and then cost 16 s of CPU to decode.
    assert "scans" in str(refusal(scan_bomb(10_000), within=0.5))


def test_scan_bomb_over_the_work_budget_of_a_large_frame_is_refused():
    # Regression (issue 13): few scans, but each over 16 million pixels.
    assert "pixel" in str(refusal(scan_bomb(30), within=0.5))


def test_fill_byte_flood_is_refused_without_a_per_byte_walk():
    # Regression (issue 13): 8 MiB of FF D8, 0xFF fill, FF D9 was accepted after 0.85 s of
    # per-byte walking, then cost 7.5 s in the thumbnailer.
    assert "fill" in str(refusal(fill_flood(8 * 1024 * 1024), within=0.1))


def test_a_jpeg_flooded_with_segments_is_refused():
    # Thousands of empty comment segments: each one a Python step of the walk.
    body = b"\xff\xd8" + b"\xff\xfe\x00\x02" * 2_000 + b"\xff\xd9"
    assert "segments" in str(refusal(body, within=0.5))


def test_camera_frames_stay_well_inside_the_work_caps():
    # A 16 MP progressive colour frame (10 scans) and a few fill bytes before a marker pass.
    frame = jpeg_bytes(4000, 4000, progressive=True)
    assert jpeg_length(frame) == len(frame)
    parts = segments(jpeg_bytes(64, 48))
    padded = b"".join(parts[:2]) + b"\xff" * 16 + b"".join(parts[2:])
    assert jpeg_length(padded) == len(padded)


@hypothesis_settings(max_examples=25, deadline=None)
@given(body=scan_bombs() | fill_floods())
def test_fuzz_hostile_bodies_are_refused_as_too_complex(body):
    with pytest.raises(JpegError) as caught:
        jpeg_length(body)
    assert caught.value.code == "too_complex"


@hypothesis_settings(max_examples=40, deadline=None)
@given(fill=st.integers(min_value=0, max_value=2_000), where=st.integers(min_value=1,
                                                                            max_value=20))
def test_fuzz_fill_before_a_marker_is_skipped_up_to_the_cap(fill, where):
    # Given a real frame with `fill` extra 0xFF bytes before one of its markers
    parts = segments(jpeg_bytes(64, 48, progressive=True))
    at = min(where, len(parts) - 1)
    body = b"".join(parts[:at]) + b"\xff" * fill + b"".join(parts[at:])
    # Then it is measured whole up to the cap, and refused as too complex beyond it
    if fill < MAX_FILL:
        assert jpeg_length(body) == len(body)
    else:
        with pytest.raises(JpegError) as caught:
            jpeg_length(body)
        assert caught.value.code == "too_complex"
