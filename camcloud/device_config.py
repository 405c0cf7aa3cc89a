"""A camera's remote settings (protocol v1.1): the model, its ranges and defaults. Pure.

The server validates every change here (the CLI and the gallery both call ``apply_changes``);
the camera validates again with the same ranges (``docs/device-management.md``) and ignores
fields it does not know. ``version`` numbers the desired config: 0 means "nothing set on the
server, keep your own", and any change that alters a field bumps it by one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from camcloud.errors import Refusal


@dataclass(frozen=True)
class ImageMode:
    """One Arducam Mega capture resolution: its ``CAM_IMAGE_MODE`` value and its size."""

    name: str
    value: int
    width: int
    height: int


# The CAM_IMAGE_MODE values of ArducamCamera.h that the 3MP sensor supports (CameraInfo_3MP's
# supportResolution in ArducamCamera.c): QQVGA, SVGA, SXGAM and WQXGA2 are 5MP-only or absent.
IMAGE_MODES: dict[str, ImageMode] = {
    mode.name: mode
    for mode in (
        ImageMode("96x96", 0x0A, 96, 96),
        ImageMode("128x128", 0x0B, 128, 128),
        ImageMode("320x320", 0x0C, 320, 320),
        ImageMode("qvga", 0x01, 320, 240),
        ImageMode("vga", 0x02, 640, 480),
        ImageMode("hd", 0x04, 1280, 720),
        ImageMode("uxga", 0x06, 1600, 1200),
        ImageMode("fhd", 0x07, 1920, 1080),
        ImageMode("qxga", 0x08, 2048, 1536),
    )
}
# Users also type the size ("1920x1080") or the 3MP's full frame by its pixel count.
_MODE_ALIASES = {f"{mode.width}x{mode.height}": name for name, mode in IMAGE_MODES.items()}
_MODE_ALIASES["3mp"] = "qxga"

# The driver's IMAGE_QUALITY levels (setImageQuality): HIGH_QUALITY=0, DEFAULT_QUALITY=1,
# LOW_QUALITY=2. The sensor has no numeric JPEG quality.
JPEG_QUALITIES: dict[str, int] = {"high": 0, "default": 1, "low": 2}

INTERVAL_RANGE = (5, 86_400)
CHECKIN_RANGE = (10, 86_400)
VERSION_MAX = 2**31 - 1

_HOURS_RE = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_NO_HOURS = {"", "none", "null", "off", "always", "all-day"}


@dataclass(frozen=True)
class DeviceConfig:
    """The desired settings of one camera; ``version`` 0 means none were set on the server."""

    version: int = 0
    interval_s: int = 300
    image_mode: str = "qxga"
    jpeg_quality: str = "default"
    pir: bool = False
    battery_mode: bool = False
    active_hours: str | None = None
    checkin_s: int = 60

    def to_json(self) -> dict[str, Any]:
        """The config as the protocol sends it (and as ``devices/{device}.json`` stores it)."""
        return asdict(self)

    @classmethod
    def from_json(cls, document: Any) -> DeviceConfig:
        """Read a stored config; unknown fields are ignored, a bad field falls back to its default.

        Lenient on purpose: a hand-edited record must never stop the ingest from answering.
        """
        if not isinstance(document, Mapping):
            return cls()
        config = cls()
        values: dict[str, Any] = {}
        for name in SETTINGS:
            if name in document:
                try:
                    values[name] = check_setting(name, document[name])
                except Refusal:
                    continue
        version = document.get("version")
        if isinstance(version, int) and not isinstance(version, bool):
            if 0 <= version <= VERSION_MAX:
                values["version"] = version
        return replace(config, **values)


SETTINGS: tuple[str, ...] = tuple(f.name for f in fields(DeviceConfig) if f.name != "version")


def _bad(name: str, message: str) -> Refusal:
    return Refusal(400, "bad_setting", f"{name}: {message}")


def _int_in(name: str, value: Any, bounds: tuple[int, int], unit: str) -> int:
    low, high = bounds
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, f"must be a whole number of {unit} from {low} to {high}, not {value!r}")
    if not low <= value <= high:
        raise _bad(name, f"must be from {low} to {high} {unit}, not {value}")
    return value


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _bad(name, f"must be true or false, not {value!r}")


def image_mode_name(value: Any) -> str:
    """The canonical image mode for ``value`` (``"QXGA"``, ``"2048x1536"`` -> ``"qxga"``)."""
    if isinstance(value, str):
        wanted = value.strip().lower()
        wanted = _MODE_ALIASES.get(wanted, wanted)
        if wanted in IMAGE_MODES:
            return wanted
    raise _bad(
        "image_mode",
        f"must be one of {', '.join(IMAGE_MODES)} (the Arducam Mega 3MP modes), not {value!r}",
    )


def _quality(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in JPEG_QUALITIES:
        return value.strip().lower()
    raise _bad("jpeg_quality", f"must be one of {', '.join(JPEG_QUALITIES)}, not {value!r}")


def parse_active_hours(value: str) -> tuple[int, int]:
    """``"HH:MM-HH:MM"`` as (start, end) minutes of the day; raises Refusal if malformed."""
    match = _HOURS_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise _bad(
            "active_hours",
            f"must be HH:MM-HH:MM (24-hour clock, e.g. 06:30-20:00 or 22:00-06:00), not {value!r}",
        )
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    if start == end:
        raise _bad(
            "active_hours",
            f"start and end are the same ({value.strip()}); leave it empty to capture all day",
        )
    return start, end


def _active_hours(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in _NO_HOURS):
        return None
    start, end = parse_active_hours(value)
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def in_active_hours(active_hours: str | None, minute_of_day: int) -> bool:
    """Whether a camera may capture at ``minute_of_day`` (0-1439); the window may wrap midnight.

    The start minute is inside the window, the end minute is not.
    """
    if active_hours is None:
        return True
    start, end = parse_active_hours(active_hours)
    if start < end:
        return start <= minute_of_day < end
    return minute_of_day >= start or minute_of_day < end


def check_setting(name: str, value: Any) -> Any:
    """``value`` in its canonical form if it is valid for setting ``name``; else raise Refusal.

    Form and command-line strings are accepted ("300", "on", "VGA", "" for no active hours).
    """
    if name == "interval_s":
        return _int_in(name, value, INTERVAL_RANGE, "seconds")
    if name == "checkin_s":
        return _int_in(name, value, CHECKIN_RANGE, "seconds")
    if name == "image_mode":
        return image_mode_name(value)
    if name == "jpeg_quality":
        return _quality(value)
    if name in ("pir", "battery_mode"):
        return _bool(name, value)
    if name == "active_hours":
        return _active_hours(value)
    if name == "version":
        raise _bad("version", "is set by the server; it goes up by one with every change")
    raise Refusal(
        400,
        "unknown_setting",
        f"unknown setting {name!r}; the settings are {', '.join(SETTINGS)}",
    )


def apply_changes(config: DeviceConfig, **changes: Any) -> DeviceConfig:
    """``config`` with ``changes`` applied and its version bumped; unchanged if nothing differs.

    Every change is checked first, so a refused change leaves nothing half applied. Raises
    Refusal(400, ``unknown_setting`` | ``bad_setting``) naming the field and its range.
    """
    values = {name: check_setting(name, value) for name, value in changes.items()}
    updated = replace(config, **values)
    if updated == config:
        return config
    if config.version >= VERSION_MAX:
        raise _bad("version", "has reached its maximum; re-add the device")
    return replace(updated, version=config.version + 1)


def limits() -> dict[str, Any]:
    """Each setting's allowed values, for forms, help texts and the firmware's own checks."""
    return {
        "interval_s": {"min": INTERVAL_RANGE[0], "max": INTERVAL_RANGE[1]},
        "checkin_s": {"min": CHECKIN_RANGE[0], "max": CHECKIN_RANGE[1]},
        "image_mode": list(IMAGE_MODES),
        "jpeg_quality": list(JPEG_QUALITIES),
        "pir": [False, True],
        "battery_mode": [False, True],
        "active_hours": "HH:MM-HH:MM or null",
    }
