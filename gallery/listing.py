"""The gallery's pure logic: listing keys to tiles and days, cursors, dates, camera health.

Plain values in, plain values out: no Flask, no boto3, so it is tested without mocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from camcloud import cadence, layout
from camcloud.errors import Refusal

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# '~' sorts after every character a key may hold, so "prefix + rev + '~'" skips that whole rev.
_AFTER_EVERYTHING = "~"
# A camera is stale when silent for this many of its usual intervals (and at least a minute):
# one late upload is jitter, two missed ones are a problem worth showing.
STALE_FACTOR = 2.5
STALE_MIN_SECONDS = 60



class BadRequest(Refusal):
    """A cursor, date or id from the request that the gallery cannot use (400)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "bad_request", message)


@dataclass(frozen=True)
class Tile:
    """One capture in the grid."""

    ref: layout.CaptureRef
    captured_at: datetime
    # Formatted once here: the template shows each several times.
    id: str = ""
    clock: str = ""
    iso: str = ""


@dataclass(frozen=True)
class Day:
    """The tiles of one calendar day, newest first."""

    day: date
    tiles: list[Tile]

    @property
    def label(self) -> str:
        """``Saturday 21 November 2026``."""
        return self.day.strftime("%A %d %B %Y")


def tiles_from_keys(keys: list[str], zone: tzinfo) -> list[Tile]:
    """The captures named by listing keys (any capture prefix), in listing order; others skipped."""
    tiles = []
    for key in keys:
        try:
            ref = layout.parse_key(key)
        except layout.LayoutError:
            continue
        captured_at = local_time(ref.captured_at_ms, zone)
        tiles.append(Tile(ref=ref, captured_at=captured_at, id=ref.id,
                          clock=captured_at.strftime("%H:%M:%S"), iso=captured_at.isoformat()))
    return tiles


def local_time(ms: int, zone: tzinfo) -> datetime:
    """Unix milliseconds as an aware datetime in ``zone``."""
    return datetime.fromtimestamp(ms / 1000, zone)


def group_by_day(tiles: list[Tile]) -> list[Day]:
    """Consecutive tiles of the same local day, in order."""
    days: list[Day] = []
    for tile in tiles:
        day = tile.captured_at.date()
        if not days or days[-1].day != day:
            days.append(Day(day=day, tiles=[]))
        days[-1].tiles.append(tile)
    return days


def check_cursor(after: str | None, prefix: str) -> str | None:
    """The ``?after=`` cursor if it is a capture key under ``prefix``, else BadRequest."""
    if not after:
        return None
    if len(after) > 300 or not after.startswith(prefix):
        raise BadRequest("this page link is not valid; start again from the newest captures")
    try:
        layout.parse_key(after)
    except layout.LayoutError:
        raise BadRequest(
            "this page link is not valid; start again from the newest captures"
        ) from None
    return after


def parse_day(text: str | None) -> date | None:
    """A ``YYYY-MM-DD`` date from the jump-to-date form, or None; BadRequest if malformed."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(f"{text[:40]!r} is not a date; use YYYY-MM-DD") from None
    if day.year < 1971 or day.year > 2200:
        raise BadRequest("pick a date between 1971 and 2200")
    return day


def start_after_day(prefix: str, day: date, zone: tzinfo) -> str:
    """The StartAfter that lists ``day``'s captures (in ``zone``) first, then older ones.

    Keys sort newest first; every capture taken before the next midnight has a larger rev than
    the midnight's own, so listing after ``prefix + rev(next midnight) + '~'`` starts at the
    last capture of ``day``.
    """
    midnight = datetime.combine(day + timedelta(days=1), time(0), zone)
    return prefix + layout.rev_from_ms(int(midnight.timestamp() * 1000)) + _AFTER_EVERYTHING


def parse_capture_id(capture_id: str) -> layout.CaptureRef:
    """The capture named by a URL id; BadRequest if it is not one."""
    try:
        return layout.CaptureRef.from_id(capture_id)
    except layout.LayoutError:
        raise BadRequest("no such capture") from None


def download_name(ref: layout.CaptureRef, zone: tzinfo) -> str:
    """The file name a downloaded original is saved under: ``cam-1_2026-11-21_10-51-31_id.jpg``."""
    stamp = local_time(ref.captured_at_ms, zone).strftime("%Y-%m-%d_%H-%M-%S")
    return f"{ref.device}_{stamp}_{ref.capture_id[:16]}.jpg"


# --- the cameras page -------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    """What one camera's recent keys say: latest capture, hourly uploads, rhythm, staleness."""

    latest: layout.CaptureRef | None
    last_seen_ms: int | None
    hourly: list[int]
    usual_interval_s: float | None
    stale: bool
    # Outside its active hours and not overdue within them: expected to be quiet, not stale.
    asleep: bool = False
    active_hours: str | None = None

    @property
    def uploads_24h(self) -> int:
        """Uploads in the last 24 hours."""
        return sum(self.hourly)

    @property
    def asleep_text(self) -> str:
        """``asleep (active 07:00–19:00 UTC)``, the badge of a camera outside its hours."""
        hours = cadence.describe_active_hours(self.active_hours) if self.active_hours else ""
        return f"asleep (active {hours})" if hours else "asleep"


