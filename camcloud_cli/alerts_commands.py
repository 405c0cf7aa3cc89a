"""``camcloud alerts check | target add | list | remove | test``: alerts over the services."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from camcloud.settings import Settings
from camcloud_cli.config import open_bucket
from camcloud_cli.errors import OneLineGroup, one_line, service_errors

if TYPE_CHECKING:
    from camcloud import alerts, notify


def alerts_key(settings: Settings) -> str | None:
    """The targets' Fernet key: ``CAMCLOUD_ALERTS_KEY``, or the SSM parameter it names."""
    from camcloud import notify

    if settings.alerts_key_parameter:
        import boto3

        ssm = boto3.session.Session().client("ssm", region_name=settings.region)
        return notify.key_from_ssm(ssm, settings.alerts_key_parameter)
    return settings.alerts_key


def target_store(settings: Settings, client: Any, *,
                 clock: Callable[[], float] = time.time) -> notify.TargetStore:
    """The alert targets of the bucket, decrypted with the configured key."""
    # Apprise (through camcloud.notify) loads only for the alerts commands.
    from camcloud import notify

    return notify.TargetStore(client, settings.bucket, alerts_key(settings), clock=clock)


def run_alerts_pass(settings: Settings, client: Any, *, now: Callable[[], float] = time.time,
                    dlq_depth: int | None = None) -> alerts.CheckResult:
    """One alert pass, the same the scheduled function runs (without the SNS topic)."""
    from camcloud import alerts, notify

    store = target_store(settings, client, clock=now)
    notifier = notify.Notifier(store.urls)
    return alerts.check(client, settings.bucket, now=now(), targets=store.rules(),
                        deliver=notifier.deliver, dlq_depth=dlq_depth)


@click.group("alerts", cls=OneLineGroup)
def alerts_group() -> None:
    """Camera alerts: run a check, manage where messages go."""


@alerts_group.command("check")
def check_command() -> None:
    """Run one alert pass (what the 5-minute schedule runs) and print its summary."""
    settings, client = open_bucket()
    with service_errors():
        result = run_alerts_pass(settings, client)
    for incident in result.opened:
        click.echo(f"opened: {one_line(incident.get('title', ''))}")
    for incident in result.closed:
        click.echo(f"closed: {one_line(incident.get('title', ''))}")
    click.echo(result.summary())
    if result.failures:
        raise SystemExit(1)


@alerts_group.group("target")
def target() -> None:
    """Where alert messages go (Apprise URLs, stored encrypted)."""


@target.command("add")
@click.argument("url")
@click.option("--quiet-hours", default=None, help="Hold messages HH:MM-HH:MM, send a digest after.")
@click.option("--timezone", default="UTC", show_default=True, help="The quiet hours' time zone.")
def target_add(url: str, quiet_hours: str | None, timezone: str) -> None:
    """Add URL (mailto://, ntfy://, tgram://, discord://, json://host/path, ...)."""
    settings, client = open_bucket()
    with service_errors():
        added = target_store(settings, client).add_target(url, quiet_hours=quiet_hours,
                                                          timezone=timezone)
    click.echo(f"target {added.id} added: {added.label}")


def _list() -> None:
    settings, client = open_bucket()
    with service_errors():
        targets = target_store(settings, client).list_targets()
    if not targets:
        click.echo("no alert targets (add one with `camcloud alerts target add URL`)", err=True)
    for item in targets:
        quiet = f" quiet {item.quiet_hours} {item.timezone}" if item.quiet_hours else ""
        click.echo(f"{item.id}  {item.label}{quiet}")


@target.command("list")
def target_list() -> None:
    """List the targets (their URLs redacted)."""
    _list()


@alerts_group.command("list")
def list_command() -> None:
    """List the targets (the same as `alerts target list`)."""
    _list()


@target.command("remove")
@click.argument("target_id")
def target_remove(target_id: str) -> None:
    """Remove target TARGET_ID (see `alerts target list`)."""
    settings, client = open_bucket()
    with service_errors():
        removed = target_store(settings, client).remove_target(target_id)
    if not removed:
        raise click.ClickException(f"no alert target {target_id}")
    click.echo(f"target {target_id} removed")


@target.command("test")
@click.argument("target_id")
def target_test(target_id: str) -> None:
    """Send a test message to target TARGET_ID."""
    settings, client = open_bucket()
    with service_errors():
        store = target_store(settings, client)
        if target_id not in {item.id for item in store.list_targets()}:
            raise click.ClickException(f"no alert target {target_id}")
        from camcloud import notify

        report = notify.Notifier(store.urls, attempts=2).send_test(target_id)
    if not report.ok:
        raise click.ClickException(f"target {target_id} failed: {one_line(report.reason)}")
    click.echo(f"test message sent to {target_id}")
