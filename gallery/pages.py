"""What each gallery page needs from S3, with the number of S3 calls kept small and fixed.

Each function takes the :class:`Gallery` (client, settings, presigner) and plain arguments and
returns plain values for a template. The costs, per page view:

- timeline / one camera: 1 ListObjectsV2 (``meta/`` or ``thumbs/{device}/``); URLs are signed
  locally, so 10 or 10 million captures cost the same;
- fresh URLs for the links on a page: 0 calls; an image that failed to load: 1 HEAD, plus 1 GET
  of its record when the thumbnail is missing;
- capture panel: 1 GET (the record); download: 1 HEAD; delete: 1 DeleteObjects;
- live view: 1 ListObjectsV2 with MaxKeys=1 per refresh;
- cameras page: 2 listings to find the cameras, then per camera 1 ListObjectsV2 of its last 24 h
  of originals (one page of up to 1000 keys; more only for cameras uploading more often than
  every 86 s), 1 GET of its newest record (telemetry), its registry record (cached for minutes),
  and a share of ``ERROR_CHECK_BUDGET`` GETs per page view of records not yet seen, to count
  errors.
  Records never change once written, so their status is remembered and the error count becomes
  exact after a visit or two; until then the page says how many it has checked.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from camcloud import layout
from camcloud.devices import DeviceRegistry
from camcloud.s3 import delete_keys, exists, get_json, list_page
from camcloud.settings import Settings
from gallery import listing
from gallery.presign import Presigner

# Record GETs per cameras page view spent on counting errors, shared by all cameras.
ERROR_CHECK_BUDGET = 120
_STATUS_CACHE_SIZE = 200_000
_WINDOW_PAGES = 3
_WORKERS = 8


class NotFound(LookupError):
    """The capture or camera asked for does not exist."""


class Gallery:
    """The gallery's S3 client, settings, presigner and small caches, created lazily."""

    def __init__(self, settings: Settings, client_factory: Any) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.gallery_timezone)
        self._client_factory = client_factory
        self._presigner: Presigner | None = None
        self._lock = threading.Lock()
        self.registry = DeviceRegistry(client_factory, settings.bucket, cache_seconds=300)
        self._status: OrderedDict[str, str] = OrderedDict()

    @property
    def client(self) -> Any:
        """The S3 client."""
        return self._client_factory()

    @property
    def presigner(self) -> Presigner:
        """The URL signer (made on first use: it asks botocore for one probe URL)."""
        if self._presigner is None:
            with self._lock:
                if self._presigner is None:
                    self._presigner = Presigner(
                        self.client, self.settings.bucket, self.settings.presign_ttl
                    )
        return self._presigner

    def image_origin(self) -> str | None:
        """Where presigned images come from (for the CSP), once the signer exists."""
        return None if self._presigner is None else self._presigner.origin

    def remember_status(self, meta_key: str, status: str) -> None:
        """Remember a record's status (records do not change once written)."""
        with self._lock:
            self._status[meta_key] = status
            self._status.move_to_end(meta_key)
            while len(self._status) > _STATUS_CACHE_SIZE:
                self._status.popitem(last=False)

    def known_status(self, meta_key: str) -> str | None:
        """A remembered record status, or None."""
        with self._lock:
            return self._status.get(meta_key)

    def forget_status(self, meta_key: str) -> None:
        """Forget a deleted capture's status."""
        with self._lock:
            self._status.pop(meta_key, None)


# --- timeline ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelinePage:
    """One page of the grid: days of tiles, their links, and the cursor of the next page."""

    device: str | None
    days: list[listing.Day]
    thumbs: dict[str, str]
    previews: dict[str, str]
    next_after: str | None
    expires_at: int
    day: date | None = None

    @property
    def tiles(self) -> list[listing.Tile]:
        """Every tile of the page, in order."""
        return [tile for day in self.days for tile in day.tiles]


