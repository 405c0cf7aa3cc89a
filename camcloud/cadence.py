"""When a camera is expected to send: its usual interval and its active hours. Pure.

The gallery's cameras page ("usually every 5 min", stale or asleep) and the alert check
(silent) both ask these questions; both answer them here, so they cannot disagree.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from camcloud.device_config import in_active_hours, parse_active_hours
from camcloud.errors import Refusal

# Gaps shorter than this are a burst, not the camera's rhythm. The firmware merges PIR triggers
# closer than CAMCLOUD_TRIGGER_MIN_GAP_S (5 s), so continuous motion shows as gaps of 5 to
# ~10 s, and other sketches send a motion burst of frames ~200 ms apart. 10 s and not more:
# the interval setting goes down to 5 s, and a camera set to, say, 15 s that has a few long
# gaps (a night, an outage) must keep its 15 s gaps, or its "rhythm" would be those long gaps
# alone. A camera faster than this has nothing but short gaps, and then they are its rhythm.
# (The alerts lose nothing by the low cutoff: they never call a camera silent within 10 min.)
BURST_GAP_S = 10.0
# However tight a burst, the usual interval is never shown as "every 0 s".
MIN_INTERVAL_S = 1.0
# The firmware compares active hours with the UTC minute of the day (it has no time zone
# setting: firmware/src/main.cpp minute_of_day), so the window is in UTC whatever the gallery's
# time zone is.
ACTIVE_HOURS_ZONE = "UTC"


def usual_interval(times_s: Iterable[float], *, min_gaps: int = 1) -> float | None:
    """The median gap in seconds between a camera's on-time captures, bursts left out; or None.

    ``times_s`` are capture times in any order. Leave out what says nothing of the camera's
    rhythm: imported photos, and replays from its backlog (:func:`is_late`). Gaps under
    :data:`BURST_GAP_S` (10 s) are left out unless every gap is that short; ``min_gaps`` gaps
    must remain (None otherwise: one capture or none has no interval). Never below a second.

    Why 10 s, for the cameras page and the alerts alike: the firmware merges PIR triggers
    closer than 5 s, so a burst of motion shows as gaps of 5 to ~10 s; a higher cutoff (the
    alerts had 20 s) would throw away the real rhythm of a camera set to 10-20 s and learn it
    from its rare long gaps instead.
    """
    ordered = sorted(times_s)
    gaps = [later - earlier for earlier, later in zip(ordered, ordered[1:], strict=False)]
    gaps = [gap for gap in gaps if gap > 0]
    rhythm = [gap for gap in gaps if gap >= BURST_GAP_S] or gaps
    if not rhythm or len(rhythm) < min_gaps:
        return None
    return max(MIN_INTERVAL_S, float(statistics.median(rhythm)))


def remember(times_s: list[float], at_s: float, *, keep: int) -> list[float]:
    """``times_s`` (ascending) with an on-time capture at ``at_s`` added, at most ``keep`` kept.

    A capture within :data:`BURST_GAP_S` of the last one replaces it: a burst counts as one
    capture (at its last frame), so a long burst cannot push the rhythm out of a short history.
    """
    if times_s and at_s < times_s[-1]:
        return list(times_s)  # out of order: the history only moves forward
    if times_s and at_s - times_s[-1] < BURST_GAP_S:
        return [*times_s[:-1], at_s][-keep:]
    return [*times_s, at_s][-keep:]


LATE_AFTER_S = 120.0


def is_late(*, captured_at_s: float | None, received_at_s: float) -> bool:
    """Whether a capture arrived too long after it was taken to count for the rhythm.

    More than :data:`LATE_AFTER_S` (2 min): a replay from the camera's retry ring after an
    outage, or an import. It proves the camera is alive, but says nothing of its interval.
    """
    return captured_at_s is not None and received_at_s - captured_at_s > LATE_AFTER_S


def active_windows(
    since_s: float, until_s: float, active_hours: str | None, zone: str = ACTIVE_HOURS_ZONE
) -> Iterator[tuple[float, float]]:
    """The parts of ``[since_s, until_s)`` inside the active hours, as (start, end) Unix seconds.

    No active hours: the whole span. A window may cross midnight (``22:00-06:00``); it is read
    as wall-clock time in ``zone``. Raises Refusal if ``active_hours`` is malformed.
    """
    if until_s <= since_s:
        return
    if active_hours is None:
        yield since_s, until_s
        return
    start_min, end_min = parse_active_hours(active_hours)
    tz = ZoneInfo(zone)
    opens = time(start_min // 60, start_min % 60)
    closes = time(end_min // 60, end_min % 60)
    # The window that opened the day before may still be open at since_s (it crosses midnight).
    day = datetime.fromtimestamp(since_s, tz).date() - timedelta(days=1)
    last_day = datetime.fromtimestamp(until_s, tz).date()
    while day <= last_day:
        close_day = day if end_min > start_min else day + timedelta(days=1)
        start = datetime.combine(day, opens, tz).timestamp()
        end = datetime.combine(close_day, closes, tz).timestamp()
        start, end = max(start, since_s), min(end, until_s)
        if end > start:
            yield start, end
        day += timedelta(days=1)


def active_seconds(
    since_s: float, until_s: float, active_hours: str | None, zone: str = ACTIVE_HOURS_ZONE
) -> float:
    """How much of ``[since_s, until_s)`` lies inside the active hours, in seconds."""
    return sum(end - start for start, end in active_windows(since_s, until_s, active_hours, zone))


def quiet_seconds(
    last_s: float, now_s: float, active_hours: str | None, zone: str = ACTIVE_HOURS_ZONE
) -> float:
    """How long a camera has been quiet since ``last_s``, counting only its active hours.

    The one rule for "overdue": the alerts' silence and the cameras page's stale badge both
    compare this with their limit. A camera is not expected to send outside its active hours
    (a day camera sleeps through the night), so that time does not count. Malformed hours (a
    hand-edited record) count every hour, as for a camera without a window.
    """
    try:
        return active_seconds(last_s, now_s, active_hours, zone)
    except Refusal:
        return max(0.0, now_s - last_s)


def is_active(at_s: float, active_hours: str | None, zone: str = ACTIVE_HOURS_ZONE) -> bool:
    """Whether ``at_s`` (Unix seconds) lies in the active hours; malformed hours: all day."""
    local = datetime.fromtimestamp(at_s, ZoneInfo(zone))
    try:
        return in_active_hours(active_hours, local.hour * 60 + local.minute)
    except Refusal:
        return True


def describe_active_hours(active_hours: str, zone: str = ACTIVE_HOURS_ZONE) -> str:
    """``"07:00–19:00 UTC"``: the hours as the pages show them (malformed ones as stored)."""
    try:
        start, end = parse_active_hours(active_hours)
    except Refusal:
        return f"{active_hours} {zone}"
    return f"{start // 60:02d}:{start % 60:02d}\u2013{end // 60:02d}:{end % 60:02d} {zone}"
