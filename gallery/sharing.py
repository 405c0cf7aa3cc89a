"""Share links for the gallery: create, list, revoke, and the public shared page (no Flask).

The shared page presigns only keys :func:`camcloud.shares.may_presign` allows for its share, so
whatever the page is asked, it can never hand out a link into the rest of the bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from camcloud import shares
from camcloud.errors import Refusal
from camcloud.layout import CaptureRef, LayoutError, parse_key
from camcloud.shares import Share, ShareStore
from gallery.services import Gallery

# The choices of the share form: label -> seconds (shares.MIN_TTL_S .. MAX_TTL_S).
TTL_CHOICES = {"1 hour": 3600, "1 day": 86400, "7 days": 7 * 86400, "30 days": 30 * 86400}
# Thumbnails on a shared day page; more are left out (the link says how many).
DAY_SHOWN = 300
# Names of people (sessions without login) are not user names; shares still need a creator.
ANONYMOUS = "gallery"


def store(gallery: Gallery) -> ShareStore:
    """The share store of the gallery's bucket, on the gallery's clock."""
    return ShareStore(gallery.client, gallery.bucket, clock=gallery.clock)


def create(gallery: Gallery, user: str | None, form: Mapping[str, Any]) -> tuple[str, Share]:
    """Create the share the form asks for (``capture``, ``device``+``date`` or ``timelapse``;
    ``ttl_s``; ``download``); returns the token and the share."""
    try:
        ttl = int(str(form.get("ttl_s", "")).strip())
    except ValueError:
        raise Refusal(400, "bad_ttl", "a share lasts between 1 hour and 30 days") from None
    download = str(form.get("download", "")).lower() in {"on", "1", "true", "yes"}
    what: dict[str, Any] = {}
    for name in ("capture", "device", "date", "timelapse"):
        value = str(form.get(name, "")).strip()
        if value:
            what[name] = value[:200]
    if "date" in what:
        what["timezone"] = gallery.settings.gallery_timezone
    return store(gallery).create(user=user or ANONYMOUS, ttl_s=ttl, download=download, **what)


def mine(gallery: Gallery, user: str | None) -> list[Share]:
    """The user's shares, newest first."""
    return store(gallery).list_shares(user or ANONYMOUS)


def revoke(gallery: Gallery, user: str | None, share_id: str) -> Share:
    """Revoke one of the user's shares (another user's is a 404)."""
    return store(gallery).revoke(share_id, user=user or ANONYMOUS)


@dataclass
class SharedItem:
    """One picture of a shared page: thumbnail, preview, optional download, its time."""

    thumb: str
    preview: str
    download: str | None
    taken: datetime


@dataclass
class SharedPage:
    """What the public page shows, and only that."""

    share: Share
    title: str
    items: list[SharedItem] = field(default_factory=list)
    video: str | None = None
    video_download: str | None = None
    og_image: str | None = None
    more: int = 0


def presign_shared(gallery: Gallery, share: Share, key: str,
                   download_name: str | None = None) -> str:
    """A presigned URL for ``key`` if the share covers it; 404 for any other key."""
    # The one gate every link of the page passes: what was shared, nothing else.
    if not shares.may_presign(share, key):
        raise Refusal(404, "not_found", "not found")
    return gallery.presigner.url(key, download_name=download_name)


def _item(gallery: Gallery, share: Share, ref: CaptureRef) -> SharedItem:
    name = f"{ref.device}_{ref.capture_id}.jpg"
    return SharedItem(
        thumb=presign_shared(gallery, share, ref.thumb_key),
        preview=presign_shared(gallery, share, ref.preview_key),
        download=presign_shared(gallery, share, ref.raw_key, name) if share.download else None,
        taken=datetime.fromtimestamp(ref.captured_at_ms / 1000, gallery.zone),
    )


def shared_page(gallery: Gallery, address: str, token: str) -> SharedPage:
    """The public page of a token: 429 for a guessing client, 404 for anything not live."""
    share = shares.open_share(store(gallery), gallery.guess_limiter, address, token)
    if share is None:
        raise Refusal(404, "not_found", "not found")
    name = gallery.camera_name(share.device) or share.device
    if share.kind == "timelapse" and share.timelapse:
        file_name = share.timelapse.rsplit("/", 1)[1]
        saved_as = f"{share.device}_{file_name}"
        return SharedPage(
            share, f"Time-lapse of {name}, {file_name.removesuffix('.mp4')}",
            video=presign_shared(gallery, share, share.timelapse),
            video_download=(presign_shared(gallery, share, share.timelapse, saved_as)
                            if share.download else None))
    refs = []
    for key in shares.allowed_keys(share, gallery.client, gallery.bucket):
        if key.startswith("thumbs/"):
            try:
                refs.append(parse_key(key))
            except LayoutError:
                continue
    if share.kind == "capture":
        item = _item(gallery, share, refs[0]) if refs else None
        title = f"{name}, {item.taken:%d %b %Y %H:%M}" if item else name
        return SharedPage(share, title, items=[item] if item else [],
                          og_image=item.preview if item else None)
    items = [_item(gallery, share, ref) for ref in refs[:DAY_SHOWN]]
    return SharedPage(share, f"{name} on {share.date}", items=items,
                      og_image=items[0].preview if items else None,
                      more=max(0, len(refs) - DAY_SHOWN))
