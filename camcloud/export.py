"""Export a day or a date range of one camera as a ZIP, built as a stream.

:func:`export_zip` is a generator of bytes: the originals are listed one page at a time and
fetched one at a time, each copied into the archive in chunks, and the archive's bytes are
handed out as soon as they are written. Nothing holds the whole archive, in memory or on disk.
The one thing that grows with the number of captures is the ZIP central directory (about 100
bytes per capture, written at the end as the format requires): it stays in memory up to
256 KiB and spills to a temporary file beyond, so memory is flat at any size. The gallery
streams the ZIP as a response, or a background job feeds it to :func:`upload_stream` (an S3
multipart upload, 8 MiB parts).

JPEGs are stored, not deflated: they do not compress, and storing costs no CPU.
"""

from __future__ import annotations

import struct
import tempfile
import zlib
from collections.abc import Generator, Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import ClientError

from camcloud.layout import (
    REV_MAX,
    CaptureRef,
    LayoutError,
    device_raw_prefix,
    parse_key,
    rev_from_ms,
)
from camcloud.s3 import is_missing

CHUNK = 64 * 1024
PART_SIZE = 8 * 1024 * 1024
LIST_PAGE = 1000


class ExportError(ValueError):
    """A bad export request (dates, range, device); the message says what to fix."""


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ExportError(f"unknown time zone {timezone!r}") from None


def day_range(day: str, timezone: str = "UTC") -> tuple[int, int]:
    """``YYYY-MM-DD`` in ``timezone`` -> [start, end) in Unix milliseconds."""
    try:
        parsed = date.fromisoformat(day)
    except (TypeError, ValueError):
        raise ExportError(f"invalid date {day!r}: expected YYYY-MM-DD") from None
    zone = _zone(timezone)
    start = datetime(parsed.year, parsed.month, parsed.day, tzinfo=zone)
    end = datetime.combine(parsed + timedelta(days=1), start.timetz())
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def capture_file_name(ref: CaptureRef, timezone: str = "UTC") -> str:
    """``2026-11-30_14-05-09_cam-1_<capture id>.jpg``: the capture time first, so names sort."""
    taken = datetime.fromtimestamp(ref.captured_at_ms / 1000, _zone(timezone))
    return f"{taken:%Y-%m-%d_%H-%M-%S}_{ref.device}_{ref.capture_id}.jpg"


def iter_captures(
    client: Any, bucket: str, device: str, since_ms: int, until_ms: int
) -> Iterator[CaptureRef]:
    """The originals of ``device`` captured in [since, until), newest first, page by page."""
    if since_ms >= until_ms:
        raise ExportError("the range is empty: the start must be before the end")
    prefix = device_raw_prefix(device)
    # Keys sort newest first; start just after every key captured at or after ``until``
    # ("`" sorts after "_", so all keys of that exact millisecond are skipped too).
    start_after = prefix
    if until_ms <= REV_MAX:
        start_after = f"{prefix}{rev_from_ms(max(0, until_ms))}`"
    params: dict[str, Any] = {
        "Bucket": bucket, "Prefix": prefix, "MaxKeys": LIST_PAGE, "StartAfter": start_after,
    }
    while True:
        response = client.list_objects_v2(**params)
        for item in response.get("Contents", []):
            try:
                ref = parse_key(item["Key"])
            except LayoutError:
                continue  # nothing but originals belongs under raw/, but never crash on it
            if ref.captured_at_ms >= until_ms:
                continue
            if ref.captured_at_ms < since_ms:
                return
            yield ref
        if not response.get("IsTruncated"):
            return
        params.pop("StartAfter", None)
        params["ContinuationToken"] = response["NextContinuationToken"]


_LOCAL = struct.Struct("<IHHHHHIIIHH")
_DESCRIPTOR = struct.Struct("<IIII")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<IIQI")
_MAX16, _MAX32 = 0xFFFF, 0xFFFFFFFF
_DATA_DESCRIPTOR = 0x08
_MADE_BY_UNIX = (3 << 8) | 45
_FILE_MODE = 0o100644 << 16
# The central directory (one record of ~100 bytes per capture) is kept in memory up to this
# size and spills to a temporary file beyond it, so memory is the same at 10 and 100,000.
DIRECTORY_IN_MEMORY = 256 * 1024


