"""The ``camcloud`` command: local stack, device keys, gallery users, camera simulator."""

from __future__ import annotations

import sys

import click

from camcloud.users import MIN_PASSWORD_LENGTH
from camcloud_cli.alerts_commands import alerts_group
from camcloud_cli.config import (
    camcloud_command,
    local_info,
    open_registry,
    open_users,
    refused_as_errors,
    require_local_stack,
)
from camcloud_cli.device_commands import capture_command, config_command
from camcloud_cli.export_commands import export_command
from camcloud_cli.firmware_commands import firmware
from camcloud_cli.maintenance import import_command, reprocess_command
from camcloud_cli.share_commands import share
from camcloud_cli.timelapse_commands import timelapse


def terminal_safe(text: str) -> str:
    """``text`` with control characters escaped, so stored text cannot drive the terminal."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


@click.group()
@click.version_option(package_name="camcloud")
def main() -> None:
    """camcloud: ESP32 cameras into the cloud."""


main.add_command(reprocess_command)
main.add_command(import_command)


@main.command()
@click.option("--port", default=8080, show_default=True, envvar="PORT", type=int,
              help="Port for ingest + gallery (also read from $PORT).")
@click.option("--workdir", default=".camcloud", type=click.Path(file_okay=False))
def local(port: int, workdir: str) -> None:
    """Run the whole system on this machine (moto S3 + SQS, worker, ingest, gallery)."""
    import logging

    from camcloud_cli.local import LocalStack, run_forever

    _require_free_port(port)
    from camcloud_cli.jsonlog import use_json_lines

    # JSON lines like the ingest's own, with each record's extras (the capture's key).
    use_json_lines()
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The ingest writes its own JSON lines; the plain root handler would print each twice.
    logging.getLogger("camcloud.ingest").propagate = False
    run_forever(LocalStack(workdir, port=port))


def _require_free_port(port: int) -> None:
    """A one-line answer naming PORT= when another program holds the port."""
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise click.ClickException(
                f"port {port} is in use: stop what uses it, or pick another port with "
                f"PORT={port + 1} make run (camcloud local --port {port + 1})"
            ) from None


@main.group()
def devices() -> None:
    """Register, list and revoke cameras."""


@devices.command("add")
@click.argument("device")
@click.option("--name", default="", help="A human name for the gallery.")
@click.option("--rotation", default=0, type=click.Choice(["0", "90", "180", "270"]),
              help="Rotate this camera's images clockwise (degrees).")
# The old key-replacing flag, next to --rotation, was easy to mistake: it now only points to
# the commands that say what they do.
@click.option("--rotate", "rotate_key", is_flag=True, hidden=True)
def devices_add(device: str, name: str, rotation: str, rotate_key: bool) -> None:
    """Register DEVICE and print its key (shown once; only its hash is stored)."""
    if rotate_key:
        raise click.ClickException(
            f"--rotate is gone: `camcloud devices rotate-key {device}` gives a new key, "
            f"`camcloud devices set {device} --rotation {rotation}` turns its images"
        )
    registry = open_registry()
    with refused_as_errors():
        if registry.get(device, fresh=True) is not None:
            raise click.ClickException(
                f"device {device} exists already: change its name or rotation with "
                f"`camcloud devices set {device}`, or give it a new key with "
                f"`camcloud devices rotate-key {device}`"
            )
        _, key = registry.add(device, name=name, rotation=int(rotation))
    click.echo(f"device {device} registered. Its key (shown once, store it now):")
    click.echo(key)


@devices.command("set")
@click.argument("device")
@click.option("--name", default=None, help="A human name for the gallery.")
@click.option("--rotation", default=None, type=click.Choice(["0", "90", "180", "270"]),
              help="Rotate this camera's images clockwise (degrees).")
def devices_set(device: str, name: str | None, rotation: str | None) -> None:
    """Change DEVICE's name or rotation; its key stays as it is."""
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = name
    if rotation is not None:
        changes["rotation"] = int(rotation)
    if not changes:
        raise click.UsageError("give --name and/or --rotation")
    registry = open_registry()
    with refused_as_errors():
        before = registry.get(device, fresh=True)
        if before is None:
            raise click.ClickException(f"unknown device {device!r} (see `camcloud devices list`)")
        record = registry.update(device, **changes)
    click.echo(f"device {device}: name {terminal_safe(record.name)!r}, rotation "
               f"{record.rotation}; its key is unchanged")
    if record.rotation != before.rotation:
        # Thumbnails already rendered keep the old rotation until rendered again.
        click.echo("new captures turn with it; to re-render the thumbnails it already has:")
        click.echo(f"  {camcloud_command()} reprocess --device {device}")
        click.echo("(imported photos stay as taken unless imported with --apply-rotation)")


@devices.command("rotate-key")
@click.argument("device")
def devices_rotate_key(device: str) -> None:
    """Give DEVICE a new key: the old one stops working (the camera needs the new one)."""
    registry = open_registry()
    with refused_as_errors():
        if registry.get(device, fresh=True) is None:
            raise click.ClickException(f"unknown device {device!r} (see `camcloud devices list`)")
        _, key = registry.add(device, replace=True)
    click.echo(f"device {device} has a new key; its old key no longer works. "
               "The new key (shown once, store it now):")
    click.echo(key)


