"""Device management for the gallery: settings, capture-now and firmware rollout (no Flask).

Each function takes the :class:`~gallery.services.Gallery` and plain arguments and returns
plain values for a template. All reads and writes of a camera's state go through
``camcloud.device_state`` (a conditional read-modify-write, so a change from the gallery and
a report from the ingest never overwrite each other). Costs per view:

- settings page: 1 GET of ``devices/{device}.json`` (plus the registry's cached name);
- saving settings: the checks first (no S3 call for a refused form), then 1 GET + 1 PUT;
- capture now: 1 GET + 1 PUT;
- a done command's capture: 1 GET of the state, 1 ListObjectsV2 around the time it was done;
- firmware page: 1 listing of ``firmware/``, the release (3 GETs), 1 listing of ``devices/``
  and 1 GET per camera (``firmware_release.status``);
- cameras page: nothing extra; :func:`device_document` is the registry read it made anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from camcloud import device_config, device_state, firmware_release, layout
from camcloud.device_config import IMAGE_MODES, JPEG_QUALITIES, SETTINGS, DeviceConfig
from camcloud.device_state import Command, DeviceState
from camcloud.errors import Refusal
from camcloud.s3 import get_json, list_page, list_prefixes
from gallery.queries import NotFound
from gallery.services import Gallery

# The cameras page reads each camera's document once per this many seconds, like the
# registry did before; a camera that is not registered is asked again after a few seconds.
DOCUMENT_CACHE_SECONDS = 300.0
MISSING_CACHE_SECONDS = 5.0
# A camera's clock may run up to 5 min ahead of the server's (the ingest accepts that much),
# so its capture may carry a time a little after the moment the server saw the report.
_CLOCK_SLACK = timedelta(minutes=5, seconds=1)
_CAPTURE_SEARCH_KEYS = 1000
_BOOLEAN_SETTINGS = ("pir", "battery_mode")

LABELS = {
    "interval_s": "Capture interval (seconds)",
    "image_mode": "Image mode",
    "jpeg_quality": "JPEG quality",
    "pir": "Capture on motion (PIR)",
    "battery_mode": "Battery mode (deep sleep between captures)",
    "active_hours": "Active hours",
    "checkin_s": "Check-in period (seconds)",
}

# Per-camera rollout status (firmware_release.device_status) in the owner's words, and a
# tone for the page's colour: good, bad, busy or quiet.
FIRMWARE_WORDS: dict[str, tuple[str, str]] = {
    "ok": ("Updated: runs this version", "good"),
    "up_to_date": ("Runs this version", "good"),
    "downloading": ("Downloading: offered, no result yet", "busy"),
    "offered": ("Offered at its next check-in", "busy"),
    "waiting": ("Waiting: the cameras ahead of it must confirm first", "busy"),
    "failed": ("Update failed", "bad"),
    "rolled_back": ("Rolled back: the new version did not confirm itself", "bad"),
    "halted": ("Not offered: the rollout is halted", "bad"),
    "too_many_failures": ("Stopped after 3 failed attempts", "bad"),
    "bad_signature": ("Not offered: the signature does not verify", "bad"),
    "bad_manifest": ("Not offered: the manifest does not match the rollout", "bad"),
    "not_newer": ("Not offered: runs a newer version", "quiet"),
    "not_targeted": ("Not in this rollout", "quiet"),
    "unknown_version": ("Not offered: has not said which firmware it runs", "quiet"),
}


def _now(gallery: Gallery) -> datetime:
    return datetime.fromtimestamp(gallery.clock(), UTC)


def check_camera(device: str) -> str:
    """``device`` if it can be a camera id; NotFound otherwise (no S3 call)."""
    if not isinstance(device, str) or not layout.DEVICE_ID_RE.fullmatch(device):
        raise NotFound(f"no camera {str(device)[:40]!r}")
    return device


def _read_state(gallery: Gallery, device: str) -> DeviceState:
    try:
        return device_state.read_state(gallery.client, gallery.bucket, check_camera(device))
    except Refusal as exc:
        if exc.status == 404:
            raise NotFound(f"no camera {device!r}") from None
        raise


# --- the settings page ------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsPage:
    """What the settings page shows: the form's values and errors, and the camera's state."""

    device: str
    name: str
    state: DeviceState
    form: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def drift(self) -> bool:
        """Whether the camera has not applied the desired config yet."""
        return self.state.config_drift

    @property
    def pending(self) -> list[Command]:
        """Capture-now commands waiting for the camera, oldest first."""
        return self.state.pending

    @property
    def done(self) -> list[Command]:
        """Commands the camera reported done, newest first."""
        return [command for command in reversed(self.state.commands) if not command.pending]


def form_values(config: DeviceConfig) -> dict[str, str]:
    """A config as the form's field values (strings; ``on``/``off`` for switches)."""
    values = {name: str(getattr(config, name)) for name in SETTINGS}
    for name in _BOOLEAN_SETTINGS:
        values[name] = "on" if getattr(config, name) else "off"
    values["active_hours"] = config.active_hours or ""
    return values


