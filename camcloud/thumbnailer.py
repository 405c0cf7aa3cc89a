"""The thumbnailer's logic: S3 event batch in, thumbnail + preview + metadata record out.

Shared by the Lambda handler (``lambdas/thumbnailer/app.py``) and the local stack's worker, so
both run the same code on the same event shape.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from camcloud import imaging, layout
from camcloud.devices import DeviceRegistry
from camcloud.records import build_record, parse_object_metadata
from camcloud.s3 import get_json, is_missing, put_json

PROCESSOR = "camcloud-thumbnailer/1"
# Derived objects never change once written for a key: let browsers cache them.
_DERIVED_CACHE = "private, max-age=31536000, immutable"
log = logging.getLogger("camcloud.thumbnailer")


@dataclass(frozen=True)
class S3Change:
    """One record of an S3 event: an original created or removed."""

    kind: str  # "created" | "removed"
    bucket: str
    key: str


@dataclass
class BatchResult:
    """What one event batch did, for logs and metrics."""

    processed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def iter_changes(event: dict[str, Any]) -> Iterator[S3Change]:
    """The ``raw/`` changes in an S3 event, keys decoded; test events and other keys ignored."""
    if event.get("Event") == "s3:TestEvent":
        return
    for record in event.get("Records") or []:
        name = str(record.get("eventName", ""))
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name")
        raw_key = (s3.get("object") or {}).get("key")
        if not bucket or not raw_key:
            continue
        key = unquote_plus(raw_key)
        # Recursion guard: only originals trigger work, whatever the trigger's filter says.
        if not key.startswith(layout.RAW_PREFIX):
            continue
        if name.startswith("ObjectCreated"):
            yield S3Change("created", bucket, key)
        elif name.startswith("ObjectRemoved") or name.startswith("LifecycleExpiration"):
            yield S3Change("removed", bucket, key)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Thumbnailer:
    """Renders originals and keeps derived objects in step with them."""

    def __init__(self, client_factory: Callable[[], Any], registry: DeviceRegistry | None = None):
        self._client = client_factory
        self._registry = registry

    def process_event(self, event: dict[str, Any]) -> BatchResult:
        """Handle every record of an S3 event batch; unexpected errors propagate (retry)."""
        result = BatchResult()
        for change in iter_changes(event):
            try:
                ref = layout.parse_key(change.key)
            except layout.LayoutError:
                result.skipped.append(change.key)
                log.warning("not a capture key, ignored", extra={"key": change.key})
                continue
            if change.kind == "removed":
                self.remove_derived(change.bucket, ref)
                result.removed.append(change.key)
                continue
            record = self.process_capture(change.bucket, ref)
            if record is None:
                result.skipped.append(change.key)
            elif record["status"] == "error":
                result.errors[change.key] = str(record.get("error_code"))
            else:
                result.processed.append(change.key)
        return result

    def process_capture(self, bucket: str, ref: layout.CaptureRef) -> dict[str, Any] | None:
        """Render one original and write its thumbnail, preview and record (idempotent).

        Returns the record, or None when the original no longer exists (a late event for a
        deleted capture).
        """
        client = self._client()
        try:
            response = client.get_object(Bucket=bucket, Key=ref.raw_key)
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise
        original = response["Body"].read()
        stored = parse_object_metadata(response.get("Metadata") or {})
        stored["bytes"] = len(original)
        stored["sha256"] = stored.get("sha256") or hashlib.sha256(original).hexdigest()
        if not stored.get("captured_at"):
            stored["captured_at"] = datetime.fromtimestamp(
                ref.captured_at_ms / 1000, UTC
            ).isoformat(timespec="milliseconds")
        rotation = self._rotation(ref.device)
        try:
            rendition = imaging.render(original, rotation=rotation)
        except imaging.ImageError as exc:
            # A bad original is a permanent condition: record it, keep it, do not retry.
            record = build_record(
                ref, stored, processed_at=_now(), processor=PROCESSOR,
                error=str(exc), error_code=exc.code,
            )
            put_json(client, bucket, ref.meta_key, record)
            log.warning("bad original", extra={"key": ref.raw_key, "reason": exc.code})
            return record
        for key, body in ((ref.thumb_key, rendition.thumb), (ref.preview_key, rendition.preview)):
            client.put_object(
                Bucket=bucket, Key=key, Body=body, ContentType="image/jpeg",
                CacheControl=_DERIVED_CACHE,
            )
        record = build_record(
            ref, stored, processed_at=_now(), processor=PROCESSOR,
            width=rendition.width, height=rendition.height, orientation=rendition.orientation,
            exif=rendition.exif, quality=rendition.quality,
        )
        # The record goes last: a listed record promises that its thumbnail exists.
        put_json(client, bucket, ref.meta_key, record)
        return record

    def remove_derived(self, bucket: str, ref: layout.CaptureRef) -> None:
        """Delete a capture's thumbnail, preview and record (its original is gone)."""
        client = self._client()
        client.delete_objects(
            Bucket=bucket,
            Delete={
                "Objects": [{"Key": ref.meta_key}, {"Key": ref.thumb_key},
                            {"Key": ref.preview_key}],
                "Quiet": True,
            },
        )

    def _rotation(self, device: str) -> int:
        if self._registry is None:
            return 0
        record = self._registry.get(device)
        return record.rotation if record else 0


def read_record(client: Any, bucket: str, ref: layout.CaptureRef) -> dict[str, Any] | None:
    """The metadata record of ``ref``, or None."""
    document = get_json(client, bucket, ref.meta_key)
    return document if isinstance(document, dict) else None
