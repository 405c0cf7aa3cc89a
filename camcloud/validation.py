"""Checks on what a camera sends: JPEG framing, capture time, telemetry. Pure functions."""

from __future__ import annotations

import mmap
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EARLIEST_PLAUSIBLE = datetime(2020, 1, 1, tzinfo=UTC)
MAX_CLOCK_AHEAD = timedelta(minutes=5)

# Markers without a length field: TEM, RST0-7, SOI, EOI.
_STANDALONE = {0x01, *range(0xD0, 0xD8), 0xD8, 0xD9}
# Start-of-frame markers (SOF0-15 without DHT, JPG and DAC): they carry the image size.
_FRAMES = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_SOS = 0xDA

# Work caps (issue 13). Every scan of a progressive JPEG makes the decoder pass over the whole
# coefficient buffer again, so a small file of thousands of empty scans costs seconds to
# minutes of CPU. Encoders write 1-3 scans (baseline) or about 10 (progressive; mozjpeg a few
# more), so 100 is generous; and the scans times the pixels they cover is bounded too, so a
# large frame gets fewer: 16 MP (the thumbnailer's limit) may have 25.
MAX_SCANS = 100
MAX_SCAN_PIXELS = 400_000_000
# Frames above this many pixels are refused by the thumbnailer's decoder before any scan is
# decoded (imaging.MAX_PIXELS, "decompression_bomb"), so they count as this size here.
_DECODED_PIXELS = 16_000_000
# A real JPEG has a few dozen segments (APPn, DQT, DHT, SOF, and a DHT + SOS per scan).
MAX_SEGMENTS = 1_000
# 0xFF fill bytes may pad before any marker; encoders write none or a few. A run longer than
# this is a flood meant to make the walk (and the decoder) crawl, not a camera's frame.
MAX_FILL = 1_024


class JpegError(ValueError):
    """The bytes are not a complete JPEG; ``code`` is the protocol's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


Buffer = bytes | bytearray | memoryview | mmap.mmap
_Raw = bytes | bytearray | mmap.mmap

_FILL_RE = re.compile(rb"\xff+")


def jpeg_length(data: Buffer) -> int:
    """Length of the JPEG at the start of ``data``, up to and including its end-of-image marker.

    Walks the marker segments rather than searching for the last ``FF D9``: EXIF thumbnails
    embed their own end marker, and SPI FIFO padding after the image may contain anything.
    ``data`` may be an ``mmap`` of a spooled upload: it is read in place, never copied.
    Raises JpegError(``empty`` | ``not_jpeg`` | ``truncated`` | ``too_complex``): the last
    when decoding it would cost far more than a camera frame does (too many scans for its
    size, too many segments, a flood of fill bytes), checked before anything is decoded.
    """
    # bytes, bytearray and mmap index to ints and have find(): walk them without a copy.
    raw: _Raw = bytes(data) if isinstance(data, memoryview) else data
    size = len(raw)
    if size == 0:
        raise JpegError("empty", "the body is empty")
    if size < 2 or raw[0] != 0xFF or raw[1] != 0xD8:
        raise JpegError("not_jpeg", "the body is not a JPEG (no start-of-image marker)")
    work = _Work()
    pos = 2
    while True:
        marker, pos = _next_marker(raw, pos, size)
        if marker == 0xD9:
            return pos
        if marker in _STANDALONE:
            continue
        if pos + 2 > size:
            raise JpegError("truncated", "the JPEG is truncated inside a segment header")
        length = (raw[pos] << 8) | raw[pos + 1]
        if length < 2:
            raise JpegError("not_jpeg", f"the JPEG is malformed (segment length {length})")
        if pos + length > size:
            raise JpegError("truncated", "the JPEG is truncated inside a segment")
        work.segment(marker, raw, pos)
        pos += length
        if marker == _SOS:
            pos = _skip_entropy_coded(raw, pos, size)


def _next_marker(raw: _Raw, pos: int, size: int) -> tuple[int, int]:
    """The marker code at ``pos`` (after its 0xFF and any fill bytes) and the offset after it."""
    if pos >= size:
        raise JpegError("truncated", "the JPEG is truncated (no end-of-image marker)")
    if raw[pos] != 0xFF:
        raise JpegError("not_jpeg", f"the JPEG is malformed (no marker at byte {pos})")
    # One C-speed match over the 0xFF run instead of a Python step per byte.
    fill = _FILL_RE.match(raw, pos, min(size, pos + MAX_FILL + 2))
    assert fill is not None  # raw[pos] is 0xFF
    end = fill.end()
    if end - pos > MAX_FILL:
        raise JpegError("too_complex",
                        f"the JPEG has a run of more than {MAX_FILL} fill bytes at byte {pos}")
    if end >= size:
        raise JpegError("truncated", "the JPEG is truncated (no end-of-image marker)")
    return raw[end], end + 1


class _Work:
    """Counts what the decoder would have to do, and refuses before it is too much."""

    def __init__(self) -> None:
        self.segments = 0
        self.scans = 0
        self.pixels = 0

    def segment(self, marker: int, raw: _Raw, pos: int) -> None:
        """Account for one segment whose length field starts at ``pos``."""
        self.segments += 1
        if self.segments > MAX_SEGMENTS:
            raise JpegError("too_complex", f"the JPEG has more than {MAX_SEGMENTS} segments")
        if marker in _FRAMES and pos + 7 <= len(raw):
            # SOF: length(2) precision(1) height(2) width(2)
            height = (raw[pos + 3] << 8) | raw[pos + 4]
            width = (raw[pos + 5] << 8) | raw[pos + 6]
            self.pixels = max(self.pixels, width * height)
        elif marker == _SOS:
            self.scans += 1
            if self.scans > MAX_SCANS:
                raise JpegError("too_complex", f"the JPEG has more than {MAX_SCANS} scans")
            if self.scans * min(self.pixels, _DECODED_PIXELS) > MAX_SCAN_PIXELS:
                raise JpegError(
                    "too_complex",
                    f"the JPEG has {self.scans} or more scans over {self.pixels} pixels; "
                    f"camcloud decodes at most {MAX_SCAN_PIXELS // 1_000_000} million "
                    "pixel-scans",
                )


# In scan data, FF00 is a stuffed data byte, FFD0-FFD7 restart markers and FFFF fill: the
# scan ends at the first FF followed by anything else. One regex search (C speed) instead of a
# Python step per FF byte: a 150 kB frame has about a thousand of them.
_SCAN_END_RE = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")


def _skip_entropy_coded(raw: _Raw, pos: int, size: int) -> int:
    """Return the offset of the marker that ends the scan data starting at ``pos``."""
    found = _SCAN_END_RE.search(raw, pos, size)
    if found is None:
        raise JpegError("truncated", "the JPEG is truncated (no end-of-image marker)")
    end = found.start()
    # The search stops at the last 0xFF of a fill run; step back over the run (at most one
    # byte past the cap) so that the marker walk measures all of it.
    lookback = max(pos, end - MAX_FILL - 1)
    before = raw[lookback:end]
    return lookback + len(before.rstrip(b"\xff")) if before.endswith(b"\xff") else end


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
    # Frames the camera had to drop (PSRAM retry ring full), sent by firmware/ (docs/protocol.md).
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
