"""A camera's time-lapse videos and exports, for its media page (no Flask).

Costs per view: 1 listing of ``timelapse/{device}/`` (1,000 keys a page: daily videos and
ranges with their sidecars), then 1 GET per sidecar shown (at most :data:`SHOWN`), fetched in
parallel. A sidecar is written after its video, so only videos with a sidecar are listed.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from camcloud import export, layout
from camcloud.errors import Refusal
from camcloud.s3 import get_json, iter_keys, list_page
from camcloud.timelapse import Options
from gallery.jobs import JobStatus
from gallery.services import Gallery

TIMELAPSE_PREFIX = "timelapse/"
SHOWN = 30
# A custom range reads one record per capture: a month at one a minute is 43,200 GETs.
MAX_RANGE = timedelta(days=31)
MAX_EXPORT_DAYS = 92
_WORKERS = 8


@dataclass(frozen=True)
class Video:
    """One finished time-lapse: its key, what the sidecar says, and fresh links."""

    key: str
    title: str
    daily: bool
    url: str
    download_url: str
    frames: int
    duration_s: float
    size: int
    skipped: dict[str, int]


def _device(device: str) -> str:
    try:
        return layout.check_device_id(device)
    except layout.LayoutError:
        raise Refusal(404, "not_found", "no such camera") from None


def _require_camera(gallery: Gallery, device: str) -> None:
    """404 unless the camera is registered or has previews (a page with no video yet)."""
    if gallery.registry.get(device) is not None:
        return
    if not list_page(gallery.client, gallery.bucket, f"{layout.PREVIEW_PREFIX}{device}/",
                     max_keys=1).keys:
        raise Refusal(404, "not_found", f"no camera {device[:40]!r}")


def _title(key: str, sidecar: Mapping[str, Any], zone: Any) -> str:
    name = key.rsplit("/", 1)[1].removesuffix(".mp4")
    if "/range/" not in key:
        return name
    try:
        start = datetime.fromisoformat(str(sidecar["start"])).astimezone(zone)
        end = datetime.fromisoformat(str(sidecar["end"])).astimezone(zone)
    except (KeyError, ValueError):
        return name
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"


def videos(gallery: Gallery, device: str) -> list[Video]:
    """The camera's videos with a sidecar, daily and ranges, newest first."""
    device = _device(device)
    client, bucket = gallery.client, gallery.bucket
    sidecars = [key for key in iter_keys(client, bucket, f"{TIMELAPSE_PREFIX}{device}/")
                if key.endswith(".json")]
    # Daily keys sort by date, range keys by their start: newest last in each group.
    daily = sorted((k for k in sidecars if "/range/" not in k), reverse=True)[:SHOWN]
    ranges = sorted((k for k in sidecars if "/range/" in k), reverse=True)[:SHOWN]
    chosen = daily + ranges
    if not chosen:
        _require_camera(gallery, device)
        return []
    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(chosen))) as pool:
        documents = list(pool.map(lambda key: get_json(client, bucket, key), chosen))
    found = []
    for key, document in zip(chosen, documents, strict=True):
        if not isinstance(document, dict):
            continue
        video_key = key.removesuffix(".json") + ".mp4"
        name = video_key.rsplit("/", 1)[1]
        found.append(Video(
            key=video_key, title=_title(video_key, document, gallery.zone),
            daily="/range/" not in key,
            url=gallery.presigner.url(video_key),
            download_url=gallery.presigner.url(video_key, download_name=f"{device}_{name}"),
            frames=int(document.get("frames_used") or 0),
            duration_s=float(document.get("duration_s") or 0),
            size=int(document.get("bytes") or 0),
            skipped={k: int(v) for k, v in dict(document.get("skipped") or {}).items() if v},
        ))
    return found


def _local_time(text: str, field: str, zone: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except (AttributeError, ValueError):
        raise Refusal(400, "bad_range", f"{field}: expected a date and time such as "
                      "2026-11-20T09:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _checked(form: Mapping[str, Any], name: str) -> bool:
    return str(form.get(name, "")).lower() in {"on", "1", "true", "yes"}


def range_request(form: Mapping[str, Any], zone: Any, device: str) -> dict[str, Any]:
    """The job parameters of the custom-range form: from/to (the gallery's time zone), fps,
    keep dark, deflicker, stamp; 400 naming the field for anything else."""
    start = _local_time(str(form.get("from", "")), "from", zone)
    end = _local_time(str(form.get("to", "")), "to", zone)
    if end <= start:
        raise Refusal(400, "bad_range", "the range must end after it starts")
    if end - start > MAX_RANGE:
        raise Refusal(400, "bad_range", f"a custom range is at most {MAX_RANGE.days} days "
                      "(camcloud timelapse build has no limit)")
    try:
        fps = int(str(form.get("fps", "30")).strip())
    except ValueError:
        raise Refusal(400, "bad_options", "fps: expected a whole number 1-60") from None
    options = {"fps": fps, "keep_dark": _checked(form, "keep_dark"),
               "deflicker": _checked(form, "deflicker"), "stamp": _checked(form, "stamp")}
    Options.from_mapping(options)  # refuse bad options now, not in the background
    return {"device": _device(device), "start": start.isoformat(), "end": end.isoformat(),
            "options": options}


def day_export(gallery: Gallery, device: str, day: str) -> tuple[str, Generator[bytes, None, None]]:
    """One day of a camera as a streamed ZIP: (file name, generator of bytes)."""
    device = _device(device)
    timezone = gallery.settings.gallery_timezone
    try:
        since, until = export.day_range(day, timezone)
    except export.ExportError as exc:
        raise Refusal(400, "bad_date", str(exc)) from None
    name = export.export_file_name(device, since, until, timezone)
    return name, export.export_zip(gallery.client, gallery.bucket, device, since, until,
                                   timezone=timezone)


def export_request(form: Mapping[str, Any], timezone: str, device: str) -> dict[str, Any]:
    """The job parameters of the date-range export form (first and last day, inclusive)."""
    device = _device(device)
    try:
        first = date.fromisoformat(str(form.get("from", "")).strip())
        last = date.fromisoformat(str(form.get("to", "")).strip())
    except ValueError:
        raise Refusal(400, "bad_date", "expected dates such as 2026-11-30") from None
    if last < first:
        raise Refusal(400, "bad_date", "the last day comes before the first")
    if (last - first).days >= MAX_EXPORT_DAYS:
        raise Refusal(400, "bad_date", f"an export is at most {MAX_EXPORT_DAYS} days")
    since, _ = export.day_range(first.isoformat(), timezone)
    _, until = export.day_range(last.isoformat(), timezone)
    return {"device": device, "since_ms": since, "until_ms": until}


def job_view(gallery: Gallery, job_id: str, owner: str) -> dict[str, Any]:
    """A job's progress for the page's poll; another user's job is not found."""
    job: JobStatus | None = gallery.jobs.status(job_id)
    if job is None or job.owner != owner:
        raise Refusal(404, "not_found", "no such job (finished long ago?)")
    view: dict[str, Any] = {"id": job.id, "kind": job.kind, "state": job.state,
                            "done": job.done, "total": job.total, "percent": job.percent,
                            "finished": job.finished, "error": job.error}
    key = (job.result or {}).get("key")
    if job.state == "done" and isinstance(key, str):
        view["key"] = key
        name = key.rsplit("/", 1)[1]
        view["url"] = gallery.presigner.url(key, download_name=name)
    return view
