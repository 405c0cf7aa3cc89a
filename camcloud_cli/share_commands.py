"""``camcloud share create | list | revoke``: public links to a capture, a day or a video."""

from __future__ import annotations

import os

import click

from camcloud.shares import ShareStore, describe, parse_ttl
from camcloud_cli.config import local_info, open_bucket
from camcloud_cli.errors import OneLineGroup, one_line, service_errors

# The gallery's public page (gallery/share_pages.py: ``/s/<token>``).
SHARE_ROUTE = "/s/"


def gallery_base(given: str | None) -> str:
    """The gallery's public base URL: the option, ``$CAMCLOUD_GALLERY_URL``, or the local
    stack's; a one-line error when none is known (the link would be useless)."""
    url = given or os.environ.get("CAMCLOUD_GALLERY_URL")
    if not url:
        info = local_info()
        url = info.get("gallery_url") if info else None
    if not url or not url.startswith(("http://", "https://")):
        raise click.UsageError("give the gallery's address: --gallery-url https://… "
                               "(or set CAMCLOUD_GALLERY_URL)")
    return url.rstrip("/")


@click.group("share", cls=OneLineGroup)
def share() -> None:
    """Share links: a capture, a camera's day or a time-lapse, without a login."""


@share.command("create")
@click.option("--capture", default=None, help="A capture id (as in the gallery's URLs).")
@click.option("--day", default=None, help="A camera's day: DEVICE/YYYY-MM-DD.")
@click.option("--timelapse", default=None, help="A video's key: timelapse/DEVICE/….mp4.")
@click.option("--ttl", required=True, help="How long the link works: 1h to 30d (e.g. 7d, 12h).")
@click.option("--download", is_flag=True, help="Let the link download the originals.")
@click.option("--user", default="admin", show_default=True,
              help="The gallery user the share is listed under (who may revoke it there).")
@click.option("--gallery-url", default=None, help="The gallery's public address.")
def create_command(capture: str | None, day: str | None, timelapse: str | None, ttl: str,
                   download: bool, user: str, gallery_url: str | None) -> None:
    """Make a share link and print it (shown once: only its hash is stored)."""
    if sum(value is not None for value in (capture, day, timelapse)) != 1:
        raise click.UsageError("give exactly one of --capture, --day, --timelapse")
    device = date = None
    if day is not None:
        device, _, date = day.partition("/")
        if not device or not date:
            raise click.BadParameter("use DEVICE/YYYY-MM-DD", param_hint="--day")
    base = gallery_base(gallery_url)
    settings, client = open_bucket()
    with service_errors():
        ttl_s = parse_ttl(ttl)
        token, made = ShareStore(client, settings.bucket).create(
            user=user, ttl_s=ttl_s, capture=capture, device=device, date=date,
            timezone=settings.gallery_timezone, timelapse=timelapse, download=download)
    click.echo(one_line(describe(made)), err=True)
    click.echo(f"{base}{SHARE_ROUTE}{token}")


@share.command("list")
@click.option("--user", default=None, help="Only this user's shares.")
def list_command(user: str | None) -> None:
    """List the shares (id, what, until when), newest first."""
    settings, client = open_bucket()
    with service_errors():
        shares = ShareStore(client, settings.bucket).list_shares(user)
    for item in shares:
        click.echo(f"{one_line(describe(item))} by {item.created_by}")


@share.command("revoke")
@click.argument("share_id")
def revoke_command(share_id: str) -> None:
    """Revoke share SHARE_ID (see `share list`): its link stops working at once."""
    settings, client = open_bucket()
    with service_errors():
        ShareStore(client, settings.bucket).revoke(share_id)
    click.echo(f"share {share_id} revoked")
