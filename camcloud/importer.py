"""Imports: a folder of existing JPEGs stored as captures of one camera (``camcloud import``).

The ``uploads/`` folder of the old Flask app, for instance. It is idempotent: the capture id is
the file's sha256, the capture time the one in its name, else its EXIF ``DateTimeOriginal``,
else the file's mtime, and the original is written with put-if-absent, so running it again
stores nothing twice. The S3 trigger then makes thumbnails as for an upload, with one
difference: the originals are marked as imports, and the camera's rotation setting turns them
only if the import asked for it (``apply_rotation``). A second run with the other choice
changes the mark of the photos it imported (a copy of the original onto itself, whose event
re-renders them).
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from camcloud import layout
from camcloud.records import object_metadata, parse_object_metadata
from camcloud.reservations import reserve_raw_key
from camcloud.s3 import is_missing, put_if_absent
from camcloud.validation import JpegError, jpeg_length

JPEG_SUFFIXES = {".jpg", ".jpeg"}
# Time stamps in the old server's file names (uploads/20250601_143000.jpg and the like): the
# digits must stand alone, so a sha256 or a counter inside a name is never read as a time.
_NAME_TIMES = (
    (re.compile(r"(?<![0-9])(\d{8})[_T-](\d{6})(?![0-9])"), "%Y%m%d%H%M%S"),
    (re.compile(r"(?<![0-9])(\d{4}-\d{2}-\d{2})[_T ](\d{2}-\d{2}-\d{2})(?![0-9])"),
     "%Y-%m-%d%H-%M-%S"),
)
# Unix seconds (10 digits: 2001-09-09 to 2286), optionally with milliseconds.
_UNIX_TIME = re.compile(r"(?<![0-9])(\d{10})(?:\.\d{1,6}|\d{3})?(?![0-9])")
# The earliest EXIF date taken at face value; older ones are unset camera clocks (1970, 2000).
EARLIEST_EXIF = datetime(2001, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ImportPlan:
    """One file as it will be stored: its capture id, time and clock, and its bytes."""

    path: Path
    body: bytes
    sha256: str
    captured_at: datetime
    clock: str  # "name" | "exif" | "file"


@dataclass
class ImportResult:
    """What an import run did."""

    stored: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    # Already imported with the other rotation choice: re-marked, so re-rendered.
    rechosen: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def jpeg_files(folder: Path) -> list[Path]:
    """The JPEG files under ``folder`` (recursively), in name order."""
    return sorted(
        path for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in JPEG_SUFFIXES
    )


def name_capture_time(name: str, zone: tzinfo = UTC) -> datetime | None:
    """The time in a file name (``YYYYMMDD_HHMMSS``, ``YYYY-MM-DD_HH-MM-SS`` in ``zone``, or
    Unix seconds), or None."""
    for pattern, layout_format in _NAME_TIMES:
        match = pattern.search(name)
        if match:
            try:
                moment = datetime.strptime(match.group(1) + match.group(2), layout_format)
            except ValueError:
                continue
            return moment.replace(tzinfo=zone).astimezone(UTC)
    match = _UNIX_TIME.search(name)
    if match:
        return datetime.fromtimestamp(int(match.group(1)), UTC)
    return None


def exif_capture_time(body: bytes, zone: tzinfo = UTC) -> datetime | None:
    """``DateTimeOriginal`` (with ``OffsetTimeOriginal``, else taken in ``zone``), or None."""
    from PIL import ExifTags, Image

    try:
        with Image.open(io.BytesIO(body), formats=["JPEG"]) as image:
            exif = image.getexif().get_ifd(ExifTags.IFD.Exif)
    except Exception:  # noqa: BLE001 - no readable EXIF: the file's time stands in
        return None
    text = exif.get(ExifTags.Base.DateTimeOriginal)
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.strptime(text.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = exif.get(ExifTags.Base.OffsetTimeOriginal)
    if isinstance(offset, str):
        try:
            zone = datetime.strptime(offset.strip("\x00 "), "%z").tzinfo or zone
        except ValueError:
            pass
    return moment.replace(tzinfo=zone).astimezone(UTC)


def plan_import(path: Path, *, now: datetime | None = None, zone: tzinfo = UTC) -> ImportPlan:
    """Read ``path`` and decide how it is stored; raise JpegError if it is not a whole JPEG.

    The capture time comes from the file name, else EXIF, else the file's modification time
    (a copy that did not keep it makes every photo "today"); ``zone`` is the time zone of
    names and EXIF times that carry no offset.
    """
    data = path.read_bytes()
    # Same rule as the ingest: bytes after the end-of-image marker are padding, not image.
    body = data[: jpeg_length(data)]
    now = now or datetime.now(UTC)

    def plausible(moment: datetime | None) -> bool:
        return moment is not None and EARLIEST_EXIF <= moment <= now + timedelta(days=1)

    captured_at = name_capture_time(path.name, zone)
    clock = "name"
    if not plausible(captured_at):
        captured_at = exif_capture_time(body, zone)
        clock = "exif"
    if captured_at is None or not plausible(captured_at):
        captured_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        clock = "file"
    return ImportPlan(
        path=path,
        body=body,
        sha256=hashlib.sha256(body).hexdigest(),
        captured_at=captured_at,
        clock=clock,
    )


def store_import(client: Any, bucket: str, device: str, plan: ImportPlan,
                 *, now: datetime | None = None,
                 apply_rotation: bool = False) -> tuple[layout.CaptureRef, str]:
    """Store one planned file as a capture of ``device``; its ref and what happened.

    The outcome is ``stored``, ``already`` or ``rechosen`` (stored before with the other
    rotation choice, now changed). The capture id is the sha256, reserved under ``ids/`` as
    the ingest does, so a second run finds the first run's key even if the file's mtime
    changed in between.
    """
    proposed = layout.CaptureRef.new(device, layout.ms_of(plan.captured_at), plan.sha256)
    ref = reserve_raw_key(client, bucket, proposed)
    received_at = (now or datetime.now(UTC)).isoformat(timespec="milliseconds")
    metadata = object_metadata(
        capture_id=plan.sha256,
        captured_at=plan.captured_at.isoformat(timespec="milliseconds"),
        received_at=received_at,
        clock=plan.clock,
        sha256=plan.sha256,
        size=len(plan.body),
        telemetry={},
        imported=True,
        apply_rotation=apply_rotation,
    )
    if put_if_absent(client, bucket, ref.raw_key, plan.body, content_type="image/jpeg",
                     metadata=metadata):
        return ref, "stored"
    if _rechoose_rotation(client, bucket, ref.raw_key, apply_rotation):
        return ref, "rechosen"
    return ref, "already"


def _rechoose_rotation(client: Any, bucket: str, key: str, apply_rotation: bool) -> bool:
    """Give an earlier import at ``key`` this run's rotation choice; whether it changed.

    Only an import's mark changes: a camera's upload of the same bytes keeps its metadata.
    The original is copied onto itself with the new metadata (same bytes, one request); its
    ObjectCreated:Copy event makes the thumbnailer render it again with the new choice.
    """
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_missing(exc):  # deleted since the put: nothing left to re-mark
            return False
        raise
    stored = parse_object_metadata(head.get("Metadata") or {})
    if stored["source"] != "import" or stored["apply_rotation"] == apply_rotation:
        return False
    metadata = {name.lower(): value for name, value in (head.get("Metadata") or {}).items()}
    metadata["source"] = "import"
    metadata["apply-rotation"] = "yes" if apply_rotation else "no"
    client.copy_object(
        Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key},
        MetadataDirective="REPLACE", Metadata=metadata,
        ContentType=head.get("ContentType") or "image/jpeg",
        # Only the object it read: a concurrent replacement is not re-marked blindly.
        CopySourceIfMatch=head["ETag"],
    )
    return True


def import_folder(
    client: Any,
    bucket: str,
    device: str,
    files: Iterable[Path],
    *,
    on_progress: Callable[[Path, str], None] | None = None,
    zone: tzinfo = UTC,
    apply_rotation: bool = False,
) -> ImportResult:
    """Import ``files`` as captures of ``device``; files that are not whole JPEGs are skipped.

    With ``apply_rotation`` the camera's rotation setting turns them as it turns its uploads;
    without, they are shown as they were taken.
    """
    layout.check_device_id(device)
    result = ImportResult()
    for path in files:
        try:
            plan = plan_import(path, zone=zone)
        except JpegError as exc:
            # The message says it all ("the JPEG is truncated"); the code would repeat it.
            result.skipped[str(path)] = str(exc)
            outcome = "skipped"
        except OSError as exc:
            result.skipped[str(path)] = f"unreadable: {exc}"
            outcome = "skipped"
        else:
            ref, outcome = store_import(client, bucket, device, plan,
                                        apply_rotation=apply_rotation)
            {"stored": result.stored, "already": result.already,
             "rechosen": result.rechosen}[outcome].append(ref.raw_key)
        if on_progress is not None:
            on_progress(path, outcome)
    return result
