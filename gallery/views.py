"""Timeline pages: one ListObjectsV2 call each, thumbnails presigned locally."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from camcloud import layout
from camcloud.s3 import list_page, presign_get
from gallery.auth import login_required

bp = Blueprint("views", __name__)


@dataclass(frozen=True)
class Tile:
    """One capture in the grid."""

    ref: layout.CaptureRef
    captured_at: datetime
    thumb_url: str
    preview_url: str


def _ctx() -> dict[str, Any]:
    return current_app.extensions["camcloud"]  # type: ignore[no-any-return]


def _tiles(keys: list[str]) -> list[Tile]:
    settings = _ctx()["settings"]
    client = _ctx()["s3"].get()
    tiles = []
    for key in keys:
        try:
            ref = layout.parse_key(key)
        except layout.LayoutError:
            continue
        tiles.append(
            Tile(
                ref=ref,
                captured_at=datetime.fromtimestamp(ref.captured_at_ms / 1000, UTC),
                thumb_url=presign_get(client, settings.bucket, ref.thumb_key, settings.presign_ttl),
                preview_url=presign_get(
                    client, settings.bucket, ref.preview_key, settings.presign_ttl
                ),
            )
        )
    return tiles


def _group_by_day(tiles: list[Tile]) -> list[tuple[str, list[Tile]]]:
    days: list[tuple[str, list[Tile]]] = []
    for tile in tiles:
        day = tile.captured_at.strftime("%A %d %B %Y")
        if not days or days[-1][0] != day:
            days.append((day, []))
        days[-1][1].append(tile)
    return days


def _page(prefix: str, device: str | None) -> Any:
    settings = _ctx()["settings"]
    after = request.args.get("after") or None
    if after is not None and not after.startswith(prefix):
        abort(400, "bad cursor")
    page = list_page(
        _ctx()["s3"].get(), settings.bucket, prefix,
        start_after=after, max_keys=settings.gallery_page_size,
    )
    tiles = _tiles(page.keys)
    return render_template(
        "timeline.html", days=_group_by_day(tiles), tiles=tiles, device=device,
        next_after=page.next_start_after,
    )


@bp.get("/")
@login_required
def timeline() -> Any:
    """All cameras, newest first."""
    return _page(layout.META_PREFIX, None)


@bp.get("/camera/<device>")
@login_required
def camera(device: str) -> Any:
    """One camera, newest first."""
    try:
        prefix = layout.device_thumb_prefix(device)
    except layout.LayoutError:
        abort(404)
    return _page(prefix, device)
