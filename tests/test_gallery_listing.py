"""The gallery's pure logic: cursors, dates, days, camera health, the uploads chart."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from camcloud import layout
from gallery import listing

BERLIN = ZoneInfo("Europe/Berlin")


def ms(text: str, zone: ZoneInfo | None = None) -> int:
    """Unix ms of an ISO time (UTC unless a zone is given)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=zone or UTC).timestamp() * 1000)


def meta_keys(*times_ms: int, device: str = "cam-1") -> list[str]:
    """Metadata keys for captures at ``times_ms``, in S3 order (newest first)."""
    return sorted(layout.CaptureRef.new(device, t, f"c{t}").meta_key for t in times_ms)


def test_jumping_to_a_date_starts_at_that_days_last_capture():
    # Given captures on three days, one exactly at midnight after the middle day
    keys = meta_keys(ms("2026-03-01T10:00"), ms("2026-03-02T00:00"), ms("2026-03-02T23:59:59.999"),
                     ms("2026-03-02T08:00"), ms("2026-03-03T00:00"), ms("2026-03-04T12:00"))
    # When the start key for 2 March is computed
    start = listing.start_after_day(layout.META_PREFIX, date(2026, 3, 2), UTC)
    # Then S3 (which lists keys after it in order) lists 2 March's captures first, newest first
    listed = [key for key in keys if key > start]
    times = [layout.parse_key(key).captured_at_ms for key in listed]
    assert times == [ms("2026-03-02T23:59:59.999"), ms("2026-03-02T08:00"),
                     ms("2026-03-02T00:00"), ms("2026-03-01T10:00")]


def test_a_date_jump_follows_the_gallery_time_zone():
    # Given a capture at 23:30 UTC on 1 March, which is already 2 March in Berlin
    keys = meta_keys(ms("2026-03-01T23:30"), ms("2026-03-01T12:00"))
    # When the Berlin gallery jumps to 1 March
    start = listing.start_after_day(layout.META_PREFIX, date(2026, 3, 1), BERLIN)
    # Then the late capture belongs to 2 March and is skipped
    assert [layout.parse_key(k).captured_at_ms for k in keys if k > start] == [
        ms("2026-03-01T12:00")]


def test_tiles_are_grouped_by_local_day_in_listing_order():
    # Given keys of two days and a key that is not a capture
    keys = meta_keys(ms("2026-03-02T09:00"), ms("2026-03-02T08:00"), ms("2026-03-01T22:00"))
    keys.append("meta/not-a-capture.json")
    # When they become tiles grouped by day
    days = listing.group_by_day(listing.tiles_from_keys(keys, UTC))
    # Then two days, newest first, and the stray key is skipped
    assert [(d.day.isoformat(), len(d.tiles)) for d in days] == [("2026-03-02", 2),
                                                                  ("2026-03-01", 1)]
    assert days[0].label == "Monday 02 March 2026"


@pytest.mark.parametrize("cursor", [
    "thumbs/cam-1/0000000000001_x.jpg",  # another prefix: would list another camera's keys
    "meta/",
    "meta/../../etc",
    "meta/123_cam-1_x.json",
    "meta/" + "9" * 400,
])
def test_cursors_that_are_not_capture_keys_of_the_page_are_refused(cursor):
    # Given a cursor that is not a metadata key / When it is checked / Then it is a bad request
    with pytest.raises(listing.BadRequest):
        listing.check_cursor(cursor, layout.META_PREFIX)


def test_a_valid_cursor_and_no_cursor_pass():
    key = meta_keys(ms("2026-03-02T09:00"))[0]
    assert listing.check_cursor(key, layout.META_PREFIX) == key
    assert listing.check_cursor("", layout.META_PREFIX) is None


@pytest.mark.parametrize("text", ["2026-13-01", "yesterday", "0001-01-01", "2026-02-30x"])
def test_malformed_dates_are_bad_requests(text):
    with pytest.raises(listing.BadRequest):
        listing.parse_day(text)


@pytest.mark.parametrize("capture_id", ["x", "cam-1_123_x", "CAM_8204741645565_c2",
                                        "cam-1_8204741645565_c2_extra", "cam-1_8204741645565_"])
def test_malformed_capture_ids_are_bad_requests(capture_id):
    with pytest.raises(listing.BadRequest):
        listing.parse_capture_id(capture_id)


def refs_every(seconds: int, count: int, newest_ms: int) -> list[layout.CaptureRef]:
    """``count`` captures ``seconds`` apart, newest first."""
    return [layout.CaptureRef.new("cam-1", newest_ms - i * seconds * 1000, f"c{i}")
            for i in range(count)]


def test_a_camera_silent_for_several_of_its_intervals_is_stale():
    # Given a camera that uploads every 5 minutes
    now = ms("2026-03-02T12:00")
    # When its last upload was 6 minutes ago, and in another case 30 minutes ago
    on_time = listing.activity(refs_every(300, 20, now - 360_000), now)
    silent = listing.activity(refs_every(300, 20, now - 1_800_000), now)
    # Then only the silent one is stale, and the usual interval is 5 minutes
    assert not on_time.stale and silent.stale
    assert on_time.usual_interval_s == 300
    assert listing.describe_interval(on_time.usual_interval_s) == "every 5 min"