def activity(
    refs: list[layout.CaptureRef], now_ms: int, active_hours: str | None = None
) -> Activity:
    """Camera health from its captures, newest first (at least the last 24 h of them).

    Stale means silent for too long *within its active hours* (None: all day), the alerts' rule
    (:func:`camcloud.cadence.quiet_seconds`); outside them, a camera not stale is asleep.
    """
    times = [ref.captured_at_ms for ref in refs]
    hourly = [0] * 24
    for ms in times:
        age = now_ms - ms
        if 0 <= age < DAY_MS:
            # hourly[23] is the current hour, hourly[0] the one 23 hours ago.
            hourly[23 - age // HOUR_MS] += 1
    # The same rhythm rule as the alerts' (camcloud.cadence): bursts left out, never 0 s.
    usual = cadence.usual_interval(ms / 1000 for ms in times)
    last = times[0] if times else None
    stale = False
    if last is not None and usual is not None:
        silence = cadence.quiet_seconds(last / 1000, now_ms / 1000, active_hours)
        stale = silence > max(STALE_MIN_SECONDS, STALE_FACTOR * usual)
    asleep = (not stale and active_hours is not None
              and not cadence.is_active(now_ms / 1000, active_hours))
    return Activity(
        latest=refs[0] if refs else None,
        last_seen_ms=last,
        hourly=hourly,
        usual_interval_s=usual,
        stale=stale,
        asleep=asleep,
        active_hours=active_hours,
    )


@dataclass(frozen=True)
class Bar:
    """One bar of the uploads chart, in SVG user units."""

    x: float
    y: float
    width: float
    height: float
    count: int
    hours_ago: int


def chart_bars(hourly: list[int], *, width: float = 240, height: float = 48) -> list[Bar]:
    """Bars for a server-rendered SVG chart of uploads per hour (oldest hour on the left)."""
    peak = max(hourly) if hourly else 0
    slot = width / max(1, len(hourly))
    bars = []
    for index, count in enumerate(hourly):
        bar_height = 0.0 if peak == 0 else max(1.5, height * count / peak) if count else 0.0
        bars.append(
            Bar(
                x=round(index * slot + 1, 2),
                y=round(height - bar_height, 2),
                width=round(slot - 2, 2),
                height=round(bar_height, 2),
                count=count,
                hours_ago=len(hourly) - 1 - index,
            )
        )
    return bars


# (below this many seconds, unit size in seconds, unit, decimals): the first row that fits.
_INTERVAL_UNITS = ((90, 1, "s", 0), (90 * 60, 60, "min", 0), (48 * 3600, 3600, "h", 1),
                   (math.inf, 86400, "d", 0))
_AGE_UNITS = ((90, 1, "s", 0), (90 * 60, 60, "min", 0), (36 * 3600, 3600, "h", 0),
              (math.inf, 86400, "d", 0))


def _duration(seconds: float, units: tuple[tuple[float, int, str, int], ...]) -> str:
    """``seconds`` in the first unit of ``units`` it is below the limit of: ``5 min``."""
    _, size, unit, decimals = next(row for row in units if seconds < row[0])
    return f"{seconds / size:.{decimals}f} {unit}"


def describe_interval(seconds: float | None) -> str:
    """``every 30 s`` / ``every 5 min`` / ``every 2.0 h`` / ``every 3 d``, or ``—`` if unknown."""
    return "—" if seconds is None else "every " + _duration(seconds, _INTERVAL_UNITS)


def describe_age(seconds: float) -> str:
    """``12 s ago`` / ``3 min ago`` / ``5 h ago`` / ``2 d ago``."""
    return _duration(max(0.0, seconds), _AGE_UNITS) + " ago"


def record_summary(record: dict[str, Any] | None) -> dict[str, Any]:
    """The fields of a metadata record the capture panel shows, tolerant of missing values."""
    record = record or {}
    telemetry = record.get("telemetry") if isinstance(record.get("telemetry"), dict) else {}
    quality = record.get("quality") if isinstance(record.get("quality"), dict) else {}
    exif = record.get("exif") if isinstance(record.get("exif"), dict) else {}
    width, height = record.get("width"), record.get("height")
    return {
        "status": "error" if record.get("status") == "error" else "ok",
        "error": record.get("error"),
        "error_code": record.get("error_code"),
        "captured_at": record.get("captured_at"),
        "received_at": record.get("received_at"),
        "clock": record.get("clock"),
        "bytes": record.get("bytes"),
        "dimensions": f"{width} × {height}" if width and height else None,
        "quality": quality,
        "telemetry": telemetry,
        "exif": exif,
        "sha256": record.get("sha256"),
    }


def human_bytes(size: Any) -> str:
    """``153.2 KB`` for a byte count; ``—`` if unknown."""
    if not isinstance(size, int | float) or isinstance(size, bool):
        return "—"
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} KB"
    return f"{size / 1_000_000:.2f} MB"


_LABELS = {"rssi": "RSSI", "iso": "ISO", "f_number": "f-number"}


def field_label(name: str) -> str:
    """``free_heap`` → ``Free heap``; acronyms stay upper case."""
    if name in _LABELS:
        return _LABELS[name]
    return name.replace("_", " ").capitalize()


def format_iso(text: Any, zone: tzinfo) -> str:
    """An ISO 8601 timestamp shown in ``zone`` (``21 Nov 2026, 11:08:19 UTC``); else as given."""
    if not isinstance(text, str):
        return "—" if text is None else str(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text
    return moment.astimezone(zone).strftime("%d %b %Y, %H:%M:%S %Z")