def timeline(
    gallery: Gallery, device: str | None, after: str | None, day_text: str | None
) -> TimelinePage:
    """A page of captures, newest first, of all cameras or one: one ListObjectsV2 call."""
    if device is None:
        prefix = layout.META_PREFIX
    else:
        try:
            prefix = layout.device_thumb_prefix(device)
        except layout.LayoutError:
            raise NotFound(f"no camera {device[:40]!r}") from None
    start_after = listing.check_cursor(after, prefix)
    day = listing.parse_day(day_text)
    if day is not None and start_after is None:
        start_after = listing.start_after_day(prefix, day, gallery.zone)
    page = list_page(
        gallery.client, gallery.settings.bucket, prefix,
        start_after=start_after, max_keys=gallery.settings.gallery_page_size,
    )
    tiles = listing.tiles_from_keys(page.keys, gallery.zone)
    thumbs, previews, expires_at = links(gallery, [tile.ref for tile in tiles])
    return TimelinePage(
        device=device, days=listing.group_by_day(tiles), thumbs=thumbs, previews=previews,
        next_after=page.next_start_after, expires_at=expires_at, day=day,
    )


def links(
    gallery: Gallery, refs: list[layout.CaptureRef]
) -> tuple[dict[str, str], dict[str, str], int]:
    """Thumbnail and preview URLs by capture id, and when they expire: no S3 call."""
    presigner = gallery.presigner
    thumb_urls = presigner.urls([ref.thumb_key for ref in refs])
    preview_urls = presigner.urls([ref.preview_key for ref in refs])
    thumbs = {ref.id: url for ref, url in zip(refs, thumb_urls, strict=True)}
    previews = {ref.id: url for ref, url in zip(refs, preview_urls, strict=True)}
    return thumbs, previews, presigner.window().expires_at


def fresh_links(gallery: Gallery, ids: list[str]) -> dict[str, Any]:
    """New URLs for the captures on a page (JSON for the page's refresh timer): no S3 call."""
    refs = []
    for capture_id in ids[:500]:
        try:
            refs.append(listing.parse_capture_id(capture_id))
        except listing.BadRequest:
            continue
    thumbs, previews, expires_at = links(gallery, refs)
    return {
        "expires_at": expires_at,
        "captures": {
            ref.id: {"thumb": thumbs[ref.id], "preview": previews[ref.id]} for ref in refs
        },
    }


def check_capture(gallery: Gallery, ref: layout.CaptureRef) -> dict[str, Any]:
    """Why an image failed to load, with fresh URLs: ``ok``, ``error``, ``processing``, ``gone``.

    Costs 1 HEAD of the thumbnail, plus 1 GET of the record and 1 HEAD of the original when
    the thumbnail is missing.
    """
    client, bucket = gallery.client, gallery.settings.bucket
    thumbs, previews, expires_at = links(gallery, [ref])
    answer: dict[str, Any] = {
        "id": ref.id, "thumb": thumbs[ref.id], "preview": previews[ref.id],
        "expires_at": expires_at, "status": "ok", "error": None,
    }
    if exists(client, bucket, ref.thumb_key):
        return answer
    record = get_json(client, bucket, ref.meta_key)
    if isinstance(record, dict) and record.get("status") == "error":
        answer.update(status="error", error=str(record.get("error") or "the image is corrupt"))
    elif exists(client, bucket, ref.raw_key):
        answer["status"] = "processing"
    else:
        answer["status"] = "gone"
    return answer


# --- one capture ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureDetail:
    """One capture for the lightbox panel and the capture page."""

    ref: layout.CaptureRef
    captured_at: Any
    summary: dict[str, Any]
    preview_url: str
    thumb_url: str
    expires_at: int


def capture(gallery: Gallery, ref: layout.CaptureRef) -> CaptureDetail:
    """A capture's record (1 GET) and its preview URL; NotFound if there is no record."""
    record = get_json(gallery.client, gallery.settings.bucket, ref.meta_key)
    if not isinstance(record, dict):
        raise NotFound("this capture does not exist (deleted?) or is still being processed")
    gallery.remember_status(ref.meta_key, str(record.get("status")))
    thumbs, previews, expires_at = links(gallery, [ref])
    return CaptureDetail(
        ref=ref,
        captured_at=listing.local_time(ref.captured_at_ms, gallery.zone),
        summary=listing.record_summary(record),
        preview_url=previews[ref.id],
        thumb_url=thumbs[ref.id],
        expires_at=expires_at,
    )