def _dos_time(moment: datetime) -> tuple[int, int]:
    if moment.year < 1980:
        return 0, (1 << 5) | 1
    return ((moment.hour << 11) | (moment.minute << 5) | (moment.second // 2),
            ((moment.year - 1980) << 9) | (moment.month << 5) | moment.day)


class ZipWriter:
    """A ZIP archive written strictly forward: stored members with data descriptors, ZIP64
    where offsets or the member count need it; every method returns the bytes to send next.

    Python's zipfile can write to a non-seekable stream too, but it keeps a ZipInfo object per
    member (about 1 KiB each) and writes the whole central directory in one piece at the end.
    """

    def __init__(self) -> None:
        self._offset = 0
        self._count = 0
        self._directory = tempfile.SpooledTemporaryFile(max_size=DIRECTORY_IN_MEMORY)
        self._name = b""
        self._time = (0, 0)
        self._start = 0
        self._crc = 0
        self._size = 0

    def _out(self, data: bytes) -> bytes:
        self._offset += len(data)
        return data

    def begin(self, name: str, modified: datetime) -> bytes:
        """Start a member: its local header."""
        self._name = name.encode()
        self._time = _dos_time(modified)
        self._start = self._offset
        self._crc = 0
        self._size = 0
        header = _LOCAL.pack(0x04034B50, 20, _DATA_DESCRIPTOR, 0, self._time[0], self._time[1],
                             0, 0, 0, len(self._name), 0)
        return self._out(header + self._name)

    def data(self, chunk: bytes) -> bytes:
        """Member bytes, passed through (and counted)."""
        self._crc = zlib.crc32(chunk, self._crc)
        self._size += len(chunk)
        if self._size > _MAX32:
            raise ExportError("a single original over 4 GiB cannot be exported")
        return self._out(chunk)

    def end(self) -> bytes:
        """Finish the member: its data descriptor; remember its central directory record."""
        extra = b""
        offset = self._start
        if offset >= _MAX32:
            extra = struct.pack("<HHQ", 0x0001, 8, offset)
            offset = _MAX32
        record = _CENTRAL.pack(0x02014B50, _MADE_BY_UNIX, 45 if extra else 20, _DATA_DESCRIPTOR,
                               0, self._time[0], self._time[1], self._crc, self._size,
                               self._size, len(self._name), len(extra), 0, 0, 0, _FILE_MODE,
                               offset)
        self._directory.write(record + self._name + extra)
        self._count += 1
        return self._out(_DESCRIPTOR.pack(0x08074B50, self._crc, self._size, self._size))

    def close(self) -> None:
        """Free the central directory (its temporary file, if it spilled)."""
        self._directory.close()

    def finish(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The central directory, in chunks, then the end records."""
        directory_start = self._offset
        self._directory.seek(0)
        while chunk := self._directory.read(chunk_size):
            yield self._out(chunk)
        directory_size = self._offset - directory_start
        tail = b""
        if self._count > _MAX16 or directory_start > _MAX32 or directory_size > _MAX32:
            end64_at = self._offset
            tail += _END64.pack(0x06064B50, 44, _MADE_BY_UNIX, 45, 0, 0, self._count,
                                self._count, directory_size, directory_start)
            tail += _LOCATOR64.pack(0x07064B50, 0, end64_at, 1)
        tail += _END.pack(0x06054B50, 0, 0, min(self._count, _MAX16), min(self._count, _MAX16),
                          min(directory_size, _MAX32), min(directory_start, _MAX32), 0)
        yield self._out(tail)


def zip_stream(
    client: Any,
    bucket: str,
    captures: Iterable[CaptureRef],
    *,
    timezone: str = "UTC",
    chunk_size: int = CHUNK,
) -> Generator[bytes, None, None]:
    """A ZIP of the originals of ``captures``, as bytes handed out while it is being built."""
    zone = _zone(timezone)
    writer = ZipWriter()
    # A download the browser abandons closes this generator: the finally frees the directory.
    try:
        for ref in captures:
            try:
                response = client.get_object(Bucket=bucket, Key=ref.raw_key)
            except ClientError as exc:
                if is_missing(exc):
                    continue  # deleted since it was listed
                raise
            taken = datetime.fromtimestamp(ref.captured_at_ms / 1000, zone)
            yield writer.begin(capture_file_name(ref, timezone), taken)
            for chunk in response["Body"].iter_chunks(chunk_size):
                yield writer.data(chunk)
            yield writer.end()
        yield from writer.finish(chunk_size)
    finally:
        writer.close()


def export_zip(
    client: Any,
    bucket: str,
    device: str,
    since_ms: int,
    until_ms: int,
    *,
    timezone: str = "UTC",
) -> Generator[bytes, None, None]:
    """The originals of ``device`` captured in [since, until) as a streamed ZIP."""
    captures = iter_captures(client, bucket, device, since_ms, until_ms)
    return zip_stream(client, bucket, captures, timezone=timezone)


def export_file_name(device: str, since_ms: int, until_ms: int, timezone: str = "UTC") -> str:
    """``cam-1_2026-11-30.zip`` for a day, ``cam-1_2026-11-01_2026-11-30.zip`` for a range."""
    zone = _zone(timezone)
    first = datetime.fromtimestamp(since_ms / 1000, zone).date()
    last = datetime.fromtimestamp((until_ms - 1) / 1000, zone).date()
    if first == last:
        return f"{device}_{first}.zip"
    return f"{device}_{first}_{last}.zip"


def upload_stream(
    client: Any,
    bucket: str,
    key: str,
    chunks: Iterable[bytes],
    *,
    part_size: int = PART_SIZE,
    content_type: str = "application/zip",
) -> int:
    """Write a stream of bytes to ``key`` as a multipart upload (one part in memory at a time).

    Returns the number of bytes written; aborts the upload if anything fails.
    """
    upload = client.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)
    upload_id = upload["UploadId"]
    parts: list[dict[str, Any]] = []
    buffer = bytearray()
    total = 0

    def send(data: bytes) -> None:
        number = len(parts) + 1
        answer = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id,
                                    PartNumber=number, Body=data)
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    try:
        for chunk in chunks:
            buffer += chunk
            total += len(chunk)
            while len(buffer) >= part_size:
                send(bytes(buffer[:part_size]))
                del buffer[:part_size]
        if buffer or not parts:
            send(bytes(buffer))
        client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                         MultipartUpload={"Parts": parts})
    except BaseException:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return total
