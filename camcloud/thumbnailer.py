"""The thumbnailer's logic: S3 event batch in, thumbnail + preview + metadata record out.

Shared by the Lambda handler (``lambdas/thumbnailer/app.py``), the local stack's worker and
``camcloud reprocess``, so all three run the same code on the same event shape.

S3 delivers events at least once and in no particular order, so every step is idempotent and
checks the original rather than trusting the event:

- a created event renders whatever the original is *now*, and overwrites the same three keys;
- a created event for an original that is gone (deleted before the event arrived) removes
  whatever derived objects exist and writes nothing;
- a removed or lifecycle-expiration event deletes the thumbnail, preview and record;
- after writing, the original is checked once more, so a delete that raced the rendering
  cannot leave orphans behind.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from camcloud import imaging, layout
from camcloud.devices import ROTATIONS, DeviceRegistry
from camcloud.records import applied_rotation, build_record, parse_object_metadata
from camcloud.s3 import StoredObject, delete_keys, exists, put_bytes, put_json, read_object
from camcloud.status import StatusRecorder
from camcloud.validation import JpegError, jpeg_length

PROCESSOR = "camcloud-thumbnailer/1"
# Derived objects of a key are rewritten only by a reprocess; a day of caching is harmless then.
_DERIVED_CACHE = "private, max-age=86400"
# An original bigger than this is not read at all (the ingest caps uploads at 8 MiB).
MAX_ORIGINAL_BYTES = 32 * 1024 * 1024
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
    failed: dict[str, str] = field(default_factory=dict)
    durations_ms: list[float] = field(default_factory=list)


class BatchFailed(RuntimeError):
    """Some captures of a batch failed unexpectedly; raised so that the event is retried."""

    def __init__(self, result: BatchResult) -> None:
        keys = ", ".join(sorted(result.failed))
        super().__init__(f"{len(result.failed)} capture(s) failed and will be retried: {keys}")
        self.result = result


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
        # S3 URL-encodes keys in events, spaces as '+': '%2F' and '/' both decode to '/'.
        key = unquote_plus(raw_key)
        # Recursion guard: only originals trigger work, whatever the trigger's filter says.
        if not key.startswith(layout.RAW_PREFIX):
            continue
        if name.startswith("ObjectCreated"):
            yield S3Change("created", bucket, key)
        elif name.startswith(("ObjectRemoved", "LifecycleExpiration")):
            yield S3Change("removed", bucket, key)


def _iso_from_ms(captured_at_ms: int) -> str:
    return datetime.fromtimestamp(captured_at_ms / 1000, UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class CapturePlan:
    """What to write for one capture: its two tiles and its record, and why if it is bad."""

    thumb: bytes
    preview: bytes
    record: dict[str, Any]
    rendition: imaging.Rendition | None = None
    failure: imaging.ImageError | None = None


def refusal(original: StoredObject) -> imaging.ImageError | None:
    """Why ``original`` is not decoded at all (too big to read, too costly to decode), or None.

    Checked before Pillow sees a byte: a progressive JPEG of thousands of scans or a flood of
    fill bytes would cost seconds to minutes of CPU (a Lambda timeout and retries) for the same
    verdict. Other framing faults are left to the decoder, which names them more precisely.
    """
    if original.body is None:
        return imaging.ImageError(
            "too_large", f"the original is {original.size} bytes; camcloud renders up to "
            f"{MAX_ORIGINAL_BYTES} bytes",
        )
    try:
        jpeg_length(original.body)
    except JpegError as exc:
        if exc.code == "too_complex":
            return imaging.ImageError(exc.code, str(exc))
    return None


def plan_capture(ref: layout.CaptureRef, original: StoredObject, *, rotation: int,
                 processed_at: str) -> CapturePlan:
    """Decide the thumbnail, preview and record of ``original`` (no I/O).

    ``rotation`` is the camera's setting; it turns the camera's uploads, and an imported photo
    only if its import asked for it (``camcloud import --apply-rotation``): old photos were
    taken before the setting, or are upright already. The record takes the stored object
    metadata, falling back to the original's own size, sha256 and the capture time in its key.
    A bad original is a permanent condition: it is kept, the record says why and the tiles say
    so (a retry would fail the same way).
    """
    stored = parse_object_metadata(original.metadata)
    rotation = applied_rotation(stored, rotation)
    stored["bytes"] = original.size
    if original.body:
        stored["sha256"] = stored.get("sha256") or hashlib.sha256(original.body).hexdigest()
    stored["captured_at"] = stored.get("captured_at") or _iso_from_ms(ref.captured_at_ms)
    failure = refusal(original)
    if failure is None:
        assert original.body is not None
        try:
            rendition = imaging.render(original.body, rotation=rotation)
        except imaging.ImageError as exc:
            failure = exc
        else:
            record = build_record(
                ref, stored, processed_at=processed_at, processor=PROCESSOR,
                width=rendition.width, height=rendition.height,
                orientation=rendition.orientation, exif=rendition.exif,
                quality=rendition.quality, rotation=rotation,
            )
            return CapturePlan(rendition.thumb, rendition.preview, record, rendition=rendition)
    reason = str(failure)
    return CapturePlan(
        thumb=imaging.placeholder(failure.code, reason, imaging.THUMB_EDGE),
        preview=imaging.placeholder(failure.code, reason, imaging.PREVIEW_EDGE),
        record=build_record(ref, stored, processed_at=processed_at, processor=PROCESSOR,
                            error=reason, error_code=failure.code),
        failure=failure,
    )


def write_capture(client: Any, bucket: str, ref: layout.CaptureRef, plan: CapturePlan) -> None:
    """Write a plan's tiles, then its record."""
    for key, body in ((ref.thumb_key, plan.thumb), (ref.preview_key, plan.preview)):
        put_bytes(client, bucket, key, body, content_type="image/jpeg",
                  cache_control=_DERIVED_CACHE)
    # The record goes last: a listed record promises that its thumbnail exists.
    put_json(client, bucket, ref.meta_key, plan.record)