def download_url(gallery: Gallery, ref: layout.CaptureRef) -> str:
    """A presigned URL that downloads the original (1 HEAD, so a deleted one is a clean 404)."""
    if not exists(gallery.client, gallery.settings.bucket, ref.raw_key):
        raise NotFound("the original of this capture is gone")
    return gallery.presigner.url(
        ref.raw_key, download_name=listing.download_name(ref, gallery.zone)
    )


def delete_capture(gallery: Gallery, ref: layout.CaptureRef) -> None:
    """Delete a capture's original, thumbnail, preview and record in one call.

    The thumbnailer also removes derived objects when it sees the original's ObjectRemoved
    event; deleting them here makes the capture vanish from the grid at once.
    """
    delete_keys(gallery.client, gallery.settings.bucket,
                [ref.raw_key, ref.thumb_key, ref.preview_key, ref.meta_key])
    gallery.forget_status(ref.meta_key)


# --- live view ----------------------------------------------------------------------------------


def latest(gallery: Gallery, device: str) -> dict[str, Any]:
    """A camera's newest capture with fresh URLs (1 ListObjectsV2, MaxKeys=1)."""
    try:
        prefix = layout.device_thumb_prefix(device)
    except layout.LayoutError:
        raise NotFound(f"no camera {device[:40]!r}") from None
    page = list_page(gallery.client, gallery.settings.bucket, prefix, max_keys=1)
    tiles = listing.tiles_from_keys(page.keys, gallery.zone)
    if not tiles:
        return {"device": device, "id": None}
    tile = tiles[0]
    thumbs, previews, expires_at = links(gallery, [tile.ref])
    age = time.time() - tile.ref.captured_at_ms / 1000
    return {
        "device": device,
        "id": tile.id,
        "captured_at": tile.captured_at.isoformat(timespec="seconds"),
        "captured_label": tile.captured_at.strftime("%d %b %Y %H:%M:%S %Z"),
        "age": listing.describe_age(age),
        "thumb": thumbs[tile.id],
        "preview": previews[tile.id],
        "expires_at": expires_at,
    }


# --- cameras page -------------------------------------------------------------------------------


@dataclass
class CameraHealth:
    """One row of the cameras page."""

    device: str
    name: str
    revoked: bool
    activity: listing.Activity
    bars: list[listing.Bar]
    thumb_url: str | None
    latest_id: str | None
    last_seen: str
    last_seen_iso: str | None
    usual: str
    telemetry: dict[str, Any] = field(default_factory=dict)
    latest_status: str | None = None
    errors: int = 0
    checked: int = 0

    @property
    def errors_exact(self) -> bool:
        """Whether every capture of the last 24 h has been checked for errors."""
        return self.checked >= self.activity.uploads_24h


def _camera_ids(gallery: Gallery) -> list[str]:
    """Registered cameras and cameras that uploaded: 2 listings (up to 1000 cameras each)."""
    client, bucket = gallery.client, gallery.settings.bucket
    registered = client.list_objects_v2(Bucket=bucket, Prefix=layout.DEVICES_PREFIX, MaxKeys=1000)
    uploaded = client.list_objects_v2(
        Bucket=bucket, Prefix=layout.RAW_PREFIX, Delimiter="/", MaxKeys=1000
    )
    devices = set()
    for item in registered.get("Contents", []):
        name = item["Key"][len(layout.DEVICES_PREFIX):]
        if name.endswith(".json"):
            devices.add(name[: -len(".json")])
    for common in uploaded.get("CommonPrefixes", []):
        devices.add(common["Prefix"][len(layout.RAW_PREFIX):].rstrip("/"))
    return sorted(device for device in devices if layout.DEVICE_ID_RE.fullmatch(device))


