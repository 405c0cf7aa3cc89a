"""Checks on what a camera sends: JPEG framing, capture time, telemetry. Pure functions."""

from __future__ import annotations

import mmap
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SOI = b"\xff\xd8"
EARLIEST_PLAUSIBLE = datetime(2020, 1, 1, tzinfo=UTC)
MAX_CLOCK_AHEAD = timedelta(minutes=5)

# Markers without a length field: TEM, RST0-7, SOI, EOI.
_STANDALONE = {0x01, *range(0xD0, 0xD8), 0xD8, 0xD9}


class JpegError(ValueError):
    """The bytes are not a complete JPEG; ``code`` is the protocol's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


Buffer = bytes | bytearray | memoryview | mmap.mmap


def jpeg_length(data: Buffer) -> int:
    """Length of the JPEG at the start of ``data``, up to and including its end-of-image marker.

    Walks the marker segments rather than searching for the last ``FF D9``: EXIF thumbnails
    embed their own end marker, and SPI FIFO padding after the image may contain anything.
    ``data`` may be an ``mmap`` of a spooled upload: it is read in place, never copied.
    Raises JpegError(``empty`` | ``not_jpeg`` | ``truncated``).
    """
    # bytes, bytearray and mmap index to ints and have find(): walk them without a copy.
    raw: bytes | bytearray | mmap.mmap = bytes(data) if isinstance(data, memoryview) else data
    size = len(raw)
    if size == 0:
        raise JpegError("empty", "the body is empty")
    if size < 2 or raw[0] != 0xFF or raw[1] != 0xD8:
        raise JpegError("not_jpeg", "the body is not a JPEG (no start-of-image marker)")
    pos = 2
    while True:
        # Find the next marker: 0xFF, optional 0xFF fill bytes, then a marker code.
        if pos >= size:
            raise JpegError("truncated", "the JPEG is truncated (no end-of-image marker)")
        if raw[pos] != 0xFF:
            raise JpegError("not_jpeg", f"the JPEG is malformed (no marker at byte {pos})")
        while pos < size and raw[pos] == 0xFF:
            pos += 1
        if pos >= size:
            raise JpegError("truncated", "the JPEG is truncated (no end-of-image marker)")
        marker = raw[pos]
        pos += 1
        if marker == 0xD9:
            return pos
        if marker in _STANDALONE:
            continue
        if pos + 2 > size:
            raise JpegError("truncated", "the JPEG is truncated inside a segment header")
        length = (raw[pos] << 8) | raw[pos + 1]
        if length < 2:
            raise JpegError("not_jpeg", f"the JPEG is malformed (segment length {length})")
        pos += length
        if pos > size:
            raise JpegError("truncated", "the JPEG is truncated inside a segment")
        if marker == 0xDA:
            pos = _skip_entropy_coded(raw, pos, size)


# In scan data, FF00 is a stuffed data byte, FFD0-FFD7 restart markers and FFFF fill: the
# scan ends at the first FF followed by anything else. One regex search (C speed) instead of a
# Python step per FF byte: a 150 kB frame has about a thousand of them.
_SCAN_END_RE = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")


def _skip_entropy_coded(raw: bytes | bytearray | mmap.mmap, pos: int, size: int) -> int:
    """Return the offset of the marker that ends the scan data starting at ``pos``."""
    found = _SCAN_END_RE.search(raw, pos, size)
    if found is None:
        raise JpegError("truncated", "the JPEG is truncated (no end-of-image marker)")
    return found.start()


@dataclass(frozen=True)
class CaptureTime:
    """When a capture was taken, and which clock said so (``device`` or ``server``)."""

    captured_at: datetime
    received_at: datetime
    clock: str

    @property
    def captured_at_ms(self) -> int:
        """Capture time in Unix milliseconds."""
        return int(self.captured_at.timestamp() * 1000)


class HeaderError(ValueError):
    """A request header is malformed; ``code`` is the protocol's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_UNIX_RE = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")


def parse_captured_at(value: str | None, received_at: datetime) -> CaptureTime:
    """Resolve ``X-Captured-At`` (RFC 3339 or Unix seconds) against the receive time.

    A value that cannot be parsed is a client bug (HeaderError). A value that parses but is
    implausible (before 2020: no NTP yet; more than 5 minutes ahead) falls back to the receive
    time, because an unsynchronised camera's image is still worth keeping.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    if value is None or value.strip() == "":
        return CaptureTime(received_at, received_at, "server")
    text = value.strip()
    try:
        if _UNIX_RE.fullmatch(text):
            captured = datetime.fromtimestamp(float(text), tz=UTC)
        else:
            captured = datetime.fromisoformat(text.replace("z", "Z"))
            if captured.tzinfo is None:
                raise ValueError("no timezone")
            captured = captured.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise HeaderError(
            "bad_captured_at",
            f"X-Captured-At {text[:40]!r} is neither RFC 3339 with a timezone nor Unix seconds",
        ) from None
    if captured < EARLIEST_PLAUSIBLE or captured > received_at + MAX_CLOCK_AHEAD:
        return CaptureTime(received_at, received_at, "server")
    return CaptureTime(captured, received_at, "device")


# Telemetry header -> (record field, parser). Values that do not parse are dropped, not fatal:
# a bad RSSI reading must never cost the image.
_PRINTABLE_RE = re.compile(r"[ -~]{1,64}")


def _int_in(low: int, high: int):  # type: ignore[no-untyped-def]
    def parse(text: str) -> int | None:
        try:
            number = int(text.strip())
        except ValueError:
            return None
        return number if low <= number <= high else None

    return parse


def _short_text(text: str) -> str | None:
    text = text.strip()
    return text if _PRINTABLE_RE.fullmatch(text) else None


TELEMETRY_HEADERS = {
    "X-Firmware": ("firmware", _short_text),
    "X-RSSI": ("rssi", _int_in(-150, 0)),
    "X-Free-Heap": ("free_heap", _int_in(0, 2**31)),
    # The largest free block (ESP.getMaxAllocHeap()): what a TLS handshake needs in one piece.
    "X-Max-Alloc-Heap": ("max_alloc_heap", _int_in(0, 2**31)),
    "X-Boot-Count": ("boot_count", _int_in(0, 2**31)),
    "X-Reset-Reason": ("reset_reason", _short_text),
    "X-Uptime": ("uptime", _int_in(0, 2**40)),
    # Frames the camera had to drop (PSRAM retry ring full): not in SPEC v1, sent by firmware/.
    "X-Frames-Lost": ("frames_lost", _int_in(0, 2**31)),
}


# The same parsers by field name, for reading telemetry back from S3 object metadata.
TELEMETRY_FIELDS = {name: parse for name, parse in TELEMETRY_HEADERS.values()}


def parse_telemetry(headers: Mapping[str, str]) -> dict[str, int | str]:
    """The telemetry a device sent, keeping only well-formed values."""
    telemetry: dict[str, int | str] = {}
    for header, (name, parse) in TELEMETRY_HEADERS.items():
        raw = headers.get(header)
        if raw is None:
            continue
        value = parse(raw)
        if value is not None:
            telemetry[name] = value
    return telemetry
