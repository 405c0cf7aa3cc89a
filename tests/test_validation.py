"""JPEG framing, capture time and telemetry checks: pure functions, no mocks."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from camcloud.validation import (
    HeaderError,
    JpegError,
    jpeg_length,
    parse_captured_at,
    parse_telemetry,
)
from tests.conftest import jpeg_bytes

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