def _recent_refs(gallery: Gallery, device: str, now_ms: int) -> list[layout.CaptureRef]:
    """The device's captures of the last 24 h, newest first (1 listing, rarely up to 3)."""
    prefix = layout.device_raw_prefix(device)
    oldest_rev = layout.rev_from_ms(max(0, now_ms - listing.DAY_MS))
    refs: list[layout.CaptureRef] = []
    after = None
    for _ in range(_WINDOW_PAGES):
        page = list_page(gallery.client, gallery.settings.bucket, prefix,
                         start_after=after, max_keys=1000)
        for key in page.keys:
            try:
                ref = layout.parse_key(key)
            except layout.LayoutError:
                continue
            refs.append(ref)
            if ref.rev > oldest_rev:
                # Older than 24 h: kept for "last seen" and the usual interval, then stop.
                return refs
        if page.next_start_after is None:
            break
        after = page.next_start_after
    return refs


def _health(gallery: Gallery, device: str, now_ms: int, budget: int) -> CameraHealth:
    refs = _recent_refs(gallery, device, now_ms)
    recent = [ref for ref in refs if now_ms - ref.captured_at_ms < listing.DAY_MS]
    act = listing.activity(refs, now_ms)
    record = gallery.registry.get(device)
    health = CameraHealth(
        device=device,
        name=record.name if record and record.name else "",
        revoked=bool(record and record.revoked),
        activity=act,
        bars=listing.chart_bars(act.hourly),
        thumb_url=None,
        latest_id=act.latest.id if act.latest else None,
        last_seen="never" if act.last_seen_ms is None else listing.describe_age(
            (now_ms - act.last_seen_ms) / 1000),
        last_seen_iso=None if act.last_seen_ms is None else listing.local_time(
            act.last_seen_ms, gallery.zone).isoformat(timespec="seconds"),
        usual=listing.describe_interval(act.usual_interval_s),
    )
    if act.latest is not None:
        health.thumb_url = gallery.presigner.url(act.latest.thumb_key)
        newest = get_json(gallery.client, gallery.settings.bucket, act.latest.meta_key)
        if isinstance(newest, dict):
            telemetry = newest.get("telemetry")
            health.telemetry = telemetry if isinstance(telemetry, dict) else {}
            health.latest_status = str(newest.get("status"))
            gallery.remember_status(act.latest.meta_key, health.latest_status)
    health.checked, health.errors = _count_errors(gallery, recent, budget)
    return health


def _count_errors(
    gallery: Gallery, refs: list[layout.CaptureRef], budget: int
) -> tuple[int, int]:
    """(checked, errors) among ``refs``, reading at most ``budget`` records not seen before."""
    unknown = [ref for ref in refs if gallery.known_status(ref.meta_key) is None]
    for ref in unknown[:budget]:
        record = get_json(gallery.client, gallery.settings.bucket, ref.meta_key)
        if isinstance(record, dict):
            gallery.remember_status(ref.meta_key, str(record.get("status")))
    checked = errors = 0
    for ref in refs:
        status = gallery.known_status(ref.meta_key)
        if status is not None:
            checked += 1
            errors += status == "error"
    return checked, errors


@dataclass(frozen=True)
class CamerasPage:
    """Every camera's health, and when the page's image links expire."""

    cameras: list[CameraHealth]
    expires_at: int


def cameras(gallery: Gallery, now_ms: int | None = None) -> CamerasPage:
    """Every camera's health, computed in parallel (S3 latency dominates, not CPU)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    devices = _camera_ids(gallery)
    expires_at = gallery.presigner.window().expires_at
    if not devices:
        return CamerasPage(cameras=[], expires_at=expires_at)
    budget = max(5, ERROR_CHECK_BUDGET // len(devices))
    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(devices))) as pool:
        health = list(pool.map(lambda device: _health(gallery, device, now_ms, budget), devices))
    return CamerasPage(cameras=health, expires_at=expires_at)
