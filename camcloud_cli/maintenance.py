"""``camcloud reprocess`` and ``camcloud import``: the commands over camcloud's services."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from camcloud import layout
from camcloud.devices import DeviceRegistry
from camcloud.importer import import_folder, jpeg_files
from camcloud.reprocess import Selection, reprocess, select_captures
from camcloud.thumbnailer import Thumbnailer
from camcloud_cli.config import open_bucket

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

    settings, client = open_bucket()
    selection = Selection(device=device, since=since, until=until, missing_only=missing_only)
    try:
        refs = select_captures(client, settings.bucket, selection)
    except layout.LayoutError as exc:
        raise click.ClickException(str(exc)) from None
    registry = DeviceRegistry(lambda: client, settings.bucket,
                              cache_seconds=settings.key_cache_seconds)
    if device is not None and not refs:
        # "of 0" alone reads like success for a misspelt camera.
        if registry.get(device, fresh=True) is None:
            raise click.ClickException(f"unknown device {device!r}: no such camera and no "
                                       "captures (see `camcloud devices list`)")
        click.echo(f"device {device} has no captures to re-render"
                   + (" in that time range" if since or until else ""))
        return
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
@click.option("--timezone", "timezone", default="UTC", show_default=True,
              help="Time zone of file-name and EXIF times without an offset, e.g. Europe/Berlin.")
@click.option("--apply-rotation", is_flag=True,
              help="Turn these photos by DEVICE's rotation setting, as its uploads are "
                   "(default: show them as they were taken).")
def import_command(folder: Path, device: str, timezone: str, apply_rotation: bool) -> None:
    """Upload the JPEGs in FOLDER as captures of DEVICE (safe to run again).

    Each capture time comes from the file name (YYYYMMDD_HHMMSS, YYYY-MM-DD_HH-MM-SS, Unix
    seconds), else the EXIF DateTimeOriginal, else the file's modification time.

    Imported photos are shown as they were taken: DEVICE's rotation setting turns them
    only with --apply-rotation. Run again with the other choice, the import changes it for
    the photos already imported (they are rendered again).
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from tqdm import tqdm

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {timezone!r} (e.g. Europe/Berlin)",
                                 param_hint="--timezone") from None

    settings, client = open_bucket()
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
        result = import_folder(client, settings.bucket, device, files, zone=zone,
                               apply_rotation=apply_rotation,
                               on_progress=lambda _path, _outcome: bar.update(1))
    click.echo(f"stored {len(result.stored)}, already there "
               f"{len(result.already) + len(result.rechosen)}, "
               f"skipped {len(result.skipped)} (of {len(files)} JPEG files)")
    turned = (f"turned by {device}'s rotation setting ({known.rotation})" if apply_rotation
              else f"shown as taken ({device}'s rotation setting does not turn them)")
    if result.stored or result.rechosen:
        click.echo(f"imported photos are {turned}")
    if result.rechosen:
        click.echo(f"{len(result.rechosen)} already imported with the other rotation choice: "
                   "changed, they are rendered again")
    for path, reason in sorted(result.skipped.items())[:20]:
        click.echo(f"  skipped {path}: {reason}", err=True)