@devices.command("list")
def devices_list() -> None:
    """List registered devices."""
    for record in open_registry().list():
        state = f"revoked {record.revoked_at}" if record.revoked else "active"
        # Records are JSON in a bucket: a hand-edited one must not reach the terminal raw.
        click.echo(f"{terminal_safe(record.device):<32} {terminal_safe(state):<30} "
                   f"rotation {record.rotation:<3} {terminal_safe(record.name)}")


@devices.command("revoke")
@click.argument("device")
def devices_revoke(device: str) -> None:
    """Revoke DEVICE's key (uploads get 403 within a minute)."""
    with refused_as_errors():
        open_registry().revoke(device)
    click.echo(f"device {device} revoked")


@main.group()
def users() -> None:
    """Manage gallery logins."""


@users.command("add")
@click.argument("name")
# The rule is said before the password is typed (twice), not after.
@click.option("--password", prompt=f"Password (at least {MIN_PASSWORD_LENGTH} characters)",
              hide_input=True, confirmation_prompt=True)
@click.option("--replace", is_flag=True, help="Set a new password for an existing user.")
def users_add(name: str, password: str, replace: bool) -> None:
    """Create gallery user NAME."""
    with refused_as_errors():
        open_users().add(name, password, replace=replace)
    click.echo(f"user {name} saved")


@users.command("list")
def users_list() -> None:
    """List gallery users."""
    for name in open_users().list():
        click.echo(terminal_safe(name))


@users.command("remove")
@click.argument("name")
def users_remove(name: str) -> None:
    """Delete gallery user NAME."""
    with refused_as_errors():
        open_users().remove(name)
    click.echo(f"user {name} removed")


@users.command("logout-all")
@click.argument("name")
def users_logout_all(name: str) -> None:
    """End every gallery session of user NAME (a lost phone, a shared computer)."""
    with refused_as_errors():
        open_users().logout_all(name)
    click.echo(f"every session of user {name} is logged out")


def _size(value: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter("use WIDTHxHEIGHT, e.g. 1600x1200") from None
    if not (16 <= width <= 4096 and 16 <= height <= 4096):
        raise click.BadParameter("each side must be 16 to 4096 pixels")
    return width, height


@main.command()
@click.option("--url", default=None, help="Upload URL (default: the local stack's).")
@click.option("--key", default=None, help="Device key (default: the local stack's demo-cam).")
@click.option("--count", default=10, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--interval", default=0.0, show_default=True, type=click.FloatRange(0),
              help="Seconds between captures.")
@click.option("--size", default="640x480", show_default=True, help="Frame size WIDTHxHEIGHT.")
@click.option("--retries", default=5, show_default=True, type=click.IntRange(0, 100))
@click.option("--resend-probability", default=0.0, show_default=True,
              type=click.FloatRange(0, 1), help="Chance a stored capture is sent again, as "
              "when the camera never saw the response.")
@click.option("--seed", default=None, type=int,
              help="Repeat the frames and ids of an earlier run (default: a new seed, printed).")
def simulate(url: str | None, key: str | None, count: int, interval: float, size: str,
             retries: int, resend_probability: float, seed: int | None) -> None:
    """Act as a camera: capture frames and upload them with the device protocol."""
    import secrets

    from tqdm import tqdm

    from camcloud.simulate import CameraSimulator

    if url is None or key is None:
        info = local_info()
        if info is None:
            raise click.ClickException("give --url and --key, or start `camcloud local` first")
        require_local_stack(info)
        url = url or info["upload_url"]
        key = key or next(iter(info["devices"].values()))
    width, height = _size(size)
    if seed is None:
        seed = secrets.randbelow(2**31)
    click.echo(f"seed {seed} (--seed {seed} sends these frames again)", err=True)

    def waiting(capture_id: str, retry: int, seconds: float, reason: str) -> None:
        click.echo(f"{capture_id}: {terminal_safe(reason)[:120]}; retry {retry} of {retries} "
                   f"in {seconds:g} s (waiting for {url} to answer)", err=True)

    with tqdm(total=count, unit="img", disable=None) as bar:
        simulator = CameraSimulator(
            url=url, key=key, count=count, interval=interval, width=width, height=height,
            retries=retries, resend_probability=resend_probability, seed=seed,
            on_progress=lambda _index, _outcome: bar.update(1), on_retry=waiting,
        )
        result = simulator.run()
    click.echo(
        f"stored {result.stored}, duplicates {result.duplicates}, failed {result.failed} "
        f"({result.attempts} requests)"
    )
    for error in result.errors[:10]:
        click.echo(f"  {terminal_safe(error)}", err=True)
    if result.failed:
        sys.exit(1)


# Phase 2 (issues 15-17): each command in its own module.
devices.add_command(config_command)
devices.add_command(capture_command)
main.add_command(firmware)
main.add_command(timelapse)
main.add_command(alerts_group)
main.add_command(share)
main.add_command(export_command)
