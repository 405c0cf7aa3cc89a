"""Alerts: the targets settings page (add, list redacted, remove, send a test) and a camera's
incident history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from camcloud.errors import Refusal
from gallery import alerting
from gallery.auth import check_csrf, current, login_required

bp = Blueprint("alerts", __name__)


@bp.app_template_filter("ms_time")
def ms_time(value: Any) -> str:
    """Unix milliseconds as ``2026-11-30 14:05`` in the gallery's time zone ('—' if none)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    return datetime.fromtimestamp(value / 1000, current().zone).strftime("%Y-%m-%d %H:%M")


def _settings_page(message: str | None = None, ok: bool = True, status: int = 200) -> Any:
    gallery = current()
    keyed = alerting.alerts_key(gallery) is not None
    return render_template("alerts.html", targets=alerting.targets(gallery), keyed=keyed,
                           message=message, ok=ok,
                           timezone=gallery.settings.gallery_timezone), status


@bp.get("/settings/alerts")
@login_required
def settings_page() -> Any:
    """Where alerts go: the targets, redacted, and the form to add one."""
    return _settings_page()


@bp.post("/settings/alerts")
@login_required
def add() -> Any:
    """Add an Apprise URL as a target (stored encrypted)."""
    check_csrf()
    try:
        target = alerting.add(current(), request.form.get("url", "")[:2000],
                              request.form.get("quiet_hours", "")[:20],
                              request.form.get("timezone", "")[:64])
    except Refusal as refusal:
        return _settings_page(refusal.message, ok=False, status=refusal.status)
    return _settings_page(f"Added {target.label}.")


@bp.post("/settings/alerts/<target_id>/remove")
@login_required
def remove(target_id: str) -> Any:
    """Remove a target."""
    check_csrf()
    alerting.remove(current(), target_id)
    return redirect(url_for("alerts.settings_page"), code=303)


@bp.post("/settings/alerts/<target_id>/test")
@login_required
def test(target_id: str) -> Any:
    """Send a test message to one target and say how it went."""
    check_csrf()
    delivered, reason = alerting.send_test(current(), target_id[:64])
    if delivered:
        return _settings_page("Test message delivered.")
    return _settings_page(f"The test message was not delivered: {reason}", ok=False)


@bp.get("/camera/<device>/alerts")
@login_required
def history(device: str) -> Any:
    """A camera's incidents, newest first."""
    return render_template("alert_history.html", device=device,
                           name=current().camera_name(device),
                           incidents=alerting.history(current(), device))
