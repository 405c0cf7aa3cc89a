"""``camcloud timelapse build``: a camera's day or any range as an MP4 in the bucket."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from camcloud_cli.config import open_bucket
from camcloud_cli.errors import OneLineGroup, service_errors
from camcloud_cli.progress import progress
from camcloud_cli.times import parse_range


@click.group("timelapse", cls=OneLineGroup)
def timelapse() -> None:
    """Time-lapse videos of a camera's captures."""


@timelapse.command("build")
@click.option("--device", required=True, help="The camera.")
@click.option("--date", "day", default=None, help="A whole day (YYYY-MM-DD, gallery time zone).")
@click.option("--since", default=None, help="Range start (ISO time; gallery time zone).")
@click.option("--until", default=None, help="Range end, exclusive.")
@click.option("--fps", default=30, show_default=True, type=click.IntRange(1, 60))
@click.option("--keep-dark", is_flag=True, help="Keep frames the thumbnailer marked dark.")
@click.option("--no-deflicker", is_flag=True, help="Do not even out the brightness.")
@click.option("--stamp", is_flag=True, help="Burn the capture time into each frame.")
def build_command(device: str, day: str | None, since: str | None, until: str | None, fps: int,
                  keep_dark: bool, no_deflicker: bool, stamp: bool) -> None:
    """Build DEVICE's time-lapse of a day or a range; prints the S3 key of the MP4."""
    # PyAV loads only for this command, not for every `camcloud` invocation.
    from camcloud.timelapse import Options, build_daily, build_timelapse

    settings, client = open_bucket()
    tz = settings.gallery_timezone
    chosen_day, start, end = parse_range(day, since, until, tz)
    with service_errors():
        options = Options(fps=fps, keep_dark=keep_dark, deflicker=not no_deflicker,
                          stamp=stamp, tz=tz)
        # The total is known only once the frames are chosen: the bar starts without one.
        with progress(f"time-lapse {device}", "frames") as report:
            def clock() -> datetime:
                return datetime.now(UTC)

            if chosen_day is not None:
                result = build_daily(client, settings.bucket, device, chosen_day, options,
                                     clock=clock, progress=report)
            else:
                assert start is not None and end is not None
                result = build_timelapse(client, settings.bucket, device, start, end, options,
                                         clock=clock, progress=report)
    sidecar = result.sidecar
    click.echo(f"{sidecar.get('frames_used')} frames, {sidecar.get('bytes')} bytes", err=True)
    click.echo(result.key)
