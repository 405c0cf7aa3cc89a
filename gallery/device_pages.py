"""Device management pages: a camera's settings and capture-now, and the firmware rollout."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from gallery import device_queries
from gallery.auth import check_csrf, current, login_required

bp = Blueprint("devices", __name__)


def _settings(page: device_queries.SettingsPage, status: int = 200) -> Any:
    return render_template("camera_settings.html", page=page,
                           choices=device_queries.form_choices(),
                           saved=request.args.get("saved") == "1"), status


@bp.get("/camera/<device>/settings")
@login_required
def settings(device: str) -> Any:
    """A camera's settings form, desired against applied config, and its capture-now requests."""
    return _settings(device_queries.settings_page(current(), device))


@bp.post("/camera/<device>/settings")
@login_required
def save(device: str) -> Any:
    """Store the posted settings; a refused form comes back with its messages (400)."""
    check_csrf()
    refused = device_queries.save_settings(current(), device, request.form)
    if refused is not None:
        return _settings(refused, 400)
    return redirect(url_for("devices.settings", device=device, saved=1), code=303)


@bp.post("/camera/<device>/capture")
@login_required
def capture_now(device: str) -> Any:
    """Queue a capture-now; the camera takes it at its next check-in."""
    check_csrf()
    command = device_queries.capture_now(current(), device)
    return redirect(url_for("devices.settings", device=device, _anchor=f"cmd-{command.id}"),
                    code=303)


@bp.get("/camera/<device>/commands/<command_id>/capture")
@login_required
def command_capture(device: str, command_id: str) -> Any:
    """The capture a done capture-now produced (a redirect to its page)."""
    ref = device_queries.command_capture(current(), device, command_id)
    back = url_for("devices.settings", device=device)
    return redirect(url_for("views.capture", capture_id=ref.id, next=back), code=303)


@bp.get("/firmware")
@login_required
def firmware() -> Any:
    """Published firmware and each camera's place in the rollout (``?version=`` for another)."""
    page = device_queries.firmware_page(current(), request.args.get("version"))
    return render_template("firmware.html", page=page)
