"""``camcloud firmware keygen | publish | status | resume``: signed firmware releases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from camcloud import firmware_release
from camcloud_cli.config import open_bucket
from camcloud_cli.errors import OneLineGroup, service_errors

DEFAULT_KEY = "camcloud-firmware.pem"


@click.group("firmware", cls=OneLineGroup)
def firmware() -> None:
    """Sign, publish and follow firmware updates."""


@firmware.command("keygen")
@click.argument("path", default=DEFAULT_KEY, type=click.Path(dir_okay=False, path_type=Path))
def keygen_command(path: Path) -> None:
    """Make a signing key in PATH; print its public key for the firmware's config.h."""
    with service_errors():
        public_key = firmware_release.keygen(path)
    click.echo(f"private key written to {path} (keep it secret; it never goes to the bucket)",
               err=True)
    click.echo(firmware_release.public_key_c_array(public_key), nl=False)


def _devices(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise click.BadParameter("name at least one camera, e.g. --devices garden,door")
    return names


@firmware.command("publish")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--version", "version", required=True, help="The version the image reports.")
@click.option("--devices", default=None, help="Only these cameras (comma-separated).")
@click.option("--percent", default=None, type=click.IntRange(1, 100),
              help="Only this share of the cameras (a stable choice per camera).")
@click.option("--force", is_flag=True, help="Install even over a newer version (a downgrade).")
@click.option("--key", "key_path", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The private key made by `camcloud firmware keygen`.")
def publish_command(file: Path, version: str, devices: str | None, percent: int | None,
                    force: bool, key_path: Path) -> None:
    """Sign FILE (the build's firmware.bin) as VERSION and offer it to the cameras."""
    if devices is not None and percent is not None:
        raise click.UsageError("give --devices or --percent, not both")
    targets = _devices(devices)
    with service_errors():
        private_key = firmware_release.load_private_key(key_path)
        settings, client = open_bucket()
        release = firmware_release.publish(
            client, settings.bucket, file, version, private_key, now=datetime.now(UTC),
            devices=targets, percent=percent, force=force)
    manifest = release.manifest
    target = (f"cameras {', '.join(targets)}" if targets
              else f"{percent}% of the cameras" if percent is not None else "every camera")
    click.echo(f"published firmware {release.version} ({manifest['size']} bytes, sha256 "
               f"{manifest['sha256']}) for {target}{' (forced)' if force else ''}")


@firmware.command("status")
@click.option("--version", "version", default=None, help="A published version (default: current).")
def status_command(version: str | None) -> None:
    """Each registered camera's place in the rollout of the current (or VERSION) release."""
    settings, client = open_bucket()
    with service_errors():
        release, rows = firmware_release.status(client, settings.bucket, version,
                                                now=datetime.now(UTC))
    if release is None:
        raise click.ClickException(
            f"no firmware {version} published" if version else "no firmware published yet")
    rollout = release.rollout
    halted = ""
    if rollout.halted:
        said = ", ".join(f"{name} {value}" for name, value in sorted(rollout.halted.items()))
        halted = f", HALTED ({said}; `camcloud firmware resume {release.version}`)"
    click.echo(f"firmware {release.version}: {len(rollout.confirmed or {})} confirmed, "
               f"{len(rollout.failed or {})} failed{halted}")
    click.echo(f"{'DEVICE':<32} {'RUNNING':<16} {'STATUS':<20} FAILURES")
    for row in rows:
        reason = f" ({row.reason})" if row.reason else ""
        click.echo(f"{row.device:<32} {row.running or '-':<16} {row.status:<20} "
                   f"{row.failures}{reason}")


@firmware.command("resume")
@click.argument("version")
def resume_command(version: str) -> None:
    """Resume VERSION's halted rollout (its failed cameras may try again)."""
    settings, client = open_bucket()
    with service_errors():
        firmware_release.check_version(version)
        if firmware_release.load_release(client, settings.bucket, version) is None:
            raise click.ClickException(f"no firmware {version} published")
        firmware_release.resume(client, settings.bucket, version)
    click.echo(f"firmware {version}: rollout resumed")
