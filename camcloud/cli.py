"""The ``camcloud`` command: local stack, device keys, gallery users, camera simulator."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from camcloud.layout import LayoutError
from camcloud.settings import Settings, SettingsError

LOCAL_INFO = Path(".camcloud") / "local.json"


def _local_info(path: Path = LOCAL_INFO) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def load_settings() -> Settings:
    """Settings from ``CAMCLOUD_*``; without a bucket, the running local stack's."""
    import os

    if not os.environ.get("CAMCLOUD_BUCKET"):
        info = _local_info()
        if info is not None:
            from camcloud.local import use_fake_credentials

            use_fake_credentials()
            click.echo(f"(using the local stack at {info['s3_endpoint']})", err=True)
            return Settings.from_env(
                {
                    "CAMCLOUD_BUCKET": info["bucket"],
                    "CAMCLOUD_REGION": info["region"],
                    "CAMCLOUD_S3_ENDPOINT": info["s3_endpoint"],
                }
            )
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(
            f"{exc}\n(set CAMCLOUD_BUCKET to your bucket, or start the local stack with "
            "`camcloud local`)"
        ) from None


def _registry() -> Any:
    """The device registry of the configured bucket."""
    from camcloud.devices import DeviceRegistry
    from camcloud.s3 import make_client

    settings = load_settings()
    client = make_client(settings)
    return DeviceRegistry(lambda: client, settings.bucket)


def _users() -> Any:
    """The gallery users of the configured bucket."""
    from camcloud.s3 import make_client
    from camcloud.users import UserStore

    settings = load_settings()
    client = make_client(settings)
    return UserStore(lambda: client, settings.bucket)


@contextlib.contextmanager
def _refused_as_errors() -> Iterator[None]:
    """Turn a refused registry or user operation into a one-line CLI error."""
    from camcloud.devices import DeviceError
    from camcloud.users import UserError

    try:
        yield
    except (DeviceError, UserError, LayoutError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(package_name="camcloud")
def main() -> None:
    """camcloud: ESP32 cameras into the cloud."""


@main.command()
@click.option("--port", default=None, type=int, help="Port for ingest + gallery (default 8080).")
@click.option("--workdir", default=".camcloud", type=click.Path(file_okay=False))
def local(port: int | None, workdir: str) -> None:
    """Run the whole system on this machine (moto S3 + SQS, worker, ingest, gallery)."""
    import logging
    import os

    from camcloud.local import LocalStack, run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The ingest writes its own JSON lines; the plain root handler would print each twice.
    logging.getLogger("camcloud.ingest").propagate = False
    if port is None:
        try:
            port = int(os.environ.get("PORT", "8080"))
        except ValueError:
            raise click.BadParameter("PORT must be a number", param_hint="PORT") from None
    run_forever(LocalStack(workdir, port=port))


@main.group()
def devices() -> None:
    """Register, list and revoke cameras."""


@devices.command("add")
@click.argument("device")
@click.option("--name", default="", help="A human name for the gallery.")
@click.option("--rotation", default=0, type=click.Choice(["0", "90", "180", "270"]),
              help="Rotate this camera's images clockwise (degrees).")
@click.option("--rotate", "rotate_key", is_flag=True, help="Replace an existing device's key.")
def devices_add(device: str, name: str, rotation: str, rotate_key: bool) -> None:
    """Register DEVICE and print its key (shown once; only its hash is stored)."""
    with _refused_as_errors():
        _, key = _registry().add(device, name=name, rotation=int(rotation), replace=rotate_key)
    click.echo(f"device {device} registered. Its key (shown once, store it now):")
    click.echo(key)


@devices.command("list")
def devices_list() -> None:
    """List registered devices."""
    for record in _registry().list():
        state = f"revoked {record.revoked_at}" if record.revoked else "active"
        click.echo(f"{record.device:<32} {state:<30} rotation {record.rotation:<3} {record.name}")


@devices.command("revoke")
@click.argument("device")
def devices_revoke(device: str) -> None:
    """Revoke DEVICE's key (uploads get 403 within a minute)."""
    with _refused_as_errors():
        _registry().revoke(device)
    click.echo(f"device {device} revoked")


@main.group()
def users() -> None:
    """Manage gallery logins."""


@users.command("add")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--replace", is_flag=True, help="Set a new password for an existing user.")
def users_add(name: str, password: str, replace: bool) -> None:
    """Create gallery user NAME."""
    with _refused_as_errors():
        _users().add(name, password, replace=replace)
    click.echo(f"user {name} saved")


@users.command("list")
def users_list() -> None:
    """List gallery users."""
    for name in _users().list():
        click.echo(name)


@users.command("remove")
@click.argument("name")
def users_remove(name: str) -> None:
    """Delete gallery user NAME."""
    with _refused_as_errors():
        _users().remove(name)
    click.echo(f"user {name} removed")


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
@click.option("--seed", default=0, show_default=True, type=int)
def simulate(url: str | None, key: str | None, count: int, interval: float, size: str,
             retries: int, resend_probability: float, seed: int) -> None:
    """Act as a camera: capture frames and upload them with the device protocol."""
    from tqdm import tqdm

    from camcloud.simulate import CameraSimulator

    if url is None or key is None:
        info = _local_info()
        if info is None:
            raise click.ClickException("give --url and --key, or start `camcloud local` first")
        url = url or info["upload_url"]
        key = key or next(iter(info["devices"].values()))
    width, height = _size(size)
    with tqdm(total=count, unit="img", disable=None) as bar:
        simulator = CameraSimulator(
            url=url, key=key, count=count, interval=interval, width=width, height=height,
            retries=retries, resend_probability=resend_probability, seed=seed,
            on_progress=lambda _index, _outcome: bar.update(1),
        )
        result = simulator.run()
    click.echo(
        f"stored {result.stored}, duplicates {result.duplicates}, failed {result.failed} "
        f"({result.attempts} requests)"
    )
    for error in result.errors[:10]:
        click.echo(f"  {error}", err=True)
    if result.failed:
        sys.exit(1)


def _register_maintenance() -> None:
    from camcloud.maintenance import import_command, reprocess_command

    main.add_command(reprocess_command)
    main.add_command(import_command)


_register_maintenance()
