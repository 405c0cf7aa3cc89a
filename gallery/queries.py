"""What the timeline, capture and live pages need from S3, in a small fixed number of calls.

No Flask: each function takes the :class:`~gallery.services.Gallery` (S3 client, settings,
clock, presigner) and plain arguments and returns plain values for a template. Costs per view:

- timeline / one camera: 1 ListObjectsV2 (``meta/`` or ``thumbs/{device}/``); URLs are signed
  locally, so 10 or 10 million captures cost the same (a camera's empty first page adds 1 GET
  of its registry record, to tell a new camera from no camera);
- fresh URLs for the links on a page: 0 calls; an image that failed to load: 1 HEAD, plus 1 GET
  of its record when the thumbnail is missing;
- capture panel: 1 GET (the record), plus the camera's registry record (cached for minutes);
  download: 1 HEAD; delete: 1 DeleteObjects;
- live view: 1 ListObjectsV2 with MaxKeys=1 per refresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from camcloud import layout
from camcloud.errors import Refusal
from camcloud.s3 import delete_keys, exists, get_json, list_page
from gallery import listing
from gallery.services import Gallery

_MAX_LINK_IDS = 500


class NotFound(Refusal):
    """The capture or camera asked for does not exist (404)."""

    def __init__(self, message: str) -> None:
        super().__init__(404, "not_found", message)


def camera_prefix(device: str) -> str:
    """The thumbnail prefix of ``device``; NotFound if it cannot be a camera id."""
    try:
        return layout.device_thumb_prefix(device)
    except layout.LayoutError:
        raise NotFound(f"no camera {device[:40]!r}") from None


def require_camera(gallery: Gallery, device: str) -> str:
    """The camera's name; NotFound unless it is registered (1 GET)."""
    # Fresh: a camera added a minute ago must not answer 404 from the cache.
    record = gallery.registry.get(device, fresh=True)
    if record is None:
        raise NotFound(f"no camera {device[:40]!r}")
    gallery.names.put(device, record.name)
    return record.name


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
    name: str = ""

    @property
    def tiles(self) -> list[listing.Tile]:
        """Every tile of the page, in order."""
        return [tile for day in self.days for tile in day.tiles]


def timeline(
    gallery: Gallery, device: str | None, after: str | None, day_text: str | None
) -> TimelinePage:
    """A page of captures, newest first, of all cameras or one: one ListObjectsV2 call."""
    prefix = layout.META_PREFIX if device is None else camera_prefix(device)
    start_after = listing.check_cursor(after, prefix)
    day = listing.parse_day(day_text)
    if day is not None and start_after is None:
        start_after = listing.start_after_day(prefix, day, gallery.zone)
    page = list_page(gallery.client, gallery.bucket, prefix,
                     start_after=start_after, max_keys=gallery.settings.gallery_page_size)
    name = ""
    if device is not None:
        # An empty first page: a camera that has not uploaded yet, or no camera at all.
        first = not page.keys and start_after is None
        name = require_camera(gallery, device) if first else gallery.camera_name(device, read=False)
    tiles = listing.tiles_from_keys(page.keys, gallery.zone)
    thumbs, previews, expires_at = links(gallery, [tile.ref for tile in tiles])
    return TimelinePage(
        device=device, days=listing.group_by_day(tiles), thumbs=thumbs, previews=previews,
        next_after=page.next_start_after, expires_at=expires_at, day=day, name=name,
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
    for capture_id in ids[:_MAX_LINK_IDS]:
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
    client, bucket = gallery.client, gallery.bucket
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
    captured_at: datetime
    summary: dict[str, Any]
    preview_url: str
    thumb_url: str
    expires_at: int
    name: str = ""


def capture(gallery: Gallery, ref: layout.CaptureRef) -> CaptureDetail:
    """A capture's record (1 GET) and its preview URL; NotFound if there is no record."""
    record = get_json(gallery.client, gallery.bucket, ref.meta_key)
    if gallery.remember(ref.meta_key, record) is None:
        raise NotFound("this capture does not exist (deleted?) or is still being processed")
    thumbs, previews, expires_at = links(gallery, [ref])
    return CaptureDetail(
        ref=ref,
        captured_at=listing.local_time(ref.captured_at_ms, gallery.zone),
        summary=listing.record_summary(record),
        preview_url=previews[ref.id],
        thumb_url=thumbs[ref.id],
        expires_at=expires_at,
        name=gallery.camera_name(ref.device),
    )


def download_url(gallery: Gallery, ref: layout.CaptureRef) -> str:
    """A presigned URL that downloads the original (1 HEAD, so a deleted one is a clean 404)."""
    if not exists(gallery.client, gallery.bucket, ref.raw_key):
        raise NotFound("the original of this capture is gone")
    return gallery.presigner.url(
        ref.raw_key, download_name=listing.download_name(ref, gallery.zone)
    )


def delete_capture(gallery: Gallery, ref: layout.CaptureRef) -> None:
    """Delete a capture's original, thumbnail, preview and record in one call.

    The thumbnailer also removes derived objects when it sees the original's ObjectRemoved
    event; deleting them here makes the capture vanish from the grid at once.
    """
    delete_keys(gallery.client, gallery.bucket,
                [ref.raw_key, ref.thumb_key, ref.preview_key, ref.meta_key])
    gallery.records.pop(ref.meta_key)


# --- live view ----------------------------------------------------------------------------------


def latest(gallery: Gallery, device: str) -> dict[str, Any]:
    """A camera's newest capture with fresh URLs (1 ListObjectsV2, MaxKeys=1)."""
    page = list_page(gallery.client, gallery.bucket, camera_prefix(device), max_keys=1)
    tiles = listing.tiles_from_keys(page.keys, gallery.zone)
    if not tiles:
        return {"device": device, "id": None}
    tile = tiles[0]
    thumbs, previews, expires_at = links(gallery, [tile.ref])
    age = gallery.clock() - tile.ref.captured_at_ms / 1000
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


def live_page(gallery: Gallery, device: str) -> dict[str, Any]:
    """The live view's first state and the camera's name; NotFound for no camera at all."""
    newest = latest(gallery, device)
    name = require_camera(gallery, device) if newest["id"] is None else gallery.camera_name(device)
    return {**newest, "name": name}
