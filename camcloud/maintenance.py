"""Repairs and imports: ``camcloud reprocess`` and ``camcloud import``.

``reprocess`` runs the thumbnailer over originals already in ``raw/`` (all of them, one camera,
a time range, or only those without a record), so a changed thumbnail size, a device rotation
set after the fact or an event that never arrived is repaired with one command.

``import`` uploads a folder of existing JPEGs (the ``uploads/`` folder of the old Flask app) as
captures of one camera. It is idempotent: the capture id is the file's sha256, the capture
time its EXIF ``DateTimeOriginal`` (else the file's mtime), and the original is written with
put-if-absent, so running it again stores nothing twice. The S3 trigger then makes thumbnails
exactly as for an upload.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from camcloud import layout

JPEG_SUFFIXES = {".jpg", ".jpeg"}
# The earliest EXIF date taken at face value; older ones are unset camera clocks (1970, 2000).
EARLIEST_EXIF = datetime(2001, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------- reprocess


@dataclass(frozen=True)
class Selection:
    """Which originals to reprocess; times are UTC, ``until`` exclusive."""

    device: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    missing_only: bool = False


@dataclass
class ReprocessResult:
    """What a reprocess run did."""

    rendered: int = 0
    bad: dict[str, str] = field(default_factory=dict)
    gone: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def _ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, min(layout.REV_MAX, int(moment.timestamp() * 1000)))


def _rev_bounds(selection: Selection) -> tuple[str | None, str | None]:
    """(exclusive lower rev bound from ``until``, inclusive upper rev bound from ``since``)."""
    after = layout.rev_from_ms(_ms(selection.until)) if selection.until else None
    last = layout.rev_from_ms(_ms(selection.since)) if selection.since else None
    return after, last


def _keys_in_range(
    client: Any, bucket: str, prefix: str, after_rev: str | None, last_rev: str | None
) -> Iterator[str]:
    """Keys ``{prefix}{rev}_…`` with ``after_rev < rev <= last_rev``, in S3 order.

    Keys sort newest first, so a range is one listing that starts after ``until`` and stops
    at ``since``: a day of one camera costs a day's listing, not the bucket's.
    """
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if after_rev is not None:
        # '~' sorts after every character of a device or capture id.
        params["StartAfter"] = f"{prefix}{after_rev}_~"
    for page in client.get_paginator("list_objects_v2").paginate(**params):
        for item in page.get("Contents", []):
            key = item["Key"]
            rev = key[len(prefix) : len(prefix) + layout.REV_DIGITS]
            if last_rev is not None and rev > last_rev:
                return
            yield key


def camera_ids(client: Any, bucket: str) -> list[str]:
    """Every device that has originals under ``raw/``."""
    devices = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=layout.RAW_PREFIX, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            device = common["Prefix"][len(layout.RAW_PREFIX) :].rstrip("/")
            if layout.DEVICE_ID_RE.fullmatch(device):
                devices.append(device)
    return devices


def select_captures(client: Any, bucket: str, selection: Selection) -> list[layout.CaptureRef]:
    """The captures a reprocess of ``selection`` covers, newest first per camera."""
    after_rev, last_rev = _rev_bounds(selection)
    devices = [layout.check_device_id(selection.device)] if selection.device else camera_ids(
        client, bucket
    )
    refs = []
    for device in devices:
        prefix = layout.device_raw_prefix(device)
        for key in _keys_in_range(client, bucket, prefix, after_rev, last_rev):
            try:
                refs.append(layout.parse_key(key))
            except layout.LayoutError:
                continue
    if selection.missing_only:
        recorded = set(_keys_in_range(client, bucket, layout.META_PREFIX, after_rev, last_rev))
        refs = [ref for ref in refs if ref.meta_key not in recorded]
    return refs


def reprocess(
    thumbnailer: Any,
    bucket: str,
    refs: Iterable[layout.CaptureRef],
    *,
    jobs: int = 4,
    on_progress: Callable[[layout.CaptureRef, str], None] | None = None,
) -> ReprocessResult:
    """Run ``thumbnailer.process_capture`` over ``refs`` with ``jobs`` threads.

    A failure of one capture is recorded and the run goes on; the caller reports it.
    """
    result = ReprocessResult()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(thumbnailer.process_capture, bucket, ref): ref for ref in refs}
        for future in as_completed(futures):
            ref = futures[future]
            try:
                record = future.result()
            except Exception as exc:  # noqa: BLE001 - reported per capture, the run goes on
                result.failed[ref.raw_key] = f"{type(exc).__name__}: {exc}"
                outcome = "failed"
            else:
                if record is None:
                    result.gone += 1
                    outcome = "gone"
                elif record.get("status") == "error":
                    result.bad[ref.raw_key] = str(record.get("error_code"))
                    outcome = "bad"
                else:
                    result.rendered += 1
                    outcome = "rendered"
            if on_progress is not None:
                on_progress(ref, outcome)
    return result


# ---------------------------------------------------------------------------- import


@dataclass(frozen=True)
class ImportPlan:
    """One file as it will be stored: its capture id, time and clock, and its bytes."""

    path: Path
    body: bytes
    sha256: str
    captured_at: datetime
    clock: str  # "exif" | "file"


@dataclass
class ImportResult:
    """What an import run did."""

    stored: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def jpeg_files(folder: Path) -> list[Path]:
    """The JPEG files under ``folder`` (recursively), in name order."""
    return sorted(
        path for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in JPEG_SUFFIXES
    )


def exif_capture_time(body: bytes) -> datetime | None:
    """``DateTimeOriginal`` (with ``OffsetTimeOriginal``, else taken as UTC), or None."""
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
    zone = UTC
    if isinstance(offset, str):
        try:
            zone = datetime.strptime(offset.strip("\x00 "), "%z").tzinfo or UTC
        except ValueError:
            zone = UTC
    return moment.replace(tzinfo=zone).astimezone(UTC)


def plan_import(path: Path, *, now: datetime | None = None) -> ImportPlan:
    """Read ``path`` and decide how it is stored; raise JpegError if it is not a whole JPEG."""
    from camcloud.validation import jpeg_length

    data = path.read_bytes()
    # Same rule as the ingest: bytes after the end-of-image marker are padding, not image.
    body = data[: jpeg_length(data)]
    now = now or datetime.now(UTC)
    captured_at = exif_capture_time(body)
    clock = "exif"
    if captured_at is None or not EARLIEST_EXIF <= captured_at <= now + timedelta(days=1):
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
                 *, now: datetime | None = None) -> tuple[layout.CaptureRef, bool]:
    """Store one planned file as a capture of ``device``; returns its ref and whether it is new.

    The capture id is the sha256, reserved under ``ids/`` as the ingest does, so a second run
    finds the first run's key even if the file's mtime changed in between.
    """
    from camcloud.records import object_metadata
    from camcloud.reservations import reserve_raw_key
    from camcloud.s3 import put_if_absent

    proposed = layout.CaptureRef.new(device, _ms(plan.captured_at), plan.sha256)
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
    )
    created = put_if_absent(client, bucket, ref.raw_key, plan.body, content_type="image/jpeg",
                            metadata=metadata)
    return ref, created


def import_folder(
    client: Any,
    bucket: str,
    device: str,
    files: Iterable[Path],
    *,
    on_progress: Callable[[Path, str], None] | None = None,
) -> ImportResult:
    """Import ``files`` as captures of ``device``; files that are not whole JPEGs are skipped."""
    from camcloud.validation import JpegError

    layout.check_device_id(device)
    result = ImportResult()
    for path in files:
        try:
            plan = plan_import(path)
        except JpegError as exc:
            result.skipped[str(path)] = f"{exc.code}: {exc}"
            outcome = "skipped"
        except OSError as exc:
            result.skipped[str(path)] = f"unreadable: {exc}"
            outcome = "skipped"
        else:
            ref, created = store_import(client, bucket, device, plan)
            (result.stored if created else result.already).append(ref.raw_key)
            outcome = "stored" if created else "already"
        if on_progress is not None:
            on_progress(path, outcome)
    return result


# ---------------------------------------------------------------------------- commands

_DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"]


@click.command("reprocess")
@click.option("--device", default=None, help="Only this camera's captures.")
@click.option("--since", type=click.DateTime(_DATE_FORMATS), default=None,
              help="Only captures taken at or after this time (UTC).")
@click.option("--until", type=click.DateTime(_DATE_FORMATS), default=None,
              help="Only captures taken before this time (UTC).")
@click.option("--missing-only", "--missing", "missing_only", is_flag=True,
              help="Only captures without a metadata record (missed or dead-lettered events).")
@click.option("--jobs", default=4, show_default=True, type=click.IntRange(1, 32),
              help="Captures rendered at once.")
def reprocess_command(device: str | None, since: datetime | None, until: datetime | None,
                      missing_only: bool, jobs: int) -> None:
    """Re-run the thumbnailer over originals already stored (repairs thumbnails and records)."""
    from tqdm import tqdm

    from camcloud.cli import load_settings
    from camcloud.devices import DeviceRegistry
    from camcloud.s3 import make_client
    from camcloud.thumbnailer import Thumbnailer

    settings = load_settings()
    client = make_client(settings)
    selection = Selection(device=device, since=since, until=until, missing_only=missing_only)
    try:
        refs = select_captures(client, settings.bucket, selection)
    except layout.LayoutError as exc:
        raise click.ClickException(str(exc)) from None
    registry = DeviceRegistry(lambda: client, settings.bucket,
                              cache_seconds=settings.key_cache_seconds)
    thumbnailer = Thumbnailer(lambda: client, registry)
    with tqdm(total=len(refs), unit="capture", disable=None) as bar:
        result = reprocess(thumbnailer, settings.bucket, refs, jobs=jobs,
                           on_progress=lambda _ref, _outcome: bar.update(1))
    click.echo(f"rendered {result.rendered}, bad originals {len(result.bad)}, "
               f"gone {result.gone}, failed {len(result.failed)} (of {len(refs)})")
    for key, code in sorted(result.bad.items())[:10]:
        click.echo(f"  bad original {key}: {code}", err=True)
    for key, error in sorted(result.failed.items())[:10]:
        click.echo(f"  failed {key}: {error}", err=True)
    if result.failed:
        raise SystemExit(1)


@click.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--device", required=True, help="The registered camera the images belong to.")
def import_command(folder: Path, device: str) -> None:
    """Upload the JPEGs in FOLDER as captures of DEVICE (safe to run again)."""
    from tqdm import tqdm

    from camcloud.cli import load_settings
    from camcloud.devices import DeviceRegistry
    from camcloud.s3 import make_client

    settings = load_settings()
    client = make_client(settings)
    try:
        known = DeviceRegistry(lambda: client, settings.bucket).get(device, fresh=True)
    except layout.LayoutError as exc:
        raise click.ClickException(str(exc)) from None
    if known is None:
        raise click.ClickException(
            f"no device {device!r}: register it first with `camcloud devices add {device}`"
        )
    files = jpeg_files(folder)
    with tqdm(total=len(files), unit="file", disable=None) as bar:
        result = import_folder(client, settings.bucket, device, files,
                               on_progress=lambda _path, _outcome: bar.update(1))
    click.echo(f"stored {len(result.stored)}, already there {len(result.already)}, "
               f"skipped {len(result.skipped)} (of {len(files)} JPEG files)")
    for path, reason in sorted(result.skipped.items())[:20]:
        click.echo(f"  skipped {path}: {reason}", err=True)
