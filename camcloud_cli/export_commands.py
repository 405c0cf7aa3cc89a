"""``camcloud export``: a camera's originals of a day or a range, streamed into a ZIP file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from camcloud.export import day_range, export_zip
from camcloud_cli.config import open_bucket
from camcloud_cli.errors import OneLineCommand, service_errors
from camcloud_cli.progress import progress
from camcloud_cli.times import parse_range


@click.command("export", cls=OneLineCommand)
@click.option("--device", required=True, help="The camera.")
@click.option("--date", "day", default=None, help="A whole day (YYYY-MM-DD, gallery time zone).")
@click.option("--since", default=None, help="Range start (ISO time; gallery time zone).")
@click.option("--until", default=None, help="Range end, exclusive.")
@click.option("-o", "--output", required=True,
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="The ZIP file to write.")
def export_command(device: str, day: str | None, since: str | None, until: str | None,
                   output: Path) -> None:
    """Write DEVICE's originals of a day or a range to a ZIP file, streamed (any size)."""
    settings, client = open_bucket()
    tz = settings.gallery_timezone
    chosen_day, start, end = parse_range(day, since, until, tz)
    with service_errors():
        if chosen_day is not None:
            since_ms, until_ms = day_range(chosen_day.isoformat(), tz)
        else:
            assert start is not None and end is not None
            since_ms, until_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    output = output.resolve()
    # A partial archive never lands at the name asked for: written beside it, then renamed.
    handle, partial = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    written = 0
    try:
        with os.fdopen(handle, "wb") as out, service_errors(), \
                progress(f"export {device}", "KiB", scale=1024) as report:
            for chunk in export_zip(client, settings.bucket, device, since_ms, until_ms,
                                    timezone=tz):
                out.write(chunk)
                written += len(chunk)
                report(written, None)
        os.replace(partial, output)
    finally:
        Path(partial).unlink(missing_ok=True)
    click.echo(f"{output} ({written} bytes)")
