"""What travels with a capture: the original's S3 object metadata and the metadata record.

Pure functions: the ingest writes object metadata, the thumbnailer reads it back and builds the
record (SPEC "Metadata record", schema 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from camcloud.layout import CaptureRef
from camcloud.validation import TELEMETRY_FIELDS

SCHEMA = 1
_TELEMETRY_PREFIX = "t-"


def object_metadata(
    *,
    capture_id: str,
    captured_at: str,
    received_at: str,
    clock: str,
    sha256: str,
    size: int,
    telemetry: Mapping[str, int | str],
) -> dict[str, str]:
    """S3 user metadata for an original (ASCII strings; telemetry keys prefixed ``t-``)."""
    metadata = {
        "capture-id": capture_id,
        "captured-at": captured_at,
        "received-at": received_at,
        "clock": clock,
        "sha256": sha256,
        "bytes": str(size),
    }
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
    return {
        "captured_at": meta.get("captured-at"),
        "received_at": meta.get("received-at"),
        "clock": meta.get("clock"),
        "sha256": meta.get("sha256"),
        "bytes": size,
        "telemetry": telemetry,
    }


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
    error: str | None = None,
    error_code: str | None = None,
) -> dict[str, Any]:
    """The metadata record of a capture; ``error`` set means ``status: "error"``.

    ``keys`` always names a thumbnail and a preview: for a bad original they are placeholder
    tiles saying why, so the gallery, which derives those keys from listings, never shows a
    broken image.
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
