"""What travels with a capture: the original's S3 object metadata and the metadata record.

Pure functions: the ingest writes object metadata, the thumbnailer reads it back and builds the
record (docs/protocol.md, "The metadata record", schema 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from camcloud.layout import CaptureRef
from camcloud.validation import TELEMETRY_FIELDS

SCHEMA = 1
_TELEMETRY_PREFIX = "t-"
# Where an original came from: a camera's upload, or ``camcloud import`` (old photos).
SOURCES = ("camera", "import")
# Imports stored before they were marked are known by their clock (the ingest's clocks are
# "device" and "server"); they never asked for the camera's rotation.
_IMPORT_CLOCKS = frozenset({"name", "exif", "file"})


def object_metadata(
    *,
    capture_id: str,
    captured_at: str,
    received_at: str,
    clock: str,
    sha256: str,
    size: int,
    telemetry: Mapping[str, int | str],
    imported: bool = False,
    apply_rotation: bool = False,
) -> dict[str, str]:
    """S3 user metadata for an original (ASCII strings; telemetry keys prefixed ``t-``).

    An ``imported`` original is marked ``source: import``, and says whether the camera's
    rotation setting turns it (``apply-rotation``); an upload always turns with its camera.
    """
    metadata = {
        "capture-id": capture_id,
        "captured-at": captured_at,
        "received-at": received_at,
        "clock": clock,
        "sha256": sha256,
        "bytes": str(size),
    }
    if imported:
        metadata["source"] = "import"
        metadata["apply-rotation"] = "yes" if apply_rotation else "no"
    for name, value in telemetry.items():
        metadata[_TELEMETRY_PREFIX + name.replace("_", "-")] = str(value)
    return metadata


def parse_object_metadata(metadata: Mapping[str, str]) -> dict[str, Any]:
    """Read back what :func:`object_metadata` wrote; unknown or malformed values are dropped."""
    meta = {key.lower(): value for key, value in metadata.items()}
    telemetry: dict[str, int | str] = {}
    for key, value in meta.items():
        if not key.startswith(_TELEMETRY_PREFIX):
            continue
        name = key[len(_TELEMETRY_PREFIX) :].replace("-", "_")
        parse = TELEMETRY_FIELDS.get(name)
        parsed = parse(value) if parse is not None else value
        if parsed is not None:
            telemetry[name] = parsed
    size: int | None
    try:
        size = int(meta["bytes"])
    except (KeyError, ValueError):
        size = None
    clock = meta.get("clock")
    imported = meta.get("source") == "import" or (
        "source" not in meta and clock in _IMPORT_CLOCKS
    )
    return {
        "captured_at": meta.get("captured-at"),
        "received_at": meta.get("received-at"),
        "clock": clock,
        "sha256": meta.get("sha256"),
        "bytes": size,
        "telemetry": telemetry,
        "source": "import" if imported else "camera",
        # Anything but an explicit "yes" leaves an import as it was taken.
        "apply_rotation": not imported or meta.get("apply-rotation") == "yes",
    }


def applied_rotation(stored: Mapping[str, Any], device_rotation: int) -> int:
    """The clockwise rotation to give an original: its camera's, unless an import declined it."""
    return device_rotation if stored.get("apply_rotation", True) else 0


def build_record(
    ref: CaptureRef,
    stored: Mapping[str, Any],
    *,
    processed_at: str,
    processor: str,
    width: int | None = None,
    height: int | None = None,
    orientation: int | None = None,
    exif: Mapping[str, Any] | None = None,
    quality: Mapping[str, Any] | None = None,
    rotation: int | None = None,
    error: str | None = None,
    error_code: str | None = None,
) -> dict[str, Any]:
    """The metadata record of a capture; ``error`` set means ``status: "error"``.

    ``keys`` always names a thumbnail and a preview: for a bad original they are placeholder
    tiles saying why, so the gallery, which derives those keys from listings, never shows a
    broken image. ``rotation`` is the clockwise turn the camera's setting gave the tiles
    (0 for an import that did not ask for it; None when nothing was rendered).
    """
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "device": ref.device,
        "capture_id": ref.capture_id,
        "captured_at": stored.get("captured_at"),
        "received_at": stored.get("received_at"),
        "clock": stored.get("clock"),
        "bytes": stored.get("bytes"),
        "sha256": stored.get("sha256"),
        "width": width,
        "height": height,
        "orientation": orientation,
        "rotation": rotation,
        "source": stored.get("source") or "camera",
        "keys": {"raw": ref.raw_key, "thumb": ref.thumb_key, "preview": ref.preview_key},
        "exif": dict(exif or {}),
        "quality": dict(quality or {}),
        "telemetry": dict(stored.get("telemetry") or {}),
        "status": "error" if error else "ok",
        "error": error,
        "error_code": error_code,
        "processed_at": processed_at,
        "processor": processor,
    }
    return record