DAY_ONLY = "07:00-19:00"


def day_camera_refs() -> list[layout.CaptureRef]:
    """A day-only camera's captures every 5 min of 1 March, the last at 18:55 UTC."""
    return refs_every(300, 144, ms("2026-03-01T18:55"))


def test_a_day_only_camera_at_night_is_asleep_not_stale():
    # Given a camera active 07:00-19:00 UTC that sent every 5 min until 18:55
    # When the cameras page looks at it at 02:00 UTC, 7 hours later
    act = listing.activity(day_camera_refs(), ms("2026-03-02T02:00"), active_hours=DAY_ONLY)
    # Then it has been quiet for only 5 min of its active time: asleep, not stale
    assert not act.stale and act.asleep
    assert act.asleep_text == "asleep (active 07:00\u201319:00 UTC)"


def test_a_day_only_camera_silent_after_its_hours_begin_is_stale():
    # Given the same camera, with nothing since 18:55 the day before
    refs = day_camera_refs()
    # When it is 10:00 UTC, three hours into its active time, or 07:10 (15 min of active
    # silence against a grace of 2.5 x 5 min), or 07:05 (10 min: within the grace)
    at_ten = listing.activity(refs, ms("2026-03-02T10:00"), active_hours=DAY_ONLY)
    at_seven_ten = listing.activity(refs, ms("2026-03-02T07:10"), active_hours=DAY_ONLY)
    at_seven_five = listing.activity(refs, ms("2026-03-02T07:05"), active_hours=DAY_ONLY)
    # Then it is stale as soon as it is overdue within its hours, and never asleep then
    assert at_ten.stale and not at_ten.asleep
    assert at_seven_ten.stale and not at_seven_ten.asleep
    assert not at_seven_five.stale and not at_seven_five.asleep


def test_an_all_day_camera_silent_at_night_is_still_stale():
    # Given a camera without active hours, silent since 18:55
    # When it is 02:00 UTC
    act = listing.activity(day_camera_refs(), ms("2026-03-02T02:00"))
    # Then every hour counts, as before: stale, and never asleep
    assert act.stale and not act.asleep


def test_a_night_window_crossing_midnight_sleeps_by_day():
    # Given a camera active 22:00-06:00 UTC that sent every 5 min until 05:55
    refs = refs_every(300, 90, ms("2026-03-02T05:55"))
    # When it is noon, and then 23:00
    noon = listing.activity(refs, ms("2026-03-02T12:00"), active_hours="22:00-06:00")
    late = listing.activity(refs, ms("2026-03-02T23:00"), active_hours="22:00-06:00")
    # Then it sleeps at noon and is stale an hour into its night
    assert noon.asleep and not noon.stale
    assert noon.asleep_text == "asleep (active 22:00\u201306:00 UTC)"
    assert late.stale and not late.asleep


def test_uploads_are_counted_per_hour_over_the_last_day_only():
    # Given uploads every 30 min for 30 hours
    now = ms("2026-03-02T12:00")
    refs = refs_every(1800, 60, now - 60_000)
    # When the activity is computed
    act = listing.activity(refs, now)
    # Then 24 hourly buckets hold the last 24 h: two per hour
    assert act.hourly == [2] * 24 and act.uploads_24h == 48
    assert act.latest == refs[0]


def test_the_chart_scales_bars_to_the_busiest_hour_and_draws_no_bar_for_zero():
    # Given an hour with 4 uploads, one with 2, the rest none
    hourly = [0] * 22 + [2, 4]
    # When bars are laid out
    bars = listing.chart_bars(hourly, width=240, height=48)
    # Then the busiest bar is full height, the other half, empty hours have no height
    assert bars[-1].height == 48 and bars[-2].height == 24
    assert all(bar.height == 0 for bar in bars[:22])
    assert bars[-1].hours_ago == 0 and bars[0].hours_ago == 23


def test_a_record_summary_tolerates_a_sparse_error_record():
    # Given an error record without dimensions or telemetry
    summary = listing.record_summary({"status": "error", "error": "cannot decode",
                                      "telemetry": None, "bytes": 2048})
    # Then the panel gets the error and safe defaults
    assert summary["status"] == "error" and summary["error"] == "cannot decode"
    assert summary["dimensions"] is None and summary["telemetry"] == {}
    assert listing.human_bytes(summary["bytes"]) == "2.0 KB"


def test_record_fields_read_like_words_and_times_show_in_the_gallery_zone():
    # Given field names and an arrival time from a record
    # Then names read as words and the time is shown in the gallery's zone
    assert listing.field_label("free_heap") == "Free heap"
    assert listing.field_label("rssi") == "RSSI"
    assert listing.format_iso("2026-03-01T23:30:00.000+00:00", BERLIN) == \
        "02 Mar 2026, 00:30:00 CET"
    assert listing.format_iso("garbage", BERLIN) == "garbage"
    assert listing.format_iso(None, BERLIN) == "—"