class Thumbnailer:
    """Renders originals and keeps derived objects in step with them."""

    def __init__(
        self,
        client_factory: Callable[[], Any],
        registry: DeviceRegistry | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        status: StatusRecorder | None = None,
    ) -> None:
        self._client = client_factory
        self._registry = registry
        self._clock = clock
        # The alerts' last-seen summary: good and error records per camera (docs/alerts...).
        self.status = status

    def process_event(self, event: dict[str, Any]) -> BatchResult:
        """Handle every record of an S3 event batch.

        A bad original is recorded and the batch goes on. Any other failure is collected, the
        rest of the batch still runs, and BatchFailed is raised at the end so that the event is
        retried (and dead-lettered if it keeps failing); redoing the good records is harmless.
        """
        result = BatchResult()
        first_failure: BaseException | None = None
        buckets: set[str] = set()
        for change in iter_changes(event):
            buckets.add(change.bucket)
            try:
                ref = layout.parse_key(change.key)
            except layout.LayoutError:
                result.skipped.append(change.key)
                log.warning("not a capture key, ignored", extra={"key": change.key})
                continue
            started = time.perf_counter()
            try:
                if change.kind == "removed":
                    self.remove_derived(change.bucket, ref)
                    result.removed.append(change.key)
                    log.info("capture removed", extra={"key": change.key})
                    continue
                record = self.process_capture(change.bucket, ref)
            except Exception as exc:
                result.failed[change.key] = f"{type(exc).__name__}: {exc}"
                first_failure = first_failure or exc
                log.exception("capture failed, will be retried", extra={"key": change.key})
                continue
            result.durations_ms.append((time.perf_counter() - started) * 1000)
            if record is None:
                result.skipped.append(change.key)
            elif record["status"] == "error":
                result.errors[change.key] = str(record.get("error_code"))
            else:
                result.processed.append(change.key)
            self._note(ref.device, record)
        self._flush_status(buckets)
        if result.failed:
            raise BatchFailed(result) from first_failure
        return result

    def _note(self, device: str, record: dict[str, Any] | None) -> None:
        if self.status is None or record is None:
            return
        ok = record["status"] != "error"
        self.status.note_processed(device, at=self._clock().timestamp(), ok=ok,
                                   error_code=None if ok else str(record.get("error_code")))

    def _flush_status(self, buckets: set[str]) -> None:
        """Write the summary if due, once per batch (never fails the batch)."""
        if self.status is not None and len(buckets) == 1:
            self.status.flush_if_due(self._client(), next(iter(buckets)))

    def process_capture(self, bucket: str, ref: layout.CaptureRef) -> dict[str, Any] | None:
        """Render one original and write its thumbnail, preview and record (idempotent).

        Read, plan (pure), write. Returns the record, or None when the original no longer
        exists (a late event for a deleted capture); then any derived objects are removed.
        """
        client = self._client()
        original = read_object(client, bucket, ref.raw_key, max_bytes=MAX_ORIGINAL_BYTES)
        if original is None:
            self.remove_derived(bucket, ref)
            log.info("original is gone, nothing to render", extra={"key": ref.raw_key})
            return None
        plan = plan_capture(ref, original, rotation=self.rotation(ref.device),
                            processed_at=self._clock().isoformat(timespec="milliseconds"))
        del original
        if plan.failure is not None:
            log.warning("bad original", extra={"key": ref.raw_key, "reason": plan.failure.code,
                                               "error": str(plan.failure)})
        write_capture(client, bucket, ref, plan)
        if not exists(client, bucket, ref.raw_key):
            # Deleted while we rendered; the delete's own event may already have run.
            self.remove_derived(bucket, ref)
            log.info("original deleted during rendering", extra={"key": ref.raw_key})
            return None
        if plan.rendition is not None:
            log.info("capture rendered", extra={"key": ref.raw_key,
                                                "width": plan.rendition.width,
                                                "height": plan.rendition.height})
        return plan.record

    def remove_derived(self, bucket: str, ref: layout.CaptureRef) -> None:
        """Delete a capture's thumbnail, preview and record (its original is gone)."""
        # A key that fails to delete raises, so the event is retried.
        delete_keys(self._client(), bucket, [ref.meta_key, ref.thumb_key, ref.preview_key])

    def rotation(self, device: str) -> int:
        """The clockwise rotation the device registry sets for ``device`` (0 if unknown)."""
        if self._registry is None:
            return 0
        record = self._registry.get(device)
        rotation = record.rotation if record else 0
        if rotation not in ROTATIONS:
            # A hand-edited device record must not turn every capture into a retry loop.
            log.warning("ignoring invalid rotation", extra={"device": device,
                                                            "rotation": rotation})
            return 0
        return rotation
