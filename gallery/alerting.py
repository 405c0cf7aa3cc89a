"""Alert targets and incidents for the gallery's pages (no Flask).

Target URLs are stored encrypted (``camcloud.notify``) with the key of ``CAMCLOUD_ALERTS_KEY`` or
of the SSM parameter named by ``CAMCLOUD_ALERTS_KEY_PARAMETER``; pages only ever see them
redacted.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import boto3

from camcloud import alerts, notify
from camcloud.errors import Refusal
from camcloud.layout import LayoutError, check_device_id
from camcloud.notify import Notifier, Target, TargetStore
from gallery.services import Gallery

# The test button waits for the answer: one retry after half a second, not the check's 3 tries.
_TEST_ATTEMPTS = 2
_TEST_BACKOFF_S = 0.5
# Per gallery (app): a test's or a restarted app's key is never another's.
_key_cache: weakref.WeakKeyDictionary[Gallery, str] = weakref.WeakKeyDictionary()


def alerts_key(gallery: Gallery, ssm: Callable[[], Any] | None = None) -> str | None:
    """The Fernet key for target URLs: the setting, else the SSM parameter (read once)."""
    settings = gallery.settings
    if settings.alerts_key:
        return settings.alerts_key
    name = settings.alerts_key_parameter
    if not name:
        return None
    if gallery not in _key_cache:
        client = ssm() if ssm else boto3.client("ssm", region_name=settings.region)
        _key_cache[gallery] = notify.key_from_ssm(client, name)
    return _key_cache[gallery]


def target_store(gallery: Gallery) -> TargetStore:
    """The targets of the gallery's bucket."""
    return TargetStore(gallery.client, gallery.bucket, alerts_key(gallery), clock=gallery.clock)


def targets(gallery: Gallery) -> list[Target]:
    """Every target, redacted."""
    return target_store(gallery).list_targets()


def add(gallery: Gallery, url: str, quiet_hours: str, timezone: str) -> Target:
    """Add a target; 400 for a URL Apprise does not take, 409 without a key."""
    try:
        return target_store(gallery).add_target(
            url.strip(), quiet_hours=quiet_hours.strip() or None,
            timezone=timezone.strip() or gallery.settings.gallery_timezone)
    except notify.TargetKeyError as exc:
        raise Refusal(409, "no_alerts_key", str(exc)) from None


def remove(gallery: Gallery, target_id: str) -> None:
    """Remove a target (404 if there is none with that id)."""
    if not target_store(gallery).remove_target(target_id[:64]):
        raise Refusal(404, "not_found", "no such target")


def send_test(gallery: Gallery, target_id: str) -> tuple[bool, str]:
    """Send a test message to one target: (delivered, reason if not)."""
    store = target_store(gallery)
    if target_id not in {target.id for target in store.list_targets()}:
        raise Refusal(404, "not_found", "no such target")
    try:
        notifier = Notifier(store.urls, attempts=_TEST_ATTEMPTS, backoff=_TEST_BACKOFF_S)
        report = notifier.send_test(target_id)
    except notify.TargetKeyError as exc:
        return False, str(exc)
    return report.ok, report.reason


def open_by_device(gallery: Gallery) -> dict[str, list[dict[str, Any]]]:
    """The open incidents, by camera (one GET); ``_system`` holds the dead-letter queue's."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for incident in alerts.open_incidents(gallery.client, gallery.bucket):
        grouped.setdefault(str(incident.get("device", alerts.SYSTEM)), []).append(incident)
    return grouped


def history(gallery: Gallery, device: str) -> list[dict[str, Any]]:
    """A camera's incidents, newest first."""
    try:
        check_device_id(device)
    except LayoutError:
        raise Refusal(404, "not_found", "no such camera") from None
    return alerts.history(gallery.client, gallery.bucket, device)
