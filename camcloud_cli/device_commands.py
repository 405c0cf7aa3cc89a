"""``camcloud devices config`` and ``camcloud devices capture``: a camera's remote settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from camcloud import device_state
from camcloud_cli.config import open_bucket
from camcloud_cli.errors import OneLineCommand, service_errors

# Command-line option -> the settings field it changes (docs/device-management.md).
_FIELDS = {
    "interval": "interval_s",
    "image_mode": "image_mode",
    "quality": "jpeg_quality",
    "pir": "pir",
    "battery": "battery_mode",
    "active_hours": "active_hours",
    "checkin": "checkin_s",
}


@click.command("config", cls=OneLineCommand)
@click.argument("device")
@click.option("--interval", default=None, help="Seconds between interval captures (5-86400).")
@click.option("--image-mode", default=None,
              help="Capture size: 96x96, 128x128, 320x320, qvga, vga, hd, uxga, fhd, qxga.")
@click.option("--quality", default=None, help="JPEG quality: high, default or low.")
@click.option("--pir/--no-pir", default=None, help="Capture on the PIR sensor's trigger.")
@click.option("--battery/--no-battery", default=None, help="Deep sleep between captures.")
@click.option("--active-hours", default=None,
              help="Capture only from HH:MM to HH:MM (camera's local time); '' for all day.")
@click.option("--checkin", default=None, help="Seconds between check-ins while awake (10-86400).")
def config_command(device: str, **options: Any) -> None:
    """Change DEVICE's desired settings (the camera applies them at its next request).

    Prints the desired config as JSON; with no option, prints it unchanged.
    """
    changes = {_FIELDS[name]: value for name, value in options.items() if value is not None}
    settings, client = open_bucket()
    with service_errors():
        if changes:
            config = device_state.set_config(client, settings.bucket, device, **changes)
        else:
            config = device_state.read_state(client, settings.bucket, device).config
    click.echo(json.dumps(config.to_json(), indent=2))


@click.command("capture", cls=OneLineCommand)
@click.argument("device")
def capture_command(device: str) -> None:
    """Queue a capture-now for DEVICE; prints the command id (done at its next check-in)."""
    settings, client = open_bucket()
    with service_errors():
        command = device_state.request_capture(client, settings.bucket, device,
                                               now=datetime.now(UTC))
    click.echo(command.id)
