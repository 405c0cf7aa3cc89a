"""The cameras page: every camera's health from its last day of originals (no Flask).

Costs per view: 2 listings to find the cameras (registered ones and ones that uploaded), then
per camera 1 ListObjectsV2 of its last 24 h of originals (one page of up to 1000 keys; more
only for cameras uploading more often than every 86 s), 1 GET of its newest record (telemetry),
its registry record (cached for minutes), and a share of ``ERROR_CHECK_BUDGET`` GETs of records
not read before. Records never change once written, so what they say (status, and whether the
capture was imported) is remembered; counts become exact after a visit or two, and until then
the page says how many records it has checked.

Imported captures (``camcloud import``) are not uploads: they count neither as uploads nor as
"last seen", and take no part in the usual interval.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from camcloud import alerts, layout
from camcloud.s3 import get_json, iter_keys, list_page, list_prefixes
from gallery import device_queries, listing
from gallery.services import Gallery

# Record GETs per cameras page view spent on reading records not seen before, for all cameras.
ERROR_CHECK_BUDGET = 120
_WINDOW_PAGES = 3
_WORKERS = 8


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
    managed: device_queries.DeviceSummary = device_queries.DeviceSummary(registered=False)
    errors: int = 0
    checked: int = 0

    @property
    def errors_exact(self) -> bool:
        """Whether every capture of the last 24 h has been checked for errors."""
        return self.checked >= self.activity.uploads_24h


@dataclass(frozen=True)
class CamerasPage:
    """Every camera's health, and when the page's image links expire."""

    cameras: list[CameraHealth]
    expires_at: int
    # Open alert incidents by camera (``_system``: the dead-letter queue), 1 GET per view.
    incidents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def cameras(gallery: Gallery) -> CamerasPage:
    """Every camera's health, computed in parallel (S3 latency dominates, not CPU)."""
    now_ms = gallery.now_ms()
    devices = camera_ids(gallery)
    expires_at = gallery.presigner.window().expires_at
    if not devices:
        return CamerasPage(cameras=[], expires_at=expires_at)
    budget = max(5, ERROR_CHECK_BUDGET // len(devices))
    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(devices))) as pool:
        health = list(pool.map(lambda device: _health(gallery, device, now_ms, budget), devices))
    incidents: dict[str, list[dict[str, Any]]] = {}
    for incident in alerts.open_incidents(gallery.client, gallery.bucket):
        incidents.setdefault(str(incident.get("device", alerts.SYSTEM)), []).append(incident)
    return CamerasPage(cameras=health, expires_at=expires_at, incidents=incidents)


def camera_ids(gallery: Gallery) -> list[str]:
    """Registered cameras and cameras that uploaded: 2 listings (per 1000 cameras)."""
    client, bucket = gallery.client, gallery.bucket
    registered = {
        key[len(layout.DEVICES_PREFIX) : -len(".json")]
        for key in iter_keys(client, bucket, layout.DEVICES_PREFIX)
        if key.endswith(".json")
    }
    uploaded = set(list_prefixes(client, bucket, layout.RAW_PREFIX))
    return sorted(device for device in registered | uploaded
                  if layout.DEVICE_ID_RE.fullmatch(device))


def _recent_refs(gallery: Gallery, device: str, now_ms: int) -> list[layout.CaptureRef]:
    """The device's captures of the last 24 h, newest first (1 listing, rarely up to 3)."""
    prefix = layout.device_raw_prefix(device)
    oldest_rev = layout.rev_from_ms(max(0, now_ms - listing.DAY_MS))
    refs: list[layout.CaptureRef] = []
    after = None
    for _ in range(_WINDOW_PAGES):
        page = list_page(gallery.client, gallery.bucket, prefix, start_after=after,
                         max_keys=1000)
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


def _read_unknown(
    gallery: Gallery, refs: list[layout.CaptureRef], budget: int
) -> dict[str, dict[str, Any]]:
    """Read at most ``budget`` records not seen before, newest first; the records read."""
    unknown = [ref for ref in refs if ref.meta_key not in gallery.records]
    read: dict[str, dict[str, Any]] = {}
    for ref in unknown[:budget]:
        record = get_json(gallery.client, gallery.bucket, ref.meta_key)
        if gallery.remember(ref.meta_key, record) is not None:
            read[ref.meta_key] = record
    return read


def _health(gallery: Gallery, device: str, now_ms: int, budget: int) -> CameraHealth:
    refs = _recent_refs(gallery, device, now_ms)
    read = _read_unknown(gallery, refs, budget)
    uploads = [ref for ref in refs if not _imported(gallery, ref)]
    # One document gives the registry's fields, the management state (config drift, firmware)
    # and the active hours the stale badge counts, so they cost no extra S3 call.
    managed = device_queries.summarize(device_queries.device_document(gallery, device))
    act = listing.activity(uploads, now_ms, active_hours=managed.active_hours)
    health = _row(gallery, device, act, managed, now_ms)
    latest = health.activity.latest
    if latest is not None:
        health.thumb_url = gallery.presigner.url(latest.thumb_key)
        newest = read.get(latest.meta_key) or get_json(gallery.client, gallery.bucket,
                                                       latest.meta_key)
        facts = gallery.remember(latest.meta_key, newest)
        if isinstance(newest, dict) and facts is not None:
            telemetry = newest.get("telemetry")
            health.telemetry = telemetry if isinstance(telemetry, dict) else {}
            health.latest_status = facts.status
    recent = [ref for ref in uploads if now_ms - ref.captured_at_ms < listing.DAY_MS]
    health.checked, health.errors = _count_errors(gallery, recent)
    return health


def _row(gallery: Gallery, device: str, act: listing.Activity,
         managed: device_queries.DeviceSummary, now_ms: int) -> CameraHealth:
    """The camera's row from its activity and its registry record (cached for minutes)."""
    gallery.names.put(device, managed.name)
    return CameraHealth(
        device=device,
        name=managed.name,
        revoked=managed.revoked,
        managed=managed,
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


def _imported(gallery: Gallery, ref: layout.CaptureRef) -> bool:
    facts = gallery.records.get(ref.meta_key)
    return facts is not None and facts.imported


def _count_errors(gallery: Gallery, refs: list[layout.CaptureRef]) -> tuple[int, int]:
    """(checked, errors) among ``refs``: the records whose status is known."""
    checked = errors = 0
    for ref in refs:
        facts = gallery.records.get(ref.meta_key)
        if facts is not None:
            checked += 1
            errors += facts.status == "error"
    return checked, errors