def form_choices() -> dict[str, Any]:
    """The form's choices and ranges, from ``device_config`` (the server's own checks)."""
    limits = device_config.limits()
    return {
        "labels": LABELS,
        "image_modes": list(IMAGE_MODES.values()),
        "jpeg_qualities": list(JPEG_QUALITIES),
        "interval": limits["interval_s"],
        "checkin": limits["checkin_s"],
    }


def settings_page(gallery: Gallery, device: str) -> SettingsPage:
    """The settings page of ``device`` (1 GET); NotFound if it is not registered."""
    state = _read_state(gallery, device)
    return SettingsPage(device=device, name=gallery.camera_name(device), state=state,
                        form=form_values(state.config))


def parse_form(form: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """The posted settings: (values as typed, checked changes, errors by field).

    A switch that is not posted is off (a browser sends no unchecked checkbox). Every field is
    checked with ``device_config.check_setting``, so each error is the server's own message.
    """
    typed = {name: str(form.get(name, "")).strip()[:64] for name in SETTINGS}
    for name in _BOOLEAN_SETTINGS:
        typed[name] = "on" if typed[name].lower() in ("on", "true", "1", "yes") else "off"
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in typed.items():
        try:
            changes[name] = device_config.check_setting(name, value)
        except Refusal as exc:
            errors[name] = exc.message
    return typed, changes, errors


def save_settings(gallery: Gallery, device: str, form: Mapping[str, str]) -> SettingsPage | None:
    """Store the posted settings as the desired config; None when saved.

    A refused form writes nothing and comes back as the page with the values kept and each
    field's message (the view answers 400).
    """
    check_camera(device)
    typed, changes, errors = parse_form(form)
    if not errors:
        try:
            device_state.set_config(gallery.client, gallery.bucket, device, **changes)
        except Refusal as exc:
            if exc.status == 404:
                raise NotFound(f"no camera {device!r}") from None
            if exc.status != 400:
                raise
            errors["form"] = exc.message
        else:
            forget_document(gallery, device)
            return None
    page = settings_page(gallery, device)
    return SettingsPage(device=device, name=page.name, state=page.state, form=typed,
                        errors=errors)


def capture_now(gallery: Gallery, device: str) -> Command:
    """Queue a capture-now for ``device``: the camera takes it at its next check-in."""
    try:
        command = device_state.request_capture(gallery.client, gallery.bucket,
                                               check_camera(device), now=_now(gallery))
    except Refusal as exc:
        if exc.status == 404:
            raise NotFound(f"no camera {device!r}") from None
        raise
    forget_document(gallery, device)
    return command


def _parse_stamp(text: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def find_capture(
    gallery: Gallery, device: str, capture_id: str, queued_at: str | None, done_at: str | None
) -> layout.CaptureRef | None:
    """The stored capture ``capture_id`` of ``device`` made between queue and report (1 listing).

    Originals sort newest first, so one listing starting just after the report (plus the
    camera's allowed clock lead) reaches the capture unless the camera stored over a thousand
    captures in between.
    """
    done = _parse_stamp(done_at)
    if done is None:
        return None
    queued = _parse_stamp(queued_at)
    start = layout.rev_from_ms(layout.ms_of(done + _CLOCK_SLACK))
    prefix = layout.device_raw_prefix(device)
    page = list_page(gallery.client, gallery.bucket, prefix, start_after=prefix + start,
                     max_keys=_CAPTURE_SEARCH_KEYS)
    oldest_ms = layout.ms_of(queued - _CLOCK_SLACK) if queued is not None else None
    for key in page.keys:
        try:
            ref = layout.parse_key(key)
        except layout.LayoutError:
            continue
        if ref.capture_id == capture_id:
            return ref
        if oldest_ms is not None and ref.captured_at_ms < oldest_ms:
            break
    return None


def command_capture(gallery: Gallery, device: str, command_id: str) -> layout.CaptureRef:
    """The capture a done capture-now command produced; NotFound if there is none (yet)."""
    state = _read_state(gallery, device)
    command = next((c for c in state.commands if c.id == command_id), None)
    if command is None:
        raise NotFound("no such capture-now request")
    if command.pending or command.capture_id is None:
        raise NotFound("the camera has not reported a capture for this request")
    ref = find_capture(gallery, device, command.capture_id, command.queued_at, command.done_at)
    if ref is None:
        raise NotFound(f"capture {command.capture_id} is not stored (deleted, or still "
                       "waiting in the camera's queue)")
    return ref


# --- the firmware page ------------------------------------------------------------------------


@dataclass(frozen=True)
class FirmwareRow:
    """One camera's line on the firmware page."""

    device: str
    running: str | None
    status: str
    words: str
    tone: str
    failures: int
    reason: str | None


@dataclass(frozen=True)
class FirmwarePage:
    """Published versions, the release shown, and every camera's status in its rollout."""

    versions: list[str]
    current: str | None
    release: firmware_release.Release | None
    rows: list[FirmwareRow]

    @property
    def halted(self) -> Mapping[str, str] | None:
        """Why the shown rollout is halted (device, reason, at), or None."""
        return self.release.rollout.halted if self.release is not None else None

    @property
    def targets(self) -> str:
        """Who the shown rollout targets, in words."""
        if self.release is None:
            return ""
        rollout = self.release.rollout
        if rollout.devices is not None:
            return "the cameras " + ", ".join(rollout.devices)
        percent = rollout.percent if rollout.percent is not None else 100
        return "every camera" if percent >= 100 else f"{percent}% of the cameras"

    def count(self, *statuses: str) -> int:
        """How many cameras are in any of ``statuses``."""
        return sum(row.status in statuses for row in self.rows)


def firmware_row(status: firmware_release.DeviceStatus) -> FirmwareRow:
    """A camera's rollout status with its wording."""
    words, tone = FIRMWARE_WORDS.get(status.status, (status.status.replace("_", " "), "quiet"))
    return FirmwareRow(device=status.device, running=status.running, status=status.status,
                       words=words, tone=tone, failures=status.failures, reason=status.reason)


def firmware_page(gallery: Gallery, version: str | None = None) -> FirmwarePage:
    """The firmware page: published versions and the rollout of ``version`` (default: current)."""
    if version:
        firmware_release.check_version(version)
    client, bucket = gallery.client, gallery.bucket
    versions = sorted(
        (v for v in list_prefixes(client, bucket, firmware_release.FIRMWARE_PREFIX)
         if firmware_release.version_key(v) is not None),
        key=lambda v: firmware_release.version_key(v) or ((), 0, ""), reverse=True)
    current_doc = get_json(client, bucket, firmware_release.CURRENT_KEY)
    current = current_doc.get("version") if isinstance(current_doc, Mapping) else None
    release, statuses = firmware_release.status(client, bucket, version or None,
                                                now=_now(gallery))
    if version and release is None:
        raise NotFound(f"no firmware release {version}")
    return FirmwarePage(versions=versions, current=current if isinstance(current, str) else None,
                        release=release, rows=[firmware_row(s) for s in statuses])


# --- the cameras page -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceSummary:
    """What the cameras page shows of a camera's registry record and management state."""

    registered: bool
    name: str = ""
    revoked: bool = False
    desired_version: int = 0
    applied_version: int | None = None
    drift: bool = False
    running: str | None = None
    pending: int = 0
    update: str | None = None
    # The desired active hours (None: all day, or no settings on the server). The ingest hands
    # the status summary the same value, so the stale badge and the alerts count the same hours.
    active_hours: str | None = None


def summarize(document: Any) -> DeviceSummary:
    """The summary of a raw ``devices/{device}.json`` (None or not a record: unregistered)."""
    if not isinstance(document, Mapping):
        return DeviceSummary(registered=False)
    state = device_state.load_state(document)
    name = document.get("name")
    firmware = state.firmware
    update = None
    if firmware.version is not None and firmware.version != firmware.running:
        update = f"{firmware.version}: {firmware.result or 'offered'}"
    return DeviceSummary(
        registered=True,
        name=name if isinstance(name, str) else "",
        revoked=document.get("revoked_at") is not None,
        desired_version=state.config.version,
        applied_version=state.applied.config_version,
        drift=state.config_drift,
        running=firmware.running,
        pending=len(state.pending),
        update=update,
        active_hours=state.config.active_hours if state.config.version > 0 else None,
    )


def device_document(gallery: Gallery, device: str) -> Any:
    """``devices/{device}.json`` as stored (None if absent), cached like the registry's reads."""
    now = gallery.clock()
    cached = gallery.device_documents.get(device)
    if cached is not None:
        ttl = DOCUMENT_CACHE_SECONDS if cached[1] is not None else MISSING_CACHE_SECONDS
        if now - cached[0] < ttl:
            return cached[1]
    document = get_json(gallery.client, gallery.bucket, layout.device_key(device))
    gallery.device_documents.put(device, (now, document))
    return document


def forget_document(gallery: Gallery, device: str) -> None:
    """Drop the cached document after the gallery changed it, so the cameras page shows it."""
    gallery.device_documents.pop(device)
